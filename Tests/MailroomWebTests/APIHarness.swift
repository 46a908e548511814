import Foundation
import Hummingbird
import HummingbirdTesting
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWeb
import Testing

let adminToken = "test-admin-token-0123456789"

/// One API response, with its body as JSON and as text (to look for what must never be there).
struct APIResponse {
    let status: Int
    let text: String
    let headers: HTTPFields

    var json: JSONValue? { try? JSONCoding.decoder.decode(JSONValue.self, from: Data(text.utf8)) }
    var errorField: String? {
        if case .string(let field)? = json?["error"]?["field"] { return field }
        return nil
    }
    var errorCode: String? {
        if case .string(let code)? = json?["error"]?["code"] { return code }
        return nil
    }
    func string(_ key: String) -> String? {
        if case .string(let value)? = json?[key] { return value }
        return nil
    }
}

struct APIClient: Sendable {
    let client: any TestClientProtocol

    func call(_ method: HTTPRequest.Method, _ path: String, token: String? = adminToken, body: String? = nil) async throws -> APIResponse {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return APIResponse(status: Int(response.status.code), text: String(buffer: response.body), headers: response.headers)
    }

    func call(_ method: HTTPRequest.Method, _ path: String, token: String? = adminToken, json: JSONValue) async throws -> APIResponse {
        let text = String(decoding: try JSONCoding.encoder.encode(json), as: UTF8.self)
        return try await call(method, path, token: token, body: text)
    }

    /// Creates a user with a password and returns a token for them.
    func token(for role: Role, email: String? = nil) async throws -> String {
        let address = email ?? "\(role.rawValue)-\(UUID().uuidString.prefix(8))@example.com"
        let created = try await call(.post, "/api/v1/users", json: .object([
            "name": .string(role.rawValue), "email": .string(address), "role": .string(role.rawValue),
            "password": .string("password-123"),
        ]))
        #expect(created.status == 201, "\(created.text)")
        let signIn = try await call(.post, "/api/v1/auth/tokens", token: nil, json: .object([
            "email": .string(address), "password": .string("password-123"),
        ]))
        #expect(signIn.status == 201, "\(signIn.text)")
        return try #require(signIn.string("token"))
    }
}

/// Runs `body` against the API router on a fresh database of `kind`.
func withAPI(_ kind: TestDatabase = .sqlite, status: AccountStatusBoard = AccountStatusBoard(),
             _ body: @escaping @Sendable (APIClient, SQLStore) async throws -> Void) async throws {
    try await kind.withStore { store in
        // Replaying stores the raw bytes as a one-line message: enough to see the API's side of it.
        // An unparseable entry stays unparseable: the pipeline quarantines it again.
        let replay: @Sendable (QuarantinedMessage, [UInt8], Account) async throws -> IngestOutcome = { entry, raw, account in
            if entry.reason == .unparseable {
                var again = entry
                again.id = ""
                again.detail = "still no headers"
                return .quarantined(id: try await store.ingest.quarantine(again, raw: raw, position: nil))
            }
            let mail = InboundMail(rawSha256: entry.rawSha256 ?? "", rawSize: raw.count, contentHash: "replayed-\(entry.id)",
                                   messageId: nil, subject: entry.subject ?? "", from: [EmailAddress(address: entry.from ?? "x@example.com")],
                                   date: nil, text: String(decoding: raw, as: UTF8.self), html: nil)
            return try await store.ingest.ingest(mail, raw: raw, account: account, position: nil)
        }
        let router = APIRouter.build(WebDependencies(store: store, adminToken: adminToken, metricsText: { "# metrics\n" },
                                                     status: status, replay: replay))
        let app = Application(router: router)
        try await app.test(.router) { client in
            try await body(APIClient(client: client), store)
        }
    }
}

func validAccountJSON(_ changes: [String: JSONValue] = [:]) -> JSONValue {
    JSONValue.object([
        "key": .string("SUP"),
        "name": .string("Support"),
        "fromAddress": .string("support@example.com"),
        "fromName": .string("Example Support"),
        "incoming": .object([
            "protocol": .string("imaps"), "host": .string("mail.example.com"),
            "auth": .object(["username": .string("support"), "password": .string("incoming-secret-value")]),
        ]),
        "outgoing": .object([
            "protocol": .string("smtp"), "host": .string("smtp.example.com"), "security": .string("starttls"),
            "auth": .object(["username": .string("support"), "password": .string("outgoing-secret-value")]),
        ]),
    ]).merging(.object(changes))
}

/// A customer's question on `account` (a ticket) and a reply to it queued in the outbox.
func questionWithQueuedReply(_ store: SQLStore, account: Account, subject: String = "Q",
                             replyText: String = "On it.") async throws -> (ticketId: String, item: OutboxItem) {
    let ticket = try await store.ingest.ingest(
        InboundMail(rawSha256: "raw-q", rawSize: 1, contentHash: "content-q", messageId: "q@x", subject: subject,
                    from: [EmailAddress(address: "ann@example.com")], date: nil, text: "question", html: nil),
        raw: [1], account: account, position: nil)
    let ticketId = try #require(ticket.ticketId)
    let reply = InboundMail(rawSha256: "raw-r", rawSize: 1, contentHash: "content-r", messageId: "r@desk", subject: "Re: Q",
                            from: [EmailAddress(address: "support@example.com")], to: [EmailAddress(address: "ann@example.com")],
                            date: nil, text: replyText, html: nil)
    let (_, item) = try await store.outbox.enqueue(reply, raw: Array("reply".utf8), ticketId: ticketId, sendingAccountId: account.id,
                                                   envelopeFrom: "support@example.com", recipients: ["ann@example.com"])
    return (ticketId, item)
}
