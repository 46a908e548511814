import Foundation
#if canImport(Glibc)
import Glibc
#endif
import MailTransport
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Synchronization
import Testing

/// A token endpoint on loopback that answers every POST with one canned reply and keeps the
/// request bodies (plain sockets on a thread of its own: the test needs nothing more).
final class LocalTokenEndpoint: Sendable {
    let port: Int
    private let socket: Int32
    private let state = Mutex<(bodies: [String], reply: (status: Int, json: String))>(([], (200, "{}")))

    init() throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        socket = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in self.serve() }
        thread.start()
    }

    func reply(status: Int, json: String) { state.withLock { $0.reply = (status, json) } }
    var bodies: [String] { state.withLock { $0.bodies } }
    var url: String { "http://127.0.0.1:\(port)/token" }

    func stop() { shutdown(socket, Int32(SHUT_RDWR)); close(socket) }

    private func serve() {
        while true {
            let client = accept(socket, nil, nil)
            guard client >= 0 else { return }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(client, &buffer, buffer.count)
                if count <= 0 { break }
                received += buffer[0..<count]
                let text = String(decoding: received, as: UTF8.self)
                if let headerEnd = text.range(of: "\r\n\r\n") {
                    let length = text[..<headerEnd.lowerBound].split(separator: "\r\n")
                        .first { $0.lowercased().hasPrefix("content-length:") }
                        .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                    if text.utf8.count - text.utf8.distance(from: text.startIndex, to: headerEnd.upperBound) >= length { break }
                }
            }
            let text = String(decoding: received, as: UTF8.self)
            let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
            let reply = state.withLock { state in
                state.bodies.append(body)
                return state.reply
            }
            let response = "HTTP/1.1 \(reply.status) X\r\nContent-Type: application/json\r\nContent-Length: \(reply.json.utf8.count)\r\nConnection: close\r\n\r\n\(reply.json)"
            _ = response.withCString { write(client, $0, strlen($0)) }
            close(client)
        }
    }
}

@Suite struct OAuth2TokenTests {
    static func settings(_ url: String?) -> OAuth2Settings {
        OAuth2Settings(provider: "custom", email: "desk@example.com", clientId: "client one", tokenURL: url, scope: "https://mail/.default offline",
                       clientSecret: Secret("s3cret&="), refreshToken: Secret("refresh-1"))
    }

    @Test func theRefreshRequestIsFormEncoded() {
        let body = OAuth2TokenEndpoint.refreshBody(Self.settings(nil), refreshToken: "r/1+2")
        #expect(body == "grant_type=refresh_token&refresh_token=r%2F1%2B2&client_id=client%20one&client_secret=s3cret%26%3D&scope=https%3A%2F%2Fmail%2F.default%20offline")
    }

    @Test func wellKnownProvidersHaveTheirEndpoint() {
        #expect(OAuth2TokenEndpoint.url(for: OAuth2Settings(provider: "outlook365", tenantId: "contoso.onmicrosoft.com"))?.absoluteString
                == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
        #expect(OAuth2TokenEndpoint.url(for: OAuth2Settings(provider: "gmail"))?.absoluteString == "https://oauth2.googleapis.com/token")
        #expect(OAuth2TokenEndpoint.url(for: OAuth2Settings(provider: "outlook365", tenantId: "a/../b")) == nil)
        #expect(OAuth2TokenEndpoint.url(for: OAuth2Settings(provider: "custom")) == nil)
    }

    @Test func answersAreRead() throws {
        let now = Date(timeIntervalSince1970: 1_000)
        let grant = try OAuth2TokenEndpoint.grant(from: Data(#"{"access_token":"a1","expires_in":3600,"refresh_token":"r2","token_type":"Bearer"}"#.utf8),
                                                  status: 200, now: now)
        #expect(grant == OAuth2Grant(accessToken: "a1", expiresAt: now.addingTimeInterval(3600), refreshToken: "r2"))
        #expect(throws: OAuth2Error.self) {
            try OAuth2TokenEndpoint.grant(from: Data(#"{"error":"invalid_grant","error_description":"AADSTS70008: expired"}"#.utf8), status: 400, now: now)
        }
        do {
            _ = try OAuth2TokenEndpoint.grant(from: Data(#"{"error":"invalid_grant"}"#.utf8), status: 400, now: now)
        } catch let error as OAuth2Error {
            #expect(error.description.contains("authorise the account again"))
            #expect(!error.description.contains("refresh-1"))
        }
    }

    @Test func aMissingOrExpiringTokenIsRefreshedAtTheEndpointAndStored() async throws {
        let endpoint = try LocalTokenEndpoint()
        defer { endpoint.stop() }
        try await TestDatabase.sqlite.withStore { store in
            var account = Account(key: "OA", name: "OAuth desk", fromAddress: "desk@example.com")
            account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(
                host: "127.0.0.1", port: 1, security: .none,
                auth: ServerAuth(method: .oauth2, username: "desk@example.com", oauth2: Self.settings(endpoint.url))))
            account = try await store.accounts.create(account)
            let source = AccountCredentialSource(accounts: store.accounts)

            endpoint.reply(status: 200, json: #"{"access_token":"access-A","expires_in":3600,"refresh_token":"refresh-2"}"#)
            var login = account
            let first = try await source.credentials(&login, .incoming)
            #expect(first == .oauth2("desk@example.com", accessToken: "access-A"))
            #expect(endpoint.bodies.count == 1)
            #expect(endpoint.bodies.first?.contains("grant_type=refresh_token&refresh_token=refresh-1&client_id=client%20one") == true)

            // Stored with the account (encrypted like every secret), the rotated refresh token too.
            let stored = try #require(try await store.accounts.find(id: account.id)?.incoming.connection.auth.oauth2)
            #expect(stored.accessToken?.revealed == "access-A")
            #expect(stored.refreshToken?.revealed == "refresh-2")
            #expect(stored.accessTokenExpiresAt.map { $0.timeIntervalSinceNow > 3_000 } == true)

            // A valid token is used as it is; one about to expire, or refused by the server, is refreshed.
            _ = try await source.credentials(&login, .incoming)
            #expect(endpoint.bodies.count == 1)
            endpoint.reply(status: 200, json: #"{"access_token":"access-B","expires_in":60}"#)
            let forced = try await source.credentials(&login, .incoming, forceRefresh: true)
            #expect(forced == .oauth2("desk@example.com", accessToken: "access-B"))
            #expect(endpoint.bodies.last?.contains("refresh_token=refresh-2") == true)
            endpoint.reply(status: 200, json: #"{"access_token":"access-C","expires_in":3600}"#)
            #expect(try await source.credentials(&login, .incoming) == .oauth2("desk@example.com", accessToken: "access-C"))
            #expect(endpoint.bodies.count == 3)

            endpoint.reply(status: 400, json: #"{"error":"invalid_grant"}"#)
            await #expect(throws: OAuth2Error.self) { try await source.credentials(&login, .incoming, forceRefresh: true) }
        }
    }
}

@Suite struct OutgoingOAuth2Tests {
    @Test func theOutboxAsksForATokenAndAFailedRefreshIsAnAuthenticationFailure() async throws {
        let endpoint = try LocalTokenEndpoint()
        defer { endpoint.stop() }
        endpoint.reply(status: 400, json: #"{"error":"invalid_grant","error_description":"token revoked"}"#)
        try await TestDatabase.sqlite.withStore { store in
            let (_, item) = try await OutboxSenderTests().queued(store, portVariable: "MAILROOM_TEST_SMTP_SINK_PORT") { account in
                account.outgoing.connection.auth = ServerAuth(method: .oauth2, username: "desk@example.com",
                                                              oauth2: OAuth2TokenTests.settings(endpoint.url))
            }
            await OutboxSender(store: store, logger: quietLogger, owner: "test").sendDue()
            // The refresh was tried (there was no access token) before any SMTP login.
            #expect(endpoint.bodies.count == 1)
            #expect(endpoint.bodies.first?.contains("grant_type=refresh_token") == true)
            let attempt = try #require(try await store.outbox.attempts(outboxId: item.id).first)
            #expect(attempt.errorClass == DeliveryErrorClassifier.classify(DeliveryFailure(kind: .authenticationFailed, text: "")))
            #expect(attempt.text.contains("invalid_grant"))
            #expect(!attempt.text.contains("refresh-1"), "the refresh token never appears in the attempt log")
        }
    }
}
