import ClientTestSupport
import Foundation
import Synchronization
import MailTransport
import Testing
@testable import SMTPClient

private func sink(_ variable: String) throws -> MailEndpoint {
    try TestServers.endpoint(port: variable, security: .none, commandTimeout: .seconds(20))
}

private let message = Array("""
From: Agent <agent@example.test>\r
To: Customer <customer@example.test>\r
Subject: Re: your order\r
Message-ID: <test@example.test>\r
\r
Hello,\r
.a line that starts with a dot\r
.\r
Regards\r

""".utf8)

@Suite(.serialized) struct SMTPSinkTests {
    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_PORT")))
    func severalMessagesOnOneConnectionWithAuth() async throws {
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_PORT"), credentials: .password("agent", "secret"))
        let caps = await smtp.capabilities
        #expect(caps.supports(.pipelining))
        #expect(caps.supports(.enhancedStatusCodes))
        #expect(await smtp.isAuthenticated)
        for i in 0..<3 {
            let result = try await smtp.send(from: "agent@example.test", to: ["a\(i)@example.test", "b\(i)@example.test"], message: message)
            #expect(result.acceptedRecipients == ["a\(i)@example.test", "b\(i)@example.test"])
            #expect(result.dataReply.code == 250)
        }
        await smtp.quit()
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_DUMP_PORT", "MAILROOM_TEST_SMTP_SINK_DUMP_DIR")))
    func dotStuffedMessageArrivesIntact() async throws {
        let dir = try TestServers.value("MAILROOM_TEST_SMTP_SINK_DUMP_DIR")
        let marker = "marker-\(UInt64.random(in: 0...UInt64.max))"
        let body = message + Array("X-Marker: \(marker)\r\n".utf8)
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_DUMP_PORT"), credentials: nil)
        _ = try await smtp.send(from: "agent@example.test", to: ["c@example.test"], message: body)
        await smtp.quit()
        var found: String?
        for _ in 0..<50 where found == nil {
            let files = (try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? []
            for file in files {
                if let text = try? String(contentsOfFile: dir + "/" + file, encoding: .utf8), text.contains(marker) { found = text }
            }
            if found == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let dumped = try #require(found)
        // smtp-sink writes the dump with LF line ends, after removing the dot-stuffing.
        #expect(dumped.contains("\n.a line that starts with a dot\n.\nRegards\n"))
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT")))
    func rejectedRecipientIsPermanent() async throws {
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT"), credentials: nil)
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await smtp.send(from: "agent@example.test", to: ["nobody@example.test"], message: message)
        }
        #expect(error?.kind == .serverReply)
        #expect(error?.replyCode == 550)
        #expect(error?.enhancedStatus == EnhancedStatusCode(statusClass: 5, subject: 1, detail: 1))
        // The connection stays usable after a refused transaction.
        _ = try await smtp.noop()
        await smtp.quit()
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_RCPT_4XX_PORT")))
    func temporarilyRejectedRecipient() async throws {
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_RCPT_4XX_PORT"), credentials: nil)
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await smtp.send(from: "agent@example.test", to: ["x@example.test", "y@example.test"], message: message)
        }
        #expect(error?.replyCode == 450)
        #expect(error?.enhancedStatus?.statusClass == 4)
        await smtp.quit()
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_MAIL_5XX_PORT")))
    func rejectedSender() async throws {
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_MAIL_5XX_PORT"), credentials: nil)
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await smtp.send(from: "agent@example.test", to: ["x@example.test"], message: message)
        }
        #expect(error?.step == "MAIL FROM")
        #expect(error?.replyCode == 500)
        #expect(error?.enhancedStatus?.description == "5.3.0")
        await smtp.quit()
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_DATA_4XX_PORT", "MAILROOM_TEST_SMTP_SINK_DATA_5XX_PORT")))
    func rejectedAtEndOfData() async throws {
        for (variable, code, status) in [("MAILROOM_TEST_SMTP_SINK_DATA_4XX_PORT", 451, "4.7.1"), ("MAILROOM_TEST_SMTP_SINK_DATA_5XX_PORT", 554, "5.7.1")] {
            let smtp = try await SMTPConnection.connect(to: try sink(variable), credentials: nil)
            for _ in 0..<2 {
                let error = await #expect(throws: MailTransportError.self) {
                    _ = try await smtp.send(from: "agent@example.test", to: ["x@example.test"], message: message)
                }
                #expect(error?.step == "end of data")
                #expect(error?.replyCode == code)
                #expect(error?.enhancedStatus?.description == status)
            }
            await smtp.quit()
        }
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_NO_ESMTP_PORT", "MAILROOM_TEST_SMTP_SINK_EHLO_5XX_PORT")))
    func heloFallback() async throws {
        for variable in ["MAILROOM_TEST_SMTP_SINK_NO_ESMTP_PORT", "MAILROOM_TEST_SMTP_SINK_EHLO_5XX_PORT"] {
            let smtp = try await SMTPConnection.connect(to: try sink(variable), credentials: nil)
            #expect(await smtp.capabilities.isESMTP == false)
            let result = try await smtp.send(from: "agent@example.test", to: ["x@example.test", "y@example.test"], message: message)
            #expect(result.acceptedRecipients.count == 2)
            _ = try await smtp.send(from: "agent@example.test", to: ["z@example.test"], message: message)
            await smtp.quit()
        }
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_NO_PIPELINING_PORT")))
    func withoutPipelining() async throws {
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_NO_PIPELINING_PORT"), credentials: nil)
        #expect(await smtp.capabilities.supports(.pipelining) == false)
        for _ in 0..<2 {
            let result = try await smtp.send(from: "agent@example.test", to: ["x@example.test", "y@example.test"], message: message)
            #expect(result.acceptedRecipients.count == 2)
        }
        await smtp.quit()
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_DISCONNECT_DATA_PORT", "MAILROOM_TEST_SMTP_SINK_421_MAIL_PORT")))
    func serverHangsUp() async throws {
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_DISCONNECT_DATA_PORT"), credentials: nil)
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await smtp.send(from: "agent@example.test", to: ["x@example.test"], message: message)
        }
        #expect(error?.kind == .connectionClosed)
        await smtp.close()

        let smtp2 = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_421_MAIL_PORT"), credentials: nil)
        let error2 = await #expect(throws: MailTransportError.self) {
            _ = try await smtp2.send(from: "agent@example.test", to: ["x@example.test"], message: message)
        }
        #expect(error2?.replyCode == 421)
        await #expect(throws: MailTransportError.self) {
            _ = try await smtp2.send(from: "agent@example.test", to: ["x@example.test"], message: message)
        }
        await smtp2.close()
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_PORT")))
    func fiftyMegabyteMessage() async throws {
        var big = Array("Subject: big\r\n\r\n".utf8)
        let line = Array(String(repeating: "0123456789", count: 7).utf8) + [13, 10]
        big.reserveCapacity(50 * 1024 * 1024 + 100)
        while big.count < 50 * 1024 * 1024 { big += line }
        let smtp = try await SMTPConnection.connect(to: try sink("MAILROOM_TEST_SMTP_SINK_PORT"), credentials: nil)
        let result = try await smtp.send(from: "agent@example.test", to: ["x@example.test"], message: big)
        #expect(result.dataReply.code == 250)
        await smtp.quit()
    }
}

@Suite struct SMTPMisbehavingServerTests {
    @Test func silentServerTimesOutNamingTheStep() async throws {
        let server = try await ScriptedServer(greeting: nil)
        defer { Task { await server.stop() } }
        let endpoint = MailEndpoint(host: "127.0.0.1", port: server.port, security: .none, connectionTimeout: .milliseconds(300))
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await SMTPConnection.connect(to: endpoint, credentials: nil)
        }
        #expect(error?.kind == .timeout)
        #expect(error?.step == "greeting")
    }

    @Test func wrongPasswordShowsServerTextButNotThePassword() async throws {
        let server = try await ScriptedServer(greeting: .init("220 test ESMTP\r\n")) { line in
            if line.hasPrefix("EHLO") { return .init("250-test\r\n250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n") }
            if line.hasPrefix("AUTH") { return .init("535 5.7.8 Username and Password not accepted\r\n") }
            return .init("250 ok\r\n")
        }
        defer { Task { await server.stop() } }
        let endpoint = MailEndpoint(host: "127.0.0.1", port: server.port, security: .none)
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await SMTPConnection.connect(to: endpoint, credentials: .password("agent", "hunter2-secret"))
        }
        #expect(error?.kind == .authenticationFailed)
        #expect(error?.enhancedStatus?.description == "5.7.8")
        #expect(error?.description.contains("Username and Password not accepted") == true)
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func authLoginWhenPlainIsMissing() async throws {
        let server = try await ScriptedServer(greeting: .init("220 test ESMTP\r\n")) { line in
            if line.hasPrefix("EHLO") { return .init("250-test\r\n250 AUTH LOGIN\r\n") }
            if line == "AUTH LOGIN" { return .init("334 VXNlcm5hbWU6\r\n") }
            if line == Base64.encode(Array("agent".utf8)) { return .init("334 UGFzc3dvcmQ6\r\n") }
            if line == Base64.encode(Array("pw".utf8)) { return .init("235 2.7.0 ok\r\n") }
            return .init("500 what\r\n")
        }
        defer { Task { await server.stop() } }
        let endpoint = MailEndpoint(host: "127.0.0.1", port: server.port, security: .none)
        let smtp = try await SMTPConnection.connect(to: endpoint, credentials: .password("agent", "pw"))
        #expect(await smtp.isAuthenticated)
        await smtp.close()
    }

    @Test func xoauth2FailureChallengeIsAnswered() async throws {
        let server = try await ScriptedServer(greeting: .init("220 test ESMTP\r\n")) { line in
            if line.hasPrefix("EHLO") { return .init("250-test\r\n250 AUTH XOAUTH2 PLAIN\r\n") }
            if line.hasPrefix("AUTH XOAUTH2 ") { return .init("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n") }
            if line.isEmpty { return .init("535 5.7.3 Authentication unsuccessful\r\n") }
            return .init("500 what\r\n")
        }
        defer { Task { await server.stop() } }
        let endpoint = MailEndpoint(host: "127.0.0.1", port: server.port, security: .none)
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await SMTPConnection.connect(to: endpoint, credentials: .oauth2("agent@example.test", accessToken: "ya29.token"))
        }
        #expect(error?.kind == .authenticationFailed)
        #expect(error?.description.contains("ya29") == false)
    }

    @Test func sizeLimitIsCheckedBeforeSending() async throws {
        let server = try await ScriptedServer(greeting: .init("220 test ESMTP\r\n")) { line in
            if line.hasPrefix("EHLO") { return .init("250-test\r\n250 SIZE 100\r\n") }
            return .init("250 ok\r\n")
        }
        defer { Task { await server.stop() } }
        let smtp = try await SMTPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none), credentials: nil)
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await smtp.send(from: "a@x.test", to: ["b@x.test"], message: message)
        }
        #expect(error?.step == "SIZE")
        #expect(error?.enhancedStatus?.description == "5.3.4")
        await smtp.close()
    }

    @Test func starttlsRequiredButNotOffered() async throws {
        let server = try await ScriptedServer(greeting: .init("220 test ESMTP\r\n")) { line in
            if line.hasPrefix("EHLO") { return .init("250-test\r\n250 PIPELINING\r\n") }
            return .init("250 ok\r\n")
        }
        defer { Task { await server.stop() } }
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await SMTPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .starttls), credentials: nil)
        }
        #expect(error?.kind == .unsupported)
    }

    @Test func connectionRefusedAndUnknownHost() async throws {
        let server = try await ScriptedServer(greeting: nil)
        let port = server.port
        await server.stop()
        let refused = await #expect(throws: MailTransportError.self) {
            _ = try await SMTPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: port, security: .none), credentials: nil)
        }
        #expect(refused?.kind == .connectionRefused)
        let unknown = await #expect(throws: MailTransportError.self) {
            _ = try await SMTPConnection.connect(to: MailEndpoint(host: "no-such-host.invalid", port: 25, security: .none), credentials: nil)
        }
        #expect(unknown?.kind == .unknownHost)
    }
}

@Suite struct SMTPConnectionCheckTests {
    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_PORT")))
    func sinkWithAuth() async throws {
        let report = await SMTPConnection.check(try sink("MAILROOM_TEST_SMTP_SINK_PORT"), credentials: .password("agent", "pw-not-shown"))
        #expect(report.ok)
        #expect(report.steps.map(\.name) == ["resolve", "connect", "greeting", "ehlo", "authenticate"])
        #expect(report.steps[3].message?.contains("PIPELINING") == true)
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(!json.contains("pw-not-shown"))
    }

    @Test(.enabled(if: TestServers.available("MAILROOM_TEST_SMTP_SINK_PORT")))
    func starttlsNotOffered() async throws {
        var endpoint = try sink("MAILROOM_TEST_SMTP_SINK_PORT")
        endpoint.security = .starttls
        let report = await SMTPConnection.check(endpoint, credentials: nil)
        #expect(!report.ok)
        #expect(report.steps.last?.name == "starttls")
        #expect(report.steps.last?.errorKind == "unsupported")
    }

    @Test func silentServerTimesOutAtGreeting() async throws {
        let server = try await ScriptedServer(greeting: nil)
        defer { Task { await server.stop() } }
        let report = await SMTPConnection.check(MailEndpoint(host: "127.0.0.1", port: server.port, security: .none, connectionTimeout: .milliseconds(300)), credentials: nil)
        #expect(report.steps.last?.name == "greeting")
        #expect(report.steps.last?.errorKind == "timeout")
    }
}

let postfixAvailable = TestServers.available("MAILROOM_TEST_POSTFIX_SUBMISSION_PORT", "MAILROOM_TEST_POSTFIX_SMTPS_PORT", "MAILROOM_TEST_POSTFIX_PASSWORD")

func postfix(_ security: MailSecurity, acceptAny: Bool = true) throws -> MailEndpoint {
    try TestServers.endpoint(port: security == .tls ? "MAILROOM_TEST_POSTFIX_SMTPS_PORT" : "MAILROOM_TEST_POSTFIX_SUBMISSION_PORT",
                             security: security, acceptAnyCertificate: acceptAny)
}

@Suite(.enabled(if: postfixAvailable)) struct SMTPPostfixTests {
    @Test(arguments: [MailSecurity.starttls, .tls])
    func authenticatedSendOverTLS(security: MailSecurity) async throws {
        let smtp = try await SMTPConnection.connect(to: try postfix(security), credentials: .password("agent@example.test", try TestServers.value("MAILROOM_TEST_POSTFIX_PASSWORD")))
        #expect(await smtp.isAuthenticated)
        #expect(await smtp.connection.isTLS)
        #expect(await smtp.capabilities.maximumMessageSize == 10_240_000)
        for _ in 0..<2 {
            let result = try await smtp.send(from: "agent@example.test", to: ["one@example.com", "two@example.org"], message: message)
            #expect(result.acceptedRecipients.count == 2)
            #expect(result.dataReply.enhancedStatus?.description == "2.0.0")
        }
        // UTF-8 addresses with SMTPUTF8, 8-bit body with 8BITMIME.
        let utf8 = try await smtp.send(from: "agent@example.test", to: ["jürgen@bücher.example"], message: Array("Subject: Grüße\r\n\r\nÄ\r\n".utf8))
        #expect(utf8.acceptedRecipients == ["jürgen@bücher.example"])
        await smtp.quit()
    }

    @Test(arguments: [MailSecurity.starttls, .tls])
    func pipelinedStreamOverTLS(security: MailSecurity) async throws {
        let smtp = try await SMTPConnection.connect(to: try postfix(security), credentials: .password("agent@example.test", try TestServers.value("MAILROOM_TEST_POSTFIX_PASSWORD")))
        #expect(await smtp.capabilities.supports(.pipelining))
        let queue = Mutex<[Int]>(Array(0..<5))
        let outcomes = Mutex<[Int: SMTPPipelineStateMachine.Outcome]>([:])
        let usable = await smtp.sendAll(next: {
            queue.withLock { $0.isEmpty ? nil : $0.removeFirst() }.map { index in
                (item: index, message: SMTPOutgoingMessage(sender: "agent@example.test", recipients: ["one@example.com"], content: message))
            }
        }, outcome: { index, outcome in outcomes.withLock { $0[index] = outcome } })
        #expect(usable)
        let results = outcomes.withLock { $0 }
        #expect(results.count == 5)
        for (_, outcome) in results {
            if case .sent(let result) = outcome { #expect(result.dataReply.enhancedStatus?.description == "2.0.0") } else { Issue.record("\(outcome)") }
        }
        await smtp.quit()
    }

    @Test func authenticationIsOfferedOnlyAfterSTARTTLS() async throws {
        var endpoint = try postfix(.starttls)
        endpoint.security = .none
        let smtp = try await SMTPConnection.connect(to: endpoint, credentials: nil)
        #expect(await smtp.capabilities.supports(.startTLS))
        #expect(await smtp.capabilities.authMechanisms.isEmpty)
        // Without authentication Postfix refuses to relay: a permanent 5.7.1 for the recipient.
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await smtp.send(from: "agent@example.test", to: ["one@example.com"], message: message)
        }
        #expect(error?.replyCode == 554)
        #expect(error?.enhancedStatus?.description == "5.7.1")
        await smtp.quit()
    }

    @Test func wrongPassword() async throws {
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await SMTPConnection.connect(to: try postfix(.starttls), credentials: .password("agent@example.test", "not-the-password-9"))
        }
        #expect(error?.kind == .authenticationFailed)
        #expect(error?.replyCode == 535)
        #expect(error?.enhancedStatus?.description == "5.7.8")
        #expect(error?.description.contains("not-the-password-9") == false)
    }

    @Test func xoauth2() async throws {
        let smtp = try await SMTPConnection.connect(to: try postfix(.tls), credentials: .oauth2("agent@example.test", accessToken: try TestServers.value("MAILROOM_TEST_POSTFIX_PASSWORD")))
        #expect(await smtp.isAuthenticated)
        await smtp.quit()
    }

    @Test func selfSignedCertificateWithoutAcceptAny() async throws {
        for security in [MailSecurity.starttls, .tls] {
            let error = await #expect(throws: MailTransportError.self) {
                _ = try await SMTPConnection.connect(to: try postfix(security, acceptAny: false), credentials: nil)
            }
            #expect(error?.tlsReason == .selfSigned)
        }
    }

    @Test func messageAboveTheSizeLimitIsRefusedBeforeSending() async throws {
        let smtp = try await SMTPConnection.connect(to: try postfix(.tls), credentials: .password("agent@example.test", try TestServers.value("MAILROOM_TEST_POSTFIX_PASSWORD")))
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 11_000_000)
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await smtp.send(from: "agent@example.test", to: ["one@example.com"], message: big)
        }
        #expect(error?.enhancedStatus?.description == "5.3.4")
        _ = try await smtp.noop()
        await smtp.quit()
    }

    @Test func connectionCheck() async throws {
        let report = await SMTPConnection.check(try postfix(.starttls), credentials: .password("agent@example.test", try TestServers.value("MAILROOM_TEST_POSTFIX_PASSWORD")))
        #expect(report.ok)
        #expect(report.steps.map(\.name) == ["resolve", "connect", "greeting", "ehlo", "starttls", "authenticate"])
        let bad = await SMTPConnection.check(try postfix(.tls), credentials: .password("agent@example.test", "nope"))
        #expect(bad.steps.map(\.name) == ["resolve", "connect", "tls", "greeting", "ehlo", "authenticate"])
        #expect(bad.steps.last?.enhancedStatus == "5.7.8")
    }
}
