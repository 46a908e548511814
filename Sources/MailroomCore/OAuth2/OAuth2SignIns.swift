import Foundation

/// A sign-in between the redirect and the callback.
public struct OAuth2PendingSignIn: Sendable, Equatable {
    public var accountId: String
    public var providerId: String
    /// The web session that started it (hash), or nil when an API token did.
    public var sessionHash: String?
    public var userId: String?
    public var verifier: String
    public var redirectURI: String
    public var expiresAt: Date

    public init(accountId: String, providerId: String, sessionHash: String?, userId: String?, verifier: String,
                redirectURI: String, expiresAt: Date) {
        self.accountId = accountId
        self.providerId = providerId
        self.sessionHash = sessionHash
        self.userId = userId
        self.verifier = verifier
        self.redirectURI = redirectURI
        self.expiresAt = expiresAt
    }
}

/// A finished sign-in whose address is not the account's, held until an administrator chooses.
public struct OAuth2HeldSignIn: Codable, Sendable, Equatable {
    public var accountId: String
    public var providerId: String
    public var sessionHash: String?
    public var refreshToken: String?
    public var accessToken: String
    public var expiresAt: Date?
    public var scopes: [String]
    public var signedInAddress: String?

    public init(accountId: String, providerId: String, sessionHash: String?, refreshToken: String?, accessToken: String,
                expiresAt: Date?, scopes: [String], signedInAddress: String?) {
        self.accountId = accountId
        self.providerId = providerId
        self.sessionHash = sessionHash
        self.refreshToken = refreshToken
        self.accessToken = accessToken
        self.expiresAt = expiresAt
        self.scopes = scopes
        self.signedInAddress = signedInAddress
    }
}

/// Accounts' OAuth2 grants, their serialized refreshes, and sign-ins under way.
public protocol OAuth2GrantRepository: OAuth2ProviderRepository {
    func grant(accountId: String) async throws -> OAuth2AccountGrant?
    func grants() async throws -> [OAuth2AccountGrant]
    /// Grants that can still be refreshed.
    func liveGrants() async throws -> [OAuth2AccountGrant]
    func saveSignIn(_ grant: OAuth2AccountGrant) async throws
    func deleteGrant(accountId: String) async throws
    /// Takes the right to refresh the account's token until `until`; false while another owner holds it.
    func acquireRefreshLease(accountId: String, owner: String, until: Date, now: Date) async throws -> Bool
    /// Stores a refreshed grant if `owner` still holds the lease; false otherwise.
    func finishRefresh(_ grant: OAuth2AccountGrant, owner: String) async throws -> Bool
    func createPending(state: String, _ pending: OAuth2PendingSignIn, now: Date) async throws
    /// The sign-in `state` names, removed so it cannot be used again; nil when unknown, used or expired.
    func takePending(state: String, now: Date) async throws -> OAuth2PendingSignIn?
    func hold(_ held: OAuth2HeldSignIn, choice: String, expiresAt: Date, now: Date) async throws
    func takeHeld(choice: String, now: Date) async throws -> OAuth2HeldSignIn?
    /// Takes the right to mail the administrators about the account's token now: true when no one
    /// mailed about it within `quietPeriod` (on any node), and then records `now` as the last time.
    func claimNoticeMail(accountId: String, quietPeriod: TimeInterval, now: Date) async throws -> Bool
}
