import Foundation
import Hummingbird
import Logging
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWorkers
import Synchronization
import Testing

/// A local HTTP receiver that answers with the statuses it is given, in turn, and keeps what it got.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var body: String
        var event: String?
        var delivery: String?
        var contentType: String?
        var signature: String? = nil
    }

    private let state = Mutex<(answers: [Int], received: [Received])>(([], []))

    init(answers: [Int]) { state.withLock { $0.answers = answers } }

    var received: [Received] { state.withLock { $0.received } }

    /// Runs the receiver on a free loopback port for the duration of `body`.
    func run(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("hook") { request, context -> Response in
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            let status = self.state.withLock { state -> Int in
                state.received.append(Received(body: String(buffer: buffer), event: request.headers[.init("X-Mailroom-Event")!],
                                               delivery: request.headers[.init("X-Mailroom-Delivery")!],
                                               contentType: request.headers[.contentType],
                                               signature: request.headers[.init("X-Mailroom-Signature")!]))
                return state.answers.isEmpty ? 200 : state.answers.removeFirst()
            }
            return Response(status: .init(code: status))
        }
        try await withLoopbackServer(router, label: "webhook-receiver", body)
    }
}

@Suite struct WebhookSenderTests {
    let logger = Logger(label: "webhook-test")

    @Test func aDeliveryIsPostedAsJSONWithItsHeaders() async throws {
        let receiver = WebhookReceiver(answers: [204])
        try await receiver.run { port in
            try await TestDatabase.sqlite.withStore { store in
                let created = try await store.webhooks.enqueue(url: "http://127.0.0.1:\(port)/hook", event: "ticket.routed", ticketId: "t1",
                                                               ruleIds: ["r1"], payload: .object(["ticket": .object(["id": .string("t1")])]))
                let sender = WebhookSender(store: store, logger: logger)
                #expect(await sender.sendDue() == 1)
                let stored = try #require(try await store.webhooks.delivery(id: created.id))
                #expect(stored.state == .delivered && stored.lastStatus == 204 && stored.attempts == 1)
                let got = try #require(receiver.received.first)
                #expect(got.event == "ticket.routed" && got.delivery == created.id)
                #expect(got.contentType == "application/json")
                #expect(got.body.contains("\"t1\""))
            }
        }
    }

    @Test func aServerErrorIsRetriedLaterAndARefusalIsNot() async throws {
        let receiver = WebhookReceiver(answers: [503, 200, 404])
        try await receiver.run { port in
            try await TestDatabase.sqlite.withStore { store in
                let url = "http://127.0.0.1:\(port)/hook"
                let retried = try await store.webhooks.enqueue(url: url, event: "ticket.routed", ticketId: "t1", ruleIds: [], payload: .object([:]))
                let sender = WebhookSender(store: store, logger: logger)
                let sentAt = Date()
                #expect(await sender.sendDue() == 1)
                var stored = try #require(try await store.webhooks.delivery(id: retried.id))
                #expect(stored.state == .pending && stored.lastStatus == 503 && stored.attempts == 1)
                let next = try #require(stored.nextAttemptAt)
                #expect(next > sentAt.addingTimeInterval(5))
                // Not due yet: nothing is posted (the clock is given, so a slow machine does not make it due).
                #expect(await sender.sendDue(now: next.addingTimeInterval(-1)) == 0)
                #expect(await sender.sendDue(now: next.addingTimeInterval(1)) == 1)
                stored = try #require(try await store.webhooks.delivery(id: retried.id))
                #expect(stored.state == .delivered && stored.attempts == 2)

                let refused = try await store.webhooks.enqueue(url: url, event: "ticket.routed", ticketId: "t2", ruleIds: [], payload: .object([:]))
                #expect(await sender.sendDue() == 1)
                stored = try #require(try await store.webhooks.delivery(id: refused.id))
                #expect(stored.state == .failed && stored.lastStatus == 404)
                #expect(stored.lastError?.contains("404") == true)
                #expect(receiver.received.count == 3)
            }
        }
    }

    @Test func anUnreachableReceiverIsRetriedWithAnActionableReason() async throws {
        try await TestDatabase.sqlite.withStore { store in
            // Port 9 (discard) is closed on the loopback interface here: the connection is refused.
            let delivery = try await store.webhooks.enqueue(url: "http://127.0.0.1:9/hook", event: "ticket.routed", ticketId: nil,
                                                            ruleIds: [], payload: .object([:]))
            let sender = WebhookSender(store: store, logger: logger)
            #expect(await sender.sendDue() == 1)
            let stored = try #require(try await store.webhooks.delivery(id: delivery.id))
            #expect(stored.state == .pending && stored.lastStatus == nil)
            #expect(stored.lastError == "the webhook receiver refused the connection")
        }
    }

    @Test func aURLThatIsNotHTTPIsNeverFetched() throws {
        let delivery = WebhookDelivery(id: "1", url: "file:///etc/passwd", event: "e", ticketId: nil, ruleIds: [], payload: .null,
                                       nextAttemptAt: nil, createdAt: Date())
        #expect(throws: WebhookRequestError.self) { try WebhookSender.request(for: delivery) }
    }
}

@Suite struct RuleWebhookTests {
    @Test func aRulesWebhookPostsTheRoutedTicketToTheReceiver() async throws {
        let receiver = WebhookReceiver(answers: [200])
        try await receiver.run { port in
            try await TestDatabase.sqlite.withStore { store in
                var account = Account(key: "W", name: "Hooked", fromAddress: "desk@example.com")
                account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
                let stored = try await store.accounts.create(account)
                let rule = try RoutingRule.decode(try JSONCoding.decoder.decode(JSONValue.self, from: Data("""
                    {"accountId": "\(stored.id)", "name": "Tell the CRM", "conditions": [{"field": "subject", "operator": "contains", "value": "refund"}],
                     "actions": [{"type": "tag", "tag": "refund"}, {"type": "webhook", "url": "http://127.0.0.1:\(port)/hook"}]}
                    """.utf8)))
                let created = try await store.rules.create(rule)
                let sender = WebhookSender(store: store, logger: quietLogger)
                let routing = RoutingStep(store: store, logger: quietLogger, onWebhook: { sender.wake() })
                let pipeline = IngestPipeline(store: store.ingest, logger: quietLogger, afterCommit: { await routing.run(after: $0, account: $1) })
                let outcome = try await pipeline.process(Array(mailText(subject: "A refund please", messageId: "w1@x").utf8), account: stored,
                                                         position: nil, source: "t")
                let ticketId = try #require(outcome.ticketId)
                // Mail no rule matches makes no delivery.
                _ = try await pipeline.process(Array(mailText(from: "bob@example.com", subject: "Hello", messageId: "w2@x").utf8), account: stored,
                                               position: nil, source: "t")
                let pending = try await store.webhooks.deliveries(state: .pending)
                #expect(pending.count == 1)
                #expect(pending.first?.ruleIds == [created.id] && pending.first?.ticketId == ticketId)

                #expect(await sender.sendDue() == 1)
                let got = try #require(receiver.received.first)
                let body = try JSONCoding.decoder.decode(JSONValue.self, from: Data(got.body.utf8))
                #expect(body["event"] == .string("ticket.routed"))
                #expect(body["ticket"]?["id"] == .string(ticketId))
                #expect(body["ticket"]?["tags"] == .array([.string("refund")]))
                #expect(body["message"]?["subject"] == .string("A refund please"))
                #expect(body["message"]?["html"] == nil)
                #expect(try await store.webhooks.deliveries(state: .delivered).count == 1)
            }
        }
    }
}
