import Foundation

/// First-run administrators, one-time links and the audit trail (issue 26); SQL in the store.
public protocol PeopleRepository: Sendable {
    /// Whether an administrator was ever made.
    func administratorExists() async throws -> Bool
    /// The first administrator, or nil when one exists already (never two, even at once).
    func createFirstAdministrator(_ user: User, passwordHash: String) async throws -> User?
    /// A new link for the user (its token's hash only); the user's earlier unused links of the same purpose stop working.
    func createLink(userId: String, purpose: UserLinkPurpose, tokenHash: String, lifetime: TimeInterval, createdBy: String?,
                    now: Date) async throws -> UserLink
    func attachOutbox(linkId: String, outboxId: String) async throws
    func link(tokenHash: String) async throws -> UserLink?
    /// Uses the link and sets the password in one step; nil when it was used, revoked or expired meanwhile.
    func consume(tokenHash: String, passwordHash: String, endSessions: Bool, now: Date) async throws -> UserLink?
    /// Each user's newest invitation with its mail's delivery.
    func latestInvitations() async throws -> [String: InvitationRecord]
    func record(_ event: AuditEvent) async throws
    /// The newest first.
    func auditEvents(limit: Int, before: Date?) async throws -> [AuditEvent]
}

extension PeopleRepository {
    public func createLink(userId: String, purpose: UserLinkPurpose, tokenHash: String, lifetime: TimeInterval,
                           createdBy: String?) async throws -> UserLink {
        try await createLink(userId: userId, purpose: purpose, tokenHash: tokenHash, lifetime: lifetime, createdBy: createdBy, now: Date())
    }

    public func consume(tokenHash: String, passwordHash: String, endSessions: Bool) async throws -> UserLink? {
        try await consume(tokenHash: tokenHash, passwordHash: passwordHash, endSessions: endSessions, now: Date())
    }

    public func auditEvents(limit: Int = 200) async throws -> [AuditEvent] {
        try await auditEvents(limit: limit, before: nil)
    }
}

/// A user's newest invitation and what became of its mail.
public struct InvitationRecord: Sendable {
    public var link: UserLink
    public var state: DeliveryState?
    public var lastError: String?

    public init(link: UserLink, state: DeliveryState?, lastError: String?) {
        self.link = link
        self.state = state
        self.lastError = lastError
    }
}

/// Mailroom's own mail in the outbox: no ticket, `purpose` says what it is for.
public protocol SystemMailQueue: Sendable {
    func enqueueSystem(raw: [UInt8], accountId: String, envelopeFrom: String, recipients: [String], purpose: String,
                       now: Date) async throws -> OutboxItem
}
