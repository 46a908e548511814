import Foundation

/// The filters of `GET /api/v1/tickets`.
public struct TicketFilter: Sendable {
    public var accountIds: [String]?
    public var queueId: String?
    public var agentId: String?
    public var status: TicketStatus?
    public var unread: Bool?
    public var tag: String?
    public var since: Date?
    public var until: Date?
    /// Open tickets no agent holds yet, whatever their queue (what an agent calls unassigned).
    public var unassigned: Bool?
    /// For an agent: only the tickets they may see (nil: supervisors and administrators see all).
    public var visibility: TicketVisibility?
    public var limit: Int
    public var cursor: String?

    public init(accountIds: [String]? = nil, queueId: String? = nil, agentId: String? = nil, status: TicketStatus? = nil,
                unread: Bool? = nil, tag: String? = nil, since: Date? = nil, until: Date? = nil, unassigned: Bool? = nil,
                limit: Int = 50, cursor: String? = nil) {
        self.accountIds = accountIds
        self.queueId = queueId
        self.agentId = agentId
        self.status = status
        self.unread = unread
        self.tag = tag
        self.since = since
        self.until = until
        self.unassigned = unassigned
        self.limit = limit
        self.cursor = cursor
    }
}
