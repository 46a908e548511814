import ClientTestSupport
import Foundation
import MailTransport
import NIOCore
import Synchronization
import Testing
@testable import SMTPClient

/// A server modelled on Postfix's smtp-sink (its replies and its state: a nested MAIL or a DATA
/// without recipients is refused with 503), with hooks to refuse chosen commands. It sees a
/// message's content as "<message N>".
private struct SinkModel {
    var refuseMail: (Int) -> String? = { _ in nil }
    var refuseRcpt: (String) -> String? = { _ in nil }
    /// The reply to DATA when the transaction has no recipient (smtp-sink: 503; some servers: 354).
    var dataWithoutRecipients = "503 5.5.1 Error: need RCPT command"
    var endOfData: (Int) -> String = { _ in "250 2.0.0 Ok: queued" }
    /// After this many replies the server falls silent and closes.
    var closeAfterReplies = Int.max

    private var inMail = false
    private var recipients = 0
    private var mailCount = 0
    private(set) var replies: [String] = []
    private(set) var sentReplies = 0

    init() {}

    mutating func receive(_ line: String) {
        if line == "RSET" {
            reply("250 2.1.0 Ok")
            inMail = false
        } else if line.hasPrefix("MAIL FROM:") {
            mailCount += 1
            if inMail { return reply("503 5.5.1 Error: nested MAIL command") }
            if let refusal = refuseMail(mailCount) { return reply(refusal) }
            inMail = true
            recipients = 0
            reply("250 2.1.0 Ok")
        } else if line.hasPrefix("RCPT TO:") {
            if !inMail { return reply("503 5.5.1 Error: need MAIL command") }
            let address = String(line.dropFirst("RCPT TO:<".count).dropLast())
            if let refusal = refuseRcpt(address) { return reply(refusal) }
            recipients += 1
            reply("250 2.1.5 Ok")
        } else if line == "DATA" {
            if !inMail || recipients == 0, dataWithoutRecipients.hasPrefix("503") { return reply(dataWithoutRecipients) }
            reply("354 End data with <CR><LF>.<CR><LF>")
        } else if line.hasPrefix("<message ") {
            let number = Int(line.dropFirst("<message ".count).dropLast())!
            inMail = false
            reply(recipients == 0 ? "554 5.5.1 Error: no valid recipients" : endOfData(number))
        } else if line == "." {
            inMail = false
            reply("554 5.5.1 Error: no valid recipients")
        } else {
            reply("502 5.5.2 Error: command not recognized")
        }
    }

    private mutating func reply(_ text: String) {
        replies.append(text)
    }

    /// The next reply, or nil when the server has closed the connection.
    mutating func nextReply() -> String? {
        guard sentReplies < closeAfterReplies, sentReplies < replies.count else { return nil }
        sentReplies += 1
        return replies[sentReplies - 1]
    }
}

/// Runs the machine against the model and writes the conversation down: one "C:" line per write
/// (its parts joined by " | "), one "S:" line per reply, "= N ..." for each message's outcome.
private func transcript(_ messages: [SMTPPipelineStateMachine.Envelope], needsReset: Bool = false,
                        server: SinkModel) -> [String] {
    var server = server
    var machine = SMTPPipelineStateMachine(needsReset: needsReset)
    var remaining = messages[...]
    var tag = 0
    var log: [String] = []
    while true {
        switch machine.nextAction() {
        case .needMessage:
            if let next = remaining.popFirst() {
                tag += 1
                machine.add(tag: tag, next)
            } else {
                machine.noMoreMessages()
            }
        case .write(let content, let lines):
            var parts: [String] = []
            switch content {
            case .message(let tag): parts.append("<message \(tag)>")
            case .dotOnly: parts.append(".")
            case nil: break
            }
            parts += lines
            log.append("C: " + parts.joined(separator: " | "))
            for part in parts { server.receive(part) }
        case .readReply(let step):
            if let text = server.nextReply() {
                log.append("S: " + text)
                let code = Int(text.prefix(3))!
                machine.replyReceived(SMTPReplyParser.makeReply(code: code, lines: [String(text.dropFirst(4))]))
            } else {
                log.append("S: <closed>")
                machine.connectionFailed(.connectionClosed(step: step))
            }
        case .deliver(let tag, let outcome):
            switch outcome {
            case .sent(let result):
                let refused = result.rejectedRecipients.map(\.address)
                log.append("= \(tag) sent \(result.dataReply.code)" + (refused.isEmpty ? "" : ", refused \(refused.joined(separator: ","))"))
            case .failed(let error):
                log.append("= \(tag) failed \(error.step ?? "-") \(error.replyCode.map(String.init) ?? error.kind.rawValue)")
            case .notSent(let error):
                log.append("= \(tag) not sent (\(error.kind.rawValue))")
            }
        case .done(let usable):
            log.append(usable ? "done" : "done, connection unusable")
            return log
        }
    }
}

private func envelope(_ recipients: String...) -> SMTPPipelineStateMachine.Envelope {
    .init(mailCommand: "MAIL FROM:<desk@x.test>", recipients: recipients, rcptCommands: recipients.map { "RCPT TO:<\($0)>" })
}

@Suite struct SMTPPipelineStateMachineTests {
    @Test func eachMessageCostsOneRoundTripAndNoRset() {
        let log = transcript([envelope("a@y.test"), envelope("b@y.test", "c@y.test"), envelope("d@y.test")], server: SinkModel())
        #expect(log == [
            "C: MAIL FROM:<desk@x.test> | RCPT TO:<a@y.test> | DATA",
            "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 1> | MAIL FROM:<desk@x.test> | RCPT TO:<b@y.test> | RCPT TO:<c@y.test> | DATA",
            "S: 250 2.0.0 Ok: queued",
            "= 1 sent 250",
            "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 2> | MAIL FROM:<desk@x.test> | RCPT TO:<d@y.test> | DATA",
            "S: 250 2.0.0 Ok: queued",
            "= 2 sent 250",
            "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 3>",
            "S: 250 2.0.0 Ok: queued",
            "= 3 sent 250",
            "done",
        ])
    }

    @Test func aRefusedRecipientFailsOnlyItsMessageAndTheNextOneIsReset() {
        var server = SinkModel()
        server.refuseRcpt = { $0 == "nobody@y.test" ? "550 5.1.1 Recipient address rejected: User unknown" : nil }
        let log = transcript([envelope("a@y.test"), envelope("nobody@y.test"), envelope("b@y.test")], server: server)
        #expect(log == [
            "C: MAIL FROM:<desk@x.test> | RCPT TO:<a@y.test> | DATA",
            "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 1> | MAIL FROM:<desk@x.test> | RCPT TO:<nobody@y.test> | DATA",
            "S: 250 2.0.0 Ok: queued",
            "= 1 sent 250",
            "S: 250 2.1.0 Ok", "S: 550 5.1.1 Recipient address rejected: User unknown", "S: 503 5.5.1 Error: need RCPT command",
            "= 2 failed RCPT TO 550",
            // MAIL was accepted: the transaction is open on the server until RSET.
            "C: RSET | MAIL FROM:<desk@x.test> | RCPT TO:<b@y.test> | DATA",
            "S: 250 2.1.0 Ok", "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 3>",
            "S: 250 2.0.0 Ok: queued",
            "= 3 sent 250",
            "done",
        ])
    }

    @Test func aRefusalAtTheEndOfDataNeedsNoRset() {
        var server = SinkModel()
        server.endOfData = { $0 == 1 ? "554 5.7.1 Message rejected as spam" : "250 2.0.0 Ok: queued" }
        let log = transcript([envelope("a@y.test"), envelope("b@y.test")], server: server)
        #expect(log == [
            "C: MAIL FROM:<desk@x.test> | RCPT TO:<a@y.test> | DATA",
            "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 1> | MAIL FROM:<desk@x.test> | RCPT TO:<b@y.test> | DATA",
            "S: 554 5.7.1 Message rejected as spam",
            "= 1 failed end of data 554",
            "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 2>",
            "S: 250 2.0.0 Ok: queued",
            "= 2 sent 250",
            "done",
        ])
    }

    @Test func aRefusedSenderConsumesItsRepliesAndTheNextMessageGoesOut() {
        var server = SinkModel()
        server.refuseMail = { $0 == 2 ? "451 4.3.0 Error: queue file write error" : nil }
        let log = transcript([envelope("a@y.test"), envelope("b@y.test"), envelope("c@y.test")], server: server)
        #expect(log == [
            "C: MAIL FROM:<desk@x.test> | RCPT TO:<a@y.test> | DATA",
            "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 1> | MAIL FROM:<desk@x.test> | RCPT TO:<b@y.test> | DATA",
            "S: 250 2.0.0 Ok: queued",
            "= 1 sent 250",
            "S: 451 4.3.0 Error: queue file write error", "S: 503 5.5.1 Error: need MAIL command", "S: 503 5.5.1 Error: need RCPT command",
            "= 2 failed MAIL FROM 451",
            "C: RSET | MAIL FROM:<desk@x.test> | RCPT TO:<c@y.test> | DATA",
            "S: 250 2.1.0 Ok", "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 3>",
            "S: 250 2.0.0 Ok: queued",
            "= 3 sent 250",
            "done",
        ])
    }

    @Test func dataAcceptedWithoutRecipientsGetsOnlyTheDotAndTheNextEnvelope() {
        var server = SinkModel()
        server.refuseRcpt = { $0 == "later@y.test" ? "450 4.2.0 Greylisted, try again later" : nil }
        server.dataWithoutRecipients = "354 End data with <CR><LF>.<CR><LF>"
        let log = transcript([envelope("later@y.test"), envelope("a@y.test", "later@y.test")], server: server)
        #expect(log == [
            "C: MAIL FROM:<desk@x.test> | RCPT TO:<later@y.test> | DATA",
            "S: 250 2.1.0 Ok", "S: 450 4.2.0 Greylisted, try again later", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: . | MAIL FROM:<desk@x.test> | RCPT TO:<a@y.test> | RCPT TO:<later@y.test> | DATA",
            "S: 554 5.5.1 Error: no valid recipients",
            "= 1 failed RCPT TO 450",
            "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 450 4.2.0 Greylisted, try again later", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 2>",
            "S: 250 2.0.0 Ok: queued",
            "= 2 sent 250, refused later@y.test",
            "done",
        ])
    }

    @Test func aResetOwedByAnEarlierTransactionGoesFirst() {
        let log = transcript([envelope("a@y.test")], needsReset: true, server: SinkModel())
        #expect(log.first == "C: RSET | MAIL FROM:<desk@x.test> | RCPT TO:<a@y.test> | DATA")
        #expect(log.suffix(2) == ["= 1 sent 250", "done"])
    }

    @Test func closingReplyAtTheEndOfDataLeavesTheNextMessageNotSent() {
        var server = SinkModel()
        server.endOfData = { _ in "421 4.3.2 Service shutting down" }
        let log = transcript([envelope("a@y.test"), envelope("b@y.test"), envelope("c@y.test")], server: server)
        #expect(log == [
            "C: MAIL FROM:<desk@x.test> | RCPT TO:<a@y.test> | DATA",
            "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
            "C: <message 1> | MAIL FROM:<desk@x.test> | RCPT TO:<b@y.test> | DATA",
            "S: 421 4.3.2 Service shutting down",
            "= 1 failed end of data 421",
            "= 2 not sent (serverReply)",
            "done, connection unusable",
        ])
    }

    @Test func connectionLostAfterTheContentFailsThatMessageAndNotTheNext() {
        var server = SinkModel()
        server.closeAfterReplies = 3
        let log = transcript([envelope("a@y.test"), envelope("b@y.test")], server: server)
        #expect(log.suffix(5) == [
            "C: <message 1> | MAIL FROM:<desk@x.test> | RCPT TO:<b@y.test> | DATA",
            "S: <closed>",
            "= 1 failed end of data connectionClosed",
            "= 2 not sent (connectionClosed)",
            "done, connection unusable",
        ])
    }

    @Test func connectionLostBeforeAnyContentFailsTheMessageWhoseTurnItIs() {
        var server = SinkModel()
        server.closeAfterReplies = 5 // message 1 sent; message 2's MAIL answered, then nothing
        let log = transcript([envelope("a@y.test"), envelope("b@y.test"), envelope("c@y.test")], server: server)
        #expect(log.suffix(5) == [
            "= 1 sent 250",
            "S: 250 2.1.0 Ok",
            "S: <closed>",
            "= 2 failed MAIL transaction connectionClosed",
            "done, connection unusable",
        ])
    }

    @Test func replyWithNothingAwaitedIsAProtocolError() {
        var machine = SMTPPipelineStateMachine()
        #expect(machine.nextAction() == .needMessage)
        machine.noMoreMessages()
        machine.replyReceived(SMTPReplyParser.makeReply(code: 250, lines: ["ok"]))
        #expect(machine.nextAction() == .done(connectionUsable: false))
    }
}

private func sink(_ variable: String) throws -> MailEndpoint {
    try TestServers.endpoint(port: variable, security: .none, commandTimeout: .seconds(20))
}

private func outgoing(_ index: Int, to recipients: [String] = ["x@example.test"], marker: String = "") -> SMTPOutgoingMessage {
    SMTPOutgoingMessage(sender: "agent@example.test", recipients: recipients, content: Array("""
        From: Agent <agent@example.test>\r
        Subject: Re: order \(index)\r
        Message-ID: <pipeline-\(index)\(marker)@example.test>\r
        \r
        Hello \(index),\r
        .a line that starts with a dot\r
        .\r
        Regards\r

        """.utf8))
}

/// Runs `sendAll` over `smtp` for `count` messages and returns the outcomes in the order they came.
private func sendAll(_ smtp: SMTPConnection, _ messages: [SMTPOutgoingMessage]) async -> (outcomes: [(Int, SMTPPipelineStateMachine.Outcome)], usable: Bool) {
    let queue = Mutex<[(Int, SMTPOutgoingMessage)]>(Array(messages.enumerated()))
    let outcomes = Mutex<[(Int, SMTPPipelineStateMachine.Outcome)]>([])
    let usable = await smtp.sendAll(next: {
        queue.withLock { $0.isEmpty ? nil : $0.removeFirst() }.map { (item: $0.0, message: $0.1) }
    }, outcome: { index, outcome in
        outcomes.withLock { $0.append((index, outcome)) }
    })
    return (outcomes.withLock { $0 }, usable)
}

/// `sendAll` against smtp-sink. Its reject modes do not announce PIPELINING (-f and -r imply -p)
/// but read pipelined commands, so those tests pipeline regardless.
@Suite(.serialized) struct SMTPPipelineSinkTests {
    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_DUMP_PORT", "MAILROOM_TEST_SMTP_SINK_DUMP_DIR")))
    func manyMessagesArriveIntactEachOnce() async throws {
        let dir = try TestServers.value("MAILROOM_TEST_SMTP_SINK_DUMP_DIR")
        let marker = "-\(UInt64.random(in: 0...UInt64.max))"
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_DUMP_PORT"), credentials: nil)
        #expect(await smtp.capabilities.supports(.pipelining))
        let (outcomes, usable) = await sendAll(smtp, (0..<20).map { outgoing($0, marker: marker) })
        #expect(usable)
        #expect(outcomes.map(\.0) == Array(0..<20))
        for (_, outcome) in outcomes {
            guard case .sent(let result) = outcome else {
                Issue.record("not sent: \(outcome)")
                continue
            }
            #expect(result.dataReply.code == 250)
        }
        // The connection goes on as before.
        _ = try await smtp.send(from: "agent@example.test", to: ["y@example.test"], message: outgoing(99, marker: marker).content)
        await smtp.quit()
        var found: [String: Int] = [:]
        for _ in 0..<50 where found.count < 21 {
            found = [:]
            for file in (try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? [] {
                guard let text = try? String(contentsOfFile: dir + "/" + file, encoding: .utf8), text.contains(marker) else { continue }
                #expect(text.contains("\n.a line that starts with a dot\n.\nRegards\n"))
                for line in text.split(separator: "\n") where line.hasPrefix("Message-ID:") { found[String(line), default: 0] += 1 }
            }
            if found.count < 21 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(found.count == 21)
        #expect(found.values.allSatisfy { $0 == 1 })
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT", "MAILROOM_TEST_SMTP_SINK_RCPT_4XX_PORT",
                                             "MAILROOM_TEST_SMTP_SINK_MAIL_5XX_PORT", "MAILROOM_TEST_SMTP_SINK_DATA_4XX_PORT",
                                             "MAILROOM_TEST_SMTP_SINK_DATA_5XX_PORT")),
          arguments: [
              ("MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT", "RCPT TO", 550, "5.1.1"),
              ("MAILROOM_TEST_SMTP_SINK_RCPT_4XX_PORT", "RCPT TO", 450, "4.3.0"),
              ("MAILROOM_TEST_SMTP_SINK_MAIL_5XX_PORT", "MAIL FROM", 500, "5.3.0"),
              ("MAILROOM_TEST_SMTP_SINK_DATA_4XX_PORT", "end of data", 451, "4.7.1"),
              ("MAILROOM_TEST_SMTP_SINK_DATA_5XX_PORT", "end of data", 554, "5.7.1"),
          ])
    func eachRefusedMessageGetsItsOwnReply(variable: String, step: String, code: Int, status: String) async throws {
        let smtp = try await SMTPConnection.connect(to: try sink(variable), credentials: nil)
        await smtp.assumePipelining()
        let (outcomes, usable) = await sendAll(smtp, (0..<4).map { outgoing($0) })
        #expect(usable)
        #expect(outcomes.map(\.0) == [0, 1, 2, 3])
        for (_, outcome) in outcomes {
            guard case .failed(let error) = outcome else {
                Issue.record("not failed: \(outcome)")
                continue
            }
            #expect(error.step == step)
            #expect(error.replyCode == code)
            #expect(error.enhancedStatus?.description == status)
        }
        // Every reply was matched to its command: the next one answers the next command.
        #expect(try await smtp.noop().code == 250)
        await smtp.quit()
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_DISCONNECT_DOT_PORT")))
    func serverHangsUpAfterTheContent() async throws {
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_DISCONNECT_DOT_PORT"), credentials: nil)
        let (outcomes, usable) = await sendAll(smtp, (0..<3).map { outgoing($0) })
        #expect(!usable)
        #expect(outcomes.count == 2)
        if case .failed(let error) = outcomes.first?.1 { #expect(error.kind == .connectionClosed) } else { Issue.record("\(outcomes)") }
        if case .notSent = outcomes.last?.1 {} else { Issue.record("\(outcomes)") }
        #expect(outcomes.map(\.0) == [0, 1])
        await smtp.close()
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_421_MAIL_PORT")))
    func closingReplyToMail() async throws {
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_421_MAIL_PORT"), credentials: nil)
        let (outcomes, usable) = await sendAll(smtp, (0..<3).map { outgoing($0) })
        #expect(!usable)
        #expect(outcomes.count == 1)
        if case .failed(let error) = outcomes.first?.1 { #expect(error.replyCode == 421) } else { Issue.record("\(outcomes)") }
        await smtp.close()
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_NO_PIPELINING_PORT")))
    func withoutPipeliningOneAtATime() async throws {
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_NO_PIPELINING_PORT"), credentials: nil)
        let (outcomes, usable) = await sendAll(smtp, (0..<3).map { outgoing($0, to: ["x@example.test", "y@example.test"]) })
        #expect(usable)
        #expect(outcomes.count == 3)
        for (_, outcome) in outcomes {
            if case .sent(let result) = outcome { #expect(result.acceptedRecipients.count == 2) } else { Issue.record("\(outcome)") }
        }
        await smtp.quit()
    }

    @Test func invalidAddressFailsAtOnceAndTheRestGoOut() async throws {
        let server = try await ScriptedServer(greeting: .init("220 test ESMTP\r\n")) { line in
            if line.hasPrefix("EHLO") { return .init("250-test\r\n250 PIPELINING\r\n") }
            if line == "DATA" { return .init("354 go\r\n") }
            if line == "." { return .init("250 2.0.0 queued\r\n") }
            if line.hasPrefix("MAIL") || line.hasPrefix("RCPT") { return .init("250 ok\r\n") }
            return .silence
        }
        defer { Task { await server.stop() } }
        let smtp = try await SMTPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none), credentials: nil)
        let (outcomes, usable) = await sendAll(smtp, [outgoing(0), outgoing(1, to: ["bad>@x"]), outgoing(2)])
        #expect(usable)
        #expect(outcomes.map(\.0) == [1, 0, 2])
        if case .failed(let error) = outcomes[0].1 { #expect(error.kind == .protocolError) } else { Issue.record("\(outcomes)") }
        await smtp.close()
    }
}
