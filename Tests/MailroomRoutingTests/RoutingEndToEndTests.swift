import Foundation
import IMAPClient
import MailTransport
import MailroomCore
import MailroomStore
import MailroomTestSupport
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

    /// The next event on the stream that `matches`, or nil after `timeout`.
    static func next(_ iterator: EventIterator, timeout: Duration = .seconds(90), where matches: @escaping @Sendable (LiveEvent) -> Bool) async -> LiveEvent? {
        await withTaskGroup(of: LiveEvent?.self) { group in
            group.addTask { await iterator.next(where: matches) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
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
            let pipeline = IngestPipeline(tickets: store.tickets, settings: store.settings, logger: quietLogger,
                                          afterCommit: { await step.run(after: $0, account: $1) })
            let fetchers = FetcherSupervisor(store: store, pipeline: pipeline, status: AccountStatusBoard(), logger: quietLogger,
                                             reconcileInterval: .milliseconds(200))
            _ = try await service.setPresence(userId: ann.id, presence: .online)
            let annId = ann.id
            let bobId = bob.id
            let events = EventIterator(hub.subscribe().events)
            let tasks = [Task { try await fetchers.run() }, Task { try await service.run() }]
            defer { for task in tasks { task.cancel() } }

            try await Self.deliver(Self.mail(subject: "My order", messageId: "e2e-first@example.com"), to: user)
            let offer = try #require(await Self.next(events) { $0.type == .offer && $0.audience == .users([annId]) }, "the offer reaches Ann's stream")
            guard case .string(let offerId)? = offer.data["id"], case .string(let ticketId)? = offer.data["ticketId"] else {
                Issue.record("the offer event names its offer and ticket: \(offer.data)")
                return
            }
            #expect(offer.data["ticket"]?["subject"] == .string("My order"))
            let ticket = try await service.accept(offerId: offerId, by: ann.id)
            #expect(ticket.agentId == ann.id)

            // Ann pauses; the customer answers. The reply waits a second for her, then goes to her queue (Bob).
            _ = try await service.setPresence(userId: ann.id, presence: .paused("lunch"))
            _ = try await service.setPresence(userId: bob.id, presence: .online)
            try await Self.deliver(Self.mail(subject: "Re: My order", messageId: "e2e-second@example.com", inReplyTo: "e2e-first@example.com"), to: user)
            let ticketKey = ticketId
            let message = await Self.next(events) { $0.type == .message && $0.data["ticketId"] == .string(ticketKey) }
            #expect(message != nil, "the reply is announced on the ticket's stream: \(events.all.map { "\($0.type) \($0.data["ticketId"] ?? .null)" })")
            let waiting = try await store.routing.routing(ticketId: ticketId)?.machine.phase
            if case .waitingForAgent(let awaited, _)? = waiting {
                #expect(awaited == ann.id)
            } else if case .inQueue(let queueId, _)? = waiting {
                #expect(queueId == queue.id, "the one-second wait may already be over")
            } else {
                Issue.record("the ticket waits for Ann, not \(String(describing: waiting))")
            }
            let bobOffer = await Self.next(events) { $0.type == .offer && $0.audience == .users([bobId]) }
            #expect(bobOffer?.data["ticketId"] == .string(ticketId), "after Ann's wait the ticket is offered in her queue")
            let moved = try #require(try await store.tickets.ticket(id: ticketId))
            #expect(moved.queueId == queue.id)
            #expect(moved.agentId == nil)
            #expect(try await store.tickets.messages(ticketId: ticketId).count == 2)
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

    /// The next event after the last one returned that `matches`; waits for it (the caller bounds the wait).
    func next(where matches: @Sendable (LiveEvent) -> Bool) async -> LiveEvent? {
        while !Task.isCancelled {
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
