import Foundation

// The stores routing works on: queues, presence, tickets' offer machines and offers; and the
// rules. The SQL implementations are in MailroomStore.

/// Queues, agents' presence, routing machines and offers.
public protocol RoutingRepository: Sendable {
    func createQueue(_ queue: AgentQueue, now: Date) async throws -> AgentQueue
    /// false when there is no such queue.
    func updateQueue(_ queue: AgentQueue, now: Date) async throws -> Bool
    func deleteQueue(id: String) async throws -> Bool
    func queue(id: String) async throws -> AgentQueue?
    func queues() async throws -> [AgentQueue]
    func queues(ids: [String]) async throws -> [String: AgentQueue]
    /// The queues the user is a member of.
    func queues(memberId userId: String) async throws -> [AgentQueue]
    /// Takes a deleted account out of every queue that served it.
    func unlinkAccount(_ accountId: String, now: Date) async throws
    func presence(userIds: [String]) async throws -> [String: PresenceRecord]
    func setPresence(userId: String, presence: AgentPresence, now: Date) async throws -> PresenceRecord
    /// Presence, load and open offers of these agents, not counting offers of `ticketId`.
    func agentStatuses(userIds: Set<String>, offersExcluding ticketId: String?, now: Date) async throws -> [AgentStatus]
    /// Per queue, the agent offered a ticket last (round robin goes on from there).
    func lastOffered(queueIds: [String]) async throws -> [String: String]
    func routing(ticketId: String) async throws -> StoredRouting?
    /// Commits the change if the machine is still at `expectedVersion`; false when someone changed it meanwhile.
    func commit(_ change: RoutingChange) async throws -> Bool
    func saveClosing(ticketId: String, closing: ClosingFlow?, now: Date) async throws
    /// Tickets whose routing has a deadline at or before `now`.
    func dueTickets(now: Date, limit: Int) async throws -> [String]
    func nextDeadline() async throws -> Date?
    /// Tickets still routing in these queues that an agent of theirs could be offered.
    func activeTickets(waitingFor userId: String, inQueues queueIds: [String], limit: Int) async throws -> [String]
    func activeTickets(inQueue queueId: String) async throws -> [String]
    func offer(id: String) async throws -> OfferView?
    func openOffers(userId: String, now: Date) async throws -> [OfferView]
    func offers(ticketId: String) async throws -> [OfferView]

    // Campaigns: queues, accounts and agents grouped.
    func campaigns() async throws -> [Campaign]
    func campaign(id: String) async throws -> Campaign?
    /// The accounts of the user's campaigns; nil when the user is in no campaign (no limit).
    func campaignAccountIds(userId: String) async throws -> Set<String>?
    func createCampaign(_ campaign: Campaign, now: Date) async throws -> Campaign
    func updateCampaign(_ campaign: Campaign, now: Date) async throws -> Campaign
    func deleteCampaign(id: String) async throws
    /// Takes a deleted account out of every campaign.
    func removeAccountFromCampaigns(_ accountId: String, now: Date) async throws
}

extension RoutingRepository {
    public func createQueue(_ queue: AgentQueue) async throws -> AgentQueue { try await createQueue(queue, now: Date()) }
    public func updateQueue(_ queue: AgentQueue) async throws -> Bool { try await updateQueue(queue, now: Date()) }
    public func unlinkAccount(_ accountId: String) async throws { try await unlinkAccount(accountId, now: Date()) }
    public func setPresence(userId: String, presence: AgentPresence) async throws -> PresenceRecord {
        try await setPresence(userId: userId, presence: presence, now: Date())
    }
    public func agentStatuses(userIds: Set<String>, offersExcluding ticketId: String? = nil) async throws -> [AgentStatus] {
        try await agentStatuses(userIds: userIds, offersExcluding: ticketId, now: Date())
    }
    public func agentStatuses(userIds: Set<String>, now: Date) async throws -> [AgentStatus] {
        try await agentStatuses(userIds: userIds, offersExcluding: nil, now: now)
    }
    public func saveClosing(ticketId: String, closing: ClosingFlow?) async throws {
        try await saveClosing(ticketId: ticketId, closing: closing, now: Date())
    }
    public func dueTickets(now: Date) async throws -> [String] { try await dueTickets(now: now, limit: 200) }
    public func activeTickets(waitingFor userId: String, inQueues queueIds: [String]) async throws -> [String] {
        try await activeTickets(waitingFor: userId, inQueues: queueIds, limit: 1_000)
    }
    public func openOffers(userId: String) async throws -> [OfferView] { try await openOffers(userId: userId, now: Date()) }
    public func createCampaign(_ campaign: Campaign) async throws -> Campaign { try await createCampaign(campaign, now: Date()) }
    public func updateCampaign(_ campaign: Campaign) async throws -> Campaign { try await updateCampaign(campaign, now: Date()) }
    public func removeAccountFromCampaigns(_ accountId: String) async throws { try await removeAccountFromCampaigns(accountId, now: Date()) }
}

/// Routing rules, per account, in their order.
public protocol RuleRepository: Sendable {
    func create(_ rule: RoutingRule) async throws -> RoutingRule
    /// Saves changed rules together (a reorder changes several).
    func update(_ rules: [RoutingRule]) async throws
    func find(id: String) async throws -> RoutingRule?
    /// One account's rules, or every rule when nil, in order.
    func list(accountId: String?) async throws -> [RoutingRule]
    func all() async throws -> [RoutingRule]
    /// The enabled rules that apply to mail of this account, in the order they run.
    func rules(for accountId: String) async throws -> [RoutingRule]
    func delete(id: String) async throws
    /// Switches off an account's rules (the account was deleted).
    func disable(accountId: String) async throws
}
