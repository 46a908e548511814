import Foundation

/// A signed-in browser: the row behind the session cookie.
public struct WebSession: Sendable, Equatable {
    /// SHA-256 of the cookie's value; the value itself is never stored.
    public var idHash: String
    public var userId: String
    /// Sent back by the page with every unsafe request (`X-CSRF-Token` or `_csrf`).
    public var csrfToken: String
    public var createdAt: Date
    public var lastSeenAt: Date
    /// The absolute end, however active the session is.
    public var expiresAt: Date

    public init(idHash: String, userId: String, csrfToken: String, createdAt: Date, lastSeenAt: Date, expiresAt: Date) {
        self.idHash = idHash
        self.userId = userId
        self.csrfToken = csrfToken
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
    }
}
