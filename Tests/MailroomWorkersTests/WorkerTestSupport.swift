import Foundation
import IMAPClient
import Logging
import MailTransport
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

enum Dovecot {
    static let portVariable = "MAILROOM_TEST_IMAP_PORT"
    static var available: Bool { TestServers.shouldRun(portVariable) }

    static func endpoint() throws -> MailEndpoint {
        MailEndpoint(host: TestServers.value("MAILROOM_TEST_IMAP_HOST") ?? "127.0.0.1",
                     port: Int(try TestServers.require(portVariable)) ?? 0, security: .none,
                     // Generous: the whole suite shares one Dovecot and two cores.
                     connectionTimeout: .seconds(30), authTimeout: .seconds(30), commandTimeout: .seconds(120))
    }

    static func password() throws -> String { try TestServers.require("MAILROOM_TEST_DOVECOT_PASSWORD") }

    /// A mailbox of its own for each test: Dovecot takes any user name.
    static func newUser() -> String { "ingest-\(UUID().uuidString.prefix(12).lowercased())" }

    static func account(user: String, key: String = "IN", configure: (inout Account) -> Void = { _ in }) throws -> Account {
        var account = Account(key: key, name: "Inbox \(user)", fromAddress: "\(user)@desk.example")
        account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(
            host: TestServers.value("MAILROOM_TEST_IMAP_HOST") ?? "127.0.0.1",
            port: Int(try TestServers.require(portVariable)), security: .none,
            auth: ServerAuth(method: .password, username: user, password: Secret(try password())),
            connectionTimeoutSeconds: 30, authTimeoutSeconds: 30))
        account.incoming.fetchIntervalSeconds = 1
        account.resolvers = [.caseId]
        configure(&account)
        return account
    }

    static func connect(user: String) async throws -> IMAPConnection {
        try await IMAPConnection.connect(to: try endpoint(), credentials: .password(user, try password()))
    }

    /// Delivers messages into the user's INBOX over IMAP APPEND, without the \Seen flag.
    static func deliver(_ messages: [String], to user: String) async throws {
        let imap = try await connect(user: user)
        for message in messages {
            _ = try await imap.append(to: "INBOX", message: Array(message.utf8), flags: [])
        }
        await imap.logout()
    }

    /// A new user whose INBOX holds "Before", "Huge" (over 20,000 bytes, from ann@example.com) and "After".
    static func userWithAHugeMessageBetweenTwo() async throws -> String {
        let user = newUser()
        try await deliver([mailText(subject: "Before", messageId: "before-\(user)@x"),
                           mailText(subject: "Huge", messageId: "huge-\(user)@x", body: String(repeating: "z", count: 20_000)),
                           mailText(subject: "After", messageId: "after-\(user)@x")], to: user)
        return user
    }

    /// Puts a message straight into the user's Maildir, received `daysAgo` days ago: Dovecot takes
    /// the file's time as the message's internal date. `name` keeps the file's name unique.
    static func place(_ message: String, name: String, receivedDaysAgo daysAgo: Int, for user: String) throws {
        let path = try maildir(user) + "/new/\(Int(Date().timeIntervalSince1970)).\(name).mailroom-test"
        try message.write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-Double(daysAgo) * 86_400),
                                               .ownerAccountName: "nobody", .groupOwnerAccountName: "nogroup"], ofItemAtPath: path)
    }

    static func deliver(bytes: [[UInt8]], to user: String) async throws {
        let imap = try await connect(user: user)
        for message in bytes {
            _ = try await imap.append(to: "INBOX", message: message, flags: [])
        }
        await imap.logout()
    }

    static func inboxUIDs(_ user: String) async throws -> [IMAPUID] {
        let imap = try await connect(user: user)
        _ = try await imap.select("INBOX")
        let uids = try await imap.uidSearch(.all)
        await imap.logout()
        return uids
    }

    static func maildir(_ user: String) throws -> String {
        try TestServers.require("MAILROOM_TEST_MAIL_ROOT") + "/\(user)/Maildir"
    }
}

func mailText(from: String = "ann@example.com", subject: String, messageId: String, body: String = "Hello",
              extraHeaders: String = "", inReplyTo: String? = nil) -> String {
    var headers = "From: Customer <\(from)>\r\nTo: desk@example.com\r\nSubject: \(subject)\r\nMessage-ID: <\(messageId)>\r\n"
    headers += "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    if let inReplyTo { headers += "In-Reply-To: <\(inReplyTo)>\r\n" }
    return headers + extraHeaders + "\r\n" + body + "\r\n"
}

let quietLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .error
    return logger
}()

/// Polls until `condition` holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(20), _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

func ticketCount(_ store: SQLStore) async throws -> Int {
    try await store.tickets.tickets(.init(limit: 500)).items.count
}

func messageCount(_ store: SQLStore, accountId: String) async throws -> Int {
    try await store.tickets.messageCount(accountId: accountId)
}
