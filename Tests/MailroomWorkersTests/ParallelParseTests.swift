import Foundation
import MailroomCore
@testable import MailroomWorkers
import Synchronization
import Testing

/// A batch's messages are parsed in parallel and taken in order; a parse that runs too long is
/// given up on without holding up the messages after it. Serialized: each test blocks a thread of
/// the global pool on purpose, and two at once would leave none for the watchdog on two cores.
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

    @Test func theWholeBatchComesAtOnceWithATimedOutParseInPlace() async throws {
        let messages: [[UInt8]?] = [Self.message(0), nil, Self.message(2), Self.message(3), Array("no header here".utf8)]
        let release = DispatchSemaphore(value: 0)
        let parses = ParallelParse.start(messages, timeout: .milliseconds(300)) { raw in
            if String(decoding: raw, as: UTF8.self).contains("Message 2") { _ = release.wait(timeout: .now() + 10) }
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
