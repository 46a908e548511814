import ClientTestSupport
import Foundation
import IMAPClient
import MailTransport
import NIOCore
import Testing
@testable import POP3Client

enum Expect { case single, multi }

/// Reads a server transcript whose shape (single or multi-line answers) is known.
func readTranscript(_ bytes: [UInt8], shape: [Expect], chunking: Chunking) throws -> [(POP3Response, [UInt8]?)] {
    var reader = LineReader()
    var out: [(POP3Response, [UInt8]?)] = []
    var shape = shape[...]
    var decoder: POP3DotDecoder?
    var pendingStatus: POP3Response?
    var content = ByteBuffer()
    for chunk in chunking.split(bytes) {
        reader.append(ByteBuffer(bytes: chunk))
        while true {
            if var d = decoder {
                var input = reader.takeBytes(upTo: Int.max) ?? ByteBuffer()
                d.decode(&input, into: &content)
                if input.readableBytes > 0 { reader.append(input) }
                decoder = d
                guard d.isFinished else { break }
                out.append((pendingStatus!, Array(content.readableBytesView)))
                decoder = nil
                content.clear()
                continue
            }
            guard let line = try reader.nextLine() else { break }
            let response = try POP3Response.parse(line)
            if shape.popFirst() == .multi, response.isOK {
                pendingStatus = response
                decoder = POP3DotDecoder()
            } else {
                out.append((response, nil))
            }
        }
    }
    return out
}

func fixture(_ name: String) throws -> [UInt8] {
    try fixtureBytes(#require(Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "Fixtures")))
}

@Suite struct POP3TranscriptTests {
    static let shapes: [String: [Expect]] = [
        "dovecot": [.single, .multi, .single, .single, .single, .multi, .multi, .single],
        "gmail": [.single, .multi, .single, .single, .single, .single, .multi],
        "outlook": [.single, .multi, .single, .single, .single],
        "yahoo": [.single, .multi, .single, .single],
    ]

    @Test(arguments: ["dovecot", "gmail", "outlook", "yahoo"], Chunking.allCases)
    func chunking(name: String, chunking: Chunking) throws {
        let bytes = try fixture(name)
        let whole = try readTranscript(bytes, shape: Self.shapes[name]!, chunking: .whole)
        let other = try readTranscript(bytes, shape: Self.shapes[name]!, chunking: chunking)
        #expect(whole.map(\.0) == other.map(\.0))
        #expect(whole.map(\.1) == other.map(\.1))
        #expect(whole.count == Self.shapes[name]!.count)
    }

    @Test func dovecot() throws {
        let r = try readTranscript(try fixture("dovecot"), shape: Self.shapes["dovecot"]!, chunking: .random)
        let caps = POP3Capabilities(lines: String(decoding: r[1].1!, as: UTF8.self).split(separator: "\r\n").map(String.init))
        #expect(caps.supports(.stls) && caps.supports(.uidl) && caps.supports(.top))
        #expect(caps.saslMechanisms.contains("XOAUTH2"))
        #expect(r[2].0 == POP3Response(status: .err, code: "AUTH", text: "Authentication failed."))
        #expect(String(decoding: r[6].1!, as: UTF8.self) == "Subject: one\r\n\r\n.leading dot\r\n")
    }

    @Test func gmailContinuationAndCodes() throws {
        let r = try readTranscript(try fixture("gmail"), shape: Self.shapes["gmail"]!, chunking: .byteByByte)
        #expect(r[2].0.status == .continuation)
        #expect(r[3].0.code == "AUTH")
        #expect(POP3Capabilities(lines: String(decoding: r[1].1!, as: UTF8.self).split(separator: "\r\n").map(String.init)).entries["LOGIN-DELAY"] == ["300"])
    }

    @Test func yahooTemporaryError() throws {
        let r = try readTranscript(try fixture("yahoo"), shape: Self.shapes["yahoo"]!, chunking: .whole)
        #expect(r[2].0.code == "SYS/TEMP")
    }

    @Test(arguments: ["OK no sign", "+Ok lower", "", "ERR x"])
    func invalidStatus(line: String) {
        if line == "+Ok lower" {
            // "+" alone is a continuation; "+Ok" is therefore a continuation with text "Ok lower".
            #expect((try? POP3Response.parse(ByteBuffer(string: line)))?.status == .continuation)
            return
        }
        #expect(throws: MailTransportError.self) { try POP3Response.parse(ByteBuffer(string: line)) }
    }

    @Test(arguments: Chunking.allCases)
    func dotDecoder(chunking: Chunking) {
        let wire = Array("line\r\n..dot\r\n.\r\n\r\nmore\r\n.\r\n+OK next\r\n".utf8)
        var decoder = POP3DotDecoder()
        var output = ByteBuffer()
        var rest: [UInt8] = []
        for chunk in chunking.split(wire) {
            var input = ByteBuffer(bytes: chunk)
            if !decoder.isFinished { decoder.decode(&input, into: &output) }
            rest += input.readableBytesView
        }
        #expect(decoder.isFinished)
        // The first "." line ends the response: ".\r\n" after "..dot" is the terminator.
        #expect(String(buffer: output) == "line\r\n.dot\r\n")
        #expect(String(decoding: rest, as: UTF8.self) == "\r\nmore\r\n.\r\n+OK next\r\n")
    }
}

let dovecotPOP3 = TestServers.available("MAILROOM_TEST_POP3_PORT", "MAILROOM_TEST_POP3S_PORT", "MAILROOM_TEST_IMAP_PORT", "MAILROOM_TEST_DOVECOT_PASSWORD")

func deliver(_ user: String, count: Int, extra: [UInt8]? = nil) async throws {
    let imap = try await IMAPConnection.connect(to: try TestServers.endpoint(port: "MAILROOM_TEST_IMAP_PORT", security: .none), credentials: .password(user, try TestServers.dovecotPassword()))
    for n in 1...count {
        try await imap.append(to: "INBOX", message: Array("Subject: pop \(n)\r\n\r\n.starts with a dot\r\nline \(n)\r\n".utf8), flags: [])
    }
    if let extra { try await imap.append(to: "INBOX", message: extra, flags: []) }
    await imap.logout()
}

func pop3(_ user: String, security: MailSecurity = .none, password: String? = nil) async throws -> POP3Connection {
    let variable = security == .tls ? "MAILROOM_TEST_POP3S_PORT" : "MAILROOM_TEST_POP3_PORT"
    return try await POP3Connection.connect(to: try TestServers.endpoint(port: variable, security: security),
                                            credentials: .password(user, try password ?? TestServers.dovecotPassword()))
}

actor ByteCounter: POP3MessageSink {
    var count = 0
    var head: [UInt8] = []
    func write(_ bytes: ByteBuffer) {
        count += bytes.readableBytes
        if head.count < 32 { head += bytes.readableBytesView.prefix(32 - head.count) }
    }
}

@Suite(.enabled(if: dovecotPOP3)) struct POP3DovecotTests {
    @Test(arguments: [MailSecurity.none, .starttls, .tls])
    func loginOnEveryPort(security: MailSecurity) async throws {
        let pop = try await pop3(TestServers.uniqueUser("pop"), security: security)
        #expect(await pop.isAuthenticated)
        #expect(try await pop.stat().count == 0)
        try await pop.quit()
    }

    @Test func wrongPassword() async throws {
        let error = await #expect(throws: MailTransportError.self) { _ = try await pop3("x@example.test", password: "bad-pass-42") }
        #expect(error?.kind == .authenticationFailed)
        #expect(error?.description.contains("bad-pass-42") == false)
    }

    @Test func userPassAndXOAUTH2() async throws {
        let user = TestServers.uniqueUser("pop")
        let endpoint = try TestServers.endpoint(port: "MAILROOM_TEST_POP3_PORT", security: .none)
        let pop = try await POP3Connection.connect(to: endpoint, credentials: nil)
        await pop.forgetSASL()
        try await pop.authenticate(.password(user, try TestServers.dovecotPassword()))
        try await pop.quit()
        let oauth = try await POP3Connection.connect(to: endpoint, credentials: .oauth2(user, accessToken: try TestServers.dovecotPassword()))
        #expect(await oauth.isAuthenticated)
        try await oauth.quit()
    }

    @Test func ingestFlowDeletionsOnlyOnQuit() async throws {
        let user = TestServers.uniqueUser("pop")
        try await deliver(user, count: 3)
        let pop = try await pop3(user)
        let stat = try await pop.stat()
        #expect(stat.count == 3)
        let uids = try await pop.uidl()
        #expect(uids.map(\.number) == [1, 2, 3])
        #expect(try await pop.uidl(2) == uids[1].uid)
        #expect(try await pop.uidl(99) == nil)
        #expect(try await pop.list().count == 3)
        let header = try await pop.top(1, lines: 0)
        #expect(String(decoding: header, as: UTF8.self).hasPrefix("Subject: pop 1\r\n"))
        let message = try await pop.retrieve(2)
        #expect(String(decoding: message, as: UTF8.self).contains("\r\n.starts with a dot\r\nline 2\r\n"))
        try await pop.delete(1)
        try await pop.delete(2)
        try await pop.reset()
        try await pop.delete(3)
        try await pop.noop()
        // Closing without QUIT keeps everything.
        await pop.close()
        let again = try await pop3(user)
        #expect(try await again.stat().count == 3)
        try await again.delete(3)
        try await again.quit()
        let third = try await pop3(user)
        #expect(try await third.uidl().map(\.uid) == Array(uids.prefix(2).map(\.uid)))
        try await third.quit()
    }

    @Test func fiftyMegabyteRetrieveIsStreamed() async throws {
        var big = Array("Subject: big\r\n\r\n".utf8)
        let line = Array((".dot " + String(repeating: "x", count: 70)).utf8) + [13, 10]
        while big.count < 50 * 1024 * 1024 { big += line }
        let user = TestServers.uniqueUser("popbig")
        try await deliver(user, count: 1, extra: big)
        let pop = try await pop3(user, security: .tls)
        let sink = ByteCounter()
        try await pop.retrieve(2, into: sink)
        #expect(await sink.count == big.count)
        #expect(await sink.head == Array(big.prefix(32)))
        // The connection is still in step afterwards.
        #expect(try await pop.uidl(1) != nil)
        try await pop.quit()
    }
}

extension POP3Connection {
    func forgetSASL() { capabilities.entries[.sasl] = nil }
}

@Suite struct POP3MisbehavingServerTests {
    @Test func closesMidMessage() async throws {
        let server = try await ScriptedServer(greeting: .init("+OK hi\r\n")) { line in
            if line == "CAPA" { return .init("-ERR no\r\n") }
            if line.hasPrefix("RETR") { return .init("+OK\r\nSubject: cut\r\n\r\nhalf a mess", close: true) }
            return .init("+OK\r\n")
        }
        defer { Task { await server.stop() } }
        let pop = try await POP3Connection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none), credentials: .password("u", "p"))
        let error = await #expect(throws: MailTransportError.self) { _ = try await pop.retrieve(1) }
        #expect(error?.kind == .connectionClosed)
    }

    @Test func silentServer() async throws {
        let server = try await ScriptedServer(greeting: nil)
        defer { Task { await server.stop() } }
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await POP3Connection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none, connectionTimeout: .milliseconds(300)), credentials: nil)
        }
        #expect(error?.kind == .timeout)
    }

    /// A header section larger than asked for (a message without a blank line is all header) can
    /// be taken truncated: the rest is read past and the session goes on.
    @Test func aTruncatingTopKeepsTheStartAndTheSession() async throws {
        let server = try await ScriptedServer(greeting: .init("+OK hi\r\n")) { line in
            if line.hasPrefix("TOP") { return .init("+OK\r\n" + String(repeating: "X-Long: a header line\r\n", count: 1000) + ".\r\n") }
            if line.hasPrefix("CAPA") { return .init("+OK\r\n.\r\n") }
            return .init("+OK\r\n")
        }
        defer { Task { await server.stop() } }
        let pop = try await POP3Connection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none), credentials: nil)
        let header = try await pop.top(1, lines: 0, maxBytes: 100, truncating: true)
        #expect(header == Array(String(repeating: "X-Long: a header line\r\n", count: 5).utf8.prefix(100)))
        try await pop.noop()
        let error = await #expect(throws: MailTransportError.self) { _ = try await pop.top(1, lines: 0, maxBytes: 100) }
        #expect(error?.kind == .limitExceeded)
    }

    @Test func oversizedMessageIsRefused() async throws {
        let server = try await ScriptedServer(greeting: .init("+OK hi\r\n")) { line in
            if line.hasPrefix("RETR") { return .init("+OK\r\n" + String(repeating: "a line of text\r\n", count: 1000) + ".\r\n") }
            return .init("+OK\r\n.\r\n")
        }
        defer { Task { await server.stop() } }
        let pop = try await POP3Connection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none), credentials: nil)
        let error = await #expect(throws: MailTransportError.self) { _ = try await pop.retrieve(1, maxBytes: 1000) }
        #expect(error?.kind == .limitExceeded)
    }
}

@Suite(.enabled(if: dovecotPOP3)) struct POP3ConnectionCheckTests {
    @Test(arguments: [MailSecurity.none, .starttls, .tls])
    func allStepsPass(security: MailSecurity) async throws {
        let variable = security == .tls ? "MAILROOM_TEST_POP3S_PORT" : "MAILROOM_TEST_POP3_PORT"
        let report = await POP3Connection.check(try TestServers.endpoint(port: variable, security: security),
                                                credentials: .password(TestServers.uniqueUser(), try TestServers.dovecotPassword()))
        #expect(report.ok)
        #expect(report.steps.last?.name == "openFolder")
    }

    @Test func refusedPort() async throws {
        let server = try await ScriptedServer(greeting: nil)
        let port = server.port
        await server.stop()
        let report = await POP3Connection.check(MailEndpoint(host: "127.0.0.1", port: port, security: .none), credentials: nil)
        #expect(report.steps.map(\.name) == ["resolve", "connect"])
        #expect(report.steps.last?.errorKind == "connectionRefused")
    }
}
