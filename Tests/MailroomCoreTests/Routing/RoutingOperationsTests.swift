import Foundation
import Testing
@testable import MailroomCore

@Suite struct RoutingIntegrationModelTests {
    @Test func offerIdsNameTheTicketAndThePosition() {
        let id = OfferView.id(ticketId: "01JTICKET", index: 3)
        #expect(OfferView.parse(id)?.ticketId == "01JTICKET")
        #expect(OfferView.parse(id)?.index == 3)
        #expect(OfferView.parse("nonsense") == nil)
        #expect(OfferView.parse("-3") == nil)
    }

    @Test func theMachineNamesEveryAgentAndQueueItsNextEventReads() {
        let sales = AgentQueue(id: "sales", name: "Sales", members: [QueueMember(userId: "bob"), QueueMember(userId: "cy")])
        var account = Account(key: "A", name: "A", fromAddress: "a@example.com")
        account.waitForAgentSeconds = 10
        var machine = TicketRouting(ticketId: "t")
        _ = machine.newMessageForAssignedAgent("ann", agentQueue: sales, account: account, now: Date(),
                                               context: RoutingContext(agents: [AgentStatus(userId: "ann", presence: .offline)]))
        #expect(machine.awaitedAgentId == "ann")
        #expect(machine.isActive)
        #expect(machine.involvedAgentIds == ["ann", "bob", "cy"], "the fallback queue's members are read before the wait ends")
        #expect(machine.involvedQueues.map(\.id) == ["sales"])
        _ = machine.cancel(now: Date())
        #expect(!machine.isActive)
        #expect(machine.involvedAgentIds.isEmpty)
    }

    @Test func aQueueCarriesTheAccountsItServes() throws {
        let queue = try JSONCoding.decoder.decode(AgentQueue.self, from: Data(#"{"name": "Q", "accountIds": ["a", "a"]}"#.utf8))
        #expect(queue.accountIds == ["a", "a"])
        #expect(queue.validate().map(\.field) == ["accountIds[1]"])
        let old = try JSONCoding.decoder.decode(AgentQueue.self, from: Data(#"{"name": "Q"}"#.utf8))
        #expect(old.accountIds.isEmpty, "machines stored before queues had accounts still decode")
    }
}
