import Foundation
import Testing
@testable import MailroomCore

/// Drives one `TicketRouting` the way the lead's services will: a clock moved by hand, a
/// context of agents it edits, and round-robin memory applied from the actions.
struct RoutingHarness {
    var machine = TicketRouting(ticketId: "t1")
    var now = mondayNoonUTC
    var context: RoutingContext

    init(_ agents: [AgentStatus], lastOffered: [String: String] = [:]) {
        context = RoutingContext(agents: agents, lastOffered: lastOffered)
    }

    func at(_ seconds: Int) -> Date { mondayNoonUTC.addingTimeInterval(TimeInterval(seconds)) }

    mutating func advance(to seconds: Int) { now = at(seconds) }

    mutating func remember(_ actions: [RoutingAction]) -> [RoutingAction] {
        for case .recordLastOffered(let queueId, let userId) in actions { context.lastOffered[queueId] = userId }
        return actions
    }

    mutating func toQueue(_ queue: AgentQueue) -> [RoutingAction] {
        remember(machine.offerToQueue(queue, now: now, context: context))
    }
    mutating func accept(_ userId: String) -> [RoutingAction] { remember(machine.offerAccepted(by: userId, at: now, context: context)) }
    mutating func reject(_ userId: String) -> [RoutingAction] { remember(machine.offerRejected(by: userId, at: now, context: context)) }
    mutating func tick(_ seconds: Int) -> [RoutingAction] {
        advance(to: seconds)
        return remember(machine.tick(now: now, context: context))
    }
    mutating func presence(_ userId: String, _ presence: AgentPresence, at seconds: Int) -> [RoutingAction] {
        advance(to: seconds)
        context.agents[userId]?.presence = presence
        return remember(machine.agentsChanged(now: now, context: context))
    }
}

func testAgent(_ id: String, _ presence: AgentPresence = .online, capacity: Int = 5, active: Int = 0, idleSince: Date? = nil) -> AgentStatus {
    AgentStatus(userId: id, presence: presence, capacity: capacity, activeTickets: active, idleSince: idleSince)
}

func testQueue(_ strategy: QueueStrategy, _ members: [(String, Int)], timeout: Int = 30, id: String = "q1") -> AgentQueue {
    AgentQueue(id: id, name: id, strategy: strategy, agentTimeoutSeconds: timeout, members: members.map { QueueMember(userId: $0.0, priority: $0.1) })
}

let testAccount = Account(key: "SUP", name: "Support", waitForAgentSeconds: 10, waitForQueueSeconds: 20,
                      transfer: TransferSettings(enabled: true, timeoutSeconds: 60))

@Suite struct QueueSelectorTests {
    let members = [("a", 0), ("b", 0), ("c", 0), ("d", 1)]

    @Test func ringAllOffersEveryAvailableMemberOfTheBestPriority() {
        let context = RoutingContext(agents: [testAgent("a"), testAgent("b", .paused("lunch")), testAgent("c"), testAgent("d")])
        #expect(QueueSelector.candidates(in: testQueue(.ringAll, members), context: context) == ["a", "c"])
        #expect(QueueSelector.candidates(in: testQueue(.ringAll, members), context: context, excluding: ["a", "c"]) == ["d"])
    }

    @Test(arguments: [(nil, "a"), ("a", "b"), ("b", "c"), ("c", "a"), ("gone", "a")] as [(String?, String)])
    func roundRobinStartsAfterTheMemberOfferedLast(last: String?, expected: String) {
        let context = RoutingContext(agents: ["a", "b", "c", "d"].map { testAgent($0) }, lastOffered: last.map { ["q1": $0] } ?? [:])
        #expect(QueueSelector.candidates(in: testQueue(.roundRobin, members), context: context) == [expected])
    }

    @Test func roundRobinSkipsUnavailableMembers() {
        let context = RoutingContext(agents: [testAgent("a"), testAgent("b", .offline), testAgent("c", capacity: 1, active: 1), testAgent("d")],
                                     lastOffered: ["q1": "a"])
        #expect(QueueSelector.candidates(in: testQueue(.roundRobin, members), context: context) == ["a"])
    }

    @Test func openOffersCountAsLoadWhenOfferingButNotWhenAccepting() {
        var ann = testAgent("a", capacity: 2, active: 1, idleSince: mondayNoonUTC.addingTimeInterval(-600))
        ann.openOffers = 1
        let bob = testAgent("b", capacity: 2, active: 1, idleSince: mondayNoonUTC)
        #expect(!ann.isAvailable, "one ticket and one offer fill a capacity of two")
        #expect(ann.hasFreeCapacity, "accepting that offer still fits")
        let context = RoutingContext(agents: [ann, bob])
        // Ann is idle longest, but her open offer is load: a burst does not pile up on her.
        #expect(QueueSelector.candidates(in: testQueue(.leastRecent, [("a", 0), ("b", 0)]), context: context) == ["b"])
        #expect(QueueSelector.candidates(in: testQueue(.ringAll, [("a", 0), ("b", 0)]), context: context) == ["b"])
    }

    @Test func leastRecentTakesTheMemberIdleLongest() {
        let context = RoutingContext(agents: [testAgent("a", idleSince: mondayNoonUTC), testAgent("b", idleSince: mondayNoonUTC.addingTimeInterval(-600)),
                                              testAgent("c", idleSince: mondayNoonUTC.addingTimeInterval(-60)), testAgent("d", idleSince: nil)])
        #expect(QueueSelector.candidates(in: testQueue(.leastRecent, members), context: context) == ["b"])
        // Never having worked counts as idle longest, but priority comes first: d is in a worse tier.
        #expect(QueueSelector.candidates(in: testQueue(.leastRecent, [("a", 0), ("d", 0)]), context: context) == ["d"])
    }

    @Test func aFullAgentIsNotOffered() {
        let context = RoutingContext(agents: [testAgent("a", capacity: 2, active: 2), testAgent("b", capacity: 2, active: 1)])
        #expect(QueueSelector.candidates(in: testQueue(.ringAll, [("a", 0), ("b", 0)]), context: context) == ["b"])
        #expect(QueueSelector.candidates(in: testQueue(.ringAll, [("a", 0)]), context: context) == [])
    }

    @Test func queueValidation() {
        let bad = AgentQueue(name: " ", agentTimeoutSeconds: 0, members: [QueueMember(userId: "a"), QueueMember(userId: "a", priority: -1)])
        #expect(bad.validate().map(\.field) == ["name", "agentTimeoutSeconds", "members[1].userId", "members[1].priority"])
        #expect(testQueue(.ringAll, members).validate().isEmpty)
    }
}

@Suite struct QueueOfferTests {
    @Test func ringAllFirstAcceptWinsAndTheOthersAreTold() {
        var h = RoutingHarness([testAgent("a"), testAgent("b"), testAgent("c")])
        #expect(h.toQueue(testQueue(.ringAll, [("a", 0), ("b", 0), ("c", 0)])) == [
            .moveToQueue(queueId: "q1"),
            .sendOffer(to: "a", deadline: h.at(30)), .sendOffer(to: "b", deadline: h.at(30)), .sendOffer(to: "c", deadline: h.at(30)),
            .scheduleTimer(at: h.at(30)),
        ])
        h.advance(to: 5)
        #expect(h.accept("b") == [.assign(to: "b"), .notifyTaken(agents: ["a", "c"], by: "b")])
        // The race: a second accept at the same moment loses, and says who won.
        #expect(h.accept("a") == [.acceptRefused(by: "a", reason: .alreadyTaken(by: "b"))])
        #expect(h.accept("b") == [])
        #expect(h.machine.phase == .assigned(userId: "b"))
        #expect(h.machine.offers.map(\.state) == [.taken, .accepted, .taken])
        #expect(h.machine.nextDeadline == nil)
    }

    @Test func rejectMovesOnToTheNextCandidate() {
        var h = RoutingHarness([testAgent("a"), testAgent("b")])
        _ = h.toQueue(testQueue(.roundRobin, [("a", 0), ("b", 0)]))
        #expect(h.machine.openOffers.map(\.userId) == ["a"])
        h.advance(to: 3)
        #expect(h.reject("a") == [.sendOffer(to: "b", deadline: h.at(33)), .recordLastOffered(queueId: "q1", userId: "b"),
                                  .scheduleTimer(at: h.at(33))])
        #expect(h.accept("b") == [.assign(to: "b")])
        #expect(h.machine.offers.map(\.state) == [.rejected, .accepted])
    }

    @Test func roundRobinRemembersAcrossTickets() {
        var h = RoutingHarness([testAgent("a"), testAgent("b"), testAgent("c")])
        let rr = testQueue(.roundRobin, [("a", 0), ("b", 0), ("c", 0)])
        var offeredFirst: [String] = []
        for ticket in 1...4 {
            h.machine = TicketRouting(ticketId: "t\(ticket)")
            _ = h.toQueue(rr)
            offeredFirst += h.machine.openOffers.map(\.userId)
        }
        #expect(offeredFirst == ["a", "b", "c", "a"])
    }

    @Test func expiryMovesOnAndALateAcceptIsRefused() {
        var h = RoutingHarness([testAgent("a"), testAgent("b")])
        _ = h.toQueue(testQueue(.leastRecent, [("a", 0), ("b", 0)], timeout: 30))
        #expect(h.tick(29) == [])
        #expect(h.tick(30) == [.withdrawOffer(from: "a", reason: .expired), .sendOffer(to: "b", deadline: h.at(60)),
                               .scheduleTimer(at: h.at(60))])
        #expect(h.accept("a") == [.acceptRefused(by: "a", reason: .expired)])
        #expect(h.accept("b") == [.assign(to: "b")])
    }

    @Test func anAcceptAfterTheDeadlineIsRefusedEvenIfTheTimerIsLate() {
        var h = RoutingHarness([testAgent("a")])
        _ = h.toQueue(testQueue(.ringAll, [("a", 0)], timeout: 30))
        h.advance(to: 31)
        let actions = h.accept("a")
        #expect(actions.first == .withdrawOffer(from: "a", reason: .expired))
        #expect(actions.contains(.acceptRefused(by: "a", reason: .expired)))
        #expect(h.machine.phase == .inQueue(queueId: "q1", deadline: nil))
    }

    @Test func nobodyAvailableWaitsInTheQueueUntilAnAgentComesOnline() {
        var h = RoutingHarness([testAgent("a", .offline), testAgent("b", .paused("training"))])
        #expect(h.toQueue(testQueue(.ringAll, [("a", 0), ("b", 0)])) == [.moveToQueue(queueId: "q1"), .waitInQueue(queueId: "q1")])
        #expect(h.machine.nextDeadline == nil)
        #expect(h.tick(3_600) == [])
        #expect(h.presence("b", .online, at: 3_700) == [.sendOffer(to: "b", deadline: h.at(3_730)), .scheduleTimer(at: h.at(3_730))])
        #expect(h.accept("b") == [.assign(to: "b")])
    }

    @Test func aFullAgentIsOfferedOnlyWhenCapacityFrees() {
        var h = RoutingHarness([testAgent("a", capacity: 1, active: 1)])
        #expect(h.toQueue(testQueue(.ringAll, [("a", 0)])) == [.moveToQueue(queueId: "q1"), .waitInQueue(queueId: "q1")])
        h.context.agents["a"]?.activeTickets = 0
        #expect(h.machine.agentsChanged(now: h.now, context: h.context) == [.sendOffer(to: "a", deadline: h.at(30)), .scheduleTimer(at: h.at(30))])
    }

    @Test func anAgentWhoFilledUpMeanwhileCannotAccept() {
        var h = RoutingHarness([testAgent("a", capacity: 1)])
        _ = h.toQueue(testQueue(.ringAll, [("a", 0)]))
        h.context.agents["a"]?.activeTickets = 1
        #expect(h.accept("a") == [.acceptRefused(by: "a", reason: .atCapacity)])
        #expect(h.machine.openOffers.map(\.userId) == ["a"])
    }

    @Test func whenEveryoneDeclinedTheyAreOfferedAgainAfterTheQueueTimeout() {
        var h = RoutingHarness([testAgent("a"), testAgent("b")])
        _ = h.toQueue(testQueue(.ringAll, [("a", 0), ("b", 0)], timeout: 30))
        h.advance(to: 1)
        #expect(h.reject("a") == [])
        h.advance(to: 2)
        #expect(h.reject("b") == [.waitInQueue(queueId: "q1"), .scheduleTimer(at: h.at(31))])
        #expect(h.tick(31) == [.sendOffer(to: "a", deadline: h.at(61)), .scheduleTimer(at: h.at(32))])
        // b's cool-down ends while a's offer rings: b joins the ring, with its deadline.
        #expect(h.tick(32) == [.sendOffer(to: "b", deadline: h.at(61)), .scheduleTimer(at: h.at(61))])
        #expect(h.tick(61) == [.withdrawOffer(from: "a", reason: .expired), .withdrawOffer(from: "b", reason: .expired),
                               .waitInQueue(queueId: "q1"), .scheduleTimer(at: h.at(91))])
    }

    @Test func ringAllAddsMembersWhoBecomeAvailableWhileItRings() {
        var h = RoutingHarness([testAgent("a"), testAgent("b", .offline), testAgent("backup", .online)])
        _ = h.toQueue(testQueue(.ringAll, [("a", 0), ("b", 0), ("backup", 1)]))
        #expect(h.machine.openOffers.map(\.userId) == ["a"])
        #expect(h.presence("b", .online, at: 10) == [.sendOffer(to: "b", deadline: h.at(30))])
        // A worse priority does not join a better one's ring.
        #expect(h.presence("backup", .online, at: 11) == [])
        #expect(h.accept("b") == [.assign(to: "b"), .notifyTaken(agents: ["a"], by: "b")])
    }

    @Test func roundRobinDoesNotAddAnOfferWhileOneIsOpen() {
        var h = RoutingHarness([testAgent("a"), testAgent("b", .offline)])
        _ = h.toQueue(testQueue(.roundRobin, [("a", 0), ("b", 0)]))
        #expect(h.presence("b", .online, at: 10) == [])
    }

    @Test func lowerPriorityMembersAreOfferedFirst() {
        var h = RoutingHarness([testAgent("senior"), testAgent("junior")])
        _ = h.toQueue(testQueue(.ringAll, [("junior", 2), ("senior", 1)]))
        #expect(h.machine.openOffers.map(\.userId) == ["senior"])
        _ = h.reject("senior")
        #expect(h.machine.openOffers.map(\.userId) == ["junior"])
    }

    @Test func editingTheQueueAppliesToTicketsWaitingInIt() {
        var h = RoutingHarness([testAgent("a"), testAgent("b"), testAgent("c")])
        _ = h.toQueue(testQueue(.roundRobin, [("a", 0)]))
        #expect(h.machine.openOffers.map(\.userId) == ["a"])
        // a leaves the queue, b and c join it as a ring.
        let edited = testQueue(.ringAll, [("b", 0), ("c", 0)])
        #expect(h.machine.queueChanged(edited, now: h.at(5), context: h.context) == [
            .withdrawOffer(from: "a", reason: .cancelled), .sendOffer(to: "b", deadline: h.at(35)), .sendOffer(to: "c", deadline: h.at(35)),
            .scheduleTimer(at: h.at(35)),
        ])
        // Another queue's edit changes nothing.
        #expect(h.machine.queueChanged(testQueue(.ringAll, [], id: "other"), now: h.at(6), context: h.context) == [])
    }

    @Test func cancelWithdrawsOpenOffers() {
        var h = RoutingHarness([testAgent("a"), testAgent("b")])
        _ = h.toQueue(testQueue(.ringAll, [("a", 0), ("b", 0)]))
        #expect(h.machine.cancel(now: h.now) == [.withdrawOffer(from: "a", reason: .cancelled), .withdrawOffer(from: "b", reason: .cancelled)])
        #expect(h.machine.phase == .cancelled)
        #expect(h.accept("a") == [.acceptRefused(by: "a", reason: .routingEnded)])
    }

    @Test func anAgentNeverOfferedCannotAccept() {
        var h = RoutingHarness([testAgent("a"), testAgent("x")])
        _ = h.toQueue(testQueue(.ringAll, [("a", 0)]))
        #expect(h.accept("x") == [.acceptRefused(by: "x", reason: .notOffered)])
    }
}
