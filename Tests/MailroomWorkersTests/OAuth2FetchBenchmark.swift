import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// BENCHMARKS.md, "OAuth2 accounts fetching beside password accounts": N POP3 accounts signed in
/// through the local provider, whose access tokens all die within the same minute (at the
/// provider too, so Dovecot refuses them), fetch while the refresher and the fetchers share one
/// pace; then the same N accounts with passwords, in the same run. Opt-in
/// (`MAILROOM_BENCH_OAUTH2=1`, with scripts/test's servers): it takes minutes.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MAILROOM_BENCH_OAUTH2"] == "1"
    && TestServers.shouldRun("MAILROOM_TEST_OAUTH2_URL") && TestServers.shouldRun("MAILROOM_TEST_POP3_PORT")), .serialized)
struct OAuth2FetchBenchmark {
    enum Kind: String { case oauth2, password }

    struct Figures {
        var kind: Kind
        var accounts: Int
        var firstRoundSeconds = 0.0
        var secondRoundSeconds = 0.0
        var stored = 0
        var accountsWithAFetchError = 0
        var refreshes = 0
        var busiestSecond = 0
    }

    @Test func oauth2AndPasswordAccountsFetchingInTheSameRun() async throws {
        let environment = ProcessInfo.processInfo.environment
        let count = Int(environment["MAILROOM_BENCH_OAUTH2_ACCOUNTS"] ?? "") ?? 1_000
        let rate = Double(environment["MAILROOM_BENCH_OAUTH2_RATE"] ?? "") ?? 20
        var results: [Figures] = []
        for kind in [Kind.oauth2, .password] {
            let figures = try await run(kind, count: count, rate: rate)
            print("""
                oauth2-fetch-bench: kind=\(kind.rawValue) accounts=\(count) rate=\(rate)/s \
                firstRound=\(String(format: "%.1f", figures.firstRoundSeconds))s \
                secondRound=\(String(format: "%.1f", figures.secondRoundSeconds))s stored=\(figures.stored) \
                accountsWithAFetchError=\(figures.accountsWithAFetchError) refreshes=\(figures.refreshes) \
                busiestSecond=\(figures.busiestSecond)
                """)
            results.append(figures)
        }
        for figures in results {
            #expect(figures.stored == 2 * count, "\(figures.kind): every message stored once")
        }
        let oauth2 = try #require(results.first)
        #expect(oauth2.refreshes >= count, "every token died, so every account refreshed")
        #expect(Double(oauth2.busiestSecond) <= rate + 2, "never faster than the set rate")
    }

    private func run(_ kind: Kind, count: Int, rate: Double) async throws -> Figures {
        let prefix = kind == .oauth2 ? "MAILROOM_TEST_OAUTH2_" : "MAILROOM_TEST_"
        let mailRoot = try TestServers.require(prefix + "MAIL_ROOT")
        let port = Int(try TestServers.require(prefix + "POP3_PORT"))!
        let run = UUID().uuidString.prefix(6).lowercased()
        let users = (0..<count).map { "bench-\(kind.rawValue)-\(run)-\($0)@example.com" }
        return try await TestDatabase.sqlite.withStore { store in
            var figures = Figures(kind: kind, accounts: count)
            let pacer = OAuth2RefreshPacer(ratePerSecond: rate)
            var providerId: String?
            if kind == .oauth2 {
                _ = try await LocalProvider.control("/control/config", ["rotateRefreshTokens": true, "tokenDelaySeconds": 0,
                                                                       "tokenEndpointDown": false, "accessTokenSeconds": 3600])
                providerId = try await store.accounts.oauth2.create(try LocalProvider.provider()).id
            }
            var accounts: [Account] = []
            let start = Date()
            for (index, user) in users.enumerated() {
                var account = Account(key: "B\(index)", name: "Bench \(index)", fromAddress: user)
                let auth: ServerAuth = kind == .oauth2
                    ? ServerAuth(method: .oauth2, username: user, oauth2: OAuth2Settings(providerId: providerId))
                    : ServerAuth(method: .password, username: user, password: Secret(try Dovecot.password()))
                account.incoming = IncomingServer(protocol: .pop3, connection: ServerConnection(
                    host: "127.0.0.1", port: port, security: .none, auth: auth, connectionTimeoutSeconds: 60, authTimeoutSeconds: 60))
                account.incoming.fetchIntervalSeconds = 20
                account.incoming.deleteOnFetch = true
                account = try await store.accounts.create(account)
                accounts.append(account)
                if let providerId {
                    // Dead within the minute at the provider as well as in the grant.
                    let lifetime = 5 + index % 60
                    let tokens = try await LocalProvider.issue(user, expiresIn: lifetime)
                    try await store.accounts.oauth2.saveSignIn(OAuth2AccountGrant(
                        accountId: account.id, providerId: providerId, refreshToken: Secret(tokens.refresh),
                        accessToken: Secret(tokens.access), expiresAt: start.addingTimeInterval(Double(lifetime)),
                        grantedAt: start, scopes: ["mail"], signedInAddress: user))
                }
                try Self.place(user: user, root: mailRoot, message: mailText(subject: "First \(index)", messageId: "first-\(run)-\(index)@bench"))
            }
            let refreshesBefore = kind == .oauth2 ? try await LocalProvider.stats()["refresh_token"] ?? 0 : 0
            let status = AccountStatusBoard()
            let pipeline = IngestPipeline(store: store.ingest, logger: quietLogger)
            let credentials = AccountCredentialSource(accounts: store.accounts, grants: store.accounts.oauth2, pacer: pacer)
            var limits = OAuth2RefreshService.Limits()
            limits.interval = .seconds(5)
            let refresher = OAuth2RefreshService(store: store.accounts.oauth2, limits: limits, pacer: pacer, logger: quietLogger)
            let clock = ContinuousClock()
            let began = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for account in accounts {
                    let fetcher = POP3Fetcher(account: account, pipeline: pipeline, fetchState: store.fetchState,
                                              quarantine: store.quarantine, status: status, logger: quietLogger, credentials: credentials)
                    group.addTask { await fetcher.run() }
                }
                if kind == .oauth2 {
                    let interval = limits.interval
                    group.addTask {
                        while !Task.isCancelled {
                            _ = await refresher.sweep()
                            try await Task.sleep(for: interval)
                        }
                    }
                }
                var failing = Set<String>()
                func ingested() -> Int {
                    let all = status.all()
                    for entry in all where entry.lastError != nil { failing.insert(entry.accountId) }
                    return all.reduce(0) { $0 + $1.messagesIngested }
                }
                while ingested() < count, clock.now - began < .seconds(600) { try await Task.sleep(for: .milliseconds(200)) }
                figures.firstRoundSeconds = (clock.now - began).seconds
                // The second message arrives after every original access token has died.
                let wait = began.advanced(by: .seconds(70))
                if wait > clock.now { try await clock.sleep(until: wait) }
                for (index, user) in users.enumerated() {
                    try Self.place(user: user, root: mailRoot, message: mailText(subject: "Second \(index)", messageId: "second-\(run)-\(index)@bench"))
                }
                let second = clock.now
                while ingested() < 2 * count, clock.now - second < .seconds(600) { try await Task.sleep(for: .milliseconds(200)) }
                figures.secondRoundSeconds = (clock.now - second).seconds
                _ = ingested()
                figures.accountsWithAFetchError = failing.count
                group.cancelAll()
            }
            for account in accounts { figures.stored += try await store.tickets.messageCount(accountId: account.id) }
            if kind == .oauth2 {
                figures.refreshes = (try await LocalProvider.stats()["refresh_token"] ?? 0) - refreshesBefore
                let times = try await store.accounts.oauth2.grants().compactMap(\.refreshedAt)
                    .filter { $0 > start }.map(\.timeIntervalSinceReferenceDate).sorted()
                figures.busiestSecond = Self.busiestSecond(times)
            }
            return figures
        }
    }

    /// The most events that fall within any one second.
    static func busiestSecond(_ sortedTimes: [Double]) -> Int {
        var busiest = 0
        var low = 0
        for high in sortedTimes.indices {
            while sortedTimes[high] - sortedTimes[low] >= 1 { low += 1 }
            busiest = max(busiest, high - low + 1)
        }
        return busiest
    }

    /// Straight into the user's Maildir (Dovecot makes the rest on the first login).
    static func place(user: String, root: String, message: String) throws {
        let maildir = "\(root)/\(user)/Maildir"
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: "\(maildir)/\(sub)", withIntermediateDirectories: true,
                                                    attributes: [.ownerAccountName: "nobody", .groupOwnerAccountName: "nogroup"])
        }
        for directory in ["\(root)/\(user)", maildir] + ["new", "cur", "tmp"].map({ "\(maildir)/\($0)" }) {
            try FileManager.default.setAttributes([.ownerAccountName: "nobody", .groupOwnerAccountName: "nogroup"], ofItemAtPath: directory)
        }
        let path = "\(maildir)/new/\(Int(Date().timeIntervalSince1970)).\(UUID().uuidString).bench"
        try message.write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.ownerAccountName: "nobody", .groupOwnerAccountName: "nogroup"], ofItemAtPath: path)
    }
}

private extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
