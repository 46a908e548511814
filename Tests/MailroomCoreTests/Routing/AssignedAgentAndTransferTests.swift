import Foundation
import Testing
@testable import MailroomCore

/// The seeds' "Wait for the Assigned Agent" and "Wait for the Assigned Queue" (waits of 10 s and 20 s here).
@Suite struct AssignedAgentWaitTests {
    let agentQueue = testQueue(.ringAll, [("ann", 0), ("bob", 0), ("cy", 1)], timeout: 30, id: "sales")

    func start(_ h: inout RoutingHarness, queue: AgentQueue?) -> [RoutingAction] {
        h.remember(h.machine.newMessageForAssignedAgent("ann", agentQueue: queue, account: testAccount, now: h.now, context: h.context))
    }

    @Test func anOnlineAgentGetsTheNewMessageAtOnce() {
        var h = RoutingHarness([testAgent("ann", capacity: 1, active: 1)])
        #expect(start(&h, queue: agentQueue) == [.assign(to: "ann")])
        #expect(h.machine.phase == .assigned(userId: "ann"))
    }

    @Test func anAgentWhoComesBackWithinTheWaitAndAcceptsKeepsIt() {
        var h = RoutingHarness([testAgent("ann", .paused("break")), testAgent("bob")])
        #expect(start(&h, queue: agentQueue) == [.scheduleTimer(at: h.at(10))])
        #expect(h.machine.phase == .waitingForAgent(userId: "ann", deadline: h.at(10)))
        // Back online after 4 s: the offer reaches her screen with the original deadline.
        #expect(h.presence("ann", .online, at: 4) == [.sendOffer(to: "ann", deadline: h.at(10))])
        h.advance(to: 6)
        #expect(h.accept("ann") == [.assign(to: "ann")])
        #expect(h.tick(10) == [])
        #expect(h.machine.offers.map(\.state) == [.accepted])
    }

    @Test func aHeldTicketIsAcceptedEvenWhenTheAgentIsAtCapacity() {
        var h = RoutingHarness([testAgent("ann", .offline, capacity: 1, active: 1)])
        _ = start(&h, queue: nil)
        _ = h.presence("ann", .online, at: 2)
        #expect(h.accept("ann") == [.assign(to: "ann")])
    }

    @Test func onTimeoutTheTicketGoesToTheAgentsQueueThenTheRulesRunAgain() {
        var h = RoutingHarness([testAgent("ann", .offline), testAgent("bob"), testAgent("cy")])
        _ = start(&h, queue: agentQueue)
        #expect(h.tick(10) == [
            .moveToQueue(queueId: "sales"),
            // Offers in this stage end with the queue wait (20 s), not the queue's 30 s.
            .sendOffer(to: "bob", deadline: h.at(30)),
            .scheduleTimer(at: h.at(30)),
        ])
        #expect(h.machine.phase == .inQueue(queueId: "sales", deadline: h.at(30)))
        // bob declines; cy (a lower priority) is offered for what is left of the wait.
        h.advance(to: 15)
        #expect(h.reject("bob") == [.sendOffer(to: "cy", deadline: h.at(30))])
        #expect(h.tick(30) == [.withdrawOffer(from: "cy", reason: .expired), .runRulesAgain])
        #expect(h.machine.phase == .rulesAgain)
        #expect(h.accept("cy") == [.acceptRefused(by: "cy", reason: .routingEnded)])
    }

    @Test func anAgentInTheQueueWhoAcceptsWithinTheWaitTakesIt() {
        var h = RoutingHarness([testAgent("ann", .paused("lunch")), testAgent("bob")])
        _ = start(&h, queue: agentQueue)
        _ = h.tick(10)
        h.advance(to: 12)
        #expect(h.accept("bob") == [.assign(to: "bob")])
        #expect(h.tick(30) == [])
    }

    @Test func aRejectSendsItToTheQueueAtOnceWithoutOfferingItBackToTheAgent() {
        var h = RoutingHarness([testAgent("ann", .paused("lunch")), testAgent("bob", .offline)])
        _ = start(&h, queue: agentQueue)
        _ = h.presence("ann", .online, at: 1)
        h.advance(to: 2)
        #expect(h.reject("ann") == [.moveToQueue(queueId: "sales"), .waitInQueue(queueId: "sales"), .scheduleTimer(at: h.at(22))])
        // ann is excluded for the queue's agent timeout; bob comes online and is offered.
        #expect(h.presence("bob", .online, at: 5) == [.sendOffer(to: "bob", deadline: h.at(22))])
        #expect(h.tick(22) == [.withdrawOffer(from: "bob", reason: .expired), .runRulesAgain])
    }

    @Test func aPausedAgentMayDeclineHerTicketBeforeTheOfferReachesHer() {
        var h = RoutingHarness([testAgent("ann", .paused("lunch")), testAgent("bob")])
        _ = start(&h, queue: agentQueue)
        h.advance(to: 1)
        #expect(h.reject("ann") == [.moveToQueue(queueId: "sales"), .sendOffer(to: "bob", deadline: h.at(21)), .scheduleTimer(at: h.at(21))])
        #expect(h.machine.offers.map(\.state) == [.rejected, .offered])
        // A second click changes nothing.
        #expect(h.reject("ann") == [])
    }

    @Test func nobodyInTheQueueThenRulesAgain() {
        var h = RoutingHarness([testAgent("ann", .offline), testAgent("bob", .offline)])
        _ = start(&h, queue: agentQueue)
        #expect(h.tick(10) == [.moveToQueue(queueId: "sales"), .waitInQueue(queueId: "sales"), .scheduleTimer(at: h.at(30))])
        #expect(h.tick(30) == [.runRulesAgain])
    }

    @Test func aSecondMessageDuringTheWaitDoesNotRestartIt() {
        var h = RoutingHarness([testAgent("ann", .offline)])
        _ = start(&h, queue: nil)
        h.advance(to: 8)
        #expect(start(&h, queue: nil) == [])
        #expect(h.tick(10) == [.runRulesAgain])
        // Once routing has ended, the next message starts a new wait.
        h.advance(to: 100)
        #expect(start(&h, queue: nil) == [.scheduleTimer(at: h.at(110))])
    }

    @Test func withoutAQueueTheRulesRunAgainAfterTheAgentWait() {
        var h = RoutingHarness([testAgent("ann", .offline)])
        _ = start(&h, queue: nil)
        #expect(h.tick(9) == [])
        #expect(h.tick(10) == [.runRulesAgain])
    }

    @Test func anOfferToAnAgentWhoDisappearsAgainStaysOpenUntilTheDeadline() {
        var h = RoutingHarness([testAgent("ann", .offline)])
        _ = start(&h, queue: nil)
        _ = h.presence("ann", .online, at: 2)
        #expect(h.presence("ann", .offline, at: 3) == [])
        #expect(h.tick(10) == [.withdrawOffer(from: "ann", reason: .expired), .runRulesAgain])
    }
}

@Suite struct DirectAgentRouteTests {
    @Test func aRuleRouteToAnAgentUsesItsTimeoutThenTheUnassignedView() {
        var h = RoutingHarness([testAgent("u1")])
        #expect(h.machine.start(.agent(userId: "u1", timeoutSeconds: 45), account: testAccount, queues: [:], now: h.now, context: h.context)
            == [.sendOffer(to: "u1", deadline: h.at(45)), .scheduleTimer(at: h.at(45))])
        #expect(h.tick(45) == [.withdrawOffer(from: "u1", reason: .expired), .leaveUnassigned])
        #expect(h.machine.phase == .unassigned)
    }

    @Test func withoutATimeoutTheAccountsAgentWaitApplies() {
        var h = RoutingHarness([testAgent("u1", .offline)])
        #expect(h.machine.start(.agent(userId: "u1", timeoutSeconds: nil), account: testAccount, queues: [:], now: h.now, context: h.context)
            == [.scheduleTimer(at: h.at(10))])
    }

    @Test func aFullAgentIsNotOfferedTheTicket() {
        var h = RoutingHarness([testAgent("u1", capacity: 2, active: 2)])
        #expect(h.machine.offerToAgent("u1", timeoutSeconds: 30, now: h.now, context: h.context) == [.scheduleTimer(at: h.at(30))])
        h.context.agents["u1"]?.activeTickets = 1
        #expect(h.machine.agentsChanged(now: h.at(5), context: h.context) == [.sendOffer(to: "u1", deadline: h.at(30))])
    }

    @Test func rejectLeavesItUnassigned() {
        var h = RoutingHarness([testAgent("u1")])
        _ = h.machine.offerToAgent("u1", timeoutSeconds: 30, now: h.now, context: h.context)
        #expect(h.reject("u1") == [.leaveUnassigned])
    }

    @Test func unroutedOrAnUnknownQueueLandsInTheUnassignedView() {
        var h = RoutingHarness([])
        #expect(h.machine.start(.unrouted, account: testAccount, queues: [:], now: h.now, context: h.context) == [.leaveUnassigned])
        h.machine = TicketRouting(ticketId: "t2")
        #expect(h.machine.start(.queue(queueId: "deleted"), account: testAccount, queues: [:], now: h.now, context: h.context) == [.leaveUnassigned])
        let q = testQueue(.ringAll, [])
        h.machine = TicketRouting(ticketId: "t3")
        #expect(h.machine.start(.queue(queueId: "q1"), account: testAccount, queues: ["q1": q], now: h.now, context: h.context)
            == [.moveToQueue(queueId: "q1"), .waitInQueue(queueId: "q1")])
    }

    @Test func reroutingWithdrawsTheEarlierOffers() {
        var h = RoutingHarness([testAgent("a"), testAgent("b")])
        _ = h.toQueue(testQueue(.ringAll, [("a", 0)]))
        #expect(h.machine.offerToAgent("b", timeoutSeconds: 5, now: h.now, context: h.context)
            == [.withdrawOffer(from: "a", reason: .cancelled), .sendOffer(to: "b", deadline: h.at(5)), .scheduleTimer(at: h.at(5))])
    }
}

@Suite struct TransferTests {
    @Test func aTransferToAQueueNotAcceptedInTimeReturnsUnread() throws {
        var h = RoutingHarness([testAgent("owner"), testAgent("b")])
        let sales = testQueue(.ringAll, [("owner", 0), ("b", 0)], timeout: 30, id: "sales")
        let actions = try h.machine.transfer(from: "owner", to: .queue(sales), settings: testAccount.transfer, now: h.now, context: h.context)
        // The agent who handed it over is not offered it back.
        #expect(actions == [.moveToQueue(queueId: "sales"), .sendOffer(to: "b", deadline: h.at(30)), .scheduleTimer(at: h.at(30))])
        #expect(h.tick(30) == [.withdrawOffer(from: "b", reason: .expired), .waitInQueue(queueId: "sales"), .scheduleTimer(at: h.at(60))])
        #expect(h.tick(60) == [.assign(to: "owner"), .markUnread])
        #expect(h.machine.phase == .assigned(userId: "owner"))
    }

    @Test func aTransferToAQueueAcceptedInTime() throws {
        var h = RoutingHarness([testAgent("owner"), testAgent("b")])
        _ = try h.machine.transfer(from: "owner", to: .queue(testQueue(.ringAll, [("b", 0)])), settings: testAccount.transfer, now: h.now, context: h.context)
        h.advance(to: 20)
        #expect(h.accept("b") == [.assign(to: "b")])
    }

    @Test func aTransferToAnAgentWhoRejectsReturnsUnreadAtOnce() throws {
        var h = RoutingHarness([testAgent("owner"), testAgent("b")])
        #expect(try h.machine.transfer(from: "owner", to: .agent(userId: "b"), settings: testAccount.transfer, now: h.now, context: h.context)
            == [.sendOffer(to: "b", deadline: h.at(60)), .scheduleTimer(at: h.at(60))])
        #expect(h.reject("b") == [.assign(to: "owner"), .markUnread])
    }

    @Test func aTransferToAnAbsentAgentTimesOut() throws {
        var h = RoutingHarness([testAgent("owner"), testAgent("b", .offline)])
        _ = try h.machine.transfer(from: "owner", to: .agent(userId: "b"), settings: testAccount.transfer, now: h.now, context: h.context)
        #expect(h.tick(59) == [])
        #expect(h.tick(60) == [.assign(to: "owner"), .markUnread])
    }

    @Test func transfersNeedTheAccountToAllowThem() {
        var machine = TicketRouting(ticketId: "t1")
        let context = RoutingContext(agents: [testAgent("owner"), testAgent("b")])
        #expect(throws: DomainError.self) {
            try machine.transfer(from: "owner", to: .agent(userId: "b"), settings: TransferSettings(enabled: false), now: mondayNoonUTC, context: context)
        }
        do {
            _ = try machine.transfer(from: "owner", to: .agent(userId: "owner"), settings: testAccount.transfer, now: mondayNoonUTC, context: context)
            Issue.record("a transfer to oneself must be refused")
        } catch {
            #expect(error == .invalid([FieldError("userId", "is the agent who holds the ticket; choose another agent or a queue")]))
        }
        #expect(machine.phase == .idle)
    }

    @Test func transferToAQueueAndToAnAgentAreTwoSwitches() throws {
        let context = RoutingContext(agents: [testAgent("owner"), testAgent("b")])
        let sales = testQueue(.ringAll, [("b", 0)], id: "sales")
        let queueOnly = TransferSettings(timeoutSeconds: 45, toQueue: true, toAgent: false)
        #expect(queueOnly.enabled && queueOnly.allows(.queue(sales)) && !queueOnly.allows(.agent(userId: "b")))
        var machine = TicketRouting(ticketId: "t1")
        do {
            _ = try machine.transfer(from: "owner", to: .agent(userId: "b"), settings: queueOnly, now: mondayNoonUTC, context: context)
            Issue.record("a queue-only account must refuse a transfer to an agent")
        } catch {
            #expect(error.description.contains("to another agent"))
        }
        #expect(machine.phase == .idle)
        let actions = try machine.transfer(from: "owner", to: .queue(sales), settings: queueOnly, now: mondayNoonUTC, context: context)
        #expect(actions.first == .moveToQueue(queueId: "sales"), "a queue-only account transfers to a queue")

        let agentOnly = TransferSettings(timeoutSeconds: 20, toQueue: false, toAgent: true)
        var other = TicketRouting(ticketId: "t2")
        #expect(throws: DomainError.self) {
            try other.transfer(from: "owner", to: .queue(sales), settings: agentOnly, now: mondayNoonUTC, context: context)
        }
        #expect(try other.transfer(from: "owner", to: .agent(userId: "b"), settings: agentOnly, now: mondayNoonUTC, context: context)
            == [.sendOffer(to: "b", deadline: mondayNoonUTC.addingTimeInterval(20)), .scheduleTimer(at: mondayNoonUTC.addingTimeInterval(20))])
    }

    @Test func theOldEnabledSwitchStillSetsBoth() throws {
        let both = try JSONCoding.decoder.decode(TransferSettings.self, from: Data(#"{"enabled":true,"timeoutSeconds":5}"#.utf8))
        #expect(both.toQueue && both.toAgent)
        let one = try JSONCoding.decoder.decode(TransferSettings.self, from: Data(#"{"enabled":true,"toAgent":false}"#.utf8))
        #expect(one.toQueue && !one.toAgent)
        var account = Account(key: "D", name: "Desk")
        account.transfer = TransferSettings(timeoutSeconds: 30, toQueue: true, toAgent: false)
        let off = try AccountEditor.updated(account, with: .object(["transfer": .object(["enabled": .bool(false)])]))
        #expect(!off.transfer.toQueue && !off.transfer.toAgent, "a client that knows only 'enabled' turns both off")
        let agent = try AccountEditor.updated(account, with: .object(["transfer": .object(["toAgent": .bool(true)])]))
        #expect(agent.transfer.toQueue && agent.transfer.toAgent)
    }
}

@Suite struct ClosingFlowTests {
    let mandatory = MandatoryDisposition(enabled: true, pauseStatus: "Disposing")

    @Test func closingWithoutADispositionIsRefusedWhenMandatory() throws {
        var flow = ClosingFlow(ticketId: "t1", agentId: "ann", policy: mandatory)
        for missing in [nil, "", "  "] as [String?] {
            do {
                _ = try flow.close(dispositionId: missing)
                Issue.record("closing without a disposition must be refused")
            } catch {
                guard case .invalid(let errors) = error else { Issue.record("\(error)"); continue }
                #expect(errors.map(\.field) == ["dispositionId"])
            }
        }
        #expect(flow.state == .working)
        #expect(try flow.close(dispositionId: "solved") == [.closeTicket(ticketId: "t1", dispositionId: "solved")])
    }

    @Test func theAgentIsPausedWhileDisposingAndRestoredAfter() throws {
        var flow = ClosingFlow(ticketId: "t1", agentId: "ann", policy: mandatory)
        #expect(flow.beginDisposing(currentPresence: .online) == [.pauseAgent(userId: "ann", reason: "Disposing")])
        #expect(throws: DomainError.self) { try flow.close(dispositionId: nil) }
        #expect(flow.state == .disposing(previousPresence: .online))
        #expect(try flow.close(dispositionId: "solved") == [
            .closeTicket(ticketId: "t1", dispositionId: "solved"), .restorePresence(userId: "ann", presence: .online),
        ])
        #expect(throws: DomainError.self) { try flow.close(dispositionId: "again") }
    }

    @Test func leavingTheFormRestoresThePresence() {
        var flow = ClosingFlow(ticketId: "t1", agentId: "ann", policy: mandatory)
        _ = flow.beginDisposing(currentPresence: .paused("coffee"))
        #expect(flow.cancelDisposing() == [.restorePresence(userId: "ann", presence: .paused("coffee"))])
        #expect(flow.state == .working)
    }

    @Test func withoutMandatoryDispositionNothingIsPausedOrRequired() throws {
        var flow = ClosingFlow(ticketId: "t1", agentId: "ann", policy: MandatoryDisposition(enabled: false, pauseStatus: "Disposing"))
        #expect(flow.beginDisposing(currentPresence: .online) == [])
        #expect(try flow.close(dispositionId: nil) == [.closeTicket(ticketId: "t1", dispositionId: nil)])
    }

    @Test func mandatoryWithoutAPauseStatusRequiresButDoesNotPause() throws {
        var flow = ClosingFlow(ticketId: "t1", agentId: "ann", policy: MandatoryDisposition(enabled: true))
        #expect(flow.beginDisposing(currentPresence: .online) == [])
        #expect(try flow.close(dispositionId: "d") == [.closeTicket(ticketId: "t1", dispositionId: "d")])
    }
}

@Suite struct AccountTransferTests {
    let ticket = Ticket(id: "t1", accountId: "a1", subject: "Hi", status: .open, customerId: "c1",
                        customer: EmailAddress(address: "ann@customer.example"), agentId: "ann", unread: false, createdAt: mondayNoonUTC)

    func target(id: String = "a2", deleted: Bool = false) -> Account {
        var account = Account(id: id, key: "B", name: "Billing")
        if deleted { account.deletedAt = mondayNoonUTC }
        return account
    }

    @Test func itArrivesUnreadAndIsRoutedByTheNewAccount() throws {
        #expect(try AccountTransfer.plan(ticket: ticket, to: target(), noticeTemplateId: nil)
            == [.cancelRouting, .moveToAccount(accountId: "a2"), .clearAssignment, .markUnread, .runRules(accountId: "a2")])
        #expect(try AccountTransfer.plan(ticket: ticket, to: target(), noticeTemplateId: "moved")
            == [.cancelRouting, .moveToAccount(accountId: "a2"), .clearAssignment, .markUnread, .sendNotice(templateId: "moved"),
                .runRules(accountId: "a2")])
    }

    @Test func refusals() {
        var closed = ticket
        closed.status = .closed
        #expect(throws: DomainError.self) { try AccountTransfer.plan(ticket: closed, to: target(), noticeTemplateId: nil) }
        #expect(throws: DomainError.self) { try AccountTransfer.plan(ticket: ticket, to: target(id: "a1"), noticeTemplateId: nil) }
        #expect(throws: DomainError.self) { try AccountTransfer.plan(ticket: ticket, to: target(deleted: true), noticeTemplateId: nil) }
    }
}
