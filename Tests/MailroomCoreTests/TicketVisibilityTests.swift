import Foundation
import MailroomCore
import Testing

/// The one rule for who may see a ticket (pages, API and live events call it).
@Suite struct TicketVisibilityTests {
    static func ticket(account: String = "acc1", queue: String? = nil, agent: String? = nil) -> Ticket {
        Ticket(accountId: account, subject: "s", customerId: "c", customer: EmailAddress(address: "c@example.com"), queueId: queue,
               agentId: agent, createdAt: Date())
    }

    @Test func agentsSeeTheirOwnTheirQueuesAndTheirAccountsUnassignedTickets() {
        let visibility = TicketVisibility(userId: "ann", memberOf: [AgentQueue(id: "q1", name: "Q1", accountIds: ["acc1"])])
        func ticket(account: String = "acc1", queue: String? = nil, agent: String? = nil) -> Ticket {
            Self.ticket(account: account, queue: queue, agent: agent)
        }
        #expect(visibility.admits(ticket(agent: "ann")))
        #expect(visibility.admits(ticket(account: "other", queue: "q2", agent: "ann")))
        #expect(visibility.admits(ticket(queue: "q1")))
        #expect(visibility.admits(ticket(queue: "q1", agent: "bob")), "a queue's tickets stay visible to its members")
        #expect(!visibility.admits(ticket(queue: "q2")))
        #expect(visibility.admits(ticket()))
        #expect(!visibility.admits(ticket(account: "other")))
        #expect(!visibility.admits(ticket(agent: "bob")), "someone else's ticket outside my queues")
    }

    @Test func anAgentInCampaignsSeesOnlyTheirAccountsTicketsAndTheirOwn() async throws {
        let campaigns = [Campaign(name: "Sales", accountIds: ["acc1"], userIds: ["ann"]), Campaign(name: "Care", accountIds: ["acc2"], userIds: ["bob"])]
        #expect(CampaignScope.accountIds(forUser: "ann", in: campaigns) == ["acc1"])
        #expect(CampaignScope.accountIds(forUser: "cy", in: campaigns) == nil, "no campaign, no limit")
        #expect(CampaignScope.excluded(["ann", "bob", "cy"], accountId: "acc1", campaigns: campaigns) == ["bob"])
        let queues = [AgentQueue(id: "q1", name: "Q1", accountIds: ["acc1", "acc2"])]
        let visibility = await TicketVisibility.of(userId: "ann", role: .agent, memberOf: { _ in queues },
                                                   campaignAccounts: { CampaignScope.accountIds(forUser: $0, in: campaigns) })
        let ann = try #require(visibility)
        #expect(ann.admits(Self.ticket(account: "acc1", queue: "q1")))
        #expect(!ann.admits(Self.ticket(account: "acc2", queue: "q1")), "a queue's ticket of another campaign's account")
        #expect(!ann.admits(Self.ticket(account: "acc2")))
        #expect(ann.admits(Self.ticket(account: "acc2", agent: "ann")), "a ticket assigned to her stays hers")
        let cy = await TicketVisibility.of(userId: "cy", role: .agent, memberOf: { _ in queues },
                                           campaignAccounts: { CampaignScope.accountIds(forUser: $0, in: campaigns) })
        #expect(cy?.admits(Self.ticket(account: "acc2", queue: "q1")) == true)
        #expect(Campaign(name: " ", accountIds: ["a", "a"]).validate().map(\.field) == ["name", "accountIds"])
    }

    @Test func supervisorsAndAdministratorsSeeEveryTicketWithoutReadingTheirQueues() async {
        for role in [Role.supervisor, .admin] {
            #expect(TicketVisibility.seesEveryTicket(role))
            let visibility = await TicketVisibility.of(userId: "sue", role: role) { _ in
                Issue.record("a supervisor's queues are not needed")
                return []
            }
            #expect(visibility == nil)
        }
        #expect(!TicketVisibility.seesEveryTicket(.agent))
    }

    @Test func anAgentIsLimitedToTheQueuesTheyAreAMemberOf() async {
        let visibility = await TicketVisibility.of(userId: "ann", role: .agent) { userId in
            #expect(userId == "ann")
            return [AgentQueue(id: "q1", name: "Q1", accountIds: ["acc1", "acc2"]), AgentQueue(id: "q2", name: "Q2")]
        }
        #expect(visibility == TicketVisibility(userId: "ann", queueIds: ["q1", "q2"], accountIds: ["acc1", "acc2"]))
    }

    @Test func aCallerWithoutAUserBelowSupervisorSeesNoTicket() async {
        let visibility = await TicketVisibility.of(userId: nil, role: .agent) { _ in [AgentQueue(id: "q1", name: "Q1", accountIds: ["acc1"])] }
        #expect(visibility == TicketVisibility(userId: "", queueIds: [], accountIds: []))
        for ticket in [Self.ticket(), Self.ticket(queue: "q1"), Self.ticket(agent: "ann")] {
            #expect(visibility?.admits(ticket) == false)
        }
    }

    @Test(arguments: [
        // agent, queue, account, admitted
        ("ann", nil, nil, true),
        ("ann", "q9", nil, true),
        (nil, "q1", nil, true),
        ("bob", "q1", nil, true),
        (nil, "q9", nil, false),
        (nil, nil, "acc1", true),
        (nil, nil, "acc9", false),
        ("bob", nil, "acc1", false),
        (nil, nil, nil, false),
    ] as [(String?, String?, String?, Bool)])
    func theRuleOnATicketsHolders(agent: String?, queue: String?, account: String?, admitted: Bool) {
        let visibility = TicketVisibility(userId: "ann", queueIds: ["q1"], accountIds: ["acc1"])
        #expect(visibility.admits(agentId: agent, queueId: queue, accountId: account) == admitted)
    }

    @Test func liveTicketEventsFollowTheSameRuleWithoutLinkedAccounts() {
        let unassigned = LiveEventAudience.ticket(queueId: nil, agentId: nil)
        #expect(!unassigned.admits(userId: "ann", role: .agent, queueIds: ["q1"]), "an event names no account")
        #expect(unassigned.admits(userId: "sue", role: .supervisor, queueIds: []))
        #expect(!LiveEventAudience.ticket(queueId: nil, agentId: "ann").admits(userId: nil, role: .agent, queueIds: []))
        #expect(LiveEventAudience.ticket(queueId: "q1", agentId: "bob").admits(userId: "ann", role: .agent, queueIds: ["q1"]))
    }

    @Test func liveTicketEventsOfOtherCampaignsAreNotHeard() {
        let inQueue = { (account: String) in LiveEventAudience.ticket(queueId: "q1", agentId: nil, accountId: account) }
        #expect(inQueue("acc1").admits(userId: "ann", role: .agent, queueIds: ["q1"], campaignAccountIds: ["acc1"]))
        #expect(!inQueue("acc2").admits(userId: "ann", role: .agent, queueIds: ["q1"], campaignAccountIds: ["acc1"]))
        #expect(inQueue("acc2").admits(userId: "ann", role: .agent, queueIds: ["q1"], campaignAccountIds: nil), "in no campaign: no limit")
        #expect(LiveEventAudience.ticket(queueId: nil, agentId: "ann", accountId: "acc2")
            .admits(userId: "ann", role: .agent, queueIds: [], campaignAccountIds: ["acc1"]), "her own ticket")
        #expect(inQueue("acc2").admits(userId: "sue", role: .supervisor, queueIds: [], campaignAccountIds: ["acc1"]))
    }
}
