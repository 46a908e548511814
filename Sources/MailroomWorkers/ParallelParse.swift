import Foundation
import MailroomCore
import Synchronization

/// Parses a batch's messages in parallel on the global pool while the caller takes the results
/// in order. A result that is not there `timeout` after the caller started waiting for it counts
/// as timed out: the caller moves on, and the abandoned parse finishes unseen (a synchronous
/// parse cannot be interrupted; this way it cannot stall the fetcher either).
///
/// One watchdog task per batch keeps the time, instead of a timer and a task group per message.
final class ParallelParse: Sendable {
    enum Result: Sendable {
        case parsed(InboundMail)
        case failed(any Error)
        case timedOut
    }

    private struct Waiter {
        let index: Int
        let since: ContinuousClock.Instant
        let continuation: CheckedContinuation<Result, Never>
    }

    private struct State {
        var results: [Result?]
        var waiter: Waiter?
        var watchdog: Task<Void, Never>?
    }

    private let state: Mutex<State>
    private let timeout: Duration

    private init(count: Int, timeout: Duration) {
        state = Mutex(State(results: Array(repeating: nil, count: count)))
        self.timeout = timeout
    }

    /// Starts parsing every message that has bytes (nil: nothing to parse at that place).
    static func start(_ messages: [[UInt8]?], timeout: Duration,
                      parse: @escaping @Sendable ([UInt8]) throws -> InboundMail) -> ParallelParse {
        let batch = ParallelParse(count: messages.count, timeout: timeout)
        for (index, raw) in messages.enumerated() {
            guard let raw else { continue }
            Task(executorPreference: globalConcurrentExecutor) {
                let result: Result
                do { result = .parsed(try parse(raw)) } catch { result = .failed(error) }
                batch.deliver(result, at: index)
            }
        }
        let watchdog = Task(executorPreference: globalConcurrentExecutor) { [weak batch] in
            while !Task.isCancelled {
                guard let deadline = batch?.nextDeadline() else { return }
                try? await Task.sleep(until: deadline, clock: .continuous)
                batch?.expireWaiter()
            }
        }
        batch.state.withLock { $0.watchdog = watchdog }
        return batch
    }

    /// The result for the message at `index`, waiting at most the timeout.
    func result(at index: Int) async -> Result {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
            let ready = state.withLock { state -> Result? in
                if let result = state.results[index] { return result }
                state.waiter = Waiter(index: index, since: .now, continuation: continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Stops the watchdog; call when every result was taken.
    func finish() {
        state.withLock { $0.watchdog }?.cancel()
    }

    private func deliver(_ result: Result, at index: Int) {
        let waiter = state.withLock { state -> Waiter? in
            guard state.results[index] == nil else { return nil } // timed out before
            state.results[index] = result
            guard let waiter = state.waiter, waiter.index == index else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.continuation.resume(returning: result)
    }

    private func nextDeadline() -> ContinuousClock.Instant {
        let since = state.withLock { $0.waiter?.since } ?? .now
        return since + timeout
    }

    private func expireWaiter() {
        let timeout = self.timeout
        let waiter = state.withLock { state -> Waiter? in
            guard let waiter = state.waiter, ContinuousClock.now - waiter.since >= timeout else { return nil }
            state.waiter = nil
            state.results[waiter.index] = .timedOut
            return waiter
        }
        waiter?.continuation.resume(returning: .timedOut)
    }
}
