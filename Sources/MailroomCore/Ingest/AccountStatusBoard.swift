import Foundation

import Synchronization

/// What an administrator sees of one account's fetching: `GET /api/v1/accounts/{id}/status`.
public struct AccountFetchStatus: Sendable, Equatable, Codable {
    public var accountId: String
    public var fetching: Bool
    public var connected: Bool
    /// IMAP IDLE is in use: new mail arrives without waiting for the interval.
    public var idle: Bool
    public var lastSuccessfulFetchAt: Date?
    public var lastErrorAt: Date?
    /// What went wrong last, in words an administrator can act on (never a credential).
    public var lastError: String?
    public var nextFetchAt: Date?
    public var messagesIngested: Int
    public var messagesQuarantined: Int
    public var node: String?
    /// For an account that signs in through an OAuth2 provider: how its token stands.
    public var token: OAuth2TokenStatus?
    /// Working, failing (and since when, why) or recovered: steadier than `lastError`.
    public var health = FetchHealth()

    public init(accountId: String) {
        self.accountId = accountId
        fetching = false
        connected = false
        idle = false
        messagesIngested = 0
        messagesQuarantined = 0
    }
}

/// The fetchers' live state, shared with the API.
public final class AccountStatusBoard: Sendable {
    private let statuses = Mutex<[String: AccountFetchStatus]>([:])

    public init() {}

    public func status(of accountId: String) -> AccountFetchStatus? {
        statuses.withLock { $0[accountId] }
    }

    public func all() -> [AccountFetchStatus] {
        statuses.withLock { Array($0.values) }
    }

    public func update(_ accountId: String, _ change: (inout AccountFetchStatus) -> Void) {
        statuses.withLock { statuses in
            var status = statuses[accountId] ?? AccountFetchStatus(accountId: accountId)
            change(&status)
            statuses[accountId] = status
        }
    }

    /// A fetch (or login) failed: the health decides what is reported, `lastError` shows it.
    public func recordFailure(_ accountId: String, kind: FetchProblemKind, message: String, at time: Date = Date(), retryIn seconds: Int) {
        update(accountId) { status in
            status.connected = false
            status.idle = false
            status.health.failed(kind, message: message, at: time)
            status.lastError = status.health.message
            status.lastErrorAt = time
            status.nextFetchAt = time.addingTimeInterval(Double(seconds))
        }
    }

    /// Signing in (or a whole fetch) worked: a failing account has recovered, its error is cleared.
    public func recordSuccess(_ accountId: String, at time: Date = Date()) {
        update(accountId) { status in
            status.health.succeeded(at: time)
            status.lastError = nil
        }
    }

    /// Counts one fetched message's outcome.
    public func record(_ outcome: IngestOutcome, for accountId: String) {
        update(accountId) { status in
            if outcome.addedToTicket { status.messagesIngested += 1 }
            if case .quarantined = outcome { status.messagesQuarantined += 1 }
        }
    }

    public func remove(_ accountId: String) {
        statuses.withLock { statuses in
            statuses[accountId]?.fetching = false
            statuses[accountId]?.connected = false
            statuses[accountId]?.idle = false
            statuses[accountId]?.nextFetchAt = nil
        }
    }
}
