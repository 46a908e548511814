import Foundation
import MailroomCore
@testable import MailroomWorkers
import Synchronization
import Testing

/// A batch's messages are parsed in parallel and taken in order; a parse that runs too long is
/// given up on without holding up the messages after it. Serialized: the tests hold parse threads
/// on purpose, and the timing of one should not depend on another's.
@Suite(.serialized) struct ParallelParseTests {
    static func message(_ index: Int) -> [UInt8] {
        Array("From: c\(index)@example.com\r\nSubject: Message \(index)\r\nMessage-ID: <m\(index)@example.com>\r\n\r\nBody \(index)\r\n".utf8)
    }

    @Test func resultsComeInTheBatchOrder() async throws {
        let messages: [[UInt8]?] = (0..<40).map { $0 == 7 ? nil : Self.message($0) } + [Array("no header here".utf8)]
        let parses = ParallelParse.start(messages, timeout: .seconds(30), parse: InboundMailParser.parse)
        defer { parses.finish() }
        let results = await parses.allResults()
        for index in 0..<40 where index != 7 {
            guard case .parsed(let mail)? = results[index] else {
                Issue.record("message \(index) was not parsed")
                continue
            }
            #expect(mail.subject == "Message \(index)")
        }
        guard case .failed(let error)? = results[40] else {
            Issue.record("a headerless message must fail")
            return
        }
        #expect(error as? InboundMailParser.Refusal == .notAMessage)
    }

    /// The commit and the raw-mail staging (when it waits for the header filters) both await the batch.
    @Test func twoWaitersBothGetTheWholeBatch() async throws {
        let release = DispatchSemaphore(value: 0)
        let parses = ParallelParse.start([Self.message(0), Self.message(1)], timeout: .seconds(30)) { raw in
            if String(decoding: raw, as: UTF8.self).contains("Message 0") { _ = release.wait(timeout: .now() + 10) }
            return try InboundMailParser.parse(raw)
        }
        defer { parses.finish() }
        let first = Task { await parses.allResults() }
        let second = Task { await parses.allResults() }
        // Both are waiting before the last result comes in.
        try await Task.sleep(for: .milliseconds(200))
        release.signal()
        let outcome = await withTaskGroup(of: [String]?.self) { group in
            group.addTask {
                let results = [await first.value, await second.value]
                return results.map { batch in batch.map { result in
                    if case .parsed(let mail)? = result { return mail.subject } else { return "-" }
                }.joined(separator: ",") }
            }
            group.addTask { try? await Task.sleep(for: .seconds(15)); return nil }
            let done = await group.next() ?? nil
            group.cancelAll()
            return done
        }
        #expect(outcome == ["Message 0,Message 1", "Message 0,Message 1"])
    }

    @Test func aParseThatRunsTooLongTimesOutAndTheRestGoOn() async throws {
        let stuckParseEnded = Mutex(false)
        let release = DispatchSemaphore(value: 0)
        let parses = ParallelParse.start([Self.message(0), Self.message(1), Self.message(2)], timeout: .milliseconds(300)) { raw in
            // The middle message stands in for one built to exhaust the parser.
            if String(decoding: raw, as: UTF8.self).contains("Message 1") {
                _ = release.wait(timeout: .now() + 10)
                stuckParseEnded.withLock { $0 = true }
            }
            return try InboundMailParser.parse(raw)
        }
        // The stuck parse holds a thread of the pool until released: at the end, not for the next test.
        defer { release.signal(); parses.finish() }
        let results = await parses.allResults()
        guard case .parsed? = results[0] else { Issue.record("message 0"); return }
        guard case .timedOut? = results[1] else { Issue.record("message 1 must time out"); return }
        guard case .parsed? = results[2] else { Issue.record("message 2"); return }
        // Order, not a stopwatch: the batch went on while the stuck parse was still running.
        #expect(!stuckParseEnded.withLock { $0 }, "the stuck parse held up the batch")
    }

    /// More stuck parses than cores: with the workers on Swift's cooperative pool (one thread per
    /// core) they took every thread of it, and the watchdog, the caller and the rest of the server
    /// waited until a parse ended by itself.
    @Test func parsesStuckOnEveryCoreLeaveTheServersTasksRunning() async throws {
        let count = ProcessInfo.processInfo.activeProcessorCount + 2
        let release = DispatchSemaphore(value: 0)
        let ended = Mutex(0)
        let parses = ParallelParse.start((0..<count).map { Self.message($0) }, timeout: .milliseconds(300)) { raw in
            _ = release.wait(timeout: .now() + 20)
            ended.withLock { $0 += 1 }
            return try InboundMailParser.parse(raw)
        }
        defer {
            for _ in 0..<count { release.signal() }
            parses.finish()
        }
        let results = await parses.allResults()
        #expect(results.count == count)
        for (index, result) in results.enumerated() {
            guard case .timedOut? = result else { Issue.record("message \(index) must time out"); continue }
        }
        // Order, not a stopwatch: every result came in while all the parses were still stuck.
        #expect(ended.withLock { $0 } == 0, "the batch waited for a stuck parse to end")
        // A task on the cooperative pool runs meanwhile.
        #expect(await Task.detached { 42 }.value == 42)
    }

    @Test func theWholeBatchComesAtOnceWithATimedOutParseInPlace() async throws {
        let messages: [[UInt8]?] = [Self.message(0), nil, Self.message(2), Self.message(3), Array("no header here".utf8)]
        let release = DispatchSemaphore(value: 0)
        // Long enough that a loaded machine still parses the others in time; message 2 is held longer.
        let parses = ParallelParse.start(messages, timeout: .seconds(3)) { raw in
            if String(decoding: raw, as: UTF8.self).contains("Message 2") { _ = release.wait(timeout: .now() + 30) }
            return try InboundMailParser.parse(raw)
        }
        defer { release.signal(); parses.finish() }
        let results = await parses.allResults()
        #expect(results.count == 5)
        guard case .parsed(let first)? = results[0], case .parsed(let fourth)? = results[3] else {
            Issue.record("messages 0 and 3 must be parsed: \(results)")
            return
        }
        #expect(first.subject == "Message 0" && fourth.subject == "Message 3")
        #expect(results[1] == nil, "nothing to parse there")
        guard case .timedOut? = results[2] else { Issue.record("message 2 must time out"); return }
        guard case .failed? = results[4] else { Issue.record("a headerless message must fail"); return }
    }
}

@Suite struct ParseThreadsTests {
    /// Waits on a plain thread's terms: the semaphore is signalled by a pool thread.
    func wait(_ semaphore: DispatchSemaphore, seconds: Double = 10) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: semaphore.wait(timeout: .now() + seconds) == .success) }
        }
    }

    @Test func jobsRunOnAsManyThreadsAsThePoolHas() async {
        let pool = ParseThreads(threads: 2)
        let counts = Mutex((running: 0, most: 0, done: 0))
        let allDone = DispatchSemaphore(value: 0)
        for _ in 0..<20 {
            pool.run {
                counts.withLock { $0.running += 1; $0.most = max($0.most, $0.running) }
                Thread.sleep(forTimeInterval: 0.01)
                let last = counts.withLock { state -> Bool in
                    state.running -= 1
                    state.done += 1
                    return state.done == 20
                }
                if last { allDone.signal() }
            }
        }
        #expect(await wait(allDone))
        #expect(counts.withLock { $0.most } == 2)
        #expect(pool.threadCount == 2)
    }

    /// A pool of one thread, returned once that thread is busy in a job that waits for `release`
    /// (then runs `afterwards`): a parse that does not end, as far as the pool can tell.
    func poolWithItsThreadStuck(until release: DispatchSemaphore,
                                afterwards: @escaping @Sendable (ParseThreads) -> Void = { _ in }) async -> ParseThreads {
        let pool = ParseThreads(threads: 1)
        let began = DispatchSemaphore(value: 0)
        pool.run {
            began.signal()
            _ = release.wait(timeout: .now() + 20)
            afterwards(pool)
        }
        #expect(await wait(began))
        return pool
    }

    /// A parse that ends just as the watchdog gives up on it: the two calls may come in either
    /// order, and neither order may leave a thread too many for good.
    @Test func anAbandonedParseEndingBeforeItIsCountedLeavesNoExtraThread() async throws {
        let release = DispatchSemaphore(value: 0)
        let pool = await poolWithItsThreadStuck(until: release)
        pool.abandonedParseEnded()
        pool.parseWasAbandoned()
        let ran = DispatchSemaphore(value: 0)
        pool.run { ran.signal() }
        // The pool is back at one thread, busy: the job waits instead of getting a thread of its own.
        #expect(await wait(ran, seconds: 0.3) == false)
        #expect(pool.threadCount == 1)
        release.signal()
        #expect(await wait(ran))
    }

    @Test func aThreadStuckInAnAbandonedParseIsReplacedAndTheSurplusLeavesWhenItEnds() async throws {
        let release = DispatchSemaphore(value: 0)
        let pool = await poolWithItsThreadStuck(until: release) { $0.abandonedParseEnded() }
        pool.parseWasAbandoned()
        let ranMeanwhile = DispatchSemaphore(value: 0)
        pool.run { ranMeanwhile.signal() }
        #expect(await wait(ranMeanwhile, seconds: 5), "the next job waited for the stuck one")
        #expect(pool.threadCount == 2)
        release.signal()
        for _ in 0..<500 where pool.threadCount > 1 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(pool.threadCount == 1)
    }
}
