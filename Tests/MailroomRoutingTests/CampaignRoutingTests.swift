import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// Campaigns (Ameyo) in routing: a queue's member whose campaigns leave out the ticket's account
/// is not offered it; a member in no campaign is offered as before.
@Suite struct CampaignRoutingTests {
    @Test func agentsAreOfferedOnlyTheirCampaignsTickets() async throws {
        try await RoutingFixture.run { f in
            let sales = try await f.account(key: "SAL")
            let care = try await f.account(key: "CARE")
            let ann = try await f.agent("ann")
            let bob = try await f.agent("bob")
            let cid = try await f.agent("cid")
            let queue = try await f.queue("Shared", members: [ann, bob, cid])
            _ = try await f.store.routing.createCampaign(Campaign(name: "Sales", queueIds: [queue.id], accountIds: [sales.id], userIds: [ann.id]))
            _ = try await f.store.routing.createCampaign(Campaign(name: "Care", queueIds: [queue.id], accountIds: [care.id], userIds: [bob.id]))

            let saleTicket = try await f.ticket(sales)
            try await f.service.start(ticketId: saleTicket.id, target: .queue(queueId: queue.id))
            #expect(try await f.openOffers(ann).count == 1, "Sales is Ann's campaign")
            #expect(try await f.openOffers(bob).isEmpty, "Bob's campaign is Care")
            #expect(try await f.openOffers(cid).count == 1, "an agent in no campaign is offered as before")

            let careTicket = try await f.ticket(care, subject: "Broken", from: "carl@example.com")
            try await f.service.start(ticketId: careTicket.id, target: .queue(queueId: queue.id))
            #expect(try await f.store.routing.offers(ticketId: careTicket.id).map(\.userId).sorted() == [bob.id, cid.id].sorted())
        }
    }
}
