import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// BENCHMARKS.md, "OAuth2 refresh": 1,000 accounts whose access tokens all expire within the
/// same minute, refreshed by `OAuth2RefreshService` against the local Authlib provider with a
/// rate limit. Opt-in (`MAILROOM_BENCH_OAUTH2=1`, with scripts/test's servers): it takes minutes.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MAILROOM_BENCH_OAUTH2"] == "1"
    && TestServers.shouldRun("MAILROOM_TEST_OAUTH2_URL")))
struct OAuth2RefreshBenchmark {
    @Test func thousandAccountsExpiringInTheSameMinute() async throws {
        let count = Int(ProcessInfo.processInfo.environment["MAILROOM_BENCH_OAUTH2_ACCOUNTS"] ?? "") ?? 1_000
        let rate = Double(ProcessInfo.processInfo.environment["MAILROOM_BENCH_OAUTH2_RATE"] ?? "") ?? 20
        _ = try await LocalProvider.control("/control/config", ["rotateRefreshTokens": true, "tokenDelaySeconds": 0, "tokenEndpointDown": false])
        let database: TestDatabase = ProcessInfo.processInfo.environment["MAILROOM_BENCH_OAUTH2_DB"] == "postgres" ? .postgres : .sqlite
        try await database.withStore { store in
            let provider = try await store.accounts.oauth2.create(try LocalProvider.provider())
            let now = Date()
            var originals: [String: String] = [:]
            for index in 0..<count {
                let user = "bench-\(index)@example.com"
                let tokens = try await LocalProvider.issue(user)
                let accountId = try await store.accounts.create(Account(key: "B\(index)", name: "Bench \(index)", fromAddress: user)).id
                originals[accountId] = tokens.refresh
                // All expire within the next minute.
                try await store.accounts.oauth2.saveSignIn(OAuth2AccountGrant(
                    accountId: accountId, providerId: provider.id, refreshToken: Secret(tokens.refresh), accessToken: Secret(tokens.access),
                    expiresAt: now.addingTimeInterval(Double(index % 60)), grantedAt: now, scopes: provider.scopes, signedInAddress: user))
            }
            var limits = OAuth2RefreshService.Limits()
            limits.concurrency = 8
            let service = OAuth2RefreshService(store: store.accounts.oauth2, limits: limits, pacer: OAuth2RefreshPacer(ratePerSecond: rate))
            let before = try await LocalProvider.stats()["refresh_token"] ?? 0
            let clock = ContinuousClock()
            let started = clock.now
            let result = await service.sweep()
            let elapsed = clock.now - started
            let after = try await LocalProvider.stats()["refresh_token"] ?? 0

            let grants = try await store.accounts.oauth2.grants()
            let refreshedTimes = grants.compactMap(\.refreshedAt).filter { $0 > now }.map(\.timeIntervalSinceReferenceDate).sorted()
            let busiestSecond = OAuth2FetchBenchmark.busiestSecond(refreshedTimes)
            let stillDue = try await service.due(now: Date())
            let rotated = grants.filter { originals[$0.accountId] != nil && $0.refreshToken?.revealed != originals[$0.accountId] }.count
            print("""
                oauth2-refresh-bench: database=\(database.rawValue) accounts=\(count) rate=\(rate)/s elapsed=\(elapsed) \
                refreshed=\(result.refreshed) failed=\(result.failed) providerRefreshes=\(after - before) \
                busiestSecond=\(busiestSecond) rotatedAndStored=\(rotated) stillDue=\(stillDue.count)
                """)
            #expect(result.failed == 0)
            #expect(result.refreshed == count)
            #expect(after - before == count)
            #expect(rotated == count)
            #expect(stillDue.isEmpty)
            #expect(Double(busiestSecond) <= rate + 2)
        }
    }
}
