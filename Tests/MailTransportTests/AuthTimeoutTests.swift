import ClientTestSupport
import IMAPClient
import POP3Client
import SMTPClient
import Testing
@testable import MailTransport

/// The seeds' "authentication timeout" (default 5 s): a server that greets and then stalls while
/// the client authenticates trips it, in each protocol, with the authentication named as the step;
/// the connection and command timeouts are far longer, so only the authentication timeout can trip.
@Suite struct AuthTimeoutTests {
    static func endpoint(_ port: Int) -> MailEndpoint {
        MailEndpoint(host: "127.0.0.1", port: port, security: .none, connectionTimeout: .seconds(30),
                     authTimeout: .milliseconds(400), commandTimeout: .seconds(30))
    }

    @Test func imapServerStallingAfterTheGreeting() async throws {
        let server = try await ScriptedServer(greeting: .init("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n")) { _ in .silence }
        defer { Task { await server.stop() } }
        let started = ContinuousClock.now
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await IMAPConnection.connect(to: Self.endpoint(server.port), credentials: .password("alice", "secret-value"))
        }
        #expect(error?.kind == .timeout)
        #expect(error?.step?.contains("AUTHENTICATE") == true || error?.step?.contains("LOGIN") == true, "\(String(describing: error?.step ?? nil))")
        #expect(ContinuousClock.now - started < .seconds(10), "the authentication timeout, not the command timeout, tripped")
    }

    @Test func pop3ServerStallingAfterTheGreeting() async throws {
        let server = try await ScriptedServer(greeting: .init("+OK hi\r\n")) { line in
            if line == "CAPA" { return .init("+OK\r\nUSER\r\n.\r\n") }
            return .silence
        }
        defer { Task { await server.stop() } }
        let started = ContinuousClock.now
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await POP3Connection.connect(to: Self.endpoint(server.port), credentials: .password("alice", "secret-value"))
        }
        #expect(error?.kind == .timeout)
        #expect(error?.step == "USER")
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func smtpServerStallingAfterTheGreeting() async throws {
        let server = try await ScriptedServer(greeting: .init("220 hi\r\n")) { line in
            if line.hasPrefix("EHLO") { return .init("250-hi\r\n250 AUTH PLAIN LOGIN\r\n") }
            return .silence
        }
        defer { Task { await server.stop() } }
        let started = ContinuousClock.now
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await SMTPConnection.connect(to: Self.endpoint(server.port), credentials: .password("alice", "secret-value"))
        }
        #expect(error?.kind == .timeout)
        #expect(error?.step?.hasPrefix("AUTH") == true, "\(String(describing: error?.step ?? nil))")
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
