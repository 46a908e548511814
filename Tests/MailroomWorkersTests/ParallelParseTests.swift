import Foundation
import MailroomCore
@testable import MailroomWorkers
import Synchronization
import Testing

/// A batch's messages are parsed in parallel and taken in order; a parse that runs too long is
/// given up on without holding up the messages after it.
@Suite struct ParallelParseTests {
    static func message(_ index: Int) -> [UInt8] {
        Array("From: c\(index)@example.com\r\nSubject: Message \(index)\r\nMessage-ID: <m\(index)@example.com>\r\n\r\nBody \(index)\r\n".utf8)
    }

    @Test func resultsComeInTheBatchOrder() async throws {
        let messages: [[UInt8]?] = (0..<40).map { $0 == 7 ? nil : Self.message($0) } + [Array("no header here".utf8)]
        let parses = ParallelParse.start(messages, timeout: .seconds(30), parse: InboundMailParser.parse)
        defer { parses.finish() }
        for index in 0..<40 where index != 7 {
            guard case .parsed(let mail) = await parses.result(at: index) else {
                Issue.record("message \(index) was not parsed")
                continue
            }
            #expect(mail.subject == "Message \(index)")
        }
        guard case .failed(let error) = await parses.result(at: 40) else {
            Issue.record("a headerless message must fail")
            return
        }
        #expect(error as? InboundMailParser.Refusal == .notAMessage)
    }

    @Test func aParseThatRunsTooLongTimesOutAndTheRestGoOn() async throws {
        let stuckParseEnded = Mutex(false)
        let parses = ParallelParse.start([Self.message(0), Self.message(1), Self.message(2)], timeout: .milliseconds(300)) { raw in
            // The middle message stands in for one built to exhaust the parser.
            if String(decoding: raw, as: UTF8.self).contains("Message 1") {
                Thread.sleep(forTimeInterval: 10)
                stuckParseEnded.withLock { $0 = true }
            }
            return try InboundMailParser.parse(raw)
        }
        defer { parses.finish() }
        guard case .parsed = await parses.result(at: 0) else { Issue.record("message 0"); return }
        guard case .timedOut = await parses.result(at: 1) else { Issue.record("message 1 must time out"); return }
        guard case .parsed = await parses.result(at: 2) else { Issue.record("message 2"); return }
        // Order, not a stopwatch: the batch went on while the stuck parse was still running.
        #expect(!stuckParseEnded.withLock { $0 }, "the stuck parse held up the batch")
    }
}
