import Foundation

/// One schedule for every refresh this process asks of the providers' token endpoints: the
/// refresher's sweep and a fetcher or sender that needs a token now take turns from it, so the
/// endpoints never see more than `ratePerSecond` from this node. Without it, a thousand tokens
/// that expired together while Mailroom was stopped become a thousand refreshes in the first
/// second after the start, the burst providers answer with 429 or a temporary lock-out.
///
/// Turns are spaced 1/rate apart from the later of the schedule and the moment a caller
/// arrives, so a quiet spell does not earn a burst afterwards.
public actor OAuth2RefreshPacer {
    /// The process's pacer; `mailroom serve` sets its rate from `MAILROOM_OAUTH2_REFRESH_RATE`.
    public static let shared = OAuth2RefreshPacer()

    public private(set) var ratePerSecond: Double
    private var nextTurn: ContinuousClock.Instant?
    private let clock = ContinuousClock()

    public init(ratePerSecond: Double = 10) {
        self.ratePerSecond = Self.bounded(ratePerSecond)
    }

    public func setRate(_ ratePerSecond: Double) {
        self.ratePerSecond = Self.bounded(ratePerSecond)
    }

    /// Waits until the caller may send its refresh. A caller cancelled while waiting gives up its
    /// turn (the slot stays used: the rate is a ceiling, not a quota).
    public nonisolated func waitForTurn() async throws {
        let turn = await reserve()
        if turn > ContinuousClock.now { try await Task.sleep(until: turn, clock: .continuous) }
    }

    private func reserve() -> ContinuousClock.Instant {
        let now = clock.now
        let turn = max(nextTurn ?? now, now)
        nextTurn = turn.advanced(by: .seconds(1 / ratePerSecond))
        return turn
    }

    private static func bounded(_ rate: Double) -> Double {
        rate.isFinite ? min(max(rate, 0.01), 10_000) : 10
    }
}
