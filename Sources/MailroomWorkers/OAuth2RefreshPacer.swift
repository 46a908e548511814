import Foundation

/// One schedule for every refresh this process asks of the providers' token endpoints: the
/// refresher's sweep and a fetcher or sender that needs a token now take turns from it, so the
/// endpoints never see more than `ratePerSecond` from this node. Without it, a thousand tokens
/// that expired together while Mailroom was stopped become a thousand refreshes in the first
/// second after the start, the burst providers answer with 429 or a temporary lock-out.
///
/// Callers queue in arrival order and are let go one at a time, each at least 1/rate after the
/// previous one was actually let go: a turn handed out late pushes the next one back, so a busy
/// machine that wakes the pacer late never makes up for it with a burst.
public actor OAuth2RefreshPacer {
    /// The process's pacer; `mailroom serve` sets its rate from `MAILROOM_OAUTH2_REFRESH_RATE`.
    public static let shared = OAuth2RefreshPacer()

    public private(set) var ratePerSecond: Double
    private var spacing: Duration { .seconds(1 / ratePerSecond) }
    private var lastTurn: ContinuousClock.Instant?
    private var waiting: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextId: UInt64 = 0
    private var dispatching = false

    public init(ratePerSecond: Double = 10) {
        self.ratePerSecond = Self.bounded(ratePerSecond)
    }

    public func setRate(_ ratePerSecond: Double) {
        self.ratePerSecond = Self.bounded(ratePerSecond)
    }

    /// About how long a caller arriving now would wait (for a lease that must outlast the wait).
    public var expectedWait: Duration {
        let queued = spacing * Double(waiting.count + 1)
        guard let lastTurn else { return waiting.isEmpty ? .zero : queued }
        return max(.zero, lastTurn.advanced(by: queued) - ContinuousClock.now)
    }

    /// Returns when the caller may send its refresh; throws CancellationError if cancelled first.
    public func waitForTurn() async throws {
        try Task.checkCancellation()
        let now = ContinuousClock.now
        if waiting.isEmpty, !dispatching, lastTurn.map({ now - $0 >= spacing }) ?? true {
            lastTurn = now
            return
        }
        nextId += 1
        let id = nextId
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                waiting.append((id, continuation))
                if !dispatching {
                    dispatching = true
                    Task { await self.dispatch() }
                }
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
    }

    private func dispatch() async {
        while !waiting.isEmpty {
            if let lastTurn {
                let due = lastTurn.advanced(by: spacing)
                if due > ContinuousClock.now { try? await Task.sleep(until: due, clock: .continuous) }
            }
            guard !waiting.isEmpty else { break }
            let next = waiting.removeFirst()
            lastTurn = ContinuousClock.now
            next.continuation.resume()
        }
        dispatching = false
    }

    private func cancel(_ id: UInt64) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    private static func bounded(_ rate: Double) -> Double {
        rate.isFinite ? min(max(rate, 0.01), 10_000) : 10
    }
}
