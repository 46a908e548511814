import Foundation
import Logging
import MailroomCore
import MailTransport
import Metrics
import Synchronization

/// Told when an account's token state changes (valid → refreshFailed, … → revoked). The mail to
/// administrators through the system sender (issue "People") will be one more observer; until
/// that sender exists, the live event and the metric are the notices.
public protocol OAuth2TokenStateObserver: Sendable {
    func tokenStateChanged(accountId: String, from old: OAuth2TokenState?, to status: OAuth2TokenStatus) async
}

/// Publishes a state change as a live event (`accountToken`, to staff) and counts it in
/// `mailroom_oauth2_token_state_changes_total{state}`.
public struct LiveOAuth2TokenNotices: OAuth2TokenStateObserver {
    let events: LiveEventHub?

    public init(events: LiveEventHub?) { self.events = events }

    public func tokenStateChanged(accountId: String, from old: OAuth2TokenState?, to status: OAuth2TokenStatus) async {
        Counter(label: "mailroom_oauth2_token_state_changes_total", dimensions: [("state", status.state.rawValue)]).increment()
        guard let events else { return }
        var data: [String: JSONValue] = ["accountId": .string(accountId), "state": .string(status.state.rawValue),
                                         "message": .string(status.message)]
        if let old { data["previousState"] = .string(old.rawValue) }
        events.publish(LiveEvent(type: .accountToken, audience: .staff, data: .object(data)))
    }
}

/// Access tokens of accounts signed in through a provider: refreshed ahead of expiry, one refresh
/// at a time per account across all nodes (a lease row; a waiting node takes the token the holder
/// stored), a rotated refresh token stored in the statement that ends the lease, and a failed
/// refresh keeping the refresh token unless the provider said the grant is gone.
public struct OAuth2AccountTokens: Sendable {
    let store: any OAuth2GrantRepository
    let http: any OAuth2HTTPClient
    /// This node's name in the lease (with a random part: two processes on one host differ).
    let owner: String
    /// A token that expires sooner than this is refreshed before it is used.
    let margin: TimeInterval
    /// How long a refresh may hold the lease (longer than the HTTP timeout).
    let leaseDuration: TimeInterval
    /// How long a caller waits for another node's refresh before giving up for this round.
    let waitLimit: Duration
    let observer: (any OAuth2TokenStateObserver)?
    /// Every refresh of this process takes its turn here (the token endpoints' rate).
    let pacer: OAuth2RefreshPacer
    let logger: Logger

    public init(store: any OAuth2GrantRepository, http: any OAuth2HTTPClient = OAuth2HTTPTransport(), owner: String? = nil,
                margin: TimeInterval = 300, leaseDuration: TimeInterval = 60, waitLimit: Duration = .seconds(45),
                observer: (any OAuth2TokenStateObserver)? = nil, pacer: OAuth2RefreshPacer = .shared,
                logger: Logger = Logger(label: "mailroom.oauth2")) {
        self.store = store
        self.pacer = pacer
        self.http = http
        self.owner = owner ?? "\(ProcessInfo.processInfo.hostName)-\(OAuth2Flow.randomToken().prefix(8))"
        self.margin = margin
        self.leaseDuration = leaseDuration
        self.waitLimit = waitLimit
        self.observer = observer ?? OAuth2Notices.observer
        self.logger = logger
    }

    /// A usable access token for the account; `force` refreshes even a token that looks fresh
    /// (the server refused it), unless another node refreshed it since the caller's try.
    public func accessToken(accountId: String, force: Bool = false, now: @Sendable () -> Date = Date.init) async throws -> String {
        try await login(accountId: accountId, force: force, now: now).token
    }

    /// The access token and the address that signed in (the user name for XOAUTH2/OAUTHBEARER).
    public func login(accountId: String, force: Bool = false, now: @Sendable () -> Date = Date.init) async throws
        -> (token: String, address: String?) {
        guard let first = try await store.grant(accountId: accountId) else {
            throw OAuth2Error(description: "no one has signed in for this account yet: sign in with its provider on the account page")
        }
        if let failure = first.failure, failure.state == .revoked || failure.state == .consentMissing {
            throw OAuth2Error(description: failure.message)
        }
        if !force, !first.needsRefresh(now: now(), margin: margin), let token = first.accessToken {
            return (token.revealed, first.signedInAddress)
        }
        let deadline = ContinuousClock.now.advanced(by: waitLimit)
        while true {
            let start = now()
            // The lease outlasts the wait for this node's turn at the provider, taken under the lease
            // and right before the request, so the requests leave at the pace the turns are given.
            let queue = await pacer.expectedWait.timeInterval
            if try await store.acquireRefreshLease(accountId: accountId, owner: owner, until: start.addingTimeInterval(leaseDuration + queue),
                                                   now: start) {
                return (try await refreshHoldingLease(accountId: accountId, seen: first, force: force), first.signedInAddress)
            }
            // Another node is refreshing: its result is read back rather than racing it.
            try await Task.sleep(for: .milliseconds(200))
            if let current = try await store.grant(accountId: accountId), current.version != first.version {
                if let failure = current.failure { throw OAuth2Error(description: failure.message) }
                if !current.needsRefresh(now: now(), margin: margin), let token = current.accessToken {
                    return (token.revealed, current.signedInAddress)
                }
            }
            if ContinuousClock.now >= deadline {
                throw OAuth2Error(description: "another node is refreshing this account's token and has not finished; the next fetch tries again")
            }
        }
    }

    private func refreshHoldingLease(accountId: String, seen: OAuth2AccountGrant, force: Bool) async throws -> String {
        guard var grant = try await store.grant(accountId: accountId) else {
            throw OAuth2Error(description: "the account's sign-in was removed: sign in again")
        }
        let now = Date()
        // Someone refreshed between our read and the lease: theirs is good unless it is stale too.
        if grant.version != seen.version || !force, grant.failure == nil, !grant.needsRefresh(now: now, margin: margin),
           let token = grant.accessToken {
            try await store.finishRefresh(grant, owner: owner)
            return token.revealed
        }
        let before = grant.failure?.state ?? .valid
        let provider = try await store.find(id: grant.providerId)
        guard let provider, let refreshToken = grant.refreshToken?.revealed else {
            grant.failure = OAuth2RefreshFailure(state: .consentMissing, error: nil, message: provider == nil
                ? "The account's OAuth2 provider was deleted: choose a provider and sign in again."
                : "There is no refresh token: sign in again.", at: now)
            try await store.finishRefresh(grant, owner: owner)
            await notify(grant, provider: provider, before: before)
            throw OAuth2Error(description: grant.failure?.message ?? "")
        }
        do {
            try await pacer.waitForTurn()
            let now = Date()
            let answer = try await OAuth2Flow.refresh(refreshToken: refreshToken, provider: provider, http: http, now: now)
            grant.accessToken = Secret(answer.accessToken)
            if let rotated = answer.refreshToken { grant.refreshToken = Secret(rotated) }
            grant.expiresAt = answer.expiresAt
            grant.refreshedAt = now
            if let scopes = answer.scopes { grant.scopes = scopes }
            grant.failure = nil
            guard try await store.finishRefresh(grant, owner: owner) else {
                // The lease ran out during the call and someone else may have refreshed: ours may be
                // the newest token, but their write stands; the access token still works for now.
                logger.warning("an OAuth2 refresh outlived its lease", metadata: ["account": "\(accountId)"])
                return answer.accessToken
            }
            if before != .valid { await notify(grant, provider: provider, before: before) }
            return answer.accessToken
        } catch let error as OAuth2FlowError {
            grant.failure = OAuth2TokenStatus.failure(error: error.error, description: error.errorDescription, httpStatus: error.httpStatus,
                                                      providerName: provider.name, at: now)
            if grant.failure?.state == .revoked { grant.refreshToken = nil }
            try await store.finishRefresh(grant, owner: owner)
            logger.warning("OAuth2 refresh failed", metadata: ["account": "\(accountId)", "provider": "\(provider.name)",
                                                               "error": "\(error.error ?? "unreachable")"])
            if grant.failure?.state != before { await notify(grant, provider: provider, before: before) }
            throw OAuth2Error(description: grant.failure?.message ?? error.description)
        } catch {
            // Not an answer from the provider (cancelled, the store failed): leave the grant as it was.
            _ = try? await store.finishRefresh(grant, owner: owner)
            throw error
        }
    }

    private func notify(_ grant: OAuth2AccountGrant, provider: OAuth2Provider?, before: OAuth2TokenState) async {
        let status = OAuth2TokenStatus.of(grant, provider: provider, now: Date())
        await observer?.tokenStateChanged(accountId: grant.accountId, from: before, to: status)
    }
}

/// The observer every token service in this process reports to (set once at start by the app;
/// the credential sources are made in many places, each too far from the event hub to be given it).
public enum OAuth2Notices {
    private static let current = Mutex<(any OAuth2TokenStateObserver)?>(nil)

    public static var observer: (any OAuth2TokenStateObserver)? {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}

/// Credentials of an account that signed in through a provider (`auth.oauth2.providerId`).
enum OAuth2ProviderLogin {
    static func credentials(_ account: Account, auth: ServerAuth, settings: OAuth2Settings, grants: (any OAuth2GrantRepository)?,
                            force: Bool, pacer: OAuth2RefreshPacer) async throws -> MailCredentials {
        guard let grants else {
            throw OAuth2Error(description: "this part of Mailroom has no store to read the account's sign-in from")
        }
        let login = try await OAuth2AccountTokens(store: grants, pacer: pacer).login(accountId: account.id, force: force)
        let username = [auth.username, settings.email, login.address ?? "", account.fromAddress].first { !$0.isEmpty } ?? ""
        return .oauth2(username, accessToken: login.token)
    }
}
