import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// What an account's settings do where they act in the store (issue 24): "mark as unread" on
/// ingest, "active" on the outbox's claims, retry values on mail already waiting.
@Suite struct AccountSettingsStoreTests {
    func queue(_ store: SQLStore, account: Account) async throws -> OutboxItem {
        let ticket = try await store.ingest.ingest(inbound(from: "ann@example.com", subject: "Q", messageId: "q-\(UUID().uuidString)@x"),
                                                    raw: [1], account: account, position: nil)
        var reply = inbound(from: "desk@example.com", subject: "Re: Q", messageId: "r-\(UUID().uuidString)@desk", body: "answer")
        reply.to = [EmailAddress(address: "ann@example.com")]
        let (_, item) = try await store.outbox.enqueue(reply, raw: Array("reply".utf8), ticketId: ticket.ticketId!,
                                                       sendingAccountId: account.id, envelopeFrom: "desk@example.com",
                                                       recipients: ["ann@example.com"])
        return item
    }

    @Test(arguments: TestDatabase.available)
    func anAccountWithMarkAsUnreadOffLeavesItsTicketsRead(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            var quiet = sampleAccount(key: "Q", name: "Quiet")
            quiet.markUnread = false
            quiet.resolvers = [.caseId]
            let account = try await store.accounts.create(quiet)
            #expect(account.markUnread == false)
            let first = try await store.ingest.ingest(inbound(from: "ann@example.com", subject: "Help", messageId: "h1@x"), raw: [1],
                                                      account: account, position: nil)
            let ticketId = try #require(first.ticketId)
            #expect(try await store.tickets.ticket(id: ticketId)?.unread == false)
            _ = try await store.ingest.ingest(inbound(from: "ann@example.com", subject: "Re: Help", messageId: "h2@x", inReplyTo: ["h1@x"]),
                                              raw: [2], account: account, position: nil)
            let after = try #require(try await store.tickets.ticket(id: ticketId))
            #expect(after.messageCount == 2)
            #expect(after.unread == false, "a reply on the account leaves the ticket read")
            let loud = try await store.accounts.create(sampleAccount(key: "L", name: "Loud"))
            let other = try await store.ingest.ingest(inbound(from: "bob@example.com", subject: "Hi", messageId: "b1@x"), raw: [3],
                                                      account: loud, position: nil)
            #expect(try await store.tickets.ticket(id: other.ticketId!)?.unread == true, "the default marks mail unread")
        }
    }

    @Test(arguments: TestDatabase.available)
    func migrationSixtyKeepsExistingAccountsMarkingMailUnread(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            var account = sampleAccount(key: "OLD", name: "Old")
            account.markUnread = false
            account.description = #"says "markUnread":false in its text"#
            let stored = try await store.accounts.create(account)
            // As version 59 left it: the setting stored off, though every account marked mail unread.
            try await store.database.withConnection { db in
                try await db.raw("DELETE FROM mailroom_migrations WHERE version = 60").run()
            }
            #expect(try await Migrator.migrate(store.database, logger: TestDatabase.logger) == [60])
            let migrated = try #require(try await SQLAccountRepository(database: store.database, secrets: TestDatabase.secrets,
                                                                       logger: TestDatabase.logger).find(id: stored.id))
            #expect(migrated.markUnread)
            #expect(migrated.description == #"says "markUnread":false in its text"#, "text that looks like the setting is left alone")
        }
    }

    @Test(arguments: TestDatabase.available)
    func anInactiveAccountsMailWaitsWithItsReasonAndGoesWhenSwitchedOn(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            var account = try await store.accounts.create(sampleAccount())
            let item = try await queue(store, account: account)
            account.active = false
            account = try await store.accounts.update(account)
            #expect(try await store.outbox.claimDue(owner: "s", limit: 10, leaseSeconds: 60).isEmpty, "an inactive account sends nothing")
            let held = try #require(try await store.outbox.item(id: item.id))
            #expect(held.state == .queued)
            #expect(held.heldReason == OutboxItem.accountInactive)
            #expect(try await store.outbox.items().first?.heldReason == "account inactive")
            account.active = true
            _ = try await store.accounts.update(account)
            #expect(try await store.outbox.item(id: item.id)?.heldReason == nil)
            #expect(try await store.outbox.claimDue(owner: "s", limit: 10, leaseSeconds: 60).map(\.id) == [item.id])
        }
    }

    @Test(arguments: TestDatabase.available)
    func changedRetryValuesMoveTheRetriesAlreadyWaiting(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            var account = try await store.accounts.create(sampleAccount())
            let item = try await queue(store, account: account)
            let claimed = try #require(try await store.outbox.claimDue(owner: "s", limit: 1, leaseSeconds: 60).first)
            // A rate-limit failure (network routing, RFC 3463 X.4.X) waits a day with the default settings.
            let failedAt = Date(timeIntervalSince1970: 1_700_000_000)
            let failure = DeliveryFailure(kind: .serverReply, replyCode: 451, enhancedStatus: "4.4.5", text: "451 4.4.5 slow down")
            let (state, attempt) = OutboxTransition.afterFailure(failure, item: claimed, settings: account.retry, now: failedAt)
            #expect(state == .retrying && attempt.policy == .rateLimitRetry)
            #expect(try await store.outbox.record(attempt, item: claimed, state: state, owner: "s"))
            #expect(try await store.outbox.item(id: item.id)?.nextAttemptAt == failedAt.addingTimeInterval(86_400))

            account.retry.rateLimitRetrySeconds = 60
            account = try await store.accounts.update(account)
            let moved = try await store.outbox.rescheduleRetries(accountId: account.id, settings: account.retry)
            #expect(moved.moved == 1 && moved.failed == 0)
            #expect(try await store.outbox.item(id: item.id)?.nextAttemptAt == failedAt.addingTimeInterval(60))
            #expect(try await store.outbox.rescheduleRetries(accountId: account.id, settings: account.retry).moved == 0, "applied once")
            let due = try await store.outbox.claimDue(owner: "s", limit: 1, leaseSeconds: 60, now: failedAt.addingTimeInterval(61))
            #expect(due.map(\.id) == [item.id], "it goes at the new time")
            #expect(try await store.outbox.releaseLeases(owner: "s") == 1)

            // Record a second failure, then allow no more retries: it fails now and its ticket is escalated.
            let again = try #require(try await store.outbox.claimDue(owner: "s", limit: 1, leaseSeconds: 60).first)
            let (state2, attempt2) = OutboxTransition.afterFailure(failure, item: again, settings: account.retry, now: Date())
            #expect(try await store.outbox.record(attempt2, item: again, state: state2, owner: "s"))
            account.retry.maxRetryCount = 1
            let gaveUp = try await store.outbox.rescheduleRetries(accountId: account.id, settings: account.retry)
            #expect(gaveUp.failed == 1)
            let failed = try #require(try await store.outbox.item(id: item.id))
            #expect(failed.state == .failed)
            #expect(failed.lastError?.contains("retry settings") == true)
            #expect(try await store.tickets.ticket(id: item.ticketId)?.escalated == true)
        }
    }
}
