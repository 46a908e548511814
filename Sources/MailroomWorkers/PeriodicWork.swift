import Foundation
import MailroomCore
import ServiceLifecycle
import Synchronization

/// The one way periodic work runs in Mailroom's services: a round at once, then a round every
/// `interval` on `clock` and a round after each ``wake()`` (wakes that come while a round runs
/// make one more round, not one each), until the task is cancelled or the service group shuts
/// down. Work whose timing follows deadlines (routing's offers) returns from each round how long
/// until its next one, never longer than `interval`. The timer waits inside ``run(_:)``, so
/// nothing outlives it.
public struct PeriodicWork<C: Clock>: Sendable where C.Duration == Duration {
    /// What a graceful shutdown does to a round that is running.
    public enum Shutdown: Sendable {
        /// Cancels it (fetches and sends stop where they are; their work is crash-safe anyway).
        case cancelRound
        /// Lets it end, then stops.
        case finishRound
    }

    public let interval: Duration
    private let clock: C
    private let signal = WakeSignal()
    private let stopping = StopFlag()

    public init(every interval: Duration, clock: C) {
        self.interval = interval
        self.clock = clock
    }

    /// Asks for a round now (or right after the one running). Safe to call before ``run(_:)``.
    public func wake() { signal.signal() }

    /// Runs rounds every `interval` until cancellation or graceful shutdown. Call it once.
    public func run(shutdown: Shutdown = .cancelRound, _ round: @escaping @Sendable () async -> Void) async {
        await runScheduled(shutdown: shutdown) { await round(); return nil }
    }

    /// Runs rounds that each say how long until the next is due (nil: `interval`; never longer
    /// than `interval`) until cancellation or graceful shutdown. Call it once.
    public func runScheduled(shutdown: Shutdown = .cancelRound, _ round: @escaping @Sendable () async -> Duration?) async {
        switch shutdown {
        case .cancelRound:
            await cancelWhenGracefulShutdown { await loop(round) }
        case .finishRound:
            await withGracefulShutdownHandler {
                await loop(round)
            } onGracefulShutdown: { [stopping, signal] in
                stopping.stop()
                signal.signal()
            }
        }
    }

    private func loop(_ round: @escaping @Sendable () async -> Duration?) async {
        while !Task.isCancelled, !stopping.isStopped {
            let next = await round() ?? interval
            if Task.isCancelled || stopping.isStopped { return }
            await signal.wait(for: max(.zero, min(next, interval)), clock: clock)
        }
    }
}

extension PeriodicWork where C == ContinuousClock {
    public init(every interval: Duration) {
        self.init(every: interval, clock: ContinuousClock())
    }
}

/// Set once, by a graceful shutdown that lets the running round finish.
final class StopFlag: Sendable {
    private let stopped = Atomic<Bool>(false)
    func stop() { stopped.store(true, ordering: .relaxed) }
    var isStopped: Bool { stopped.load(ordering: .relaxed) }
}

/// A one-waiter signal for a timer loop: `signal()` ends the current (or the next) `wait`.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns on a signal (or one sent since the last wait) or when cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    /// Returns on a signal or after `duration` on `clock`, whichever comes first.
    func wait<C: Clock>(for duration: Duration, clock: C) async where C.Duration == Duration {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(for: duration) }
            group.addTask { await self.wait() }
            await group.next()
            group.cancelAll()
        }
    }
}

/// Routing's wall clock (a test moves it by hand) as a `Clock`, so its timer runs on ``PeriodicWork``.
struct RoutingTimerClock: Clock {
    struct Instant: InstantProtocol {
        var date: Date
        func advanced(by duration: Duration) -> Instant { Instant(date: date.addingTimeInterval(duration.timeInterval)) }
        func duration(to other: Instant) -> Duration { .seconds(other.date.timeIntervalSince(date)) }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.date < rhs.date }
    }

    let base: any RoutingClock
    var now: Instant { Instant(date: base.now()) }
    var minimumResolution: Duration { .milliseconds(1) }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try await base.sleep(until: deadline.date)
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
