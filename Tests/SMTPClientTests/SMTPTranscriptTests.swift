import ClientTestSupport
import Foundation
import MailTransport
import NIOCore
import Testing
@testable import SMTPClient

private func parseReplies(_ bytes: [UInt8], chunking: Chunking) throws -> [SMTPReply] {
    var reader = LineReader(maxLineLength: 4096)
    var parser = SMTPReplyParser()
    var replies: [SMTPReply] = []
    for chunk in chunking.split(bytes) {
        reader.append(ByteBuffer(bytes: chunk))
        while let line = try reader.nextLine() {
            if let reply = try parser.parse(line: line) { replies.append(reply) }
        }
    }
    #expect(reader.bufferedByteCount == 0)
    return replies
}

private func fixture(_ name: String) throws -> [UInt8] {
    try fixtureBytes(#require(Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "Fixtures")))
}

@Suite struct SMTPTranscriptTests {
    @Test(arguments: ["gmail", "outlook", "yahoo", "postfix"], Chunking.allCases)
    func chunkingDoesNotChangeReplies(name: String, chunking: Chunking) throws {
        let bytes = try fixture(name)
        let whole = try parseReplies(bytes, chunking: .whole)
        let chunked = try parseReplies(bytes, chunking: chunking)
        #expect(whole == chunked)
        #expect(whole.first?.code == 220)
    }

    @Test func gmail() throws {
        let replies = try parseReplies(try fixture("gmail"), chunking: .random)
        #expect(replies.count == 13)
        let before = SMTPCapabilities(ehloReply: replies[1])
        #expect(before.supports(.startTLS))
        #expect(before.supports(.pipelining))
        #expect(before.maximumMessageSize == 35_882_577)
        #expect(before.authMechanisms.isEmpty)
        let after = SMTPCapabilities(ehloReply: replies[3])
        #expect(after.authMechanisms.isSuperset(of: ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"]))
        #expect(after.supports(.smtpUTF8))
        let badAuth = replies[5]
        #expect(badAuth.code == 535)
        #expect(badAuth.enhancedStatus == EnhancedStatusCode(statusClass: 5, subject: 7, detail: 8))
        #expect(badAuth.lines.count == 2)
        #expect(badAuth.lines[0].hasPrefix("Username and Password not accepted"))
        let noUser = replies[8]
        #expect(noUser.code == 550)
        #expect(noUser.enhancedStatus?.description == "5.1.1")
        #expect(noUser.lines.count == 4)
        #expect(!noUser.text.contains("5.1.1 "))
        #expect(replies[12].code == 421)
        #expect(replies[12].enhancedStatus?.isTransient == true)
    }

    @Test func outlook() throws {
        let replies = try parseReplies(try fixture("outlook"), chunking: .byteByByte)
        let caps = SMTPCapabilities(ehloReply: replies[3])
        #expect(caps.authMechanisms == ["LOGIN", "XOAUTH2"])
        #expect(caps.maximumMessageSize == 157_286_400)
        #expect(replies[4].enhancedStatus == EnhancedStatusCode(statusClass: 5, subject: 7, detail: 139))
        #expect(replies.last?.enhancedStatus?.description == "5.2.0")
    }

    @Test func yahooInvalidEnhancedCodeStaysText() throws {
        let replies = try parseReplies(try fixture("yahoo"), chunking: .whole)
        #expect(replies.last?.code == 554)
        #expect(replies.last?.enhancedStatus == nil)
        #expect(replies.last?.text == "6.6.0 Error sending message for delivery.")
        #expect(SMTPCapabilities(ehloReply: replies[3]).authMechanisms.contains("OAUTHBEARER"))
    }

    @Test func postfixOldStyleAuthKeyword() throws {
        let replies = try parseReplies(try fixture("postfix"), chunking: .whole)
        let caps = SMTPCapabilities(ehloReply: replies[1])
        #expect(caps.authMechanisms == ["PLAIN", "LOGIN"])
        #expect(caps.maximumMessageSize == 10_240_000)
        #expect(replies[2].enhancedStatus == EnhancedStatusCode(statusClass: 4, subject: 5, detail: 3))
    }

    @Test(arguments: [
        "2xx", "25", "abc ok", "250x ok", "699 no", "199 no",
    ])
    func invalidLinesAreErrors(line: String) {
        var parser = SMTPReplyParser()
        #expect(throws: MailTransportError.self) { try parser.parse(line: ByteBuffer(string: line)) }
    }

    @Test func codeChangeInsideMultilineReplyIsAnError() throws {
        var parser = SMTPReplyParser()
        #expect(try parser.parse(line: ByteBuffer(string: "250-first")) == nil)
        #expect(throws: MailTransportError.self) { try parser.parse(line: ByteBuffer(string: "550 second")) }
    }

    @Test func tooManyLinesIsALimit() throws {
        var parser = SMTPReplyParser(maxLinesPerReply: 3)
        for _ in 0..<3 { _ = try? parser.parse(line: ByteBuffer(string: "250-x")) }
        #expect(throws: MailTransportError.self) { try parser.parse(line: ByteBuffer(string: "250-x")) }
    }

    @Test func overlongLineIsALimit() throws {
        var reader = LineReader(maxLineLength: 100)
        reader.append(ByteBuffer(string: String(repeating: "a", count: 200)))
        #expect(throws: MailTransportError.self) { try reader.nextLine() }
    }
}

@Suite struct SMTPTransactionStateMachineTests {
    func reply(_ code: Int, _ text: String = "ok") -> SMTPReply { SMTPReplyParser.makeReply(code: code, lines: [text]) }

    @Test func pipelinedHappyPathWithPartialRejection() {
        var machine = SMTPTransactionStateMachine(mailCommand: "MAIL FROM:<a@x>", recipients: ["b@y", "c@y"],
                                                  rcptCommands: ["RCPT TO:<b@y>", "RCPT TO:<c@y>"], pipelining: true, sendRset: true)
        #expect(machine.start() == .send(["RSET", "MAIL FROM:<a@x>", "RCPT TO:<b@y>", "RCPT TO:<c@y>", "DATA"]))
        #expect(machine.replyReceived(reply(250)) == .awaitReply)
        #expect(machine.replyReceived(reply(250, "2.1.0 ok")) == .awaitReply)
        #expect(machine.replyReceived(reply(250, "2.1.5 ok")) == .awaitReply)
        #expect(machine.replyReceived(reply(550, "5.1.1 no such user")) == .awaitReply)
        #expect(machine.replyReceived(reply(354, "go ahead")) == .sendBody)
        guard case .finished(let result) = machine.replyReceived(reply(250, "2.0.0 queued")) else {
            Issue.record("not finished")
            return
        }
        #expect(result.acceptedRecipients == ["b@y"])
        #expect(result.rejectedRecipients.map(\.reply.enhancedStatus?.description) == ["5.1.1"])
        #expect(result.dataReply.code == 250)
    }

    @Test func pipelinedMailRejectedConsumesAllReplies() {
        var machine = SMTPTransactionStateMachine(mailCommand: "MAIL FROM:<a@x>", recipients: ["b@y"],
                                                  rcptCommands: ["RCPT TO:<b@y>"], pipelining: true, sendRset: false)
        #expect(machine.start() == .send(["MAIL FROM:<a@x>", "RCPT TO:<b@y>", "DATA"]))
        #expect(machine.replyReceived(reply(550, "5.7.1 sender denied")) == .awaitReply)
        #expect(machine.replyReceived(reply(503, "5.5.1 need MAIL")) == .awaitReply)
        guard case .failed(let error, let usable) = machine.replyReceived(reply(503, "5.5.1 need RCPT")) else {
            Issue.record("not failed")
            return
        }
        #expect(usable)
        #expect(error.step == "MAIL FROM")
        #expect(error.enhancedStatus?.description == "5.7.1")
    }

    @Test func pipelinedNoRecipientButDataAcceptedSendsOnlyDot() {
        var machine = SMTPTransactionStateMachine(mailCommand: "MAIL FROM:<a@x>", recipients: ["b@y"],
                                                  rcptCommands: ["RCPT TO:<b@y>"], pipelining: true, sendRset: false)
        _ = machine.start()
        _ = machine.replyReceived(reply(250))
        _ = machine.replyReceived(reply(450, "4.2.0 greylisted"))
        #expect(machine.replyReceived(reply(354)) == .sendEmptyBody)
        guard case .failed(let error, _) = machine.replyReceived(reply(250)) else {
            Issue.record("not failed")
            return
        }
        #expect(error.replyCode == 450)
        #expect(error.enhancedStatus?.isTransient == true)
    }

    @Test func stepByStepWithoutPipelining() {
        var machine = SMTPTransactionStateMachine(mailCommand: "MAIL FROM:<a@x>", recipients: ["b@y", "c@y"],
                                                  rcptCommands: ["RCPT TO:<b@y>", "RCPT TO:<c@y>"], pipelining: false, sendRset: true)
        #expect(machine.start() == .send(["RSET"]))
        #expect(machine.replyReceived(reply(250)) == .send(["MAIL FROM:<a@x>"]))
        #expect(machine.replyReceived(reply(250)) == .send(["RCPT TO:<b@y>"]))
        #expect(machine.replyReceived(reply(550)) == .send(["RCPT TO:<c@y>"]))
        #expect(machine.replyReceived(reply(250)) == .send(["DATA"]))
        #expect(machine.replyReceived(reply(354)) == .sendBody)
        if case .finished = machine.replyReceived(reply(250)) {} else { Issue.record("not finished") }
    }

    @Test func closingReplyMakesConnectionUnusable() {
        var machine = SMTPTransactionStateMachine(mailCommand: "MAIL FROM:<a@x>", recipients: ["b@y"],
                                                  rcptCommands: ["RCPT TO:<b@y>"], pipelining: false, sendRset: false)
        _ = machine.start()
        guard case .failed(_, let usable) = machine.replyReceived(reply(421, "4.3.2 shutting down")) else {
            Issue.record("not failed")
            return
        }
        #expect(!usable)
    }
}

@Suite struct SMTPDotStufferTests {
    func stuff(_ text: String, chunking: Chunking = .whole) -> String {
        var stuffer = SMTPDotStuffer()
        var out: [UInt8] = []
        for chunk in chunking.split(Array(text.utf8)) { stuffer.encode(chunk, into: &out) }
        stuffer.finish(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test(arguments: Chunking.allCases)
    func stuffing(chunking: Chunking) {
        #expect(stuff(".hidden\r\nline\r\n..two\r\n.\r\n", chunking: chunking) == "..hidden\r\nline\r\n...two\r\n..\r\n.\r\n")
        #expect(stuff("no final newline", chunking: chunking) == "no final newline\r\n.\r\n")
        #expect(stuff("bare\nlf\n.dot", chunking: chunking) == "bare\r\nlf\r\n..dot\r\n.\r\n")
        #expect(stuff("", chunking: chunking) == ".\r\n")
        #expect(stuff("ends with cr\r", chunking: chunking) == "ends with cr\r\n.\r\n")
        #expect(stuff("a\n\n.b\r\n\r\n..c\r\r\nd", chunking: chunking) == "a\r\n\r\n..b\r\n\r\n...c\r\r\nd\r\n.\r\n")
        #expect(stuff("\n.\n", chunking: chunking) == "\r\n..\r\n.\r\n")
    }

    @Test func eightBitBytesAreFoundAnywhere() {
        for length in [0, 1, 7, 8, 9, 31] {
            let ascii = [UInt8](repeating: UInt8(ascii: "a"), count: length)
            #expect(!ascii.withUnsafeBytes { SMTPConnection.hasEightBitBytes($0) })
            for position in 0..<length {
                var bytes = ascii
                bytes[position] = 0xC3
                #expect(bytes.withUnsafeBytes { SMTPConnection.hasEightBitBytes($0) })
            }
        }
    }
}
