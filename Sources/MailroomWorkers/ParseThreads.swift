import Foundation

/// The threads that parse fetched mail: one per core, plus one for each parse that was given up
/// on while it still runs.
///
/// Parsing is synchronous and cannot be interrupted. On Swift's cooperative pool (one thread per
/// core, shared by every task of the server: HTTP, fetchers, timers) a parse that does not end
/// took a core's worth of the whole server, and as many as there are cores stopped everything.
/// Here a stuck parse holds only its own thread, and a thread is added in its place, so the
/// server's tasks and the other mailboxes' parses go on. Unlike a pool that grows without bound,
/// thousands of mailboxes receiving mail at once still parse on as many threads as there are cores.
final class ParseThreads: @unchecked Sendable {
    static let shared = ParseThreads(threads: ProcessInfo.processInfo.activeProcessorCount)

    /// How many threads may be added for stuck parses: beyond that, jobs wait for a stuck one to end.
    static let maxExtraThreads = 32

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var threads = 0
    private var idle = 0
    private let base: Int
    private var stuck = 0

    init(threads: Int) {
        base = max(1, threads)
    }

    /// How many threads should exist now. `stuck` may be -1 for a moment: a parse can end just as
    /// the watchdog gives up on it, and the two calls then come in either order.
    private var wanted: Int { base + min(max(stuck, 0), Self.maxExtraThreads) }

    /// Runs `job` on one of the threads, in the order jobs were given.
    func run(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        startThreadIfNeeded()
        condition.signal()
        condition.unlock()
    }

    /// A job's thread is stuck in a parse that was given up on: another thread takes its place.
    func parseWasAbandoned() {
        condition.lock()
        stuck += 1
        startThreadIfNeeded()
        condition.unlock()
    }

    /// A parse given up on has ended after all: its thread counts as one of the pool's again.
    func abandonedParseEnded() {
        condition.lock()
        stuck -= 1
        // A surplus thread waiting for work leaves now rather than at the next job.
        condition.broadcast()
        condition.unlock()
    }

    /// Threads alive now (tests).
    var threadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return threads
    }

    /// With the lock held.
    private func startThreadIfNeeded() {
        guard jobs.count > idle, threads < wanted else { return }
        threads += 1
        Thread.detachNewThread { [self] in
            // Named from inside: on Linux a name given before the start is not applied to the thread.
            Thread.current.name = "mailroom-parse"
            work()
        }
    }

    private func work() {
        condition.lock()
        while true {
            if threads > wanted {
                threads -= 1
                condition.unlock()
                return
            }
            if jobs.isEmpty {
                idle += 1
                condition.wait()
                idle -= 1
                continue
            }
            let job = jobs.removeFirst()
            // More waiting than idle threads to take it: start another, up to the pool's size.
            startThreadIfNeeded()
            condition.unlock()
            job()
            condition.lock()
        }
    }
}
