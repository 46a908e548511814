import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// The routing service with its store, on a manual clock: every path of issue 6 end to end below the API.
@Suite struct RoutingServiceTests {
    @Test func aQueuedTicketIsOfferedToEveryOnlineMemberAndTheFirstAcceptWins() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann")
            let bob = try await f.agent("bob")
            let cid = try await f.agent("cid", presence: .paused("lunch"))
            let queue = try await f.queue("Support", members: [ann, bob, cid])
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))

            #expect(try await f.reload(ticket).queueId == queue.id)
            let annOffer = try #require(try await f.openOffers(ann).first)
            #expect(try await f.openOffers(bob).count == 1)
            #expect(try await f.openOffers(cid).isEmpty, "a paused agent is not offered anything")
            let offerEvent = try #require(f.events.of(.offer, to: ann.id).first)
            #expect(offerEvent.data["id"] == .string(annOffer.id))
            #expect(offerEvent.data["ticket"]?["subject"] == .string("Help"))
            #expect(offerEvent.data["notification"]?["sound"] == .bool(true))

            let won = try await f.service.accept(offerId: annOffer.id, by: ann.id)
            #expect(won.agentId == ann.id)
            #expect(won.status == .open)
            let taken = try #require(f.events.of(.offerTaken, to: bob.id).first)
            #expect(taken.data["reason"] == .string("taken"))
            #expect(taken.data["by"] == .string(ann.id))
            #expect(!f.events.of(.ticket).isEmpty)

            let bobOffer = try #require(try await f.store.routing.offers(ticketId: ticket.id).first { $0.userId == bob.id })
            await #expect(throws: DomainError.conflict(FieldError("id", "was accepted by another agent first"))) {
                _ = try await f.service.accept(offerId: bobOffer.id, by: bob.id)
            }
            await #expect(throws: DomainError.notFound("offer \(annOffer.id)")) {
                _ = try await f.service.accept(offerId: annOffer.id, by: bob.id)
            }
        }
    }

    /// Ring all, two agents accept at the same moment, on both databases: exactly one gets the ticket.
    @Test(arguments: TestDatabase.available)
    func twoAcceptsAtOnceExactlyOneWins(_ kind: TestDatabase) async throws {
        try await RoutingFixture.run(kind) { f in
            let account = try await f.account()
            let ann = try await f.agent("ann")
            let bob = try await f.agent("bob")
            let queue = try await f.queue("Race", members: [ann, bob])
            for _ in 0..<5 {
                let ticket = try await f.ticket(account)
                try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
                let offers = try await f.store.routing.offers(ticketId: ticket.id)
                #expect(offers.count == 2)
                let results = await withTaskGroup(of: String?.self) { group in
                    for offer in offers {
                        group.addTask { (try? await f.service.accept(offerId: offer.id, by: offer.userId)) != nil ? offer.userId : nil }
                    }
                    var winners: [String] = []
                    for await winner in group { if let winner { winners.append(winner) } }
                    return winners
                }
                #expect(results.count == 1)
                #expect(try await f.reload(ticket).agentId == results.first)
            }
        }
    }

    @Test func rejectAndExpiryMoveOnInRoundRobinOrder() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann")
            let bob = try await f.agent("bob")
            let cid = try await f.agent("cid")
            let queue = try await f.queue("RR", .roundRobin, timeout: 30, members: [ann, bob, cid])
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            let first = try #require(try await f.openOffers(ann).first)
            #expect(try await f.openOffers(bob).isEmpty)

            try await f.service.reject(offerId: first.id, by: ann.id)
            #expect(try await f.openOffers(bob).count == 1)
            await #expect(throws: DomainError.self) { try await f.service.reject(offerId: first.id, by: ann.id) }

            // Bob lets it ring out: the timer moves on to Cid and tells Bob.
            await f.pass(31)
            #expect(try await f.openOffers(bob).isEmpty)
            #expect(f.events.of(.offerTaken, to: bob.id).last?.data["reason"] == .string("expired"))
            let third = try #require(try await f.openOffers(cid).first)
            #expect(try await f.service.accept(offerId: third.id, by: cid.id).agentId == cid.id)

            // The queue remembers who was offered last: the next ticket starts after Cid.
            let next = try await f.ticket(account, from: "zed@example.com")
            try await f.service.start(ticketId: next.id, target: .queue(queueId: queue.id))
            #expect(try await f.store.routing.offers(ticketId: next.id).map(\.userId) == [ann.id])
        }
    }

    @Test func aLateAcceptIsRefusedAsExpired() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann")
            let queue = try await f.queue("Solo", .roundRobin, timeout: 10, members: [ann])
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            let offer = try #require(try await f.openOffers(ann).first)
            f.clock.advance(by: 11)  // the timer has not run yet
            await #expect(throws: DomainError.conflict(FieldError("id", "expired before it was accepted; the ticket went on to others"))) {
                _ = try await f.service.accept(offerId: offer.id, by: ann.id)
            }
        }
    }

    @Test func aFullAgentIsOfferedOnlyWhenATicketCloses() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann", capacity: 1)
            let queue = try await f.queue("Small", members: [ann])
            let first = try await f.ticket(account)
            try await f.service.start(ticketId: first.id, target: .queue(queueId: queue.id))
            _ = try await f.service.accept(offerId: try #require(try await f.openOffers(ann).first).id, by: ann.id)

            let second = try await f.ticket(account, from: "bob@example.com")
            try await f.service.start(ticketId: second.id, target: .queue(queueId: queue.id))
            #expect(try await f.openOffers(ann).isEmpty, "at capacity: the ticket waits in the queue")
            #expect(try await f.reload(second).queueId == queue.id)

            _ = try await f.service.close(ticketId: first.id, dispositionId: nil, by: ann.id)
            #expect(try await f.openOffers(ann).map(\.ticketId) == [second.id], "closing freed a place")
        }
    }

    @Test func aBurstSpreadsOverTheQueueAndADeclinedOfferFreesItsPlace() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann", capacity: 1)
            let bob = try await f.agent("bob", capacity: 1)
            let queue = try await f.queue("Least recent", .leastRecent, timeout: 30, members: [ann, bob])
            var tickets: [Ticket] = []
            for index in 0..<3 {
                let ticket = try await f.ticket(account, from: "c\(index)@example.com")
                try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
                tickets.append(ticket)
            }
            // One offer each, not three to whoever was idle longest; the third ticket waits in the queue.
            let annOffers = try await f.openOffers(ann)
            let bobOffers = try await f.openOffers(bob)
            #expect(annOffers.count == 1 && bobOffers.count == 1)
            #expect(Set((annOffers + bobOffers).map(\.ticketId)) == Set(tickets.prefix(2).map(\.id)))
            #expect(try await f.store.routing.offers(ticketId: tickets[2].id).isEmpty)
            #expect(try await f.reload(tickets[2]).queueId == queue.id)

            // Ann declines: her place is free again, and the waiting ticket is offered to her at once
            // (the one she declined waits in the queue for Bob, who is still full).
            try await f.service.reject(offerId: try #require(annOffers.first).id, by: ann.id)
            #expect(try await f.openOffers(ann).map(\.ticketId) == [tickets[2].id])

            // Accepting is judged on tickets held, not offers: Bob takes his.
            let taken = try await f.service.accept(offerId: try #require(bobOffers.first).id, by: bob.id)
            #expect(taken.agentId == bob.id)
        }
    }

    @Test func aNewTicketNothingRoutesIsAnnouncedUnassignedAndCanBeRoutedLater() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann")
            let queue = try await f.queue("Later", members: [ann])
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .unrouted)
            let announced = f.events.of(.ticket)
            #expect(announced.count == 1)
            #expect(announced.first?.audience == .ticket(queueId: nil, agentId: nil, accountId: account.id), "those who see the unassigned view")
            #expect(announced.first?.data["id"] == .string(ticket.id))
            let after = try await f.reload(ticket)
            #expect(after.queueId == nil && after.agentId == nil)
            #expect(try await f.store.routing.routing(ticketId: ticket.id) == nil, "nothing to store for it")

            // A new message on it asks for the rules again, and they may route it now.
            #expect(await f.service.newMessage(ticketId: ticket.id, messageId: "m2"))
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            #expect(try await f.openOffers(ann).map(\.ticketId) == [ticket.id])
        }
    }

    @Test func anAgentComingOnlineIsOfferedWhatWaits() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann", presence: nil)
            let queue = try await f.queue("Later", members: [ann])
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            #expect(try await f.openOffers(ann).isEmpty)
            let record = try await f.service.setPresence(userId: ann.id, presence: .online)
            #expect(record.state == .online)
            #expect(f.events.of(.presence).last?.data["state"] == .string("online"))
            #expect(try await f.openOffers(ann).count == 1)
        }
    }

    /// Issue 6: a new message on a ticket whose agent is paused waits for that agent, then for
    /// their queue, then the rules run again.
    @Test func aPausedAgentsTicketWaitsForThemThenTheirQueueThenTheRules() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann")
            let bob = try await f.agent("bob", presence: .offline)
            let queue = try await f.queue("Team", members: [ann, bob])
            let fallback = try await f.queue("Fallback", members: [bob])
            _ = try await f.store.rules.create(try RoutingRule.decode(try JSONCoding.decoder.decode(JSONValue.self, from: Data("""
                {"accountId": "\(account.id)", "name": "All", "actions": [{"type": "queue", "queueId": "\(fallback.id)"}]}
                """.utf8))))
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            _ = try await f.service.accept(offerId: try #require(try await f.openOffers(ann).first).id, by: ann.id)
            _ = try await f.service.setPresence(userId: ann.id, presence: .paused("meeting"))

            #expect(await f.service.newMessage(ticketId: ticket.id, messageId: "m2") == false)
            #expect(try await f.store.routing.routing(ticketId: ticket.id)?.machine.phase
                    == .waitingForAgent(userId: ann.id, deadline: f.clock.now().addingTimeInterval(10)))
            #expect(!f.events.of(.message).isEmpty)
            #expect(try await f.reload(ticket).agentId == ann.id, "she still holds it while it waits for her")

            await f.pass(10)
            var moved = try await f.reload(ticket)
            #expect(moved.queueId == queue.id)
            #expect(moved.agentId == nil)
            #expect(try await f.openOffers(ann).isEmpty, "the paused agent is not offered it in the queue")

            await f.pass(20)
            moved = try await f.reload(ticket)
            #expect(moved.queueId == fallback.id, "after the queue's wait the rules ran again and chose the fallback queue")
        }
    }

    @Test func anAgentWhoComesBackWithinTheWaitKeepsTheTicket() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann")
            let queue = try await f.queue("Team", members: [ann])
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            _ = try await f.service.accept(offerId: try #require(try await f.openOffers(ann).first).id, by: ann.id)
            _ = try await f.service.setPresence(userId: ann.id, presence: .offline)
            _ = await f.service.newMessage(ticketId: ticket.id, messageId: "m2")

            f.clock.advance(by: 4)
            _ = try await f.service.setPresence(userId: ann.id, presence: .online)
            let offer = try #require(try await f.openOffers(ann).first)
            #expect(try await f.service.accept(offerId: offer.id, by: ann.id).agentId == ann.id)
            await f.pass(30)
            #expect(try await f.reload(ticket).agentId == ann.id)
        }
    }

    @Test func aTransferNotAcceptedInTimeReturnsUnread() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account { $0.transfer = TransferSettings(enabled: true, timeoutSeconds: 15) }
            let ann = try await f.agent("ann")
            let bob = try await f.agent("bob", presence: .offline)
            let queue = try await f.queue("Team", members: [ann])
            let other = try await f.queue("Other", members: [bob])
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            _ = try await f.service.accept(offerId: try #require(try await f.openOffers(ann).first).id, by: ann.id)
            _ = try await f.store.tickets.setUnread(ticketId: ticket.id, unread: false)

            let moving = try await f.service.transfer(ticketId: ticket.id, to: .queue(other.id), by: ann.id)
            #expect(moving.queueId == other.id)
            await f.pass(15)
            let back = try await f.reload(ticket)
            #expect(back.agentId == ann.id)
            #expect(back.unread)

            // An agent transfer accepted in time moves it for good.
            _ = try await f.service.setPresence(userId: bob.id, presence: .online)
            _ = try await f.service.transfer(ticketId: ticket.id, to: .agent(bob.id), by: ann.id)
            let offer = try #require(try await f.openOffers(bob).first { $0.ticketId == ticket.id })
            #expect(try await f.service.accept(offerId: offer.id, by: bob.id).agentId == bob.id)
        }
    }

    @Test func transfersNeedTheAccountToAllowThem() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann")
            let queue = try await f.queue("Team", members: [ann])
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            _ = try await f.service.accept(offerId: try #require(try await f.openOffers(ann).first).id, by: ann.id)
            await #expect(throws: DomainError.self) { _ = try await f.service.transfer(ticketId: ticket.id, to: .queue(queue.id), by: ann.id) }
        }
    }

    @Test func anAccountTransferArrivesUnreadAndIsRoutedByTheNewAccount() async throws {
        try await RoutingFixture.run { f in
            let first = try await f.account(key: "ONE")
            let second = try await f.account(key: "TWO")
            let ann = try await f.agent("ann")
            let bob = try await f.agent("bob")
            let queue = try await f.queue("One", members: [ann])
            let secondQueue = try await f.queue("Two", members: [bob])
            _ = try await f.store.rules.create(try RoutingRule.decode(try JSONCoding.decoder.decode(JSONValue.self, from: Data("""
                {"accountId": "\(second.id)", "name": "All", "actions": [{"type": "queue", "queueId": "\(secondQueue.id)"}]}
                """.utf8))))
            let ticket = try await f.ticket(first)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            _ = try await f.service.accept(offerId: try #require(try await f.openOffers(ann).first).id, by: ann.id)
            _ = try await f.store.tickets.setUnread(ticketId: ticket.id, unread: false)

            let moved = try await f.service.transfer(ticketId: ticket.id, to: .account(second.id, noticeTemplateId: nil), by: ann.id)
            #expect(moved.accountId == second.id)
            #expect(moved.unread)
            #expect(moved.agentId == nil)
            #expect(moved.queueId == secondQueue.id)
            #expect(try await f.openOffers(bob).count == 1)
        }
    }

    @Test func mandatoryDispositionPausesTheAgentUntilTheyDispose() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account { $0.mandatoryDisposition = MandatoryDisposition(enabled: true, pauseStatus: "wrap-up") }
            let disposition = try await f.store.dispositions.create(Disposition(name: "Solved"))
            let ann = try await f.agent("ann")
            let queue = try await f.queue("Team", members: [ann])
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            _ = try await f.service.accept(offerId: try #require(try await f.openOffers(ann).first).id, by: ann.id)

            do {
                _ = try await f.service.close(ticketId: ticket.id, dispositionId: nil, by: ann.id)
                Issue.record("closing without a disposition must be refused")
            } catch let error as DomainError {
                guard case .invalid(let errors) = error else { throw error }
                #expect(errors.first?.field == "dispositionId")
            }
            #expect(try await f.reload(ticket).isOpen)
            let paused = try await f.store.routing.presence(userIds: [ann.id])[ann.id]
            #expect(paused?.state == .paused && paused?.reason == "wrap-up")

            await #expect(throws: DomainError.self) { _ = try await f.service.close(ticketId: ticket.id, dispositionId: "nope", by: ann.id) }
            let closed = try await f.service.close(ticketId: ticket.id, dispositionId: disposition.id, by: ann.id)
            #expect(closed.status == .closed)
            #expect(try await f.store.tickets.dispositionId(ticketId: ticket.id) == disposition.id)
            #expect(try await f.store.routing.presence(userIds: [ann.id])[ann.id]?.state == .online, "back to how she was")
            await #expect(throws: DomainError.self) { _ = try await f.service.close(ticketId: ticket.id, dispositionId: disposition.id, by: ann.id) }
        }
    }

    @Test func editingAndDeletingAQueueApplyToTicketsWaitingInIt() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann")
            let bob = try await f.agent("bob")
            var queue = try await f.queue("Team", members: [ann])
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            queue.members = [QueueMember(userId: bob.id)]
            _ = try await f.store.routing.updateQueue(queue)
            await f.service.queueChanged(id: queue.id, queue: queue)
            #expect(try await f.openOffers(ann).isEmpty)
            #expect(try await f.openOffers(bob).count == 1)

            await f.service.queueChanged(id: queue.id, queue: nil)
            #expect(try await f.openOffers(bob).isEmpty)
            let unassigned = try await f.reload(ticket)
            #expect(unassigned.queueId == nil && unassigned.agentId == nil)
        }
    }

    /// The timer loop itself: it sleeps until the earliest deadline and wakes for new ones.
    @Test func theTimerLoopExpiresOffersWhenTheirTimeComes() async throws {
        try await RoutingFixture.run { f in
            let account = try await f.account()
            let ann = try await f.agent("ann")
            let bob = try await f.agent("bob")
            let queue = try await f.queue("RR", .roundRobin, timeout: 30, members: [ann, bob])
            let loop = Task { try await f.service.run() }
            defer { loop.cancel() }
            let ticket = try await f.ticket(account)
            try await f.service.start(ticketId: ticket.id, target: .queue(queueId: queue.id))
            #expect(try await eventually { f.clock.sleeperCount > 0 })
            f.clock.advance(by: 31)
            #expect(try await eventually { try await f.store.routing.openOffers(userId: bob.id, now: f.clock.now()).count == 1 })
            #expect(try await f.store.routing.offers(ticketId: ticket.id).first?.state == .expired)
        }
    }
}
