import ExchangeClient
import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWorkers
import Testing

/// Replies going out over Graph sendMail and EWS CreateItem through the outbox sender, against the local servers.
@Suite(.enabled(if: ExchangeServers.available)) struct ExchangeSendTests {
    /// A ticket on `account` and one queued reply to `to` with a unique subject.
    func queued(_ store: SQLStore, account: Account, to: String) async throws -> (Account, OutboxItem, String) {
        let stored = try await store.accounts.create(account)
        let customer = try InboundMailParser.parse(Array(mailText(subject: "Question", messageId: "q-\(UUID().uuidString)@x").utf8))
        let ticketId = try #require(try await store.ingest.ingest(customer, raw: [1], account: stored, position: nil).ticketId)
        let subject = "Re: Question \(UUID().uuidString.prefix(8))"
        var builder = MessageBuilder(from: Mailbox(name: "Desk", address: stored.fromAddress))
        builder.to = [Mailbox(address: to)]
        builder.subject = subject
        builder.text = "Here is the answer."
        let raw = builder.withGeneratedMessageID().build()
        let mail = try InboundMailParser.parse(raw)
        let (_, item) = try await store.outbox.enqueue(mail, raw: raw, ticketId: ticketId, sendingAccountId: stored.id,
                                                       envelopeFrom: stored.fromAddress, recipients: [to])
        return (stored, item, subject)
    }

    @Test(arguments: ["graph", "ews"])
    func aReplyIsSentWithItsOwnMIMEAndACopyIsKept(protocolName: String) async throws {
        try await TestDatabase.sqlite.withStore { store in
            let desk = ExchangeServers.newMailbox()
            let customer = ExchangeServers.newMailbox()
            let account = protocolName == "graph" ? try ExchangeServers.graphAccount(desk) : try ExchangeServers.ewsAccount(desk)
            let (_, item, subject) = try await queued(store, account: account, to: customer)
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "test")
            #expect(await sender.sendDue() == 1)
            let sent = try #require(try await store.outbox.item(id: item.id))
            #expect(sent.state == .sent)
            #expect(try await store.outbox.attempts(outboxId: item.id).map(\.outcome) == [.sent])
            let received = try await ExchangeServers.messages(in: customer)
            #expect(received.map { $0["subject"] as? String } == [subject])
            let messageId = try #require(try await store.tickets.message(id: item.messageId)?.messageId)
            #expect((received.first?["messageId"] as? String)?.contains(messageId) == true, "Mailroom's own Message-ID went out")
            #expect(try await ExchangeServers.messages(in: desk, folder: "sentitems").count == 1)
            #expect(await sender.sendDue() == 0, "nothing is sent twice")
        }
    }

    @Test func ewsWithoutASentFolderSendsOnly() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let desk = ExchangeServers.newMailbox()
            let account = try ExchangeServers.ewsAccount(desk) { $0.outgoing.sentFolder = nil }
            let (_, item, _) = try await queued(store, account: account, to: ExchangeServers.newMailbox())
            #expect(await OutboxSender(store: store, logger: quietLogger, owner: "test").sendDue() == 1)
            #expect(try await store.outbox.item(id: item.id)?.state == .sent)
            #expect(try await ExchangeServers.messages(in: desk, folder: "sentitems").isEmpty)
        }
    }

    @Test(arguments: [
        ("graph", "throttle", #"{"retryAfter": 120}"#, DeliveryErrorClass.networkRouting, RetryPolicyKind.rateLimitRetry),
        ("graph", "status", #"{"status": 400, "code": "ErrorInvalidRecipients"}"#, .addressing, .noRetry),
        ("graph", "status", #"{"status": 403, "code": "ErrorSendAsDenied"}"#, .securityPolicy, .progressiveRetry),
        ("ews", "throttle", #"{"backOffMs": 120000}"#, .networkRouting, .rateLimitRetry),
        ("ews", "responseCode", #"{"code": "ErrorInvalidRecipients"}"#, .addressing, .noRetry),
        ("ews", "soapFault", #"{"code": "ErrorInternalServerError"}"#, .mailSystem, .progressiveRetry),
    ] as [(String, String, String, DeliveryErrorClass, RetryPolicyKind)])
    func failuresAreClassified(protocolName: String, kind: String, extraJSON: String, errorClass: DeliveryErrorClass,
                               policy: RetryPolicyKind) async throws {
        try await TestDatabase.sqlite.withStore { store in
            let extra = try JSONSerialization.jsonObject(with: Data(extraJSON.utf8)) as? [String: Any] ?? [:]
            let desk = ExchangeServers.newMailbox()
            let account = protocolName == "graph" ? try ExchangeServers.graphAccount(desk) : try ExchangeServers.ewsAccount(desk)
            let (_, item, _) = try await queued(store, account: account, to: ExchangeServers.newMailbox())
            try await ExchangeServers.fault(protocolName, mailbox: desk, kind: kind, match: protocolName == "graph" ? "sendMail" : "CreateItem",
                                            extra: extra)
            await OutboxSender(store: store, logger: quietLogger, owner: "test").sendDue()
            let attempts = try await store.outbox.attempts(outboxId: item.id)
            #expect(attempts.first?.errorClass == errorClass, "\(attempts.first?.text ?? "")")
            #expect(attempts.first?.policy == policy)
        }
    }

    @Test func repliesOnGraphAndEWSAccountsAreAccepted() async throws {
        try await TestDatabase.sqlite.withStore { store in
            for account in [try ExchangeServers.graphAccount(ExchangeServers.newMailbox(), key: "G1"),
                            try ExchangeServers.ewsAccount(ExchangeServers.newMailbox(), key: "E1")] {
                let stored = try await store.accounts.create(account)
                let customer = try InboundMailParser.parse(Array(mailText(subject: "Hello", messageId: "h-\(UUID().uuidString)@x").utf8))
                let ticketId = try #require(try await store.ingest.ingest(customer, raw: [1], account: stored, position: nil).ticketId)
                let composer = ReplyComposer(store: store)
                let message = try await composer.compose(ticketId: ticketId, request: ReplyRequest(text: "Answer"),
                                                         author: Principal(userId: nil, name: "A", role: .agent))
                #expect(message.deliveryState == .queued)
            }
        }
    }
}
