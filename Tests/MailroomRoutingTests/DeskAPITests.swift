import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

/// Issue 27, the ticket side, through the API: taking and assigning a ticket waiting in a queue
/// (the accept rules), reopening a closed one, and the history every change leaves.
@Suite struct DeskAPITests {
    static func kinds(_ reply: Reply) -> [String] {
        reply.items.compactMap { if case .string(let kind)? = $0["kind"] { kind } else { nil } }
    }

    @Test(arguments: TestDatabase.available)
    func takeAndAssignFollowTheRulesOfAcceptingAnOffer(_ kind: TestDatabase) async throws {
        try await withRoutingAPI(kind) { api, f in
            let ann = try await api.user(.agent, name: "ann")
            let bob = try await api.user(.agent, name: "bob")
            let outsider = try await api.user(.agent, name: "otto")
            let supervisor = try await api.user(.supervisor, name: "sue")
            let carl = try await f.agent("carl", presence: .offline, capacity: 1)
            for user in [ann, bob] {
                #expect(try await api.call(.put, "/api/v1/users/\(user.id)/presence", token: user.token, #"{"state": "online"}"#).status == 200)
            }
            let account = try await f.account()
            let queue = try await f.store.routing.createQueue(AgentQueue(name: "Parcels", members: [
                QueueMember(userId: ann.id), QueueMember(userId: bob.id), QueueMember(userId: carl.id)]))
            let ticket = try await f.ticket(account, subject: "Where is my parcel?")
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            #expect(try await f.store.tickets.waitingCounts(queueIds: [queue.id]) == [queue.id: 1])
            let unassigned = try await api.call(.get, "/api/v1/tickets?unassigned=true", token: ann.token)
            #expect(unassigned.items.count == 1, "no agent yet, whatever its queue: \(unassigned.text)")

            // Not a member of the queue: the ticket is not theirs to see, so not to take.
            #expect(try await api.call(.post, "/api/v1/tickets/\(ticket.id)/take", token: outsider.token).status == 404)
            var reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/take", token: supervisor.token)
            #expect(reply.status == 409)
            #expect(reply.text.contains("a queue you are not a member of"), "\(reply.text)")

            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/take", token: ann.token)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json?["agentId"] == .string(ann.id))
            #expect(reply.json?["status"] == .string("open"))
            #expect(try await f.store.routing.openOffers(userId: bob.id, now: f.clock.now()).isEmpty, "bob's offer closed as taken")
            #expect(f.events.of(.offerTaken, to: bob.id).count == 1)
            #expect(try await f.store.tickets.waitingCounts(queueIds: [queue.id]).isEmpty)

            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/take", token: bob.token)
            #expect(reply.status == 409)
            #expect(reply.text.contains("taken by another agent"), "\(reply.text)")
            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/take", token: bob.token, #"{"userId": "\#(bob.id)"}"#)
            #expect(reply.status == 409, "bob's own id is a take, not an assignment")
            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/take", token: bob.token, #"{"userId": "\#(carl.id)"}"#)
            #expect(reply.status == 403, "assigning is a supervisor's")

            // "Assign to…": carl has room for one ticket.
            let second = try await f.ticket(account, subject: "Second", from: "zed@example.com")
            let third = try await f.ticket(account, subject: "Third", from: "yan@example.com")
            for waiting in [second, third] { try await f.service.start(ticketId: waiting.id, target: .queue(queueId: queue.id)) }
            reply = try await api.call(.post, "/api/v1/tickets/\(second.id)/take", token: supervisor.token, #"{"userId": "\#(carl.id)"}"#)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json?["agentId"] == .string(carl.id))
            reply = try await api.call(.post, "/api/v1/tickets/\(third.id)/take", token: supervisor.token, #"{"userId": "\#(carl.id)"}"#)
            #expect(reply.status == 409)
            #expect(reply.text.contains("capacity"), "\(reply.text)")
            reply = try await api.call(.post, "/api/v1/tickets/\(third.id)/take", token: supervisor.token, #"{"userId": "nobody"}"#)
            #expect(reply.status == 422)
            #expect(reply.field == "userId")

            let history = try await api.call(.get, "/api/v1/tickets/\(ticket.id)/history", token: ann.token)
            #expect(history.status == 200, "\(history.text)")
            #expect(Self.kinds(history) == ["created", "routed", "offered", "offered", "accepted"], "\(history.text)")
            let taken = try #require(history.items.last)
            #expect(taken["actor"]?["id"] == .string(ann.id))
            #expect(taken["actor"]?["name"] == .string("ann"))
            #expect(taken["actor"]?["type"] == .string("user"))
            #expect(taken["details"]?["how"] == .string("taken"))
            #expect(history.items.first?["actor"]?["type"] == .string("system"))
            let assigned = try await api.call(.get, "/api/v1/tickets/\(second.id)/history", token: supervisor.token)
            #expect(assigned.items.last?["details"]?["how"] == .string("assigned"))
            #expect(assigned.items.last?["actor"]?["id"] == .string(supervisor.id))
        }
    }

    @Test(arguments: TestDatabase.available)
    func aClosedTicketShowsWhoClosedItAndCanBeReopened(_ kind: TestDatabase) async throws {
        try await withRoutingAPI(kind) { api, f in
            let ann = try await api.user(.agent, name: "ann")
            let bob = try await api.user(.agent, name: "bob")
            #expect(try await api.call(.put, "/api/v1/users/\(ann.id)/presence", token: ann.token, #"{"state": "online"}"#).status == 200)
            let account = try await f.account()
            let queue = try await f.store.routing.createQueue(AgentQueue(name: "Q", members: [QueueMember(userId: ann.id), QueueMember(userId: bob.id)]))
            let disposition = try await f.store.dispositions.create(Disposition(name: "Solved"))
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            #expect(try await api.call(.post, "/api/v1/tickets/\(ticket.id)/take", token: ann.token).status == 200)
            #expect(try await api.call(.patch, "/api/v1/tickets/\(ticket.id)", token: ann.token, #"{"tags": ["vip"]}"#).status == 200)

            var reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/reopen", token: ann.token)
            #expect(reply.status == 409, "an open ticket")
            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/close", token: ann.token, #"{"dispositionId": "\#(disposition.id)"}"#)
            #expect(reply.status == 200, "\(reply.text)")
            let closing = try #require(try await f.store.tickets.lastClosing(ticketId: ticket.id))
            #expect(closing.actorId == ann.id)
            #expect(closing.details["dispositionId"] == disposition.id)

            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/reopen", token: bob.token)
            #expect(reply.status == 409, "ann held it: \(reply.text)")
            reply = try await api.call(.post, "/api/v1/tickets/\(ticket.id)/reopen", token: ann.token)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json?["status"] == .string("open"))
            #expect(reply.json?["agentId"] == .string(ann.id))
            #expect(try await f.store.tickets.dispositionId(ticketId: ticket.id) == nil)
            #expect(try await api.call(.post, "/api/v1/tickets/\(ticket.id)/reopen", token: ann.token).status == 409)
            #expect(try await api.call(.post, "/api/v1/tickets/nope/reopen", token: ann.token).status == 404)

            let history = try await api.call(.get, "/api/v1/tickets/\(ticket.id)/history", token: ann.token)
            let kinds = Self.kinds(history)
            #expect(Array(kinds.suffix(3)) == ["tagged", "closed", "reopened"], "\(history.text)")
            let closed = history.items[kinds.count - 2]
            #expect(closed["details"]?["dispositionId"] == .string(disposition.id))
            #expect(closed["actor"]?["name"] == .string("ann"))
            #expect(history.items[kinds.count - 3]["details"]?["added"] == .string("vip"))
            #expect(try await api.call(.get, "/api/v1/tickets/nope/history", token: ann.token).status == 404)
        }
    }
}
