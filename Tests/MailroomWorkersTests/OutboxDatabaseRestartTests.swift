import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWorkers
import SQLKit
import Synchronization
import Testing

/// The soak's PostgreSQL restart (issue 25): replies queued after it stayed unsent. A restart
/// closes every pooled connection from the server's side and refuses new ones for a while; the
/// test does the same to its own database only (the test server is shared), with
/// `pg_terminate_backend` while connections are refused (`ALLOW_CONNECTIONS false`).
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_SMTP_SINK_PORT") && TestServers.shouldRun(TestDatabase.postgresVariable)))
struct OutboxDatabaseRestartTests {
    /// Replies on one ticket through the plain smtp-sink.
    struct Desk: Sendable {
        let store: SQLStore
        let account: Account
        let ticketId: String

        init(_ store: SQLStore) async throws {
            var account = Account(key: "RST", name: "Restart", fromAddress: "desk@example.com", fromName: "Desk")
            // The sink that keeps what it receives, so a message sent twice shows.
            account.outgoing = OutboxSenderTests.smtp(host: "127.0.0.1", port: Int(try TestServers.require("MAILROOM_TEST_SMTP_SINK_DUMP_PORT"))!)
            let stored = try await store.accounts.create(account)
            let customer = try InboundMailParser.parse(Array(mailText(subject: "Question", messageId: "q-\(UUID().uuidString)@x").utf8))
            self.store = store
            self.account = stored
            ticketId = try #require(try await store.ingest.ingest(customer, raw: [1], account: stored, position: nil).ticketId)
        }

        /// Queues a reply; a write refused while the database is away is tried again (the agent's retry).
        func reply(_ number: Int) async throws -> (item: OutboxItem, messageId: String) {
            var builder = MessageBuilder(from: Mailbox(name: "Desk", address: "desk@example.com"))
            builder.to = [Mailbox(address: "ann@example.com")]
            builder.subject = "Re: Question \(number)"
            builder.text = "Answer \(number)."
            let raw = builder.withGeneratedMessageID().build()
            let mail = try InboundMailParser.parse(raw)
            let deadline = ContinuousClock.now + .seconds(30)
            while true {
                do {
                    let item = try await store.outbox.enqueue(mail, raw: raw, ticketId: ticketId, sendingAccountId: account.id,
                                                              envelopeFrom: "desk@example.com", recipients: ["ann@example.com"]).item
                    return (item, try #require(mail.messageId))
                } catch where ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// Ends every connection to the store's database from the server's side and refuses new ones
    /// for `refusing`, as a restart does.
    static func restart(_ store: SQLStore, refusing: Duration) async throws {
        let name = try await store.database.withConnection { db in
            try await db.raw("SELECT current_database() AS name").first()!.decode(column: "name", as: String.self)
        }
        try await TestDatabase.withPostgres(url: try TestServers.require(TestDatabase.postgresVariable)) { admin in
            try await admin.withConnection { db in
                try await db.raw("ALTER DATABASE \(ident: name) ALLOW_CONNECTIONS false").run()
                try await db.raw("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(bind: name) AND pid <> pg_backend_pid()
                    """).run()
            }
            try await Task.sleep(for: refusing)
            try await admin.withConnection { db in
                try await db.raw("ALTER DATABASE \(ident: name) ALLOW_CONNECTIONS true").run()
            }
        }
    }

    /// Message-IDs in the dumping sink's files, with how many times each arrived.
    static func receivedMessageIds() throws -> [String: Int] {
        let directory = try TestServers.require("MAILROOM_TEST_SMTP_SINK_DUMP_DIR")
        var counts: [String: Int] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { continue }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.lowercased().hasPrefix("message-id:") {
                let value = line.dropFirst("message-id:".count).trimmingCharacters(in: .whitespacesAndNewlines)
                counts[value.trimmingCharacters(in: CharacterSet(charactersIn: "<>")), default: 0] += 1
            }
        }
        return counts
    }

    static func allSent(_ ids: [String], _ store: SQLStore) async throws -> Bool {
        for id in ids where try await store.outbox.item(id: id)?.state != .sent { return false }
        return true
    }

    @Test func repliesQueuedAroundADatabaseRestartAreAllSentOnce() async throws {
        try await TestDatabase.postgres.withStore { store in
            // A request the pool leaves waiting is withdrawn and made again after this long (20 s in production).
            store.database.setLeaseTimeout(.seconds(5))
            let desk = try await Desk(store)
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "restart", idleWait: .milliseconds(200), leaseSeconds: 10)
            let running = Task { try await sender.run() }
            defer { running.cancel() }
            // Others use the pool meanwhile, as fetchers and API reads do: more requests than connections.
            let load = Task {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<40 {
                        group.addTask {
                            while !Task.isCancelled {
                                _ = try? await store.tickets.ticket(id: desk.ticketId)
                                try? await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                }
            }
            defer { load.cancel() }
            let first = try await desk.reply(0)
            var items = [first]
            let firstSent = try await eventually { try await Self.allSent([first.item.id], store) }
            #expect(firstSent)
            // Replies keep coming while the database goes away twice, once while rows are being sent.
            for number in 1...10 { items.append(try await desk.reply(number)); sender.wake() }
            try await Self.restart(store, refusing: .seconds(4))
            for number in 11...20 { items.append(try await desk.reply(number)); sender.wake() }
            try await Self.restart(store, refusing: .milliseconds(500))
            for number in 21...30 { items.append(try await desk.reply(number)) }
            let ids = items.map(\.item.id)
            let allSent = try await eventually(timeout: .seconds(40)) { try await Self.allSent(ids, store) }
            var unsent: [String] = []
            for id in ids where try await store.outbox.item(id: id)?.state != .sent {
                unsent.append("\(id): \(String(describing: try await store.outbox.item(id: id)))")
            }
            // Before ClosedConnectionGuard a round of the sender waited for good on a query written to a
            // connection the server had closed, so replies queued later stayed queued.
            #expect(allSent, "unsent after the restarts: \(unsent)")
            for id in ids {
                let attempts = try await store.outbox.attempts(outboxId: id)
                #expect(attempts.filter { $0.outcome == .sent }.count <= 1, "\(id) was recorded as sent more than once")
            }
            // What the server received: each reply once (an outcome lost with the connection would send it again).
            let received = try Self.receivedMessageIds()
            for (item, messageId) in items {
                let count = received[messageId, default: 0]
                #expect(count <= 1, "\(messageId) arrived \(count) times")
                if try await store.outbox.item(id: item.id)?.state == .sent {
                    #expect(count == 1, "\(messageId) is recorded as sent but arrived \(count) times")
                }
            }
        }
    }
}

