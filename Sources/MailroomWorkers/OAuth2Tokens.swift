import Foundation
import MailTransport
import MailroomCore
import Synchronization

/// What a token endpoint granted for a refresh token (RFC 6749 section 6).
public struct OAuth2Grant: Sendable, Equatable {
    public var accessToken: String
    public var expiresAt: Date?
    /// A new refresh token, when the provider rotates them (the old one may stop working).
    public var refreshToken: String?

    public init(accessToken: String, expiresAt: Date?, refreshToken: String?) {
        self.accessToken = accessToken
        self.expiresAt = expiresAt
        self.refreshToken = refreshToken
    }
}

/// Why no access token could be had. Descriptions name the account's settings to fix and never
/// contain a token or a client secret.
public struct OAuth2Error: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    static let noRefreshToken = OAuth2Error(description:
        "the account uses OAuth2 but has no refresh token and no usable access token; store a refresh token in auth.oauth2.refreshToken")
    static func noEndpoint(_ provider: String) -> OAuth2Error {
        OAuth2Error(description: "no token endpoint is known for the OAuth2 provider '\(provider)'; set auth.oauth2.tokenURL")
    }
    static func refused(status: Int, error: String?, detail: String?) -> OAuth2Error {
        var text = "the token endpoint refused the refresh (HTTP \(status)"
        if let error { text += ", \(error)" }
        text += ")"
        if let detail, !detail.isEmpty { text += ": \(detail.prefix(300))" }
        if error == "invalid_grant" { text += "; the refresh token was revoked or expired: authorise the account again" }
        if error == "invalid_client" || error == "unauthorized_client" { text += "; check auth.oauth2.clientId and clientSecret" }
        return OAuth2Error(description: text)
    }
    static let badAnswer = OAuth2Error(description: "the token endpoint's answer has no access_token")
    static func unreachable(_ detail: String) -> OAuth2Error {
        OAuth2Error(description: "the token endpoint could not be reached: \(detail)")
    }
}

/// The refresh-token flow, as pure pieces (request, answer) and one network call.
public enum OAuth2TokenEndpoint {
    /// The account's token URL, or its provider's well-known one.
    public static func url(for settings: OAuth2Settings) -> URL? {
        if let custom = settings.tokenURL { return URL(string: custom) }
        switch settings.provider.lowercased() {
        case "outlook365", "microsoft", "hotmail", "outlook":
            let tenant = settings.tenantId ?? "common"
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-."))
            guard tenant.unicodeScalars.allSatisfy(allowed.contains) else { return nil }
            return URL(string: "https://login.microsoftonline.com/\(tenant)/oauth2/v2.0/token")
        case "gmail", "google":
            return URL(string: "https://oauth2.googleapis.com/token")
        default:
            return nil
        }
    }

    /// `application/x-www-form-urlencoded` body of a refresh request.
    public static func refreshBody(_ settings: OAuth2Settings, refreshToken: String) -> String {
        refreshFields(settings, refreshToken: refreshToken).map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
    }

    static func refreshFields(_ settings: OAuth2Settings, refreshToken: String) -> [(String, String)] {
        var fields = [("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", settings.clientId)]
        if let secret = settings.clientSecret?.revealed { fields.append(("client_secret", secret)) }
        if let scope = settings.scope { fields.append(("scope", scope)) }
        return fields
    }

    static func formEncode(_ text: String) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// Reads the endpoint's answer: a grant, or the OAuth error it names.
    public static func grant(from data: Data, status: Int, now: Date) throws -> OAuth2Grant {
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        guard (200..<300).contains(status) else {
            throw OAuth2Error.refused(status: status, error: object?["error"] as? String, detail: object?["error_description"] as? String)
        }
        guard let token = object?["access_token"] as? String, !token.isEmpty else { throw OAuth2Error.badAnswer }
        let seconds = (object?["expires_in"] as? NSNumber)?.doubleValue ?? (object?["expires_in"] as? String).flatMap(Double.init)
        return OAuth2Grant(accessToken: token, expiresAt: seconds.map { now.addingTimeInterval($0) },
                           refreshToken: (object?["refresh_token"] as? String).flatMap { $0.isEmpty ? nil : $0 })
    }

    /// POSTs the refresh to the token endpoint.
    public static func refresh(_ settings: OAuth2Settings, timeout: TimeInterval = 30, now: @Sendable () -> Date = Date.init) async throws
        -> OAuth2Grant {
        guard let refreshToken = settings.refreshToken?.revealed else { throw OAuth2Error.noRefreshToken }
        guard let url = url(for: settings) else { throw OAuth2Error.noEndpoint(settings.provider) }
        let response: OAuth2HTTPResponse
        do {
            response = try await OAuth2HTTPTransport(timeout: timeout)
                .send(OAuth2HTTPRequest(url: url, form: refreshFields(settings, refreshToken: refreshToken)))
        } catch let error as OAuth2FlowError {
            throw OAuth2Error.unreachable("\(error)")
        }
        return try grant(from: Data(response.body), status: response.status, now: now())
    }
}

/// Credentials for an account's servers, with OAuth2 access tokens refreshed when they are
/// missing or about to expire (or when the server refused the one it was given); a new token is
/// stored with the account, encrypted as its other secrets are.
public struct AccountCredentialSource: Sendable {
    public enum Direction: Sendable { case incoming, outgoing }

    let accounts: (any AccountRepository)?
    /// Where accounts that signed in through a provider keep their grants.
    let grants: (any OAuth2GrantRepository)?
    let refresh: @Sendable (OAuth2Settings) async throws -> OAuth2Grant
    /// A token that expires sooner than this is refreshed before it is used.
    let margin: TimeInterval
    /// Refreshes of provider grants take their turn here.
    let pacer: OAuth2RefreshPacer

    public init(accounts: (any AccountRepository)?, grants: (any OAuth2GrantRepository)? = nil, margin: TimeInterval = 120,
                pacer: OAuth2RefreshPacer = .shared,
                refresh: @escaping @Sendable (OAuth2Settings) async throws -> OAuth2Grant = { try await OAuth2TokenEndpoint.refresh($0) }) {
        self.accounts = accounts
        self.grants = grants
        self.pacer = pacer
        self.margin = margin
        self.refresh = refresh
    }

    /// Reads and stores through these repositories.
    public init(_ repositories: Repositories) {
        self.init(accounts: repositories.accounts, grants: repositories.oauth2)
    }

    /// The credentials to log in with. `account` is updated in place when a token was refreshed.
    public func credentials(_ account: inout Account, _ direction: Direction, forceRefresh: Bool = false,
                            now: Date = Date()) async throws -> MailCredentials? {
        let auth = direction == .incoming ? account.incoming.connection.auth : account.outgoing.connection.auth
        guard auth.method == .oauth2, let settings = auth.oauth2 else { return Account.credentials(auth) }
        if settings.providerId != nil {
            return try await OAuth2ProviderLogin.credentials(account, auth: auth, settings: settings, grants: grants, force: forceRefresh,
                                                             pacer: pacer)
        }
        let username = auth.username.isEmpty ? settings.email : auth.username
        if !forceRefresh, let token = settings.accessToken?.revealed,
           // A token of unknown lifetime is tried; a refusal refreshes it (forceRefresh).
           settings.accessTokenExpiresAt.map({ $0.timeIntervalSince(now) > margin }) ?? true {
            return .oauth2(username, accessToken: token)
        }
        guard settings.refreshToken != nil else {
            if let token = settings.accessToken?.revealed { return .oauth2(username, accessToken: token) }
            throw OAuth2Error.noRefreshToken
        }
        try await pacer.waitForTurn()
        let grant = try await refresh(settings)
        account = try await store(grant, direction: direction, in: account)
        return .oauth2(username, accessToken: grant.accessToken)
    }

    private func store(_ grant: OAuth2Grant, direction: Direction, in account: Account) async throws -> Account {
        func apply(_ account: inout Account) {
            func update(_ settings: inout OAuth2Settings?) {
                settings?.accessToken = Secret(grant.accessToken)
                settings?.accessTokenExpiresAt = grant.expiresAt
                if let rotated = grant.refreshToken { settings?.refreshToken = Secret(rotated) }
            }
            if direction == .incoming { update(&account.incoming.connection.auth.oauth2) } else { update(&account.outgoing.connection.auth.oauth2) }
        }
        var updated = account
        apply(&updated)
        guard let accounts else { return updated }
        // Applied to the stored account as it is now, so a change made meanwhile through the API is kept.
        guard var current = try await accounts.find(id: account.id) else { return updated }
        apply(&current)
        _ = try await accounts.update(current)
        return updated
    }
}

/// The account a fetcher logs in with, kept across its sessions (a refreshed token stays in use).
final class LoginHolder: Sendable {
    private let state: Mutex<Account>

    init(_ account: Account) { state = Mutex(account) }

    var account: Account {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
