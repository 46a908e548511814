import Foundation
import Testing
@testable import MailroomCore

/// "Take it" and "Assign to…" as routing events (issue 27), and the history lines routing makes.
@Suite struct TakeAndHistoryTests {
    @Test func takingClosesTheOtherOffersAndFollowsTheAcceptRules() {
        var harness = RoutingHarness([testAgent("a"), testAgent("b"), testAgent("c", capacity: 1, active: 1)])
        _ = harness.toQueue(testQueue(.ringAll, [("a", 0), ("b", 0)]))
        #expect(harness.machine.openOffers.map(\.userId) == ["a", "b"])

        var actions = harness.machine.take(for: "c", replacingHolder: false, at: harness.now, context: harness.context)
        #expect(actions.contains(.acceptRefused(by: "c", reason: .atCapacity)))
        #expect(harness.machine.openOffers.count == 2, "a refused take changes nothing")

        actions = harness.machine.take(for: "b", replacingHolder: false, at: harness.now, context: harness.context)
        #expect(actions.contains(.assign(to: "b")))
        #expect(actions.contains(.notifyTaken(agents: ["a"], by: "b")))
        #expect(harness.machine.phase == .assigned(userId: "b"))
        #expect(harness.machine.offers.last { $0.userId == "b" }?.state == .accepted)

        actions = harness.machine.take(for: "a", replacingHolder: false, at: harness.now, context: harness.context)
        #expect(actions.contains(.acceptRefused(by: "a", reason: .alreadyTaken(by: "b"))), "the first to take it wins")
        actions = harness.machine.take(for: "a", replacingHolder: true, at: harness.now, context: harness.context)
        #expect(actions.contains(.assign(to: "a")), "a supervisor reassigns")
    }

    @Test func aTicketNobodyOfferedCanBeTakenWithAnOfferOfItsOwn() {
        var machine = TicketRouting(ticketId: "t1")
        let context = RoutingContext(agents: [testAgent("a")])
        let actions = machine.take(for: "a", replacingHolder: false, at: mondayNoonUTC, context: context)
        #expect(actions.contains(.assign(to: "a")))
        #expect(machine.offers == [Offer(userId: "a", offeredAt: mondayNoonUTC, deadline: mondayNoonUTC, state: .accepted)])
    }

    @Test func routingChangesMakeHistoryLines() {
        let now = mondayNoonUTC
        let deadline = now.addingTimeInterval(30)
        var lines = TicketHistory.routing(ticketId: "t1", actions: [.moveToQueue(queueId: "q1"), .sendOffer(to: "a", deadline: deadline),
                                                                    .scheduleTimer(at: deadline)],
                                          cause: .system, before: (nil, nil), by: nil, at: now)
        #expect(lines.map(\.kind) == [.routed, .offered])
        #expect(lines[0].details == ["queueId": "q1"])
        #expect(lines[1].details == ["userId": "a", "deadline": ISO8601.format(deadline)])

        lines = TicketHistory.routing(ticketId: "t1", actions: [.assign(to: "a"), .notifyTaken(agents: ["b"], by: "a")],
                                      cause: .accepted, before: ("q1", nil), by: "a", at: now)
        #expect(lines.map(\.kind) == [.accepted])
        lines = TicketHistory.routing(ticketId: "t1", actions: [.assign(to: "a")], cause: .taken, before: ("q1", nil), by: "sue", at: now)
        #expect(lines.first?.details == ["userId": "a", "how": "assigned"])
        lines = TicketHistory.routing(ticketId: "t1", actions: [.moveToQueue(queueId: "q2")], cause: .transfer(toQueueId: "q2", toUserId: nil),
                                      before: ("q1", "a"), by: "a", at: now)
        #expect(lines.map(\.kind) == [.transferred])
        #expect(lines.first?.details == ["fromUserId": "a", "toQueueId": "q2"])
        lines = TicketHistory.routing(ticketId: "t1", actions: [.assign(to: "a")], cause: .system, before: ("q1", "a"), by: nil, at: now)
        #expect(lines.isEmpty, "the agent who held it already: nothing happened")
        #expect(TicketHistory.tagged(ticketId: "t1", before: ["a"], after: ["a"], by: nil, at: now) == nil)
    }

    @Test func whoMayReopenAndTake() {
        var ticket = Ticket(id: "t1", accountId: "acc", subject: "s", customerId: "c", customer: EmailAddress(address: "c@example.com"),
                            queueId: "q1", agentId: "a", createdAt: mondayNoonUTC)
        #expect(throws: DomainError.self) { try TicketDeskRules.checkReopen(ticket, userId: "a", role: .agent) }
        ticket.status = .closed
        #expect(throws: Never.self) { try TicketDeskRules.checkReopen(ticket, userId: "a", role: .agent) }
        #expect(throws: DomainError.self) { try TicketDeskRules.checkReopen(ticket, userId: "b", role: .agent) }
        #expect(throws: Never.self) { try TicketDeskRules.checkReopen(ticket, userId: "s", role: .supervisor) }

        ticket.status = .open
        ticket.agentId = nil
        #expect(throws: Never.self) { try TicketDeskRules.checkTake(ticket, userId: "b", memberOf: ["q1"]) }
        #expect(throws: DomainError.self) { try TicketDeskRules.checkTake(ticket, userId: "b", memberOf: ["q2"]) }
        ticket.queueId = nil
        #expect(throws: Never.self) { try TicketDeskRules.checkTake(ticket, userId: "b", memberOf: []) }
        ticket.agentId = "a"
        #expect(throws: DomainError.self) { try TicketDeskRules.checkTake(ticket, userId: "b", memberOf: []) }
        #expect(throws: DomainError.self) { try TicketDeskRules.checkAssign(ticket, to: "a") }
    }
}
