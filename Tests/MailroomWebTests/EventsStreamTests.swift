import Foundation
import Hummingbird
import HummingbirdTesting
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWeb
import Testing

/// `GET /api/v1/events` over a real socket: what each caller hears, resuming, and refusal without a token.
@Suite struct EventsStreamTests {
    /// Runs the API on a loopback port with `hub`; agents' queue memberships come from `memberships`.
    func withLiveAPI(hub: LiveEventHub, _ body: @escaping @Sendable (APIClient, Int, SQLStore) async throws -> Void) async throws {
        try await TestDatabase.sqlite.withStore { store in
            let router = APIRouter.build(WebDependencies(store: store, adminToken: adminToken, metricsText: { "" }, events: hub))
            let app = Application(router: router)
            try await app.test(.live) { client in
                try await body(APIClient(client: client), try #require(client.port), store)
            }
        }
    }

    func userId(_ api: APIClient, token: String) async throws -> String {
        let me = try await api.call(.get, "/api/v1/users/me", token: token)
        return try #require(me.string("id"))
    }

    func reader(port: Int, token: String, lastEventId: Int64? = nil) throws -> SSEReader {
        var headers = ["Authorization": "Bearer \(token)"]
        if let lastEventId { headers["Last-Event-ID"] = "\(lastEventId)" }
        return try SSEReader(port: port, headers: headers)
    }

    /// Waits until the hub has `count` listeners, so an event published next is not missed.
    func waitForListeners(_ hub: LiveEventHub, _ count: Int) async throws {
        for _ in 0..<500 where hub.subscriberCount < count { try await Task.sleep(for: .milliseconds(10)) }
        #expect(hub.subscriberCount >= count)
    }

    @Test func eachCallerHearsOnlyWhatIsTheirs() async throws {
        let hub = LiveEventHub()
        try await withLiveAPI(hub: hub) { api, port, _ in
            let annToken = try await api.token(for: .agent)
            let bobToken = try await api.token(for: .agent)
            let ann = try await userId(api, token: annToken)
            let annStream = try reader(port: port, token: annToken)
            let bobStream = try reader(port: port, token: bobToken)
            let boss = try reader(port: port, token: adminToken)
            try await waitForListeners(hub, 3)

            hub.publish(LiveEvent(type: .offer, audience: .users([ann]), data: .object(["offerId": .string("o1"), "ticketId": .string("t1")])))
            hub.publish(LiveEvent(type: .ticket, audience: .ticket(queueId: "q-other", agentId: nil), data: .object(["id": .string("t2")])))
            hub.publish(LiveEvent(type: .presence, audience: .everyone, data: .object(["userId": .string(ann), "state": .string("online")])))

            let first = try #require(try await annStream.next())
            #expect(first.event == "offer" && first.id == "1")
            #expect(first.data == #"{"offerId":"o1","ticketId":"t1"}"#)
            // Ann is in no queue: the other queue's ticket is not sent to her; presence is.
            #expect(try await annStream.next()?.event == "presence")
            #expect(annStream.status == 200)

            #expect(try await bobStream.next()?.event == "presence")

            let seenByBoss = [try await boss.next()?.event, try await boss.next()?.event, try await boss.next()?.event]
            #expect(seenByBoss == ["offer", "ticket", "presence"])
        }
    }

    @Test func queueMembersHearTheirQueuesTickets() async throws {
        let hub = LiveEventHub()
        try await TestDatabase.sqlite.withStore { store in
            let agent = try await store.users.create(User(id: Identifier.make(), name: "Cleo", email: "cleo@example.com", role: .agent),
                                                     passwordHash: nil)
            let mine = try await store.routing.createQueue(AgentQueue(name: "Billing", members: [QueueMember(userId: agent.id)]))
            let other = try await store.routing.createQueue(AgentQueue(name: "Sales"))
            let router = APIRouter.build(WebDependencies(store: store, adminToken: adminToken, metricsText: { "" }, events: hub))
            try await Application(router: router).test(.live) { client in
                let api = APIClient(client: client)
                let issued = try await api.call(.post, "/api/v1/users/\(agent.id)/tokens", json: .object(["name": .string("desk")]))
                let cleoToken = try #require(issued.string("token"))
                let stream = try reader(port: try #require(client.port), token: cleoToken)
                try await waitForListeners(hub, 1)
                hub.publish(LiveEvent(type: .ticket, audience: .ticket(queueId: other.id, agentId: nil), data: .object(["id": .string("elsewhere")])))
                hub.publish(LiveEvent(type: .ticket, audience: .ticket(queueId: mine.id, agentId: nil), data: .object(["id": .string("mine")])))
                hub.publish(LiveEvent(type: .message, audience: .ticket(queueId: nil, agentId: agent.id), data: .object(["ticketId": .string("held")])))
                let first = try await stream.next()
                #expect(first?.data == #"{"id":"mine"}"#, "status \(String(describing: stream.status)) issued \(issued.text)")
                #expect(try await stream.next()?.data == #"{"ticketId":"held"}"#)
            }
        }
    }

    /// Ameyo's campaigns: an agent in a campaign hears only of its accounts' tickets, even in
    /// their own queue; tickets assigned to them always.
    @Test func anAgentInACampaignHearsOnlyItsTickets() async throws {
        let hub = LiveEventHub()
        try await TestDatabase.sqlite.withStore { store in
            let agent = try await store.users.create(User(id: Identifier.make(), name: "Cleo", email: "cleo@example.com", role: .agent),
                                                     passwordHash: nil)
            let queue = try await store.routing.createQueue(AgentQueue(name: "Billing", members: [QueueMember(userId: agent.id)]))
            _ = try await store.routing.createCampaign(Campaign(name: "Parcels", queueIds: [queue.id], accountIds: ["acc-parcels"],
                                                                userIds: [agent.id]))
            let router = APIRouter.build(WebDependencies(store: store, adminToken: adminToken, metricsText: { "" }, events: hub))
            try await Application(router: router).test(.live) { client in
                let api = APIClient(client: client)
                let issued = try await api.call(.post, "/api/v1/users/\(agent.id)/tokens", json: .object(["name": .string("desk")]))
                let cleoToken = try #require(issued.string("token"))
                let stream = try reader(port: try #require(client.port), token: cleoToken)
                try await waitForListeners(hub, 1)
                hub.publish(LiveEvent(type: .ticket, audience: .ticket(queueId: queue.id, agentId: nil, accountId: "acc-other"),
                                      data: .object(["id": .string("other campaign")])))
                hub.publish(LiveEvent(type: .ticket, audience: .ticket(queueId: queue.id, agentId: nil, accountId: "acc-parcels"),
                                      data: .object(["id": .string("parcels")])))
                hub.publish(LiveEvent(type: .message, audience: .ticket(queueId: queue.id, agentId: nil, accountId: "acc-other"),
                                      data: .object(["ticketId": .string("other message")])))
                hub.publish(LiveEvent(type: .message, audience: .ticket(queueId: nil, agentId: agent.id, accountId: "acc-other"),
                                      data: .object(["ticketId": .string("held")])))
                #expect(try await stream.next()?.data == #"{"id":"parcels"}"#)
                #expect(try await stream.next()?.data == #"{"ticketId":"held"}"#, "a ticket assigned to her is hers whatever its account")
            }
        }
    }

    @Test func aReconnectResumesAfterTheLastEventSeen() async throws {
        let hub = LiveEventHub()
        try await withLiveAPI(hub: hub) { _, port, _ in
            for n in 1...3 { hub.publish(LiveEvent(type: .ticket, audience: .everyone, data: .object(["n": .number(Double(n))]))) }
            let resumed = try reader(port: port, token: adminToken, lastEventId: 1)
            #expect(try await resumed.next()?.id == "2")
            #expect(try await resumed.next()?.id == "3")

            // From a sequence the server never issued (it restarted since): reload.
            let stale = try reader(port: port, token: adminToken, lastEventId: 99)
            #expect(try await stale.next()?.event == "reset")
            #expect(stale.comments.contains("connected"))
        }
    }

    @Test func theStreamNeedsAToken() async throws {
        try await withLiveAPI(hub: LiveEventHub()) { api, _, _ in
            let response = try await api.call(.get, "/api/v1/events", token: nil)
            #expect(response.status == 401)
        }
    }

    @Test func framesKeepJSONOnOneDataLine() {
        let frame = SSEFrame.encode(LiveEvent(type: .message, audience: .everyone,
                                                   data: .object(["text": .string("line one\nline two\r\n")]), sequence: 7))
        #expect(frame.hasPrefix("id: 7\nevent: message\ndata: "))
        #expect(frame.hasSuffix("\n\n"))
        #expect(frame.dropLast(2).split(separator: "\n").count == 3)
    }
}
