import Foundation
import MailroomCore
import Synchronization

/// Parses a batch's messages in parallel; the caller takes all the results, in order, once the
/// last one is in.
///
/// A few workers (one per core) take the messages in order, instead of a task per message: a
/// hundred small tasks per batch cost more in thread wake-ups than the parsing itself. A parse
/// that runs longer than `timeout` counts as timed out: the caller gets that result in its place,
/// a new worker takes over the rest of the batch, and the abandoned parse finishes unseen (a
/// synchronous parse cannot be interrupted; this way it cannot stall the fetcher either).
///
/// Workers run on `ParseThreads`, not on Swift's cooperative pool, which every task of the server
/// shares (see there).
final class ParallelParse<Output: Sendable>: Sendable {
    enum Result: Sendable {
        case parsed(Output)
        case failed(any Error)
        case timedOut
    }

    private struct State {
        var results: [Result?]
        /// When the parse of each message began (nil: not begun, or finished).
        var started: [ContinuousClock.Instant?]
        var next = 0
        /// Messages to parse that have no result yet.
        var remaining: Int
        /// Who awaits the whole batch (the commit, and the raw-mail staging when it waits for the filters).
        var batchWaiters: [CheckedContinuation<[Result?], Never>] = []
        var watchdog: Task<Void, Never>?
        var finished = false

        /// Counts a result in; when it was the last one and the whole batch is awaited, the waiters
        /// to resume (outside the lock) with every result.
        mutating func recordedOne() -> ([CheckedContinuation<[Result?], Never>], [Result?])? {
            remaining -= 1
            guard remaining == 0, !batchWaiters.isEmpty else { return nil }
            defer { batchWaiters = [] }
            return (batchWaiters, results)
        }
    }

    private let state: Mutex<State>
    /// The whole batch's waiters and every result, once the last one is in.
    private typealias BatchDone = ([CheckedContinuation<[Result?], Never>], [Result?])
    private let messages: [[UInt8]?]
    private let timeout: Duration
    private let parse: @Sendable ([UInt8]) throws -> Output
    private let threads = ParseThreads.shared

    private init(messages: [[UInt8]?], timeout: Duration, parse: @escaping @Sendable ([UInt8]) throws -> Output) {
        state = Mutex(State(results: Array(repeating: nil, count: messages.count), started: Array(repeating: nil, count: messages.count),
                            remaining: messages.count { $0 != nil }))
        self.messages = messages
        self.timeout = timeout
        self.parse = parse
    }

    /// How many workers a batch gets: one per core, at most one per message.
    static func workerCount(messages: Int) -> Int {
        max(1, min(ProcessInfo.processInfo.activeProcessorCount, messages))
    }

    /// Starts parsing every message that has bytes (nil: nothing to parse at that place).
    static func start(_ messages: [[UInt8]?], timeout: Duration,
                      parse: @escaping @Sendable ([UInt8]) throws -> Output) -> ParallelParse {
        let batch = ParallelParse(messages: messages, timeout: timeout, parse: parse)
        for _ in 0..<workerCount(messages: messages.count) { batch.startWorker() }
        let watchdog = Task(executorPreference: globalConcurrentExecutor) { [weak batch] in
            while !Task.isCancelled {
                guard let deadline = batch?.nextDeadline() else { return }
                try? await Task.sleep(until: deadline, clock: .continuous)
                batch?.expireOverdueParses()
            }
        }
        batch.state.withLock { $0.watchdog = watchdog }
        return batch
    }

    /// Every message's result in order (nil where there was nothing to parse), once all are in:
    /// one wake-up of the caller per batch instead of one per message.
    func allResults() async -> [Result?] {
        await withCheckedContinuation { (continuation: CheckedContinuation<[Result?], Never>) in
            let ready = state.withLock { state -> [Result?]? in
                if state.remaining == 0 { return state.results }
                state.batchWaiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Stops the watchdog and any worker still going; call when every result was taken.
    func finish() {
        state.withLock { state -> Task<Void, Never>? in
            state.finished = true
            return state.watchdog
        }?.cancel()
    }

    private func startWorker() {
        threads.run { [self] in
            while let index = takeNext() {
                guard let raw = messages[index] else { continue }
                let result: Result
                do { result = .parsed(try parse(raw)) } catch { result = .failed(error) }
                // A worker whose parse was given up on stops: another took over the batch, on a thread added for it.
                guard deliver(result, at: index) else {
                    threads.abandonedParseEnded()
                    return
                }
            }
        }
    }

    /// The next message to parse, marked as begun; nil when none is left.
    private func takeNext() -> Int? {
        state.withLock { state in
            while state.next < state.results.count, !state.finished {
                let index = state.next
                state.next += 1
                if messages[index] == nil { continue }
                state.started[index] = .now
                return index
            }
            return nil
        }
    }

    /// Stores a result (and hands the batch to the caller if it was the last). False when the parse
    /// had already been given up on (the result is dropped).
    private func deliver(_ result: Result, at index: Int) -> Bool {
        let (batch, kept) = state.withLock { state -> (BatchDone?, Bool) in
            guard state.results[index] == nil else { return (nil, false) }
            state.results[index] = result
            state.started[index] = nil
            return (state.recordedOne(), true)
        }
        if let (waiters, results) = batch { for waiter in waiters { waiter.resume(returning: results) } }
        return kept
    }

    /// When the oldest parse in progress runs out of time (or one timeout from now when none runs).
    private func nextDeadline() -> ContinuousClock.Instant {
        let oldest = state.withLock { $0.started.lazy.compactMap { $0 }.min() } ?? .now
        return oldest + timeout
    }

    /// Marks every parse that ran longer than the timeout as timed out, and starts a worker in
    /// place of each worker that is stuck in one.
    private func expireOverdueParses() {
        let now = ContinuousClock.now
        let (expired, batch) = state.withLock { state -> (Int, BatchDone?) in
            var expired = 0
            var batch: BatchDone?
            for (index, started) in state.started.enumerated() {
                guard let started, now - started >= timeout else { continue }
                state.started[index] = nil
                state.results[index] = .timedOut
                expired += 1
                batch = state.recordedOne() ?? batch
            }
            return (expired, batch)
        }
        if let (waiters, results) = batch { for waiter in waiters { waiter.resume(returning: results) } }
        for _ in 0..<expired {
            threads.parseWasAbandoned()
            startWorker()
        }
    }
}
