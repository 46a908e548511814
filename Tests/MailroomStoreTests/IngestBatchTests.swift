import Foundation
import MailroomCore
@testable import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// A batch of fetched messages commits in one transaction with its fetch position; what fails
/// in the middle leaves the messages before it committed and nothing after it.
@Suite struct IngestBatchTests {
    static func item(_ mail: InboundMail, uid: UInt32) -> IngestItem {
        IngestItem(action: .ingest(mail, tags: []), raw: Array("raw \(mail.messageId ?? "")".utf8),
                   position: .imap(folder: "INBOX", uidValidity: 3, uid: uid), source: "INBOX uid \(uid)")
    }

    /// An account's count of ingested messages is kept by the transactions that store them (batch
    /// or single), per account, without replies; the migration that introduced it counted what was there.
    @Test(arguments: TestDatabase.available)
    func ingestedMessagesAreCountedPerAccountAsTheyAreStored(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let accounts = try await IngestStoreTests.accounts(store, resolvers: [.caseId])
            let (one, two) = (accounts[0], accounts[1])
            let first = inbound(from: "ann@example.com", subject: "One", messageId: "c1@x")
            let batch = [Self.item(first, uid: 1), Self.item(inbound(from: "bob@example.com", subject: "Two", messageId: "c2@x"), uid: 2),
                         Self.item(first, uid: 3)]
            let outcomes = try await store.ingest.ingestBatch(batch, account: one).outcomes
            #expect(outcomes.map(\.name) == ["created", "created", "duplicate"])
            _ = try await store.ingest.ingest(inbound(from: "cy@example.com", subject: "Three", messageId: "c3@x"), raw: [3],
                                               account: two, position: nil)
            let reply = inbound(from: "support@example.com", subject: "Re: One", messageId: "c4@x")
            _ = try await store.outbox.enqueue(reply, raw: [4], ticketId: try #require(outcomes[0].ticketId), sendingAccountId: one.id,
                                               envelopeFrom: "support@example.com", recipients: ["ann@example.com"])
            #expect(try await store.tickets.messageCount(accountId: one.id) == 2)
            #expect(try await store.tickets.messageCount(accountId: two.id) == 1)
            #expect(try await store.tickets.messageCount(accountId: "no-such-account") == 0)

            // As the migration found an existing database: no counts yet, messages already stored.
            let migration = try #require(migrations.first { $0.version == 17 })
            try await store.database.withConnection { db in
                try await db.raw("DROP TABLE account_message_counts").run()
                for statement in migration.statements(store.database.kind) { try await db.raw(SQLQueryString(statement)).run() }
            }
            #expect(try await store.tickets.messageCount(accountId: one.id) == 2)
            #expect(try await store.tickets.messageCount(accountId: two.id) == 1)
        }
    }

    @Test(arguments: TestDatabase.available)
    func aBatchCommitsEveryKindOfItemAndTheHighestPosition(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await IngestStoreTests.accounts(store, resolvers: [.caseId])[0]
            let first = inbound(from: "ann@example.com", subject: "One", messageId: "1@x")
            let entry = QuarantinedMessage(accountId: account.id, reason: .headerFilter, detail: "spam", rawSha256: "q-raw", size: 4,
                                           source: "INBOX uid 11", createdAt: Date())
            let items = [
                Self.item(first, uid: 10),
                IngestItem(action: .quarantine(entry), raw: [1, 2, 3, 4], position: .imap(folder: "INBOX", uidValidity: 3, uid: 11),
                           source: "INBOX uid 11"),
                IngestItem(action: .skip(reason: "header filter on X-Spam"), raw: [5], position: .imap(folder: "INBOX", uidValidity: 3, uid: 13),
                           source: "INBOX uid 13"),
                Self.item(inbound(from: "ann@example.com", subject: "Re: One", messageId: "2@x", inReplyTo: ["1@x"]), uid: 12),
                // The same message again in the same batch is recognised by its content.
                Self.item(first, uid: 14),
            ]
            let result = try await store.ingest.ingestBatch(items, account: account)
            #expect(result.failure == nil)
            #expect(result.outcomes.map(\.name) == ["created", "quarantined", "skipped", "appended", "duplicate"])
            #expect(result.outcomes[0].ticketId == result.outcomes[3].ticketId)
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX") == .init(uidValidity: 3, highWater: 14))
            #expect(try await store.tickets.messageCount(accountId: account.id) == 2)
            #expect(try await store.quarantine.quarantineCount(accountId: account.id) == 1)
            #expect(try await store.rawMail.blob(sha256: "q-raw") == [1, 2, 3, 4])
        }
    }

    /// The tickets a batch created come back as stored, so the steps after the commit need not read them.
    @Test(arguments: TestDatabase.available)
    func aBatchAnswersTheTicketsItCreatedAsStored(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await IngestStoreTests.accounts(store, resolvers: [.caseId])[0]
            var tagged = Self.item(inbound(from: "ann@example.com", name: "Ann Example", subject: "Refund please", messageId: "r1@x"), uid: 1)
            if case .ingest(let mail, _) = tagged.action { tagged.action = .ingest(mail, tags: ["vip", "refund"]) }
            let items = [tagged, Self.item(inbound(from: "bob@example.com", subject: "Other", messageId: "o1@x"), uid: 2)]
            let result = try await store.ingest.ingestBatch(items, account: account)
            #expect(result.outcomes.map(\.name) == ["created", "created"])
            #expect(result.createdTickets.count == 2)
            for outcome in result.outcomes {
                let id = try #require(outcome.ticketId)
                let stored = try await store.tickets.ticket(id: id)
                #expect(result.createdTickets[id] == stored)
            }
        }
    }

    /// Participants go in a few rows per statement: more than one statement's worth, with an
    /// address named twice in a role and once more in another, each kept once per role.
    @Test(arguments: TestDatabase.available)
    func everyParticipantIsKeptOncePerRole(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await IngestStoreTests.accounts(store, resolvers: [.caseId])[0]
            let to = (1...11).map { "to\($0)@example.com" } + ["to3@example.com"]
            let mail = inbound(from: "ann@example.com", subject: "Many", messageId: "many@x", to: to, cc: ["to1@example.com", "carl@example.com"])
            let result = try await store.ingest.ingestBatch([Self.item(mail, uid: 1)], account: account)
            let ticketId = try #require(result.outcomes.first?.ticketId)
            let rows = try await store.database.withConnection { db in
                try await db.raw("SELECT address, role FROM ticket_participants WHERE ticket_id = \(bind: ticketId)").all()
                    .map { "\(try $0.decode(column: "role", as: String.self)):\(try $0.decode(column: "address", as: String.self))" }
            }
            let expected = ["from:ann@example.com", "cc:to1@example.com", "cc:carl@example.com"] + (1...11).map { "to:to\($0)@example.com" }
            #expect(rows.sorted() == expected.sorted())
        }
    }

    /// An account that deletes fetched mail on the server commits its batches durably (the server
    /// copy goes right after the commit); one that leaves the mail there need not wait for the disk.
    @Test func batchesOfAnAccountThatDeletesOnTheServerCommitDurably() async throws {
        try await TestDatabase.sqlite.withStore { store in
            var accounts = try await IngestStoreTests.accounts(store, resolvers: [.caseId])
            accounts[1].incoming.deleteOnFetch = true
            let keeping = try await store.ingest.ingestBatch([Self.item(inbound(from: "a@example.com", subject: "kept", messageId: "k@x"), uid: 1)],
                                                              account: accounts[0])
            #expect(keeping.outcomes.map(\.name) == ["created"])
            #expect(store.database.durableCommits.load(ordering: .relaxed) == 0)
            let deleting = try await store.ingest.ingestBatch([Self.item(inbound(from: "b@example.com", subject: "gone", messageId: "d@x"), uid: 1)],
                                                               account: accounts[1])
            #expect(deleting.outcomes.map(\.name) == ["created"])
            #expect(store.database.durableCommits.load(ordering: .relaxed) == 1)
        }
    }

    @Test func aStoreFailureCommitsTheMessagesBeforeItAndNothingAfter() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let account = try await IngestStoreTests.accounts(store, resolvers: [.caseId])[0]
            // A trigger stands in for a store that fails on one message (a full disk, a broken row).
            try await store.database.withConnection { db in
                try await db.raw("""
                    CREATE TRIGGER refuse_poison BEFORE INSERT ON messages WHEN NEW.subject = 'poison'
                    BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                    """).run()
            }
            let items = [
                Self.item(inbound(from: "a@example.com", subject: "good one", messageId: "g1@x"), uid: 1),
                Self.item(inbound(from: "b@example.com", subject: "poison", messageId: "p@x"), uid: 2),
                Self.item(inbound(from: "c@example.com", subject: "good two", messageId: "g2@x"), uid: 3),
            ]
            let result = try await store.ingest.ingestBatch(items, account: account)
            #expect(result.outcomes.map(\.name) == ["created"])
            #expect(result.failure != nil)
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX") == .init(uidValidity: 3, highWater: 1))
            #expect(try await store.tickets.messageCount(accountId: account.id) == 1)
            // Nothing of the failed message is left half-written: its customer was rolled back with it.
            #expect(try await store.tickets.customer(address: "b@example.com") == nil)
            #expect(try await store.tickets.customer(address: "c@example.com") == nil)

            try await store.database.withConnection { db in try await db.raw("DROP TRIGGER refuse_poison").run() }
            let again = try await store.ingest.ingestBatch(Array(items.dropFirst()), account: account)
            #expect(again.failure == nil)
            #expect(again.outcomes.map(\.name) == ["created", "created"])
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX")?.highWater == 3)
        }
    }

    @Test func anEmptyBatchCommitsNothing() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let account = try await IngestStoreTests.accounts(store, resolvers: [.caseId])[0]
            let result = try await store.ingest.ingestBatch([], account: account)
            #expect(result.outcomes.isEmpty && result.failure == nil)
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX") == nil)
        }
    }
}
