import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWorkers
import Synchronization
import Testing

@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_SMTP_SINK_PORT"))) struct OutboxSenderTests {
    /// An account sending through the smtp-sink on `portVariable`, a ticket, and one queued reply on it.
    func queued(_ store: SQLStore, portVariable: String, host: String = "127.0.0.1", port: Int? = nil,
                configure: (inout Account) -> Void = { _ in }) async throws -> (Account, OutboxItem) {
        var account = Account(key: "OUT", name: "Out \(portVariable)", fromAddress: "desk@example.com", fromName: "Desk")
        account.outgoing = OutboxSenderTests.smtp(host: host, port: try port ?? Int(TestServers.require(portVariable))!)
        configure(&account)
        let stored = try await store.accounts.create(account)
        let customer = try InboundMailParser.parse(Array(mailText(subject: "Question", messageId: "q-\(UUID().uuidString)@x").utf8))
        let ticketId = try #require(try await store.ingest.ingest(customer, raw: [1], account: stored, position: nil).ticketId)
        var builder = MessageBuilder(from: Mailbox(name: "Desk", address: "desk@example.com"))
        builder.to = [Mailbox(address: "ann@example.com")]
        builder.subject = "Re: Question"
        builder.text = "Here is the answer."
        let raw = builder.withGeneratedMessageID().build()
        let mail = try InboundMailParser.parse(raw)
        let (_, item) = try await store.outbox.enqueue(mail, raw: raw, ticketId: ticketId, sendingAccountId: stored.id,
                                                       envelopeFrom: "desk@example.com", recipients: ["ann@example.com"])
        return (stored, item)
    }

    static func smtp(host: String, port: Int) -> OutgoingServer {
        OutgoingServer(protocol: .smtp, connection: ServerConnection(host: host, port: port, security: .none, auth: ServerAuth(method: .none),
                                                                     connectionTimeoutSeconds: 10, authTimeoutSeconds: 10))
    }

    @Test func aReplyIsSentAndLogged() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (_, item) = try await queued(store, portVariable: "MAILROOM_TEST_SMTP_SINK_PORT")
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "test")
            #expect(await sender.sendDue() == 1)
            let sent = try #require(try await store.outbox.item(id: item.id))
            #expect(sent.state == .sent)
            #expect(sent.sentAt != nil)
            let attempts = try await store.outbox.attempts(outboxId: item.id)
            #expect(attempts.map(\.outcome) == [.sent])
            #expect(attempts.first?.replyCode == 250)
            #expect(attempts.first?.recipients.map(\.accepted) == [true])
            #expect(try await store.tickets.message(id: item.messageId)?.deliveryState == .sent)
            #expect(await sender.sendDue() == 0, "nothing is sent twice")
        }
    }

    @Test(arguments: [
        ("MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT", DeliveryErrorClass.addressing, RetryPolicyKind.noRetry, DeliveryState.failed),
        ("MAILROOM_TEST_SMTP_SINK_DATA_4XX_PORT", .securityPolicy, .progressiveRetry, .retrying),
        ("MAILROOM_TEST_SMTP_SINK_DATA_5XX_PORT", .securityPolicy, .progressiveRetry, .retrying),
        ("MAILROOM_TEST_SMTP_SINK_DISCONNECT_DATA_PORT", .connection, .progressiveRetry, .retrying),
        ("MAILROOM_TEST_SMTP_SINK_421_MAIL_PORT", .connection, .progressiveRetry, .retrying),
        ("MAILROOM_TEST_SMTP_SINK_MAIL_5XX_PORT", .mailSystem, .progressiveRetry, .retrying),
    ])
    func serverRepliesAreClassifiedAndThePolicyApplied(port: String, errorClass: DeliveryErrorClass, policy: RetryPolicyKind,
                                                       state: DeliveryState) async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (_, item) = try await queued(store, portVariable: port)
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "test")
            let before = Date()
            await sender.sendDue()
            let sent = Date()
            let after = try #require(try await store.outbox.item(id: item.id))
            #expect(after.state == state)
            let attempt = try #require(try await store.outbox.attempts(outboxId: item.id).first)
            #expect(attempt.errorClass == errorClass, "\(attempt.text)")
            #expect(attempt.policy == policy)
            if errorClass != .connection { #expect(attempt.replyCode.map { $0 >= 400 } == true) }
            if state == .retrying && policy == .progressiveRetry {
                // One interval after the attempt, however long the attempt itself took on a loaded machine.
                let next = after.nextAttemptAt ?? before
                #expect(next.timeIntervalSince(before) >= 299 && next.timeIntervalSince(sent) <= 301,
                        "the first progressive wait is one interval")
            } else if state == .failed {
                #expect(after.nextAttemptAt == nil)
                #expect(try await store.tickets.ticket(id: item.ticketId)?.escalated == true, "a final failure is flagged on its ticket")
                #expect(try await store.tickets.message(id: item.messageId)?.deliveryState == .failed)
            }
        }
    }

    @Test func connectionFailuresAndUnknownHostsFollowTheirPolicies() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let closedPort = 1 // nothing listens on port 1 of the loopback
            let (_, refused) = try await queued(store, portVariable: "unused", port: closedPort)
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "test")
            await sender.sendDue()
            #expect(try await store.outbox.attempts(outboxId: refused.id).first?.errorClass == .connection)
            #expect(try await store.outbox.item(id: refused.id)?.state == .retrying)
        }
        try await TestDatabase.sqlite.withStore { store in
            let (_, unknown) = try await queued(store, portVariable: "unused", host: "no-such-host.invalid", port: 25)
            await OutboxSender(store: store, logger: quietLogger, owner: "test").sendDue()
            #expect(try await store.outbox.attempts(outboxId: unknown.id).first?.errorClass == .unknownHost)
            #expect(try await store.outbox.item(id: unknown.id)?.state == .failed)
        }
    }

    @Test func defaultRetryGoesAgainAtOnceAndStopsAtTheMaximum() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (_, item) = try await queued(store, portVariable: "MAILROOM_TEST_SMTP_SINK_DATA_5XX_PORT") { account in
                account.retry = RetrySettings(maxRetryCount: 2, errorPolicies: [.securityPolicy: .defaultRetry])
            }
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "test")
            for _ in 0..<5 { await sender.sendDue() }
            let attempts = try await store.outbox.attempts(outboxId: item.id)
            #expect(attempts.count == 3, "one try and two retries")
            #expect(attempts.map(\.policy) == [.defaultRetry, .defaultRetry, .defaultRetry])
            #expect(try await store.outbox.item(id: item.id)?.state == .failed)
            let resent = try await store.outbox.resend(id: item.id)
            #expect(resent.state == .queued && resent.attempts == 0)
        }
    }

    @Test func twoSendersNeverClaimTheSameRow() async throws {
        try await TestDatabase.sqlite.withStore { store in
            for _ in 0..<10 { _ = try await queued(store, portVariable: "MAILROOM_TEST_SMTP_SINK_PORT") { $0.key = String(UUID().uuidString.prefix(5)); $0.name = UUID().uuidString } }
            async let first = store.outbox.claimDue(owner: "a", limit: 6, leaseSeconds: 60)
            async let second = store.outbox.claimDue(owner: "b", limit: 6, leaseSeconds: 60)
            let (a, b) = try await (first, second)
            #expect(Set(a.map(\.id)).isDisjoint(with: Set(b.map(\.id))))
            #expect(a.count + b.count == 10)
            // A sender that died mid-send loses its rows once the lease lapses.
            let later = try await store.outbox.claimDue(owner: "c", limit: 20, leaseSeconds: 60, now: Date().addingTimeInterval(120))
            #expect(later.count == 10)
            #expect(try await store.outbox.record(OutboxAttempt(outboxId: a[0].id, attemptedAt: Date(), outcome: .sent, replyCode: 250,
                                                                 enhancedStatus: nil, text: "ok", errorClass: nil, policy: nil, nextAttemptAt: nil),
                                                   item: a[0], state: .sent, owner: "a") == false,
                    "the old owner cannot record over the new one")
        }
    }
}

@Suite(.enabled(if: Dovecot.available && TestServers.shouldRun("MAILROOM_TEST_SMTP_SINK_PORT"))) struct SentFolderTests {
    @Test func aSentMessageIsCopiedToTheSentFolder() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            try await Dovecot.deliver([mailText(subject: "Question", messageId: "sf1@x")], to: user)
            var account = try Dovecot.account(user: user)
            account.fromAddress = "desk@example.com"
            account.outgoing = OutboxSenderTests.smtp(host: "127.0.0.1", port: Int(try TestServers.require("MAILROOM_TEST_SMTP_SINK_PORT"))!)
            account.outgoing.sentFolder = "Sent"
            let stored = try await store.accounts.create(account)
            let customerRaw = Array(mailText(subject: "Question", messageId: "sf1@x").utf8)
            let customer = try InboundMailParser.parse(customerRaw)
            let ticketId = try #require(try await store.ingest.ingest(customer, raw: customerRaw, account: stored, position: nil).ticketId)
            _ = try await ReplyComposer(store: store).compose(ticketId: ticketId, request: ReplyRequest(text: "Answer"),
                                                              author: Principal(userId: nil, name: "A", role: .agent))
            await OutboxSender(store: store, logger: quietLogger, owner: "t").sendDue()
            let imap = try await Dovecot.connect(user: user)
            _ = try await imap.select("Sent")
            #expect(try await imap.uidSearch(.all).count == 1)
            await imap.logout()
        }
    }

    @Test func manyCopiesGoOverOneLoginAndADroppedConnectionIsReplaced() async throws {
        let user = Dovecot.newUser()
        try await Dovecot.deliver([mailText(subject: "Question", messageId: "sf2@x")], to: user)
        var account = try Dovecot.account(user: user)
        account.outgoing.sentFolder = "Sent"
        let copier = try #require(SentFolderCopier(account: account, credentials: AccountCredentialSource(accounts: nil), logger: quietLogger))
        for index in 0..<5 {
            await copier.copy(Array(mailText(subject: "Answer \(index)", messageId: "answer-\(index)@desk.example").utf8))
        }
        #expect(await copier.logins == 1, "one login for the five copies")

        // The server drops the kept connection (idle timeout): the next copy logs in again and lands.
        await copier.loseConnectionForTesting()
        await copier.copy(Array(mailText(subject: "Answer 5", messageId: "answer-5@desk.example").utf8))
        #expect(await copier.logins == 2)
        await copier.finish()

        let imap = try await Dovecot.connect(user: user)
        _ = try await imap.select("Sent")
        #expect(try await imap.uidSearch(.all).count == 6)
        await imap.logout()
    }

    @Test func anOAuth2AccountLogsInForCopiesWithAFreshToken() async throws {
        var account = try Dovecot.account(user: Dovecot.newUser())
        account.outgoing.sentFolder = "Sent"
        account.incoming.connection.auth = ServerAuth(method: .oauth2, oauth2: OAuth2Settings(
            provider: "custom", email: "desk@example.com", clientId: "client", tokenURL: "http://127.0.0.1:9/token",
            refreshToken: Secret("refresh-1"), accessToken: Secret("expired"), accessTokenExpiresAt: Date(timeIntervalSinceNow: -60)))
        let refreshed = Mutex<[String]>([])
        let source = AccountCredentialSource(accounts: nil) { settings in
            refreshed.withLock { $0.append(settings.refreshToken?.revealed ?? "") }
            return OAuth2Grant(accessToken: "fresh", expiresAt: Date(timeIntervalSinceNow: 3600), refreshToken: nil)
        }
        let copier = try #require(SentFolderCopier(account: account, credentials: source, logger: quietLogger))
        // This Dovecot has no OAuth2 login, so the copy itself fails (and is logged); what matters
        // here is that the expired token was not used: the copier asked for a fresh one first.
        await copier.copy(Array(mailText(subject: "Answer", messageId: "oauth-copy@desk.example").utf8))
        #expect(refreshed.withLock { $0 } == ["refresh-1"])
        #expect(await copier.logins == 1)
        await copier.finish()
    }
}

@Suite struct DeliveryFailureNoticeTests {
    @Test func aFinalFailureIsAnnouncedOnTheLiveStream() async throws {
        try await TestDatabase.sqlite.withStore { store in
            // A 5xx to RCPT is an addressing error: no retry, so this one attempt is final.
            let (_, item) = try await OutboxSenderTests().queued(store, portVariable: "MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT")
            let hub = LiveEventHub()
            let subscription = hub.subscribe()
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "test", events: hub)
            await sender.sendDue()
            #expect(try await store.outbox.item(id: item.id)?.state == .failed)
            var seen: [LiveEvent] = []
            for await event in subscription.events {
                seen.append(event)
                if seen.count == 2 { break }
            }
            let message = try #require(seen.first { $0.type == .message })
            #expect(message.data["deliveryState"] == .string("failed"))
            #expect(message.data["messageId"] == .string(item.messageId))
            #expect(message.data["direction"] == .string("out"))
            if case .string(let reason)? = message.data["error"] { #expect(!reason.isEmpty) } else { Issue.record("no reason given") }
            let ticket = try #require(seen.first { $0.type == .ticket })
            #expect(ticket.data["escalated"] == .bool(true))
            #expect(ticket.data["unread"] == .bool(true))
        }
    }
}
