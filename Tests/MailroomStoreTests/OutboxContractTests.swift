import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// The outbox, templates, rules, uploads and auto-reply history on SQLite and PostgreSQL.
@Suite struct OutboxContractTests {
    func queue(_ store: SQLStore, count: Int) async throws -> (Account, [OutboxItem]) {
        let account = try await store.accounts.create(sampleAccount())
        let ticket = try await store.ingest.ingest(inbound(from: "ann@example.com", subject: "Q", messageId: "q@x"), raw: [1],
                                                    account: account, position: nil)
        var items: [OutboxItem] = []
        for index in 0..<count {
            var reply = inbound(from: "desk@example.com", subject: "Re: Q", messageId: "r\(index)@desk", body: "answer \(index)")
            reply.to = [EmailAddress(address: "ann@example.com")]
            let (_, item) = try await store.outbox.enqueue(reply, raw: Array("reply \(index)".utf8), ticketId: ticket.ticketId!,
                                                           sendingAccountId: account.id, envelopeFrom: "desk@example.com",
                                                           recipients: ["ann@example.com"])
            items.append(item)
        }
        return (account, items)
    }

    @Test(arguments: TestDatabase.available)
    func claimsAreExclusiveAndLeasesLapse(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let (_, items) = try await queue(store, count: 8)
            #expect(try await store.tickets.ticket(id: items[0].ticketId)?.lastMessageDirection == .outbound)
            async let a = store.outbox.claimDue(owner: "a", limit: 5, leaseSeconds: 60)
            async let b = store.outbox.claimDue(owner: "b", limit: 5, leaseSeconds: 60)
            let (first, second) = try await (a, b)
            #expect(Set(first.map(\.id)).isDisjoint(with: second.map(\.id)))
            #expect(first.count + second.count == 8)
            #expect(try await store.outbox.claimDue(owner: "c", limit: 10, leaseSeconds: 60).isEmpty)
            let later = try await store.outbox.claimDue(owner: "c", limit: 10, leaseSeconds: 60, now: Date().addingTimeInterval(61))
            #expect(later.count == 8)
            #expect(try await store.outbox.releaseLeases(owner: "c") == 8)
            #expect(try await store.outbox.items(state: .retrying).count == 8)
        }
    }

    @Test(arguments: TestDatabase.available)
    func attemptsAreLoggedAndFinalFailuresEscalate(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let (_, items) = try await queue(store, count: 2)
            let claimed = try await store.outbox.claimDue(owner: "s", limit: 2, leaseSeconds: 60)
            let sent = OutboxAttempt(outboxId: claimed[0].id, attemptedAt: Date(), outcome: .sent, replyCode: 250, enhancedStatus: "2.0.0",
                                     text: "ok", errorClass: nil, policy: nil, nextAttemptAt: nil,
                                     recipients: [.init(address: "ann@example.com", accepted: true, replyCode: 250, text: "ok")])
            #expect(try await store.outbox.record(sent, item: claimed[0], state: .sent, owner: "s"))
            let failure = DeliveryFailure(kind: .serverReply, replyCode: 550, enhancedStatus: "5.1.1", text: "550 5.1.1 no such user")
            let (state, attempt) = OutboxTransition.afterFailure(failure, item: claimed[1], settings: RetrySettings(), now: Date())
            #expect(state == .failed)
            #expect(try await store.outbox.record(attempt, item: claimed[1], state: state, owner: "s"))
            #expect(try await store.outbox.item(id: claimed[0].id)?.state == .sent)
            #expect(try await store.outbox.attempts(outboxId: claimed[0].id).first?.recipients.first?.accepted == true)
            let failed = try #require(try await store.outbox.item(id: claimed[1].id))
            #expect(failed.state == .failed)
            #expect(failed.attempts == 1)
            #expect(failed.lastError?.contains("5.1.1") == true)
            #expect(try await store.outbox.attempts(outboxId: failed.id).first?.errorClass == .addressing)
            #expect(try await store.tickets.ticket(id: items[0].ticketId)?.escalated == true)
            #expect(try await store.outbox.resend(id: failed.id).state == .queued)
            await #expect(throws: DomainError.self) { _ = try await store.outbox.resend(id: claimed[0].id) }
        }
    }

    @Test(arguments: TestDatabase.available)
    func templatesRulesUploadsAndAutoReplyHistory(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let template = try await store.templates.create(MessageTemplate(key: "ack", kind: .autoReply, text: "Thanks"))
            #expect(try await store.templates.find(key: "ack")?.id == template.id)
            await #expect(throws: DomainError.self) { _ = try await store.templates.create(MessageTemplate(key: "ack", kind: .reply, text: "x")) }

            let account = try await store.accounts.create(sampleAccount())
            let rule = try await store.rules.create(RoutingRule(accountId: account.id, name: "r", actions: [.stop]))
            let global = try await store.rules.create(RoutingRule(accountId: nil, name: "g", position: 5, actions: [.stop]))
            #expect(try await store.rules.rules(for: account.id).map(\.id).sorted() == [rule.id, global.id].sorted())
            try await store.rules.disable(accountId: account.id)
            #expect(try await store.rules.find(id: rule.id)?.enabled == false)
            #expect(try await store.rules.find(id: global.id)?.enabled == true)

            let upload = try await store.outbox.saveUpload([1, 2, 3], filename: "a.bin", contentType: "application/octet-stream",
                                                           contentId: nil, inline: false, uploadedBy: nil)
            #expect(try await store.outbox.uploads(ids: [upload.id]).first?.size == 3)
            #expect(try await store.rawMail.blob(sha256: upload.sha256) == [1, 2, 3])

            try await store.outbox.recordAutoReply(ticketId: "t1", recipients: ["Ann@Example.com"])
            let history = try await store.outbox.autoReplyHistory(ticketId: "t1", recipient: "ann@example.com")
            #expect(history.onTicket == 1 && history.toRecipientLastHour == 1)
        }
    }
}
