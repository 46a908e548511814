import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

/// Seed settings through the API (issue 24): saving an account applies its retry values and its
/// "active" switch to mail already in the outbox, without a restart; Ameyo's protocol spellings.
@Suite struct AccountSettingsAPITests {
    /// A ticket on the account with one reply that failed once for a rate limit and now waits.
    func waitingRetry(_ store: SQLStore, accountId: String, failedAt: Date) async throws -> OutboxItem {
        let account = try #require(try await store.accounts.find(id: accountId))
        _ = try await questionWithQueuedReply(store, account: account, replyText: "answer")
        let claimed = try #require(try await store.outbox.claimDue(owner: "t", limit: 1, leaseSeconds: 60).first)
        let failure = DeliveryFailure(kind: .serverReply, replyCode: 451, enhancedStatus: "4.4.5", text: "451 4.4.5 try later")
        let (state, attempt) = OutboxTransition.afterFailure(failure, item: claimed, settings: account.retry, now: failedAt)
        #expect(try await store.outbox.record(attempt, item: claimed, state: state, owner: "t"))
        return claimed
    }

    @Test(arguments: TestDatabase.available)
    func changedRetryValuesApplyToMailAlreadyWaiting(_ kind: TestDatabase) async throws {
        try await withAPI(kind) { api, store in
            let created = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON())
            let id = try #require(created.string("id"))
            let failedAt = Date(timeIntervalSince1970: 1_900_000_000)
            let item = try await waitingRetry(store, accountId: id, failedAt: failedAt)
            let before = try await api.call(.get, "/api/v1/outbox/\(item.id)")
            #expect(before.json?["nextAttemptAt"] == .string(ISO8601.format(failedAt.addingTimeInterval(86_400))))

            let saved = try await api.call(.patch, "/api/v1/accounts/\(id)", json: .object([
                "retry": .object(["rateLimitRetrySeconds": .number(120)]),
            ]))
            #expect(saved.status == 200, "\(saved.text)")
            let after = try await api.call(.get, "/api/v1/outbox/\(item.id)")
            #expect(after.json?["nextAttemptAt"] == .string(ISO8601.format(failedAt.addingTimeInterval(120))),
                    "the waiting retry follows the new value at once")

            // Ameyo's reload applies them too (a change made straight in the database, say).
            var account = try #require(try await store.accounts.find(id: id))
            account.retry.rateLimitRetrySeconds = 600
            _ = try await store.accounts.update(account)
            #expect(try await api.call(.post, "/api/v1/accounts/\(id)/reload").status == 204)
            let reloaded = try await api.call(.get, "/api/v1/outbox/\(item.id)")
            #expect(reloaded.json?["nextAttemptAt"] == .string(ISO8601.format(failedAt.addingTimeInterval(600))))
            #expect(try await api.call(.post, "/api/v1/accounts/nope/reload").status == 404)
        }
    }

    @Test func anInactiveAccountsRepliesWaitWithAVisibleReason() async throws {
        try await withAPI { api, store in
            let created = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["active": .bool(false)]))
            let id = try #require(created.string("id"))
            let account = try #require(try await store.accounts.find(id: id))
            _ = try await questionWithQueuedReply(store, account: account, replyText: "We are on it.")
            let listed = try await api.call(.get, "/api/v1/outbox?state=queued")
            guard case .array(let items)? = listed.json?["items"], let first = items.first else {
                Issue.record("nothing queued: \(listed.text)"); return
            }
            #expect(first["heldReason"] == .string("account inactive"))
            #expect(try await store.outbox.claimDue(owner: "t", limit: 5, leaseSeconds: 60).isEmpty)
            #expect(try await api.call(.patch, "/api/v1/accounts/\(id)", json: .object(["active": .bool(true)])).status == 200)
            let again = try await api.call(.get, "/api/v1/outbox?state=queued")
            if case .array(let items)? = again.json?["items"] { #expect(items.first?["heldReason"] == .null) }
            #expect(try await store.outbox.claimDue(owner: "t", limit: 5, leaseSeconds: 60).count == 1)
        }
    }

    @Test(arguments: [("impas", "imap", 993), ("pop3s", "pop3", 995), ("imaps", "imap", 993)])
    func ameyosProtocolSpellingsAreAccepted(spelling: String, proto: String, port: Int) async throws {
        try await withAPI { api, _ in
            let created = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON([
                "incoming": .object(["protocol": .string(spelling), "host": .string("mail.example.com"),
                                     "auth": .object(["username": .string("support"), "password": .string("incoming-secret-value")])]),
            ]))
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json?["incoming"]?["protocol"] == .string(proto))
            #expect(created.json?["incoming"]?["security"] == .string("tls"))
            #expect(created.json?["incoming"]?["port"] == .number(Double(port)))
        }
    }

    /// The screens say what the settings do: the outbox names the account that holds a reply, the
    /// ticket page offers only the transfers the account allows, with its timeout, and a subject
    /// field that proposes the subject as it will be sent.
    @Test func theScreensShowHeldRepliesTransfersAndTheReplySubject() async throws {
        try await withSite { browser, api, store in
            try await makeUser(api, role: .admin, email: "ada@example.com")
            let created = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON([
                "active": .bool(false), "subjectPrefix": .string("[Desk]"),
                "transfer": .object(["toQueue": .bool(true), "toAgent": .bool(false), "timeoutSeconds": .number(90)]),
            ]))
            let id = try #require(created.string("id"), "\(created.text)")
            #expect(created.json?["transfer"]?["enabled"] == .bool(true))
            #expect(created.json?["transfer"]?["toAgent"] == .bool(false))
            let account = try #require(try await store.accounts.find(id: id))
            let (ticketId, item) = try await questionWithQueuedReply(store, account: account, subject: "Where is my parcel?")
            try await browser.signIn("ada@example.com", "password-123")
            let outbox = try await browser.get("/admin/outbox")
            #expect(outbox.text.contains("waiting: account inactive"))
            let entry = try await browser.get("/admin/outbox/\(item.id)")
            #expect(entry.text.contains("Waiting: account inactive. It goes out when the account is switched on again."))
            let editor = try await browser.get("/admin/accounts/\(id)")
            #expect(editor.text.contains("replies written on its tickets wait in the outbox"))
            #expect(editor.text.contains("id=\"acc-transfer-queue\" name=\"transfer.toQueue\" type=\"checkbox\" checked"))
            #expect(editor.text.contains("id=\"acc-transfer-agent\" name=\"transfer.toAgent\" type=\"checkbox\">"))
            let page = try await browser.get("/tickets/\(ticketId)")
            #expect(page.status == 200)
            #expect(page.text.contains("id=\"transfer-queue\""))
            #expect(!page.text.contains("id=\"transfer-agent\""), "the account allows no transfer to an agent")
            #expect(page.text.contains("within 90 seconds"))
            let tag = "[Ticket#\(try #require(try await store.tickets.ticket(id: ticketId)).number)]"
            #expect(page.text.contains("id=\"reply-subject\" name=\"subject\""))
            #expect(page.text.contains("Re: [Desk] Where is my parcel? \(tag)"))
        }
    }
}

