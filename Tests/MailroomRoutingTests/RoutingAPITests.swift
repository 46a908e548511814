import Foundation
import Hummingbird
import HummingbirdTesting
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWeb
import MailroomWorkers
import Testing

let adminToken = "routing-admin-token-0123456789"

struct Reply: Sendable {
    let status: Int
    let text: String
    var json: JSONValue? { try? JSONCoding.decoder.decode(JSONValue.self, from: Data(text.utf8)) }
    var field: String? { if case .string(let field)? = json?["error"]?["field"] { field } else { nil } }
    func string(_ key: String) -> String? { if case .string(let value)? = json?[key] { value } else { nil } }
    var items: [JSONValue] { if case .array(let items)? = json?["items"] { items } else { [] } }
}

struct RoutingClient: Sendable {
    let client: any TestClientProtocol

    func call(_ method: HTTPRequest.Method, _ path: String, token: String? = adminToken, _ body: String? = nil) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return Reply(status: Int(response.status.code), text: String(buffer: response.body))
    }

    /// A user with a token of their own.
    func user(_ role: Role, name: String) async throws -> (id: String, token: String) {
        let email = "\(name)-\(UUID().uuidString.prefix(6))@example.com".lowercased()
        let created = try await call(.post, "/api/v1/users", """
            {"name": "\(name)", "email": "\(email)", "role": "\(role.rawValue)", "password": "password-123"}
            """)
        #expect(created.status == 201, "\(created.text)")
        let signIn = try await call(.post, "/api/v1/auth/tokens", token: nil, #"{"email": "\#(email)", "password": "password-123"}"#)
        return (try #require(created.string("id")), try #require(signIn.string("token")))
    }
}

func withRoutingAPI(_ kind: TestDatabase = .sqlite, _ body: @escaping @Sendable (RoutingClient, RoutingFixture) async throws -> Void) async throws {
    try await RoutingFixture.run(kind) { fixture in
        let router = APIRouter.build(WebDependencies(store: fixture.store, adminToken: adminToken, metricsText: { "" },
                                                     routing: fixture.service))
        try await Application(router: router).test(.router) { client in
            try await body(RoutingClient(client: client), fixture)
        }
    }
}

@Suite struct RoutingAPITests {
    @Test func queuesCRUDWithFieldErrors() async throws {
        try await withRoutingAPI { api, f in
            let ann = try await api.user(.agent, name: "ann")
            let supervisor = try await api.user(.supervisor, name: "sue")
            let account = try await f.account()

            var reply = try await api.call(.post, "/api/v1/queues", """
                {"name": "Billing", "strategy": "roundRobin", "agentTimeoutSeconds": 20, "members": [{"userId": "\(ann.id)", "priority": 1}],
                 "accountIds": ["\(account.id)"]}
                """)
            #expect(reply.status == 201, "\(reply.text)")
            let id = try #require(reply.string("id"))
            #expect(reply.json?["strategy"] == .string("roundRobin"))

            reply = try await api.call(.post, "/api/v1/queues", #"{"name": "Bad", "agentTimeoutSeconds": 0}"#)
            #expect(reply.status == 422)
            #expect(reply.field == "agentTimeoutSeconds")
            reply = try await api.call(.post, "/api/v1/queues", #"{"name": "Bad", "members": [{"userId": "nobody"}]}"#)
            #expect(reply.field == "members[0].userId")
            reply = try await api.call(.post, "/api/v1/queues", #"{"name": "Bad", "strategy": "random"}"#)
            #expect(reply.status == 422)
            #expect(reply.field == "strategy")
            reply = try await api.call(.post, "/api/v1/queues", #"{"name": "Billing"}"#)
            #expect(reply.status == 409)
            #expect(reply.field == "name")
            reply = try await api.call(.post, "/api/v1/queues", token: ann.token, #"{"name": "Mine"}"#)
            #expect(reply.status == 403)

            reply = try await api.call(.put, "/api/v1/queues/\(id)", token: supervisor.token, #"{"name": "Billing EU", "strategy": "leastRecent"}"#)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json?["members"] == .array([]))
            reply = try await api.call(.get, "/api/v1/queues", token: ann.token)
            #expect(reply.items.count == 1)
            #expect(try await api.call(.get, "/api/v1/queues/\(id)").json?["name"] == .string("Billing EU"))
            #expect(try await api.call(.delete, "/api/v1/queues/\(id)", token: supervisor.token).status == 204)
            #expect(try await api.call(.get, "/api/v1/queues/\(id)").status == 404)
        }
    }

    @Test func presenceIsAnAgentsOwnOrASupervisorsAndShowsOnTheUser() async throws {
        try await withRoutingAPI { api, f in
            let ann = try await api.user(.agent, name: "ann")
            let bob = try await api.user(.agent, name: "bob")
            let supervisor = try await api.user(.supervisor, name: "sue")
            #expect(try await api.call(.get, "/api/v1/users/\(ann.id)", token: ann.token).json?["presence"]?["state"] == .string("offline"))

            var reply = try await api.call(.put, "/api/v1/users/\(ann.id)/presence", token: ann.token, #"{"state": "paused", "reason": "lunch"}"#)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json?["reason"] == .string("lunch"))
            reply = try await api.call(.get, "/api/v1/users/me", token: ann.token)
            #expect(reply.json?["presence"]?["state"] == .string("paused"))
            #expect(f.events.of(.presence).count == 1)

            #expect(try await api.call(.put, "/api/v1/users/\(ann.id)/presence", token: bob.token, #"{"state": "online"}"#).status == 403)
            #expect(try await api.call(.put, "/api/v1/users/\(ann.id)/presence", token: supervisor.token, #"{"state": "online"}"#).status == 200)
            reply = try await api.call(.put, "/api/v1/users/\(ann.id)/presence", token: ann.token, #"{"state": "away"}"#)
            #expect(reply.status == 422)
            #expect(reply.field == "state")
            reply = try await api.call(.put, "/api/v1/users/\(ann.id)/presence", token: ann.token,
                                       #"{"state": "paused", "reason": "\#(String(repeating: "x", count: 101))"}"#)
            #expect(reply.field == "reason")
            #expect(try await api.call(.put, "/api/v1/users/nobody/presence", #"{"state": "online"}"#).status == 404)
            reply = try await api.call(.get, "/api/v1/users")
            #expect(reply.items.contains { $0["id"] == .string(ann.id) && $0["presence"]?["state"] == .string("online") })
        }
    }

    @Test func offersAreListedAcceptedOnceAndRejected() async throws {
        try await withRoutingAPI { api, f in
            let ann = try await api.user(.agent, name: "ann")
            let bob = try await api.user(.agent, name: "bob")
            let account = try await f.account()
            for user in [ann, bob] {
                #expect(try await api.call(.put, "/api/v1/users/\(user.id)/presence", token: user.token, #"{"state": "online"}"#).status == 200)
            }
            let queue = try await f.store.routing.createQueue(AgentQueue(name: "Q", members: [QueueMember(userId: ann.id), QueueMember(userId: bob.id)]))
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))

            let listed = try await api.call(.get, "/api/v1/offers", token: ann.token)
            #expect(listed.items.count == 1)
            let offerId = try #require(listed.items.first.flatMap { if case .string(let id)? = $0["id"] { id } else { nil } })
            #expect(listed.items.first?["ticket"]?["id"] == .string(ticket.id))

            #expect(try await api.call(.post, "/api/v1/offers/\(offerId)/accept", token: bob.token).status == 404, "someone else's offer")
            let accepted = try await api.call(.post, "/api/v1/offers/\(offerId)/accept", token: ann.token)
            #expect(accepted.status == 200, "\(accepted.text)")
            #expect(accepted.json?["agentId"] == .string(ann.id))
            let bobOffer = try #require(try await f.store.routing.offers(ticketId: ticket.id).first { $0.userId == bob.id })
            let late = try await api.call(.post, "/api/v1/offers/\(bobOffer.id)/accept", token: bob.token)
            #expect(late.status == 409)
            #expect(late.field == "id")
            #expect(try await api.call(.get, "/api/v1/offers", token: bob.token).items.isEmpty)
            #expect(try await api.call(.post, "/api/v1/offers/\(offerId)/accept").status == 403, "the bootstrap token holds no offers")

            let second = try await f.ticket(account, from: "zed@example.com")
            try await f.service.start(ticketId: second.id, target: .queue(queueId: queue.id))
            let secondOffer = try #require(try await f.store.routing.offers(ticketId: second.id).first { $0.userId == bob.id })
            #expect(try await api.call(.post, "/api/v1/offers/\(secondOffer.id)/reject", token: bob.token).status == 204)
            #expect(try await api.call(.post, "/api/v1/offers/\(secondOffer.id)/reject", token: bob.token).status == 409)
        }
    }

    @Test func agentsSeeOnlyTheirTicketsTheirQueuesAndTheirAccountsUnassigned() async throws {
        try await withRoutingAPI { api, f in
            let ann = try await api.user(.agent, name: "ann")
            let bob = try await api.user(.agent, name: "bob")
            let supervisor = try await api.user(.supervisor, name: "sue")
            let served = try await f.account(key: "SRV")
            let other = try await f.account(key: "OTH")
            let annQueue = try await f.store.routing.createQueue(AgentQueue(name: "Ann's", members: [QueueMember(userId: ann.id)], accountIds: [served.id]))
            let bobQueue = try await f.store.routing.createQueue(AgentQueue(name: "Bob's", members: [QueueMember(userId: bob.id)]))
            let inAnnQueue = try await f.ticket(served, from: "a@example.com")
            let inBobQueue = try await f.ticket(served, from: "b@example.com")
            let unassignedServed = try await f.ticket(served, from: "c@example.com")
            let unassignedOther = try await f.ticket(other, from: "d@example.com")
            try await f.service.start(ticketId: inAnnQueue.id, target: .queue(queueId: annQueue.id))
            try await f.service.start(ticketId: inBobQueue.id, target: .queue(queueId: bobQueue.id))

            let listed = try await api.call(.get, "/api/v1/tickets", token: ann.token)
            let ids = Set(listed.items.compactMap { if case .string(let id)? = $0["id"] { id } else { nil } })
            #expect(ids == [inAnnQueue.id, unassignedServed.id])
            #expect(try await api.call(.get, "/api/v1/tickets", token: supervisor.token).items.count == 4)
            #expect(try await api.call(.get, "/api/v1/tickets/\(inAnnQueue.id)", token: ann.token).status == 200)
            for hidden in [inBobQueue, unassignedOther] {
                let reply = try await api.call(.get, "/api/v1/tickets/\(hidden.id)", token: ann.token)
                #expect(reply.status == 404, "another queue's ticket answers as missing")
                #expect(try await api.call(.get, "/api/v1/tickets/\(hidden.id)/messages", token: ann.token).status == 404)
                #expect(try await api.call(.post, "/api/v1/tickets/\(hidden.id)/read", token: ann.token).status == 404)
                #expect(try await api.call(.post, "/api/v1/tickets/\(hidden.id)/replies", token: ann.token, #"{"text": "hi"}"#).status == 404)
            }
            let message = try #require(try await f.store.tickets.messages(ticketId: inBobQueue.id).first)
            #expect(try await api.call(.get, "/api/v1/messages/\(message.id)/raw", token: ann.token).status == 404)
            #expect(try await api.call(.get, "/api/v1/messages/\(message.id)/raw", token: bob.token).status == 200)
        }
    }

    @Test func readUnreadTagsPriorityAndEscalation() async throws {
        try await withRoutingAPI { api, f in
            let account = try await f.account()
            let ticket = try await f.ticket(account)
            var reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/read")
            #expect(reply.status == 200)
            #expect(reply.json?["unread"] == .bool(false))
            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/unread")
            #expect(reply.json?["unread"] == .bool(true))
            reply = try await api.call(.patch, "/api/v1/tickets/\(ticket.id)", #"{"tags": ["vip", " vip ", "billing"], "priority": "high", "escalated": true}"#)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json?["tags"] == .array([.string("vip"), .string("billing")]))
            #expect(reply.json?["priority"] == .string("high"))
            #expect(reply.json?["escalated"] == .bool(true))
            reply = try await api.call(.patch, "/api/v1/tickets/\(ticket.id)", #"{"priority": "urgent"}"#)
            #expect(reply.status == 422)
            #expect(reply.field == "priority")
            reply = try await api.call(.patch, "/api/v1/tickets/\(ticket.id)", #"{"tags": [""]}"#)
            #expect(reply.field == "tags[0]")
            #expect(try await api.call(.post, "/api/v1/tickets/nope/read").status == 404)
        }
    }

    @Test func closingAndTransferringOverTheAPI() async throws {
        try await withRoutingAPI { api, f in
            let ann = try await api.user(.agent, name: "ann")
            let bob = try await api.user(.agent, name: "bob")
            let account = try await f.account {
                $0.mandatoryDisposition = MandatoryDisposition(enabled: true, pauseStatus: "wrap-up")
                $0.transfer = TransferSettings(enabled: true, timeoutSeconds: 30)
            }
            let disposition = try await f.store.dispositions.create(Disposition(name: "Done"))
            _ = try await f.store.routing.setPresence(userId: ann.id, presence: .online)
            let queue = try await f.store.routing.createQueue(AgentQueue(name: "Q", members: [QueueMember(userId: ann.id)]))
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            let offer = try #require(try await f.openOffers(User(id: ann.id, name: "", email: "", role: .agent)).first)
            #expect(try await api.call(.post, "/api/v1/offers/\(offer.id)/accept", token: ann.token).status == 200)

            var reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/transfer", token: ann.token, #"{"queueId": "x", "userId": "y"}"#)
            #expect(reply.status == 422)
            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/transfer", token: ann.token, #"{"queueId": "nope"}"#)
            #expect(reply.field == "queueId")
            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/transfer", token: bob.token, #"{"userId": "\#(bob.id)"}"#)
            #expect(reply.status == 404, "bob cannot see ann's ticket")

            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/close", token: ann.token, "{}")
            #expect(reply.status == 422)
            #expect(reply.field == "dispositionId")
            #expect(try await api.call(.get, "/api/v1/users/me", token: ann.token).json?["presence"]?["reason"] == .string("wrap-up"))
            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/close", token: ann.token, #"{"dispositionId": "\#(disposition.id)"}"#)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json?["status"] == .string("closed"))
            #expect(try await api.call(.get, "/api/v1/users/me", token: ann.token).json?["presence"]?["state"] == .string("online"))
            #expect(try await api.call(.post, "/api/v1/tickets/\(ticket.id)/close", token: ann.token, #"{"dispositionId": "\#(disposition.id)"}"#).status == 409)
        }
    }
}
