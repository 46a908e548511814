import Foundation

/// The kinds of event an agent's screen listens to on `GET /api/v1/events`; each is the SSE `event:` line.
public enum LiveEventType: String, NamedValues {
    /// A ticket is offered to the receiving agent (data: the offer with its ticket and deadline).
    case offer
    /// An offer the receiving agent saw is gone: someone else accepted it, it expired or was withdrawn.
    case offerTaken
    /// A message was added to a ticket (in or out).
    case message
    /// A ticket changed: assignment, status, tags, priority, read marks, escalation.
    case ticket
    /// An agent's presence changed.
    case presence
    /// An account's OAuth2 token state changed (valid, refreshFailed, revoked, …); staff only.
    case accountToken
}

/// Who may receive an event. The stream filters with `LiveEventAudience.admits`, so an agent never
/// learns of tickets outside their queues by listening.
public enum LiveEventAudience: Sendable, Equatable, Codable, Hashable {
    /// These users only (an offer goes to the one agent it is for).
    case users([String])
    /// Members of this queue, the ticket's assigned agent, and supervisors. `accountId`: the
    /// ticket's account, so an agent in campaigns hears only of their campaigns' tickets.
    case ticket(queueId: String?, agentId: String?, accountId: String? = nil)
    /// Supervisors and administrators only.
    case staff
    /// Every signed-in user (presence changes).
    case everyone

    /// Whether `user` (with their role, queue memberships and, if they are in campaigns, their
    /// campaigns' accounts) may see the event.
    public func admits(userId: String?, role: Role, queueIds: Set<String>, campaignAccountIds: Set<String>? = nil) -> Bool {
        if role >= .supervisor { return true }
        switch self {
        case .users(let ids): return userId.map(ids.contains) ?? false
        case .ticket(let queueId, let agentId, let accountId):
            // The ticket rule; no ticket is seen through a linked account here (the stream knows
            // the agent's queues, not their accounts), and campaigns limit by the ticket's account.
            var visibility = TicketVisibility(userId: userId ?? "", queueIds: queueIds, accountIds: [])
            visibility.campaignAccountIds = campaignAccountIds
            return visibility.admits(agentId: agentId, queueId: queueId, accountId: accountId)
        case .staff: return false
        case .everyone: return true
        }
    }
}

/// One live event. `sequence` is assigned by the hub when published; streams resume after the last
/// sequence a client saw (SSE `Last-Event-ID`).
public struct LiveEvent: Sendable, Equatable, Codable {
    public var sequence: Int64
    public var type: LiveEventType
    public var audience: LiveEventAudience
    /// The JSON the client receives as the `data:` line.
    public var data: JSONValue
    public var occurredAt: Date

    public init(type: LiveEventType, audience: LiveEventAudience, data: JSONValue, occurredAt: Date = Date(), sequence: Int64 = 0) {
        self.sequence = sequence
        self.type = type
        self.audience = audience
        self.data = data
        self.occurredAt = occurredAt
    }
}

/// Where domain code announces what happened. Publishing never blocks or fails the caller: a
/// listener that cannot keep up loses events and is told to reload, the state itself is in the store.
public protocol LiveEventPublisher: Sendable {
    func publish(_ event: LiveEvent)
}

/// For tools and tests that have no listeners.
public struct NoLiveEvents: LiveEventPublisher {
    public init() {}
    public func publish(_ event: LiveEvent) {}
}
