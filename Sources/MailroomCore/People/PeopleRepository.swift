import Foundation

/// Invitation and password-reset links, the audit trail, and the first administrator.
public protocol PeopleRepository: Sendable {
    /// Whether an administrator was ever made (a deactivated one counts).
    func administratorExists() async throws -> Bool
    /// Creates the first administrator, or answers nil when one exists already; two at once cannot both succeed.
    func createFirstAdministrator(_ user: User, passwordHash: String) async throws -> User?
    /// Stores a new link (its token's hash only) and revokes the user's earlier unused links of the same purpose.
    func createLink(userId: String, purpose: UserLinkPurpose, tokenHash: String, lifetime: TimeInterval,
                    createdBy: String?, now: Date) async throws -> UserLink
    func attachOutbox(linkId: String, outboxId: String) async throws
    /// The link a token's hash names, whatever its standing.
    func link(tokenHash: String) async throws -> UserLink?
    /// Marks the link used and sets the password in one transaction; nil when it was used, revoked or expired meanwhile.
    func consume(tokenHash: String, passwordHash: String, endSessions: Bool, now: Date) async throws -> UserLink?
    /// Each user's newest invitation, with its mail's delivery state and last error.
    func latestInvitations() async throws -> [String: (link: UserLink, state: DeliveryState?, lastError: String?)]
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
    public func auditEvents(limit: Int = 200, before: Date? = nil) async throws -> [AuditEvent] {
        try await auditEvents(limit: limit, before: before)
    }
}
