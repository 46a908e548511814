import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// An installation as the first releases left it, upgraded to today's schema: a database built by
/// the oldest migrations and filled with the SQL those releases ran (accounts at version 1;
/// tickets, messages, quarantine entries and raw mail kept in the database at version 2; outbox
/// rows and send attempts at version 3), then migrated to the newest version and read back
/// through today's stores.
@Suite struct SchemaUpgradeTests {
    static let raw = Array("From: Ann <ann@example.com>\r\nTo: desk@example.com\r\nSubject: Old question\r\nMessage-ID: <old-1@example.com>\r\n\r\nHello from 2026\r\n".utf8)
    static let reply = Array("From: desk@example.com\r\nTo: ann@example.com\r\nSubject: Re: Old question\r\nMessage-ID: <old-reply@example.com>\r\n\r\nAnswered\r\n".utf8)
    static let broken = Array("This is not mail at all\r\n".utf8)

    static func sha256(_ bytes: [UInt8]) -> String { MailMessage.SHA256.hex(MailMessage.SHA256.hash(bytes)) }

    @Test(arguments: TestDatabase.available)
    func dataWrittenByTheOldestSchemaReadsBackAfterUpgrading(_ kind: TestDatabase) async throws {
        try await kind.withDatabase(migrated: false) { database in
            let logger = TestDatabase.logger
            let t0: Int64 = 1_795_000_000_000
            #expect(try await Migrator.migrate(database, upTo: 1, logger: logger) == [1])
            try await database.withConnection { db in
                let config = """
                    {"key":"OLD","name":"Old desk","service":"custom","fromAddress":"desk@example.com","fromName":"Desk","active":true,
                     "incoming":{"protocol":"imap","host":"imap.example.com","port":993,"security":"tls","deleteOnFetch":false,
                                 "auth":{"method":"password","username":"desk"}},
                     "outgoing":{"protocol":"smtp","host":"smtp.example.com","port":587,"security":"starttls"}}
                    """
                try await db.raw("""
                    INSERT INTO accounts (id, key, name, active, config, secrets, created_at, updated_at, deleted_at)
                    VALUES ('acc1', 'OLD', 'Old desk', \(bind: true), \(bind: config), NULL, \(bind: t0), \(bind: t0), NULL)
                    """).run()
                try await db.raw("""
                    INSERT INTO users (id, name, email, role, alias, capacity, active, password_hash, created_at, updated_at)
                    VALUES ('usr1', 'Agent', 'agent@example.com', 'agent', NULL, 5, \(bind: true), NULL, \(bind: t0), \(bind: t0))
                    """).run()
            }
            #expect(try await Migrator.migrate(database, upTo: 3, logger: logger) == [2, 3])
            try await database.withConnection { db in
                for bytes in [Self.raw, Self.reply, Self.broken] {
                    try await db.raw("INSERT INTO blobs (sha256, size, data, created_at) VALUES (\(bind: Self.sha256(bytes)), \(bind: bytes.count), \(bind: Data(bytes)), \(bind: t0))").run()
                }
                try await db.raw("INSERT INTO customers (id, address, name, created_at) VALUES ('cus1', 'ann@example.com', 'Ann', \(bind: t0))").run()
                try await db.raw("UPDATE counters SET value = value + 1 WHERE name = 'ticket_number'").run()
                try await db.raw("""
                    INSERT INTO tickets (id, number, account_id, subject, normalized_subject, status, priority, customer_id, customer_address,
                                         customer_name, queue_id, agent_id, tags, escalated, unread, message_count, created_at, updated_at,
                                         last_message_at, last_direction)
                    VALUES ('tkt1', 1001, 'acc1', 'Old question', 'old question', 'open', 'medium', 'cus1', 'ann@example.com', 'Ann',
                            NULL, NULL, '["vip"]', \(bind: false), \(bind: true), 2, \(bind: t0), \(bind: t0 + 60_000), \(bind: t0 + 60_000), 'out')
                    """).run()
                let ann = #"[{"name":"Ann","address":"ann@example.com"}]"#
                let desk = #"[{"address":"desk@example.com"}]"#
                try await db.raw("""
                    INSERT INTO messages (id, ticket_id, account_id, direction, message_id, in_reply_to, refs, subject, from_addresses,
                                          to_addresses, cc_addresses, sent_date, body_text, body_html, attachments, delivery_state,
                                          raw_sha256, content_hash, created_at)
                    VALUES ('msg1', 'tkt1', 'acc1', 'in', 'old-1@example.com', '[]', '[]', 'Old question', \(bind: ann), \(bind: desk), '[]',
                            \(bind: t0), 'Hello from 2026', NULL, '[]', NULL, \(bind: Self.sha256(Self.raw)), 'content-1', \(bind: t0))
                    """).run()
                try await db.raw("""
                    INSERT INTO messages (id, ticket_id, account_id, direction, message_id, in_reply_to, refs, subject, from_addresses,
                                          to_addresses, cc_addresses, sent_date, body_text, body_html, attachments, delivery_state,
                                          raw_sha256, content_hash, created_at)
                    VALUES ('msg2', 'tkt1', 'acc1', 'out', 'old-reply@example.com', '["old-1@example.com"]', '["old-1@example.com"]',
                            'Re: Old question', \(bind: desk), \(bind: ann), '[]', \(bind: t0 + 60_000), 'Answered', NULL, '[]', 'queued',
                            \(bind: Self.sha256(Self.reply)), 'content-2', \(bind: t0 + 60_000))
                    """).run()
                for (address, role) in [("ann@example.com", "from"), ("desk@example.com", "to")] {
                    try await db.raw("INSERT INTO ticket_participants (ticket_id, address, role) VALUES ('tkt1', \(bind: address), \(bind: role))").run()
                }
                try await db.raw("""
                    INSERT INTO quarantine (id, account_id, reason, detail, raw_sha256, size, source, from_text, subject, created_at, replayed_at)
                    VALUES ('qua1', 'acc1', 'unparseable', 'no header section', \(bind: Self.sha256(Self.broken)), \(bind: Self.broken.count),
                            'INBOX uid 7', NULL, NULL, \(bind: t0), NULL)
                    """).run()
                try await db.raw("""
                    INSERT INTO mailbox_positions (account_id, folder, uid_validity, high_water, updated_at)
                    VALUES ('acc1', 'INBOX', 42, 7, \(bind: t0))
                    """).run()
                try await db.raw("""
                    INSERT INTO outbox (id, ticket_id, message_id, account_id, state, attempts, next_attempt_at, lease_owner, lease_expires_at,
                                        envelope_from, recipients, raw_sha256, last_error, created_at, updated_at, sent_at)
                    VALUES ('out1', 'tkt1', 'msg2', 'acc1', 'retrying', 1, \(bind: t0 + 120_000), NULL, NULL, 'desk@example.com',
                            '["ann@example.com"]', \(bind: Self.sha256(Self.reply)), '421 try later', \(bind: t0 + 60_000), \(bind: t0 + 61_000), NULL)
                    """).run()
                try await db.raw("""
                    INSERT INTO outbox_attempts (id, outbox_id, attempted_at, outcome, reply_code, enhanced_status, text, error_class, policy,
                                                 next_attempt_at, recipients)
                    VALUES ('att1', 'out1', \(bind: t0 + 61_000), 'failed', 421, '4.3.0', 'try later', NULL, NULL,
                            \(bind: t0 + 120_000), '[]')
                    """).run()
            }

            let applied = try await Migrator.migrate(database, logger: logger)
            #expect(applied.first == 4 && applied.last == Migrator.latestVersion)
            #expect(try await Migrator.currentVersion(database) == Migrator.latestVersion)

            let store = SQLStore(database: database, secrets: TestDatabase.secrets, logger: logger)
            let account = try #require(try await store.accounts.find(key: "OLD"))
            #expect(account.name == "Old desk" && account.fromAddress == "desk@example.com")
            #expect(account.incoming.protocol == .imap && account.incoming.connection.host == "imap.example.com" && account.incoming.connection.port == 993)
            #expect(account.outgoing.connection.host == "smtp.example.com")

            let ticket = try #require(try await store.tickets.ticket(number: 1001))
            #expect(ticket.id == "tkt1" && ticket.subject == "Old question" && ticket.status == .open && ticket.tags == ["vip"])
            #expect(ticket.customer.address == "ann@example.com" && ticket.messageCount == 2 && ticket.lastMessageDirection == .outbound)
            let messages = try await store.tickets.messages(ticketId: "tkt1")
            #expect(messages.map(\.id) == ["msg1", "msg2"])
            #expect(messages.first?.from.first?.address == "ann@example.com" && messages.first?.text == "Hello from 2026")
            #expect(messages.last?.deliveryState == .retrying, "migration 15 reads an outbound message's state from its outbox row")
            #expect(try await store.rawMail.blob(sha256: Self.sha256(Self.raw)) == Self.raw)
            #expect(try await store.rawMail.blob(sha256: Self.sha256(Self.reply)) == Self.reply)

            let quarantined = try await store.quarantine.quarantined()
            #expect(quarantined.map(\.id) == ["qua1"] && quarantined.first?.reason == .unparseable && quarantined.first?.leftOnServer == false)
            #expect(try await store.rawMail.blob(sha256: Self.sha256(Self.broken)) == Self.broken)

            let outbox = try #require(try await store.outbox.item(id: "out1"))
            #expect(outbox.state == .retrying && outbox.attempts == 1 && outbox.recipients == ["ann@example.com"])
            #expect(try await store.outbox.attempts(outboxId: "out1").map(\.replyCode) == [421])

            // The upgraded store keeps working: the next ticket gets the next number, new raw mail goes where raw mail goes now.
            #expect(try await store.tickets.messageCount(accountId: "acc1") == 1, "migration 17 counted the inbound message")
            #expect(try await store.rawMail.stageRaw([Array("new".utf8)]).count == 1)
        }
    }
}
