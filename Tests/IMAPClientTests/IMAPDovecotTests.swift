import ClientTestSupport
import Foundation
import MailTransport
import NIOCore
import Testing
@testable import IMAPClient

let dovecotAvailable = TestServers.available("MAILROOM_TEST_IMAP_PORT", "MAILROOM_TEST_IMAPS_PORT", "MAILROOM_TEST_DOVECOT_PASSWORD")

func imapEndpoint(_ security: MailSecurity, acceptAny: Bool = true) throws -> MailEndpoint {
    try TestServers.endpoint(port: security == .tls ? "MAILROOM_TEST_IMAPS_PORT" : "MAILROOM_TEST_IMAP_PORT", security: security, acceptAnyCertificate: acceptAny)
}

func connectDovecot(_ user: String, security: MailSecurity = .none) async throws -> IMAPConnection {
    try await IMAPConnection.connect(to: try imapEndpoint(security), credentials: .password(user, try TestServers.dovecotPassword()))
}

func testMessage(_ n: Int, subject: String = "Order question", bodyLines: Int = 5) -> [UInt8] {
    var text = "From: Customer \(n) <customer\(n)@example.test>\r\nTo: support@example.test\r\nSubject: \(subject) \(n)\r\nMessage-ID: <m\(n).\(UInt32.random(in: 0...UInt32.max))@example.test>\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\n\r\n"
    for i in 0..<bodyLines { text += "Line \(i) of message \(n).\r\n" }
    return Array(text.utf8)
}

actor CountingSink: IMAPFetchSink {
    var started: [IMAPSectionStart] = []
    var finished: [IMAPFetchedAttributes] = []
    var bytes = 0
    var largestChunk = 0
    var prefix: [UInt8] = []

    func begin(_ start: IMAPSectionStart) { started.append(start) }
    func write(_ chunk: ByteBuffer) {
        bytes += chunk.readableBytes
        largestChunk = max(largestChunk, chunk.readableBytes)
        if prefix.count < 64 { prefix += chunk.readableBytesView.prefix(64 - prefix.count) }
    }
    func end(_ message: IMAPFetchedAttributes) { finished.append(message) }
}

@Suite(.enabled(if: dovecotAvailable)) struct IMAPDovecotTests {
    @Test(arguments: [MailSecurity.none, .starttls, .tls])
    func loginOnEveryPort(security: MailSecurity) async throws {
        let imap = try await connectDovecot(TestServers.uniqueUser(), security: security)
        #expect(await imap.isAuthenticated)
        #expect(await imap.capabilities.contains(.uidPlus))
        #expect(await imap.connection.isTLS == (security != .none))
        await imap.logout()
    }

    @Test func selfSignedCertificateIsRefusedUnlessAcceptAny() async throws {
        for security in [MailSecurity.tls, .starttls] {
            let error = await #expect(throws: MailTransportError.self) {
                _ = try await IMAPConnection.connect(to: try imapEndpoint(security, acceptAny: false), credentials: nil)
            }
            #expect(error?.kind == .tls)
            #expect(error?.tlsReason == .selfSigned)
            #expect(error?.description.contains("self-signed") == true)
        }
    }

    @Test func wrongPassword() async throws {
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await IMAPConnection.connect(to: try imapEndpoint(.none), credentials: .password("alice@example.test", "wrong-password-123"))
        }
        #expect(error?.kind == .authenticationFailed)
        #expect(error?.message.contains("Authentication failed") == true)
        #expect(error?.description.contains("wrong-password-123") == false)
    }

    @Test func xoauth2() async throws {
        let imap = try await IMAPConnection.connect(to: try imapEndpoint(.tls), credentials: .oauth2(TestServers.uniqueUser(), accessToken: try TestServers.dovecotPassword()))
        #expect(await imap.isAuthenticated)
        await imap.logout()
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await IMAPConnection.connect(to: try imapEndpoint(.tls), credentials: .oauth2(TestServers.uniqueUser(), accessToken: "expired-token"))
        }
        #expect(error?.kind == .authenticationFailed)
    }

    @Test func ingestFlow() async throws {
        let imap = try await connectDovecot(TestServers.uniqueUser("ingest"))
        _ = try await imap.id()
        let boxes = try await imap.list()
        #expect(boxes.contains { $0.name == "Sent" && $0.hasAttribute("\\Sent") })
        var appended: [IMAPUID] = []
        for n in 1...12 {
            let uid = try #require(try await imap.append(to: "INBOX", message: testMessage(n), flags: []))
            appended.append(uid.uid)
        }
        let status = try await imap.select("INBOX")
        #expect(status.exists == 12)
        #expect(status.uidValidity != nil)
        #expect(status.uidNext == appended.last! + 1)
        #expect(!status.readOnly)

        // New mail above a high-water mark, within the last days.
        let highWater = appended[3]
        let today = IMAPDate(secondsSince1970: Int64(Date().timeIntervalSince1970) - 86400)
        let uids = try await imap.uidSearch(.and([.uid(.from(highWater + 1)), .since(today)]))
        #expect(uids == Array(appended[4...]))

        // Fetch in batches without setting \Seen.
        var fetched: [IMAPFetchedMessage] = []
        for batch in IMAPUIDSet(uids).batches(of: 3) {
            fetched += try await imap.uidFetchMessages(batch)
        }
        #expect(fetched.map(\.uid) == uids)
        #expect(fetched.allSatisfy { $0.attributes.flags?.contains(.seen) == false })
        #expect(fetched.first.map { $0.bytes == testMessage(5).prefix(0) + $0.bytes } == true)
        #expect(String(decoding: fetched[0].bytes, as: UTF8.self).contains("Subject: Order question 5\r\n"))
        #expect(fetched.allSatisfy { UInt64($0.bytes.count) == $0.attributes.size })

        // What ingest asks for: the message and its UID, nothing the server must work out besides.
        let whole = try await imap.uidFetchMessages(IMAPUIDSet(uids), items: .wholeMessagePeek)
        #expect(whole.map(\.uid) == uids)
        #expect(whole.map(\.bytes) == fetched.map(\.bytes))
        #expect(whole.allSatisfy { $0.attributes.size == nil && $0.attributes.flags == nil })

        // The same, streamed and pipelined in batches of 3.
        let sink = CountingSink()
        try await imap.uidFetch(IMAPUIDSet(uids), batchSize: 3, into: sink)
        #expect(await sink.finished.compactMap(\.uid) == uids)
        #expect(await sink.bytes == fetched.reduce(0) { $0 + $1.bytes.count })

        let headers = try await imap.uidFetchMessages(IMAPUIDSet([uids[0]]), items: .headerPeek)
        #expect(String(decoding: headers[0].bytes, as: UTF8.self).hasSuffix("\r\n\r\n"))

        // Then mark, move and delete in batches.
        try await imap.uidStore(IMAPUIDSet(uids), .add, flags: [.seen, "$Mailroom"])
        let seen = try await imap.uidSearch(.and([.seen, .uid(IMAPUIDSet(uids))]))
        #expect(seen == uids)
        try await imap.uidMove(IMAPUIDSet(uids.prefix(2)), to: "Archive")
        try await imap.delete(IMAPUIDSet(uids.suffix(2)))
        let left = try await imap.uidSearch(.all)
        #expect(left.count == 12 - 4)
        #expect(try await imap.status("Archive")["MESSAGES"] == 2)
        try await imap.noop()
        await imap.logout()
    }

    @Test func moveFallbackWithoutMoveCapability() async throws {
        let imap = try await connectDovecot(TestServers.uniqueUser("copy"))
        for n in 1...3 { try await imap.append(to: "INBOX", message: testMessage(n)) }
        _ = try await imap.select("INBOX")
        await imap.forgetCapability(.move)
        try await imap.uidMove(.all, to: "Archive")
        #expect(try await imap.uidSearch(.all).isEmpty)
        #expect(try await imap.status("Archive")["MESSAGES"] == 3)
        await imap.logout()
    }

    @Test func idleSeesNewMailAndReissues() async throws {
        let user = TestServers.uniqueUser("idle")
        let watcher = try await connectDovecot(user)
        _ = try await watcher.select("INBOX")
        let writer = try await connectDovecot(user)
        var events: [IMAPIdleEvent] = []
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Let the watcher re-issue IDLE at least once before the mail arrives.
                try await Task.sleep(for: .milliseconds(2500))
                try await writer.append(to: "INBOX", message: testMessage(1))
            }
            for try await event in watcher.idle(reissueAfter: .seconds(1)) {
                events.append(event)
                if case .exists = event { break }
            }
            try await group.waitForAll()
        }
        #expect(events.contains(.exists(1)))
        #expect(ContinuousClock.now - started >= .milliseconds(2500))
        // The next command ends IDLE by itself.
        let uids = try await watcher.uidSearch(.all)
        #expect(uids.count == 1)
        // And IDLE again: an expunge from the other connection.
        _ = try await writer.select("INBOX")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .milliseconds(300))
                try await writer.delete(IMAPUIDSet(uids))
            }
            for try await event in watcher.idle() {
                if case .expunge(1) = event { break }
            }
            try await group.waitForAll()
        }
        try await watcher.endIdle()
        await watcher.logout()
        await writer.logout()
    }

    @Test func fiftyMegabyteMessageIsStreamed() async throws {
        var big = Array("Subject: big\r\n\r\n".utf8)
        let line = Array(String(repeating: "abcdefghij", count: 7).utf8) + [13, 10]
        big.reserveCapacity(50 * 1024 * 1024 + 100)
        while big.count < 50 * 1024 * 1024 { big += line }
        let imap = try await connectDovecot(TestServers.uniqueUser("big"))
        let appended = try #require(try await imap.append(to: "INBOX", message: big))
        _ = try await imap.select("INBOX")
        let sink = CountingSink()
        try await imap.uidFetch(IMAPUIDSet([appended.uid]), into: sink)
        #expect(await sink.bytes == big.count)
        #expect(await sink.started.first?.size == big.count)
        #expect(await sink.started.first?.uid == appended.uid)
        #expect(await sink.finished.first?.uid == appended.uid)
        #expect(await sink.largestChunk <= 1024 * 1024)
        #expect(await sink.prefix == Array(big.prefix(64)))
        // The whole-message convenience refuses it instead of buffering it.
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await imap.uidFetchMessages(IMAPUIDSet([appended.uid]), maxMessageBytes: 1024 * 1024)
        }
        #expect(error?.kind == .limitExceeded)
        // The rest of the answer was read, so the connection is still in step.
        try await imap.noop()
        await imap.close()
    }
}

extension IMAPConnection {
    func forgetCapability(_ capability: IMAPCapability) {
        capabilities.remove(capability)
    }
}

@Suite struct IMAPMisbehavingServerTests {
    @Test func silentServerTimesOut() async throws {
        let server = try await ScriptedServer(greeting: nil)
        defer { Task { await server.stop() } }
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await IMAPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none, connectionTimeout: .milliseconds(300)), credentials: nil)
        }
        #expect(error?.kind == .timeout)
        #expect(error?.step == "greeting")
    }

    @Test func serverThatStopsAnsweringMidCommandTimesOut() async throws {
        let server = try await ScriptedServer(greeting: .init("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n")) { line in
            let tag = line.split(separator: " ").first.map(String.init) ?? "*"
            if line.contains("AUTHENTICATE") { return .init("\(tag) OK [CAPABILITY IMAP4rev1] done\r\n") }
            return .silence
        }
        defer { Task { await server.stop() } }
        let endpoint = MailEndpoint(host: "127.0.0.1", port: server.port, security: .none, commandTimeout: .milliseconds(300))
        let imap = try await IMAPConnection.connect(to: endpoint, credentials: .password("a", "b"))
        let error = await #expect(throws: MailTransportError.self) { _ = try await imap.select("INBOX") }
        #expect(error?.kind == .timeout)
        #expect(error?.step == "SELECT")
        await imap.close()
    }

    @Test func serverThatClosesMidLiteral() async throws {
        let server = try await ScriptedServer(greeting: .init("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n")) { line in
            let tag = line.split(separator: " ").first.map(String.init) ?? "*"
            if line.contains("UID FETCH") {
                return .init("* 1 FETCH (UID 1 BODY[] {100000}\r\nSubject: cut\r\n\r\nonly the beginning", close: true)
            }
            return .init("\(tag) OK done\r\n")
        }
        defer { Task { await server.stop() } }
        let imap = try await IMAPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none), credentials: .password("a", "b"))
        let sink = CountingSink()
        let error = await #expect(throws: MailTransportError.self) { try await imap.uidFetch(.all, into: sink) }
        #expect(error?.kind == .connectionClosed)
        #expect(await sink.finished.isEmpty)
        #expect(await sink.started.count == 1)
    }

    @Test func garbageIsAProtocolError() async throws {
        let server = try await ScriptedServer(greeting: .init("220 this is SMTP, not IMAP\r\n"))
        defer { Task { await server.stop() } }
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await IMAPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none), credentials: nil)
        }
        #expect(error?.kind == .protocolError)
    }

    @Test func byeGreeting() async throws {
        let server = try await ScriptedServer(greeting: .init("* BYE too many connections\r\n", close: true))
        defer { Task { await server.stop() } }
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await IMAPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none), credentials: nil)
        }
        #expect(error?.kind == .serverReply)
        #expect(error?.message.contains("too many connections") == true)
    }
}
