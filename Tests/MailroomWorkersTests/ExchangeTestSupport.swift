import ExchangeClient
import Foundation
import MailroomCore
import MailroomTestSupport
import NIOHTTP1
import Testing

/// The local Graph and EWS servers that `scripts/services/exchange` starts (Tests/ExchangeServers),
/// and their control API: messages put in a mailbox, faults armed, sync states expired.
enum ExchangeServers {
    static let graphVariable = "MAILROOM_TEST_GRAPH_URL"
    static var available: Bool { TestServers.shouldRun(graphVariable) }

    static func graphURL() throws -> String { try TestServers.require(graphVariable) }
    static func ewsURL() throws -> String { try TestServers.require("MAILROOM_TEST_EWS_URL") }
    static func token() throws -> String { try TestServers.require("MAILROOM_TEST_EXCHANGE_TOKEN") }
    static func password() throws -> String { try TestServers.require("MAILROOM_TEST_EXCHANGE_PASSWORD") }
    static var domain: String { TestServers.value("MAILROOM_TEST_EXCHANGE_DOMAIN") ?? "exchange.test" }

    /// A mailbox of its own for each test (created on first use): faults are scoped to it.
    static func newMailbox() -> String { "user-\(UUID().uuidString.prefix(12).lowercased())@\(domain)" }

    /// A call to the control API (same on both ports); answers the JSON body.
    @discardableResult
    static func control(_ method: HTTPMethod, _ path: String, _ body: [String: Any]? = nil, server: String = "graph") async throws -> Any {
        let base = try TestServers.require(server == "ews" ? "MAILROOM_TEST_EWS_CONTROL_URL" : "MAILROOM_TEST_GRAPH_CONTROL_URL")
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        let data = try body.map { Array(try JSONSerialization.data(withJSONObject: $0)) }
        let response = try await SharedHTTP.send(method: method, url: base + path, headers: headers, body: data, timeout: .seconds(60),
                                                 acceptAnyCertificate: true, maxBodyBytes: 64 << 20)
        guard (200..<300).contains(response.status) else {
            throw ControlError(description: "control \(method) \(path): HTTP \(response.status) \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
        if response.body.isEmpty { return [String: Any]() }
        return try JSONSerialization.jsonObject(with: Data(response.body))
    }

    struct ControlError: Error, CustomStringConvertible { var description: String }

    static func quoted(_ mailbox: String) -> String {
        mailbox.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? mailbox
    }

    /// Adds a message; answers its Graph id.
    @discardableResult
    static func add(_ mime: String, to mailbox: String, folder: String? = nil, receivedDateTime: Date? = nil) async throws -> String {
        var body: [String: Any] = ["mime": mime]
        if let folder { body["folder"] = folder }
        if let receivedDateTime { body["receivedDateTime"] = GraphDate.format(receivedDateTime) }
        let answer = try await control(.POST, "/mailboxes/\(quoted(mailbox))/messages", body) as? [String: Any]
        return answer?["graphId"] as? String ?? ""
    }

    static func bulk(_ count: Int, to mailbox: String, subject: String = "Bulk") async throws {
        try await control(.POST, "/mailboxes/\(quoted(mailbox))/messages/bulk", ["count": count, "subject": subject])
    }

    /// The folder's messages as the server has them.
    static func messages(in mailbox: String, folder: String = "inbox") async throws -> [[String: Any]] {
        (try await control(.GET, "/mailboxes/\(quoted(mailbox))/messages?folder=\(folder)") as? [String: Any])?["messages"] as? [[String: Any]] ?? []
    }

    /// Arms a fault for the mailbox's next `count` matching requests.
    static func fault(_ server: String = "graph", mailbox: String, kind: String, match: String? = nil, count: Int = 1,
                      extra: [String: Any] = [:]) async throws {
        var body: [String: Any] = ["kind": kind, "mailbox": mailbox, "count": count]
        if let match { body["match"] = match }
        body.merge(extra) { $1 }
        try await control(.POST, "/faults", body, server: server)
    }

    static func expireSyncStates(_ mailbox: String, protocol name: String) async throws {
        try await control(.POST, "/syncstates/expire", ["protocol": name, "mailbox": mailbox], server: name == "ews" ? "ews" : "graph")
    }

    static func outbound() async throws -> [[String: Any]] {
        (try await control(.GET, "/outbound") as? [String: Any])?["messages"] as? [[String: Any]] ?? []
    }

    /// An account that reads `mailbox` over Graph with the servers' static token.
    static func graphAccount(_ mailbox: String, key: String = "GR", configure: (inout Account) -> Void = { _ in }) throws -> Account {
        var account = Account(key: key, name: "Graph \(mailbox)", fromAddress: mailbox)
        let auth = ServerAuth(method: .oauth2, username: mailbox,
                              oauth2: OAuth2Settings(email: mailbox, clientId: "mailroom-test", accessToken: Secret(try token())))
        var connection = ServerConnection(acceptAnyCertificate: true, auth: auth, connectionTimeoutSeconds: 30)
        connection.baseURL = try graphURL()
        account.incoming = IncomingServer(protocol: .graph, connection: connection, mailbox: "INBOX", fetchIntervalSeconds: 1)
        account.outgoing = OutgoingServer(protocol: .graph, connection: connection, sentFolder: "sentitems")
        account.resolvers = [.caseId]
        configure(&account)
        return account
    }

    /// An account that reads `mailbox` over EWS, logging in as that user with Basic over TLS.
    static func ewsAccount(_ mailbox: String, key: String = "EW", configure: (inout Account) -> Void = { _ in }) throws -> Account {
        var account = Account(key: key, name: "EWS \(mailbox)", fromAddress: mailbox)
        let auth = ServerAuth(method: .password, username: mailbox, password: Secret(try password()))
        var connection = ServerConnection(acceptAnyCertificate: true, auth: auth, connectionTimeoutSeconds: 30)
        connection.url = try ewsURL()
        account.incoming = IncomingServer(protocol: .ews, connection: connection, mailbox: "INBOX", fetchIntervalSeconds: 1)
        account.outgoing = OutgoingServer(protocol: .ews, connection: connection, sentFolder: "sentitems")
        account.resolvers = [.caseId]
        configure(&account)
        return account
    }
}
