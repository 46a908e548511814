import Foundation
import Logging
import MailroomCore
import ServiceLifecycle

/// Refreshes accounts' access tokens before they expire, so a fetch or a send never waits for
/// the provider and a failing provider shows in the status before mail stops.
///
/// Refreshes take their turns from the process's `OAuth2RefreshPacer`, shared with fetchers that
/// need a token at once (1,000 tokens expiring in the same minute do not hit the token endpoint
/// together), and at most `concurrency` run together, each bounded by
/// the HTTP timeout, so one slow or failing provider holds a few slots for a while and never the
/// others' turn for long. Across nodes the per-account lease keeps it to one refresh each.
public final class OAuth2RefreshService: Service, Sendable {
    public struct Limits: Sendable {
        /// Refresh when the access token expires sooner than this.
        public var refreshAhead: TimeInterval = 600
        public var concurrency: Int = 8
        /// A refresh that failed for a reason that may pass is tried again after this long.
        public var retryAfterFailure: TimeInterval = 120
        public var interval: Duration = .seconds(30)

        public init() {}
    }

    let store: any OAuth2GrantRepository
    let tokens: OAuth2AccountTokens
    let limits: Limits
    let logger: Logger

    public init(store: any OAuth2GrantRepository, http: any OAuth2HTTPClient = OAuth2HTTPTransport(), limits: Limits = Limits(),
                pacer: OAuth2RefreshPacer = .shared, logger: Logger = Logger(label: "mailroom.oauth2")) {
        self.store = store
        self.limits = limits
        self.logger = logger
        tokens = OAuth2AccountTokens(store: store, http: http, margin: limits.refreshAhead, pacer: pacer, logger: logger)
    }

    public func run() async throws {
        // A refresh cut short by the shutdown leaves the grant as it was (see OAuth2AccountTokens).
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                _ = await self.sweep()
                try await Task.sleep(for: self.limits.interval)
            }
        }
    }

    /// Which grants are due (of accounts not deleted): a refresh token, no final failure, expiring within `refreshAhead`
    /// (a failure that may pass waits `retryAfterFailure`). Soonest first.
    public func due(now: Date) async throws -> [OAuth2AccountGrant] {
        try await store.liveGrants().filter { grant in
            guard grant.refreshToken != nil else { return false }
            if let failure = grant.failure {
                guard failure.state == .refreshFailed, now.timeIntervalSince(failure.at) >= limits.retryAfterFailure else { return false }
                return true
            }
            return grant.needsRefresh(now: now, margin: limits.refreshAhead)
        }.sorted { ($0.expiresAt ?? .distantPast) < ($1.expiresAt ?? .distantPast) }
    }

    /// Refreshes what is due; answers how many refreshes succeeded and failed.
    @discardableResult
    public func sweep(now: Date = Date()) async -> (refreshed: Int, failed: Int) {
        let due: [OAuth2AccountGrant]
        do {
            due = try await self.due(now: now)
        } catch {
            logger.error("cannot read the OAuth2 grants to refresh", metadata: ["error": "\(error)"])
            return (0, 0)
        }
        guard !due.isEmpty else { return (0, 0) }
        var refreshed = 0
        var failed = 0
        await withTaskGroup(of: Bool.self) { group in
            var running = 0
            for grant in due {
                if Task.isCancelled { break }
                if running >= max(limits.concurrency, 1), let ok = await group.next() {
                    running -= 1
                    if ok { refreshed += 1 } else { failed += 1 }
                }
                running += 1
                group.addTask {
                    do {
                        _ = try await self.tokens.accessToken(accountId: grant.accountId)
                        return true
                    } catch {
                        return false
                    }
                }
            }
            for await ok in group {
                if ok { refreshed += 1 } else { failed += 1 }
            }
        }
        if failed > 0 { logger.info("OAuth2 refreshes failed", metadata: ["failed": "\(failed)", "refreshed": "\(refreshed)"]) }
        return (refreshed, failed)
    }
}
