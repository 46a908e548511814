import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import IMAPClient
import MailTransport
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import POP3Client
import Testing

/// The local authorization server that scripts/services/oauth2 starts (Authlib), and its Dovecots
/// whose oauth2 passdb asks that server's introspection endpoint about every token.
enum LocalProvider {
    static var base: String { get throws { try TestServers.require("MAILROOM_TEST_OAUTH2_URL") } }

    static func control(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: try base + path)!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, _) = try await URLSession.shared.data(for: request)
        return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// Token requests counted for one user (tests run at the same time), or for everyone.
    static func stats(_ email: String? = nil) async throws -> [String: Int] {
        let query = email.map { "?email=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? ""
        let (data, _) = try await URLSession.shared.data(from: URL(string: try base + "/control/stats" + query)!)
        return (try JSONSerialization.jsonObject(with: data)) as? [String: Int] ?? [:]
    }

    /// A grant made without the browser (the control endpoint), for login and refresh tests.
    static func issue(_ email: String, expiresIn: Int = 3600) async throws -> (access: String, refresh: String) {
        let answer = try await control("/control/issue", ["email": email, "expiresIn": expiresIn])
        return (answer["access_token"] as? String ?? "", answer["refresh_token"] as? String ?? "")
    }

    static func provider() throws -> OAuth2Provider {
        let base = try base
        var provider = OAuth2Provider(name: "Local", kind: .generic, clientId: try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_ID"),
                                      clientSecret: Secret(try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_SECRET")),
                                      authorizationURL: base + "/authorize", tokenURL: base + "/token", revocationURL: base + "/revoke",
                                      introspectionURL: base + "/introspect", userInfoURL: base + "/userinfo",
                                      scopes: ["openid", "email", "offline_access", "mail"])
        provider.applyWellKnownValues()
        return provider
    }

    static func endpoint(_ variable: String) throws -> MailEndpoint {
        MailEndpoint(host: "127.0.0.1", port: Int(try TestServers.require(variable))!, security: .none, authTimeout: .seconds(30))
    }

    static func user() -> String { "oauth-\(UUID().uuidString.prefix(8).lowercased())@example.com" }
}

@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_OAUTH2_URL")), .serialized)
struct OAuth2ProviderLoginTests {
    /// IMAP picks XOAUTH2 where offered, OAUTHBEARER where only it is; Dovecot checks the token
    /// at the provider's introspection endpoint, and refuses it once it expired there.
    @Test(arguments: ["MAILROOM_TEST_OAUTH2_IMAP_PORT", "MAILROOM_TEST_OAUTHBEARER_IMAP_PORT"])
    func imapLogsInWithTheMechanismTheServerOffers(_ portVariable: String) async throws {
        let user = LocalProvider.user()
        let tokens = try await LocalProvider.issue(user)
        let endpoint = try LocalProvider.endpoint(portVariable)
        let imap = try await IMAPConnection.connect(to: endpoint, credentials: nil)
        let offered = await imap.capabilities
        try await imap.authenticate(.oauth2(user, accessToken: tokens.access))
        #expect(await imap.isAuthenticated)
        _ = try await imap.status("INBOX")
        await imap.logout()
        if portVariable.contains("OAUTHBEARER") {
            #expect(offered.contains(.auth("OAUTHBEARER")) && !offered.contains(.auth("XOAUTH2")))
        }

        _ = try await LocalProvider.control("/control/expire", ["email": user])
        await #expect(throws: (any Error).self) {
            try await IMAPConnection.connect(to: endpoint, credentials: .oauth2(user, accessToken: tokens.access))
        }
    }

    @Test(arguments: ["MAILROOM_TEST_OAUTH2_POP3_PORT", "MAILROOM_TEST_OAUTHBEARER_POP3_PORT"])
    func pop3LogsInWithTheMechanismTheServerOffers(_ portVariable: String) async throws {
        let user = LocalProvider.user()
        let tokens = try await LocalProvider.issue(user)
        let endpoint = try LocalProvider.endpoint(portVariable)
        let pop3 = try await POP3Connection.connect(to: endpoint, credentials: .oauth2(user, accessToken: tokens.access))
        #expect(try await pop3.stat().count == 0)
        try await pop3.quit()

        _ = try await LocalProvider.control("/control/revoke", ["email": user])
        await #expect(throws: (any Error).self) {
            try await POP3Connection.connect(to: endpoint, credentials: .oauth2(user, accessToken: tokens.access))
        }
    }

    /// Rotation on every refresh, 50 in a row, with the token service made anew halfway (a
    /// restart): each rotated refresh token was stored, and the last access token logs in.
    @Test(arguments: TestDatabase.available)
    func fiftyRotationsAcrossARestartKeepTheAccountConnected(_ database: TestDatabase) async throws {
        _ = try await LocalProvider.control("/control/config", ["rotateRefreshTokens": true, "accessTokenSeconds": 3600])
        try await database.withStore { store in
            let user = LocalProvider.user()
            let provider = try await store.accounts.oauth2.create(try LocalProvider.provider())
            let tokens = try await LocalProvider.issue(user)
            try await store.accounts.oauth2.saveSignIn(OAuth2AccountGrant(
                accountId: "acct-rotate", providerId: provider.id, refreshToken: Secret(tokens.refresh), accessToken: Secret(tokens.access),
                expiresAt: Date().addingTimeInterval(3600), grantedAt: Date(), scopes: provider.scopes, signedInAddress: user))
            var seen = Set<String>()
            for round in 0..<50 {
                // A new service (another owner name) from round 25 on: nothing lives in memory.
                let service = OAuth2AccountTokens(store: store.accounts.oauth2, owner: round < 25 ? "node-a" : "node-a-restarted",
                                                  pacer: OAuth2RefreshPacer(ratePerSecond: 1_000))
                let access = try await service.accessToken(accountId: "acct-rotate", force: true)
                #expect(!seen.contains(access))
                seen.insert(access)
            }
            let grant = try #require(try await store.accounts.oauth2.grant(accountId: "acct-rotate"))
            #expect(grant.failure == nil)
            #expect(grant.refreshToken?.revealed != tokens.refresh)
            let imap = try await IMAPConnection.connect(to: try LocalProvider.endpoint("MAILROOM_TEST_OAUTH2_IMAP_PORT"),
                                                        credentials: .oauth2(user, accessToken: try #require(grant.accessToken?.revealed)))
            await imap.logout()
        }
    }

    /// Two nodes need a fresh token at the same moment: exactly one refresh reaches the provider,
    /// and both get the token it gave.
    @Test func twoNodesRefreshingTogetherMakeOneRefresh() async throws {
        let database: TestDatabase = TestDatabase.available.contains(.postgres) ? .postgres : .sqlite
        try await database.withStore { store in
            let user = LocalProvider.user()
            _ = try await LocalProvider.control("/control/config", ["email": user, "rotateRefreshTokens": true, "tokenDelaySeconds": 1.0])
            let provider = try await store.accounts.oauth2.create(try LocalProvider.provider())
            let tokens = try await LocalProvider.issue(user)
            try await store.accounts.oauth2.saveSignIn(OAuth2AccountGrant(
                accountId: "acct-two", providerId: provider.id, refreshToken: Secret(tokens.refresh), accessToken: Secret(tokens.access),
                expiresAt: Date().addingTimeInterval(10), grantedAt: Date(), scopes: provider.scopes, signedInAddress: user))
            let before = try await LocalProvider.stats(user)["refresh_token"] ?? 0
            let nodeA = OAuth2AccountTokens(store: store.accounts.oauth2, owner: "node-a")
            let nodeB = OAuth2AccountTokens(store: store.accounts.oauth2, owner: "node-b")
            async let a = nodeA.accessToken(accountId: "acct-two")
            async let b = nodeB.accessToken(accountId: "acct-two")
            let (tokenA, tokenB) = try await (a, b)
            #expect(tokenA == tokenB)
            #expect(tokenA != tokens.access)
            let after = try await LocalProvider.stats(user)["refresh_token"] ?? 0
            #expect(after - before == 1)
        }
    }

    /// A revoked grant: the provider says invalid_grant, the state becomes revoked with words,
    /// the refresh token is dropped and the provider is not asked again.
    @Test func aRevokedGrantIsReportedAndNotRetried() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = LocalProvider.user()
            let provider = try await store.accounts.oauth2.create(try LocalProvider.provider())
            let tokens = try await LocalProvider.issue(user)
            try await store.accounts.oauth2.saveSignIn(OAuth2AccountGrant(
                accountId: "acct-revoked", providerId: provider.id, refreshToken: Secret(tokens.refresh), accessToken: nil,
                expiresAt: nil, grantedAt: Date(), scopes: provider.scopes, signedInAddress: user))
            _ = try await LocalProvider.control("/control/revoke", ["email": user])
            let changes = StateChanges()
            let service = OAuth2AccountTokens(store: store.accounts.oauth2, observer: changes)
            await #expect(throws: (any Error).self) { try await service.accessToken(accountId: "acct-revoked") }
            #expect(changes.seen == [.revoked])
            let grant = try #require(try await store.accounts.oauth2.grant(accountId: "acct-revoked"))
            #expect(grant.failure?.state == .revoked)
            #expect(grant.refreshToken == nil)
            let status = OAuth2TokenStatus.of(grant, provider: provider, now: Date())
            #expect(status.state == .revoked)
            #expect(status.message.contains("invalid_grant"))
            #expect(!status.message.contains(tokens.refresh))
            let refusedBefore = try await LocalProvider.stats(user)["refused"] ?? 0
            await #expect(throws: (any Error).self) { try await service.accessToken(accountId: "acct-revoked") }
            #expect(try await LocalProvider.stats(user)["refused"] ?? 0 == refusedBefore)
        }
    }

    /// A reply goes out through Postfix whose Dovecot SASL checks the token at the provider.
    /// The stored access token was revoked there but looks fresh here: Postfix refuses it, the
    /// sender refreshes once (forced) and sends with the new token.
    @Test func theOutboxSendsThroughPostfixWithARefreshedToken() async throws {
        guard TestServers.shouldRun("MAILROOM_TEST_OAUTH2_POSTFIX_SUBMISSION_PORT") else { return }
        _ = try await LocalProvider.control("/control/config", ["rotateRefreshTokens": true, "tokenEndpointDown": false])
        try await TestDatabase.sqlite.withStore { store in
            let user = LocalProvider.user()
            let provider = try await store.accounts.oauth2.create(try LocalProvider.provider())
            let (account, item) = try await OutboxSenderTests().queued(store, portVariable: "MAILROOM_TEST_OAUTH2_POSTFIX_SUBMISSION_PORT") { account in
                account.fromAddress = user
                account.outgoing.connection.security = .starttls
                account.outgoing.connection.acceptAnyCertificate = true
                account.outgoing.connection.auth = ServerAuth(method: .oauth2, oauth2: OAuth2Settings(providerId: provider.id))
            }
            let stale = try await LocalProvider.issue(user)
            let fresh = try await LocalProvider.issue(user)
            // The stale grant's access token dies at the provider; its refresh token is the live one.
            _ = try await LocalProvider.control("/control/expire", ["email": user])
            try await store.accounts.oauth2.saveSignIn(OAuth2AccountGrant(
                accountId: account.id, providerId: provider.id, refreshToken: Secret(fresh.refresh), accessToken: Secret(stale.access),
                expiresAt: Date().addingTimeInterval(3600), grantedAt: Date(), scopes: provider.scopes, signedInAddress: user))
            let before = try await LocalProvider.stats(user)["refresh_token"] ?? 0
            #expect(await OutboxSender(store: store, logger: quietLogger, owner: "test").sendDue() == 1)
            let sent = try #require(try await store.outbox.item(id: item.id))
            #expect(sent.state == .sent)
            #expect(try await LocalProvider.stats(user)["refresh_token"] ?? 0 == before + 1)
        }
    }

    /// The refresher takes what expires soon, leaves fresh tokens and deleted accounts alone.
    @Test func theRefresherRefreshesOnlyLiveAccountsThatAreDue() async throws {
        _ = try await LocalProvider.control("/control/config", ["rotateRefreshTokens": true, "tokenEndpointDown": false])
        try await TestDatabase.sqlite.withStore { store in
            let provider = try await store.accounts.oauth2.create(try LocalProvider.provider())
            var ids: [String] = []
            for (index, expiresIn) in [30.0, 7_200, 30].enumerated() {
                let user = LocalProvider.user()
                let account = try await store.accounts.create(Account(key: "R\(index)", name: "Refresh \(index)", fromAddress: user))
                let tokens = try await LocalProvider.issue(user)
                try await store.accounts.oauth2.saveSignIn(OAuth2AccountGrant(
                    accountId: account.id, providerId: provider.id, refreshToken: Secret(tokens.refresh), accessToken: Secret(tokens.access),
                    expiresAt: Date().addingTimeInterval(expiresIn), grantedAt: Date(), scopes: provider.scopes, signedInAddress: user))
                ids.append(account.id)
            }
            try await store.accounts.delete(id: ids[2], at: Date())
            let service = OAuth2RefreshService(store: store.accounts.oauth2)
            let result = await service.sweep()
            #expect(result.refreshed == 1)
            #expect(result.failed == 0)
            let grants = try await store.accounts.oauth2.grants()
            let refreshed = grants.filter { ($0.expiresAt ?? .distantPast) > Date().addingTimeInterval(600) }.map(\.accountId).sorted()
            #expect(refreshed == [ids[0], ids[1]].sorted())
        }
    }

    /// The provider down: the refresh fails with words, and the refresh token stays for next time.
    @Test func aProviderThatIsDownKeepsTheRefreshToken() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = LocalProvider.user()
            let provider = try await store.accounts.oauth2.create(try LocalProvider.provider())
            let tokens = try await LocalProvider.issue(user)
            try await store.accounts.oauth2.saveSignIn(OAuth2AccountGrant(
                accountId: "acct-down", providerId: provider.id, refreshToken: Secret(tokens.refresh), accessToken: nil,
                expiresAt: nil, grantedAt: Date(), scopes: provider.scopes, signedInAddress: user))
            _ = try await LocalProvider.control("/control/config", ["email": user, "tokenEndpointDown": true])
            let service = OAuth2AccountTokens(store: store.accounts.oauth2)
            await #expect(throws: (any Error).self) { try await service.accessToken(accountId: "acct-down") }
            _ = try await LocalProvider.control("/control/config", ["email": user, "tokenEndpointDown": false])
            let grant = try #require(try await store.accounts.oauth2.grant(accountId: "acct-down"))
            #expect(grant.failure?.state == .refreshFailed)
            #expect(grant.refreshToken?.revealed == tokens.refresh)
            // Once it is back, the next use refreshes and the failure is cleared.
            _ = try await service.accessToken(accountId: "acct-down")
            #expect(try await store.accounts.oauth2.grant(accountId: "acct-down")?.failure == nil)
        }
    }

    /// After a stop, every token has died: thirty fetchers asking at once take turns with the
    /// refresher at the set rate, and each gets its own fresh token.
    @Test func fetchersNeedingTokensAtOnceTakeTurnsWithTheRefresher() async throws {
        _ = try await LocalProvider.control("/control/config", ["rotateRefreshTokens": true, "tokenEndpointDown": false])
        try await TestDatabase.sqlite.withStore { store in
            let provider = try await store.accounts.oauth2.create(try LocalProvider.provider())
            var accounts: [Account] = []
            for index in 0..<30 {
                let user = LocalProvider.user()
                var account = Account(key: "T\(index)", name: "Turn \(index)", fromAddress: user)
                account.incoming.connection.auth = ServerAuth(method: .oauth2, oauth2: OAuth2Settings(providerId: provider.id))
                account = try await store.accounts.create(account)
                let tokens = try await LocalProvider.issue(user)
                try await store.accounts.oauth2.saveSignIn(OAuth2AccountGrant(
                    accountId: account.id, providerId: provider.id, refreshToken: Secret(tokens.refresh), accessToken: Secret(tokens.access),
                    expiresAt: Date().addingTimeInterval(-60), grantedAt: Date(), scopes: provider.scopes, signedInAddress: user))
                accounts.append(account)
            }
            let pacer = OAuth2RefreshPacer(ratePerSecond: 10)
            let source = AccountCredentialSource(accounts: store.accounts, grants: store.accounts.oauth2, pacer: pacer)
            let refresher = OAuth2RefreshService(store: store.accounts.oauth2, pacer: pacer)
            let started = ContinuousClock.now
            let tokens = try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask { _ = await refresher.sweep(); return nil }
                for account in accounts {
                    group.addTask {
                        var login = account
                        guard case .oauth2AccessToken(let token) = try await source.credentials(&login, .incoming)?.secret else { return nil }
                        return token
                    }
                }
                return try await group.reduce(into: [String]()) { if let token = $1 { $0.append(token) } }
            }
            // Thirty turns 0.1 s apart: at least 2.9 s, however the callers interleave.
            #expect(ContinuousClock.now - started >= .milliseconds(2_900))
            #expect(Set(tokens).count == 30)
            let grants = try await store.accounts.oauth2.grants()
            #expect(grants.allSatisfy { $0.failure == nil && ($0.expiresAt ?? .distantPast) > Date() })
        }
    }
}

/// Records the token state changes a service reports.
final class StateChanges: OAuth2TokenStateObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var states: [OAuth2TokenState] = []
    var seen: [OAuth2TokenState] { lock.withLock { states } }

    func tokenStateChanged(accountId: String, from old: OAuth2TokenState?, to status: OAuth2TokenStatus) async {
        lock.withLock { states.append(status.state) }
    }
}
