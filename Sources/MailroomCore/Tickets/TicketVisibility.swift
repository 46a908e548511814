import Foundation

/// Who may see a ticket, written once: the pages, the JSON API and the live-event stream all ask
/// here (the store's SQL filter states the same condition for lists, see `SQLTicketStore.visibleClause`).
///
/// An agent sees the tickets assigned to them, those in a queue they are a member of, and those
/// nobody holds (no queue, no agent) of an account linked to one of their queues. Supervisors and
/// administrators see every ticket: they are given no `TicketVisibility` (nil).
public struct TicketVisibility: Sendable, Equatable {
    public var userId: String
    public var queueIds: Set<String>
    /// Accounts whose unassigned tickets the agent sees (the accounts linked to their queues).
    public var accountIds: Set<String>
    /// For an agent in campaigns: the only accounts whose tickets they see, besides those assigned
    /// to them (``CampaignScope``). nil: no campaign limits them.
    public var campaignAccountIds: Set<String>?

    public init(userId: String, queueIds: Set<String>, accountIds: Set<String>) {
        self.userId = userId
        self.queueIds = queueIds
        self.accountIds = accountIds
    }

    public init(userId: String, memberOf queues: [AgentQueue]) {
        self.init(userId: userId, queueIds: Set(queues.map(\.id)), accountIds: Set(queues.flatMap(\.accountIds)))
    }

    /// Whether `role` sees every ticket, whatever its queue or agent.
    public static func seesEveryTicket(_ role: Role) -> Bool {
        role >= .supervisor
    }

    /// What someone with `role` may see: nil for every ticket; a caller without a user (a token
    /// of no one) below supervisor sees none. `memberOf` is only asked for when it matters, so
    /// supervisors cost no query.
    public static func of(userId: String?, role: Role,
                          memberOf queues: (_ userId: String) async throws -> [AgentQueue]) async rethrows -> TicketVisibility? {
        guard !seesEveryTicket(role) else { return nil }
        guard let userId else { return TicketVisibility(userId: "", queueIds: [], accountIds: []) }
        return TicketVisibility(userId: userId, memberOf: try await queues(userId))
    }

    /// As ``of(userId:role:memberOf:)``, limited to the accounts of the agent's campaigns.
    public static func of(userId: String?, role: Role, memberOf queues: (_ userId: String) async throws -> [AgentQueue],
                          campaignAccounts: (_ userId: String) async throws -> Set<String>?) async rethrows -> TicketVisibility? {
        guard var visibility = try await of(userId: userId, role: role, memberOf: queues) else { return nil }
        if let userId { visibility.campaignAccountIds = try await campaignAccounts(userId) }
        return visibility
    }

    public func admits(_ ticket: Ticket) -> Bool {
        admits(agentId: ticket.agentId, queueId: ticket.queueId, accountId: ticket.accountId)
    }

    /// The rule on a ticket's holders alone. `accountId` nil (a live event names no account) never
    /// admits through a linked account.
    public func admits(agentId: String?, queueId: String?, accountId: String?) -> Bool {
        if let agentId, agentId == userId { return true }
        // A live event names no account: the queue rule alone applies to it.
        if let campaignAccountIds, let accountId, !campaignAccountIds.contains(accountId) { return false }
        if let queueId { return queueIds.contains(queueId) }
        guard agentId == nil, let accountId else { return false }
        return accountIds.contains(accountId)
    }
}
