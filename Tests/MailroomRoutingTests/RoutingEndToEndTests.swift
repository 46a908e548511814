import Foundation
import IMAPClient
import MailTransport
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Hummingbird
import HummingbirdTesting
import MailroomWeb
import MailroomWorkers
import Synchronization
import Testing

/// The whole path with the real Dovecot: a message delivered to the mailbox is fetched, routed by
/// a rule to a queue and reaches the online agent's live event stream as an offer; she accepts;
/// the customer's reply while she is paused waits for her, then goes to her queue's other agent.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_IMAP_PORT")))
struct RoutingEndToEndTests {
    static func endpoint() throws -> MailEndpoint {
        MailEndpoint(host: TestServers.value("MAILROOM_TEST_IMAP_HOST") ?? "127.0.0.1", port: Int(try TestServers.require("MAILROOM_TEST_IMAP_PORT")) ?? 0,
                     security: .none, connectionTimeout: .seconds(30), authTimeout: .seconds(30), commandTimeout: .seconds(120))
    }

    static func deliver(_ text: String, to user: String) async throws {
        let imap = try await IMAPConnection.connect(to: try endpoint(), credentials: .password(user, try TestServers.require("MAILROOM_TEST_DOVECOT_PASSWORD")))
        _ = try await imap.append(to: "INBOX", message: Array(text.utf8), flags: [])
        await imap.logout()
    }

    static func mail(subject: String, messageId: String, inReplyTo: String? = nil) -> String {
        var text = "From: Customer <carol@example.com>\r\nTo: desk@example.com\r\nSubject: \(subject)\r\nMessage-ID: <\(messageId)>\r\n"
        text += "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        if let inReplyTo { text += "In-Reply-To: <\(inReplyTo)>\r\n" }
        return text + "\r\nHello\r\n"
    }

    @Test func aDeliveredMessageReachesTheAgentAsAnOfferAndAPausedAgentsReplyWaitsForHer() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = "routing-\(UUID().uuidString.prefix(12).lowercased())"
            var account = Account(key: "E2E", name: "End to end", fromAddress: "desk@example.com")
            account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(
                host: TestServers.value("MAILROOM_TEST_IMAP_HOST") ?? "127.0.0.1", port: Int(try TestServers.require("MAILROOM_TEST_IMAP_PORT")),
                security: .none, auth: ServerAuth(method: .password, username: user, password: Secret(try TestServers.require("MAILROOM_TEST_DOVECOT_PASSWORD"))),
                connectionTimeoutSeconds: 30, authTimeoutSeconds: 30))
            account.incoming.fetchIntervalSeconds = 1
            account.resolvers = [.caseId]
            account.waitForAgentSeconds = 1
            account.waitForQueueSeconds = 30
            account = try await store.accounts.create(account)

            let ann = try await store.users.create(User(name: "Ann", email: "ann-e2e@example.com", role: .agent), passwordHash: nil)
            let bob = try await store.users.create(User(name: "Bob", email: "bob-e2e@example.com", role: .agent), passwordHash: nil)
            let queue = try await store.routing.createQueue(AgentQueue(name: "Support", strategy: .roundRobin, agentTimeoutSeconds: 60,
                                                                      members: [QueueMember(userId: ann.id), QueueMember(userId: bob.id, priority: 1)]))
            _ = try await store.rules.create(try RoutingRule.decode(try JSONCoding.decoder.decode(JSONValue.self, from: Data("""
                {"accountId": "\(account.id)", "name": "Support", "actions": [{"type": "queue", "queueId": "\(queue.id)"}]}
                """.utf8))))

            let hub = LiveEventHub()
            let service = RoutingService(store: store, events: hub, logger: quietLogger)
            let step = RoutingStep(store: store, logger: quietLogger, service: service)
            let pipeline = IngestPipeline(store: store.ingest, settings: store.settings, logger: quietLogger,
                                          afterCommit: { await step.run(after: $0, account: $1) })
            let fetchers = FetcherSupervisor(store: store, pipeline: pipeline, status: AccountStatusBoard(), logger: quietLogger,
                                             reconcileInterval: .milliseconds(200))
            let annId = ann.id
            let bobId = bob.id
            let published = EventIterator(hub.subscribe().events)
            let tasks = [Task { try await fetchers.run() }, Task { try await service.run() }]
            defer { for task in tasks { task.cancel() } }

            let router = APIRouter.build(WebDependencies(store: store, adminToken: adminToken, metricsText: { "" }, events: hub,
                                                         routing: service))
            try await Application(router: router).test(.live) { client in
                let api = RoutingClient(client: client)
                let port = try #require(client.port)
                func token(_ userId: String) async throws -> String {
                    try #require(try await api.call(.post, "/api/v1/users/\(userId)/tokens", #"{"name": "desk"}"#).string("token"))
                }
                let annToken = try await token(annId)
                let bobToken = try await token(bobId)
                #expect(try await api.call(.put, "/api/v1/users/\(annId)/presence", token: annToken, #"{"state": "online"}"#).status == 200)
                let annStream = try SSEReader(port: port, headers: ["Authorization": "Bearer \(annToken)"])
                let bobStream = try SSEReader(port: port, headers: ["Authorization": "Bearer \(bobToken)"])
                for _ in 0..<500 where hub.subscriberCount < 3 { try await Task.sleep(for: .milliseconds(10)) }

                try await Self.deliver(Self.mail(subject: "My order", messageId: "e2e-first@example.com"), to: user)
                let offer = try #require(try await annStream.next(ofType: "offer", timeout: .seconds(90)), "the offer reaches Ann's stream")
                let offerData = try JSONCoding.decoder.decode(JSONValue.self, from: Data(offer.data.utf8))
                guard case .string(let offerId)? = offerData["id"], case .string(let ticketId)? = offerData["ticketId"] else {
                    Issue.record("the offer event names its offer and ticket: \(offer.data)")
                    return
                }
                #expect(offerData["ticket"]?["subject"] == .string("My order"))
                #expect(await published.next { $0.type == .offer && $0.audience == .users([annId]) } != nil, "and went through the hub")
                let accepted = try await api.call(.post, "/api/v1/offers/\(offerId)/accept", token: annToken)
                #expect(accepted.status == 200, "\(accepted.text)")
                #expect(accepted.json?["agentId"] == .string(annId))

                // Ann pauses; the customer answers. The reply waits a second for her, then goes to her queue (Bob).
                #expect(try await api.call(.put, "/api/v1/users/\(annId)/presence", token: annToken, #"{"state": "paused", "reason": "lunch"}"#).status == 200)
                #expect(try await api.call(.put, "/api/v1/users/\(bobId)/presence", token: bobToken, #"{"state": "online"}"#).status == 200)
                try await Self.deliver(Self.mail(subject: "Re: My order", messageId: "e2e-second@example.com", inReplyTo: "e2e-first@example.com"), to: user)
                let message = try await annStream.next(ofType: "message", timeout: .seconds(90))
                #expect(message?.data.contains(ticketId) == true, "the reply is announced on Ann's stream")
                // The message event goes out as the reply is handed to routing; the wait starts just after.
                _ = try await eventually {
                    if case .assigned? = try await store.routing.routing(ticketId: ticketId)?.machine.phase { return false }
                    return true
                }
                let waiting = try await store.routing.routing(ticketId: ticketId)?.machine.phase
                if case .waitingForAgent(let awaited, _)? = waiting {
                    #expect(awaited == annId)
                } else if case .inQueue(let queueId, _)? = waiting {
                    #expect(queueId == queue.id, "the one-second wait may already be over")
                } else {
                    Issue.record("the ticket waits for Ann, not \(String(describing: waiting))")
                }
                let bobOffer = try await bobStream.next(ofType: "offer", timeout: .seconds(90))
                #expect(bobOffer?.data.contains(ticketId) == true, "after Ann's wait the ticket is offered in her queue")
                let moved = try #require(try await store.tickets.ticket(id: ticketId))
                #expect(moved.queueId == queue.id)
                #expect(moved.agentId == nil)
                #expect(try await store.tickets.messages(ticketId: ticketId).count == 2)
            }
        }
    }
}

/// Collects the stream's events as they come, for tests to wait on.
final class EventIterator: Sendable {
    private final class Log: Sendable {
        let state = Mutex<(events: [LiveEvent], cursor: Int)>(([], 0))
    }

    private let log = Log()
    private let reader: Task<Void, Never>

    init(_ stream: AsyncStream<LiveEvent>) {
        let log = self.log
        reader = Task {
            for await event in stream { log.state.withLock { $0.events.append(event) } }
        }
    }

    deinit { reader.cancel() }

    var all: [LiveEvent] { log.state.withLock { $0.events } }

    /// The next event after the last one returned that `matches`, or nil after `timeout`.
    func next(timeout: Duration = .seconds(60), where matches: @Sendable (LiveEvent) -> Bool) async -> LiveEvent? {
        let deadline = ContinuousClock.now + timeout
        while !Task.isCancelled && ContinuousClock.now < deadline {
            let found = log.state.withLock { state -> LiveEvent? in
                while state.cursor < state.events.count {
                    let event = state.events[state.cursor]
                    state.cursor += 1
                    if matches(event) { return event }
                }
                return nil
            }
            if let found { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}
