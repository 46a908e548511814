import Foundation

/// How an account's sign-in stands, as the account status shows it.
public enum OAuth2TokenState: String, NamedValues {
    /// An access token is there or can be had with the stored refresh token.
    case valid
    /// It works now but will stop soon unless someone signs in again (no refresh token, or a provider rule).
    case expiresSoon
    /// The last refresh failed for a reason that may pass (provider down, a setting); the refresh token is kept.
    case refreshFailed
    /// The provider said the grant is gone (`invalid_grant`): sign in again.
    case revoked
    /// No one has signed in for this account, or the provider wants consent again.
    case consentMissing
}

/// What an account's sign-in through a provider left: the tokens (encrypted in the store), when
/// they run out, what was granted, and the state the last refresh left.
public struct OAuth2AccountGrant: Sendable, Equatable {
    public var accountId: String
    public var providerId: String
    public var refreshToken: Secret?
    public var accessToken: Secret?
    public var expiresAt: Date?
    public var grantedAt: Date
    public var refreshedAt: Date?
    public var scopes: [String]
    /// The mailbox address the provider says signed in (ID token or user info).
    public var signedInAddress: String?
    /// Set by a refresh: nil while all is well, else what went wrong.
    public var failure: OAuth2RefreshFailure?
    /// Bumped by every write, so a write based on an old read is refused.
    public var version: Int64

    public init(accountId: String, providerId: String, refreshToken: Secret?, accessToken: Secret?, expiresAt: Date?,
                grantedAt: Date, refreshedAt: Date? = nil, scopes: [String], signedInAddress: String?,
                failure: OAuth2RefreshFailure? = nil, version: Int64 = 0) {
        self.accountId = accountId
        self.providerId = providerId
        self.refreshToken = refreshToken
        self.accessToken = accessToken
        self.expiresAt = expiresAt
        self.grantedAt = grantedAt
        self.refreshedAt = refreshedAt
        self.scopes = scopes
        self.signedInAddress = signedInAddress
        self.failure = failure
        self.version = version
    }

    /// Whether the access token should be replaced before it is used.
    public func needsRefresh(now: Date, margin: TimeInterval) -> Bool {
        guard accessToken != nil else { return true }
        guard let expiresAt else { return false }
        return expiresAt.timeIntervalSince(now) <= margin
    }
}

/// Why a refresh did not give a token, kept with the grant so the status can say it in words.
public struct OAuth2RefreshFailure: Codable, Sendable, Equatable {
    public var state: OAuth2TokenState
    /// The provider's OAuth error code (`invalid_grant`), when it sent one.
    public var error: String?
    public var message: String
    public var at: Date

    public init(state: OAuth2TokenState, error: String?, message: String, at: Date) {
        self.state = state
        self.error = error
        self.message = message
        self.at = at
    }
}

/// The `token` object of an account's status (DESIGN.md).
public struct OAuth2TokenStatus: Codable, Sendable, Equatable {
    public var state: OAuth2TokenState
    public var expiresAt: Date?
    public var refreshedAt: Date?
    public var scopes: [String]
    public var message: String
    public var signedInAddress: String?
    public var providerId: String?

    public init(state: OAuth2TokenState, expiresAt: Date? = nil, refreshedAt: Date? = nil, scopes: [String] = [],
                message: String, signedInAddress: String? = nil, providerId: String? = nil) {
        self.state = state
        self.expiresAt = expiresAt
        self.refreshedAt = refreshedAt
        self.scopes = scopes
        self.message = message
        self.signedInAddress = signedInAddress
        self.providerId = providerId
    }

    /// The status of `grant` (nil: no sign-in yet) at `now`, with what to do in words.
    /// Microsoft's lifetime of a refresh token nobody uses.
    public static let microsoftIdleLimit: TimeInterval = 90 * 86_400

    public static func of(_ grant: OAuth2AccountGrant?, provider: OAuth2Provider?, now: Date) -> OAuth2TokenStatus {
        let name = provider?.name ?? "the provider"
        guard let grant else {
            return OAuth2TokenStatus(state: .consentMissing, message: "No one has signed in for this account yet: click \"Sign in with \(name)\".",
                                     providerId: provider?.id)
        }
        var status = OAuth2TokenStatus(state: .valid, expiresAt: grant.expiresAt, refreshedAt: grant.refreshedAt ?? grant.grantedAt,
                                       scopes: grant.scopes, message: "", signedInAddress: grant.signedInAddress, providerId: grant.providerId)
        if let failure = grant.failure {
            status.state = failure.state
            status.message = failure.message
            return status
        }
        if grant.refreshToken == nil {
            let ends = grant.expiresAt.map { ISO8601.format($0) } ?? "when the provider decides"
            status.state = .expiresSoon
            status.message = "\(name) gave no refresh token: the access token stops working \(ends). Sign in again, and check that the scopes ask for offline access."
            return status
        }
        status.message = "Signed in\(grant.signedInAddress.map { " as \($0)" } ?? ""); tokens are refreshed before they expire."
        if provider?.kind == .google {
            let testingEnd = grant.grantedAt.addingTimeInterval(7 * 86_400)
            if testingEnd.timeIntervalSince(now) < 86_400, testingEnd > now {
                status.state = .expiresSoon
            }
            status.message += " If the Google Cloud app is in \"testing\" mode, Google ends this grant on \(ISO8601.format(testingEnd)) (7 days after sign-in): publish the app to avoid it."
        }
        if provider?.kind == .microsoft {
            // Microsoft ends a refresh token that went unused for 90 days (Mailroom stopped, or the
            // account switched off): warned a week ahead, while a refresh still saves it.
            let lastUse = grant.refreshedAt ?? grant.grantedAt
            let end = lastUse.addingTimeInterval(Self.microsoftIdleLimit)
            if end.timeIntervalSince(now) < 7 * 86_400 {
                status.state = .expiresSoon
                status.message += end > now
                    ? " The refresh token has not been used since \(ISO8601.format(lastUse)); Microsoft ends refresh tokens unused for 90 days, on \(ISO8601.format(end)). Switch the account on (or start Mailroom) so it is refreshed, or sign in again."
                    : " The refresh token has not been used for 90 days, after which Microsoft ends it: sign in again if the next refresh fails."
            }
        }
        return status
    }

    /// The failure a token endpoint's refusal means: `invalid_grant` is a revoked or expired grant
    /// (sign in again); consent errors need a sign-in; anything else may pass and keeps the token.
    public static func failure(error: String?, description: String?, httpStatus: Int?, providerName: String, at: Date) -> OAuth2RefreshFailure {
        let detail = description.map { ": \($0.prefix(200))" } ?? ""
        switch error {
        case "invalid_grant":
            return OAuth2RefreshFailure(state: .revoked, error: error, message:
                "\(providerName) says the grant was revoked or has expired (invalid_grant\(detail)): sign in again.", at: at)
        case "consent_required", "interaction_required", "login_required":
            return OAuth2RefreshFailure(state: .consentMissing, error: error, message:
                "\(providerName) wants the mailbox owner's consent again (\(error ?? "")\(detail)): sign in again.", at: at)
        case "invalid_client", "unauthorized_client":
            return OAuth2RefreshFailure(state: .refreshFailed, error: error, message:
                "\(providerName) refused Mailroom's client (\(error ?? "")\(detail)): check the provider's client id and secret; the sign-in is kept.", at: at)
        case .some(let code):
            return OAuth2RefreshFailure(state: .refreshFailed, error: code, message:
                "\(providerName) refused the refresh (\(code)\(detail)); the sign-in is kept and the refresh is tried again.", at: at)
        case nil:
            let what = httpStatus.map { "answered HTTP \($0)" } ?? "could not be reached"
            return OAuth2RefreshFailure(state: .refreshFailed, error: nil, message:
                "\(providerName)'s token endpoint \(what)\(detail); the sign-in is kept and the refresh is tried again.", at: at)
        }
    }
}
