import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

/// The outbox pages count every attempt (issue 27): a reply that went out at its second try shows
/// two, though the row's own count (for the retry policy) holds only the failure.
@Suite struct OutboxAttemptCountTests {
    @Test func sentMailCountsTheAttemptThatDeliveredIt() async throws {
        try await withSite { browser, api, store in
            try await makeUser(api, role: .admin, email: "ada@example.com")
            let created = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON())
            let id = try #require(created.string("id"), "\(created.text)")
            let account = try #require(try await store.accounts.find(id: id))
            let (_, queued) = try await questionWithQueuedReply(store, account: account, subject: "Where is my parcel?")
            let now = Date()
            var claimed = try #require(try await store.outbox.claimDue(owner: "t", limit: 10, leaseSeconds: 60, now: now).first)
            #expect(claimed.id == queued.id)
            let failure = OutboxAttempt(outboxId: claimed.id, attemptedAt: now, outcome: .failed, replyCode: 421, enhancedStatus: "4.3.2",
                                        text: "try later", errorClass: nil, policy: nil, nextAttemptAt: now)
            #expect(try await store.outbox.record(failure, item: claimed, state: .retrying, owner: "t", escalateOnFailure: false, now: now))
            claimed = try #require(try await store.outbox.claimDue(owner: "t", limit: 10, leaseSeconds: 60, now: now.addingTimeInterval(1)).first)
            let success = OutboxAttempt(outboxId: claimed.id, attemptedAt: now.addingTimeInterval(1), outcome: .sent, replyCode: 250,
                                        enhancedStatus: "2.0.0", text: "queued as 42", errorClass: nil, policy: nil, nextAttemptAt: nil)
            #expect(try await store.outbox.record(success, item: claimed, state: .sent, owner: "t", escalateOnFailure: false,
                                                  now: now.addingTimeInterval(1)))
            #expect(try await store.outbox.item(id: queued.id)?.attempts == 1, "the row counts failures, for the retry policy")
            #expect(try await store.outbox.attemptCounts(outboxIds: [queued.id]) == [queued.id: 2])

            try await browser.signIn("ada@example.com", "password-123")
            let entry = try await browser.get("/admin/outbox/\(queued.id)")
            #expect(entry.text.contains("State <strong>sent</strong> · 2 attempt(s)"), "\(entry.text)")
            let list = try await browser.get("/admin/outbox?state=sent")
            #expect(list.text.contains(#"<td data-label="State">sent</td><td data-label="Attempts">2</td>"#), "\(list.text)")
        }
    }
}
