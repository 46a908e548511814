import ClientTestSupport
import Foundation
import MailTransport
import Testing
@testable import IMAPClient

@Suite(.enabled(if: dovecotAvailable)) struct IMAPConnectionCheckTests {
    @Test(arguments: [MailSecurity.none, .starttls, .tls])
    func allStepsPass(security: MailSecurity) async throws {
        let report = await IMAPConnection.check(try imapEndpoint(security), credentials: .password(TestServers.uniqueUser(), try TestServers.dovecotPassword()))
        #expect(report.ok)
        var expected = ["resolve", "connect"]
        if security == .tls { expected.append("tls") }
        expected.append("greeting")
        if security == .starttls { expected.append("starttls") }
        expected += ["authenticate", "openFolder"]
        #expect(report.steps.map(\.name) == expected)
        #expect(report.steps.last?.message?.contains("UIDVALIDITY") == true)
    }

    @Test func wrongPasswordStopsAtAuthenticateWithoutLeakingIt() async throws {
        let report = await IMAPConnection.check(try imapEndpoint(.tls), credentials: .password("someone@example.test", "Sup3rSecret!"))
        #expect(!report.ok)
        #expect(report.steps.last?.name == "authenticate")
        #expect(report.steps.last?.errorKind == "authenticationFailed")
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(!json.contains("Sup3rSecret"))
        #expect(json.contains("\"durationMilliseconds\""))
    }

    @Test func selfSignedCertificateStopsAtTLS() async throws {
        let report = await IMAPConnection.check(try imapEndpoint(.tls, acceptAny: false), credentials: nil)
        #expect(report.steps.map(\.name) == ["resolve", "connect", "tls"])
        #expect(report.steps.last?.tlsReason == "selfSigned")
    }

    /// Issue 27: TLS against Dovecot's plain IMAP port says so in words, and names port 993.
    @Test func tlsOnThePlainPortSaysThePortDoesNotSpeakTLS() async throws {
        var endpoint = try imapEndpoint(.none)
        endpoint.security = .tls
        endpoint.connectionTimeout = .seconds(5)
        let report = await IMAPConnection.check(endpoint, credentials: .password(TestServers.uniqueUser(), try TestServers.dovecotPassword()))
        let failed = try #require(report.steps.first { !$0.ok })
        #expect(failed.name == "tls")
        #expect(failed.tlsReason == "plainPort")
        #expect(failed.message == "this port does not speak TLS: try STARTTLS or none, or port 993")
        #expect(!ErrorWords.isRaw(failed.message ?? ""))
    }

    @Test func unknownHostStopsAtResolve() async {
        let report = await IMAPConnection.check(MailEndpoint(host: "no-such-host.invalid", port: 993, security: .tls), credentials: nil)
        #expect(report.steps.map(\.name) == ["resolve"])
        #expect(report.steps[0].errorKind == "unknownHost")
        #expect(!report.ok)
    }
}
