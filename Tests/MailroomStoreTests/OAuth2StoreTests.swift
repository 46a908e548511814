import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// Providers, grants and pending sign-ins on both databases: secrets sealed, rotation in the
/// write that ends the lease, one lease holder at a time, a state used once.
struct OAuth2StoreTests {
    static func provider() -> OAuth2Provider {
        var provider = OAuth2Provider(name: "Contoso", kind: .microsoft, clientId: "app", clientSecret: Secret("client-secret-value"))
        provider.applyWellKnownValues()
        return provider
    }

    @Test(arguments: TestDatabase.available)
    func providersKeepTheirSecretSealed(_ database: TestDatabase) async throws {
        try await database.withStore { store in
            let oauth2 = store.accounts.oauth2
            let created = try await oauth2.create(Self.provider())
            #expect(try await oauth2.find(id: created.id)?.clientSecret?.revealed == "client-secret-value")
            let raw = try await store.database.withConnection { db in
                try await db.raw("SELECT config, client_secret FROM oauth2_providers").all()
            }
            let config = try raw[0].decode(column: "config", as: String.self)
            let sealed = try raw[0].decode(column: "client_secret", as: String.self)
            #expect(!config.contains("client-secret-value"))
            #expect(!sealed.contains("client-secret-value"))
            await #expect(throws: DomainError.self) { try await oauth2.create(Self.provider()) }
            var renamed = created
            renamed.name = "Contoso EU"
            _ = try await oauth2.update(renamed)
            #expect(try await oauth2.list().map(\.name) == ["Contoso EU"])
            try await oauth2.delete(id: created.id)
            #expect(try await oauth2.list().isEmpty)
        }
    }

    @Test(arguments: TestDatabase.available)
    func grantsRotateUnderTheLease(_ database: TestDatabase) async throws {
        try await database.withStore { store in
            let oauth2 = store.accounts.oauth2
            let now = Date()
            try await oauth2.saveSignIn(OAuth2AccountGrant(
                accountId: "a1", providerId: "p1", refreshToken: Secret("refresh-1"), accessToken: Secret("access-1"),
                expiresAt: now.addingTimeInterval(60), grantedAt: now, scopes: ["mail", "offline_access"], signedInAddress: "desk@example.com"))
            var grant = try #require(try await oauth2.grant(accountId: "a1"))
            #expect(grant.refreshToken?.revealed == "refresh-1")
            #expect(grant.scopes == ["mail", "offline_access"])
            #expect(grant.signedInAddress == "desk@example.com")
            let raw = try await store.database.withConnection { db in try await db.raw("SELECT secrets FROM oauth2_grants").all() }
            #expect(!(try raw[0].decode(column: "secrets", as: String.self)).contains("refresh-1"))

            #expect(try await oauth2.acquireRefreshLease(accountId: "a1", owner: "node-a", until: now.addingTimeInterval(60), now: now))
            #expect(try await !oauth2.acquireRefreshLease(accountId: "a1", owner: "node-b", until: now.addingTimeInterval(60), now: now))
            grant.refreshToken = Secret("refresh-2")
            grant.accessToken = Secret("access-2")
            #expect(try await !oauth2.finishRefresh(grant, owner: "node-b"))
            #expect(try await oauth2.finishRefresh(grant, owner: "node-a"))
            let rotated = try #require(try await oauth2.grant(accountId: "a1"))
            #expect(rotated.refreshToken?.revealed == "refresh-2")
            #expect(rotated.version == grant.version + 1)
            // The lease is free again; an expired one is taken over.
            #expect(try await oauth2.acquireRefreshLease(accountId: "a1", owner: "node-b", until: now.addingTimeInterval(1), now: now))
            #expect(try await oauth2.acquireRefreshLease(accountId: "a1", owner: "node-c", until: now.addingTimeInterval(70),
                                                         now: now.addingTimeInterval(2)))

            var failed = rotated
            failed.failure = OAuth2RefreshFailure(state: .refreshFailed, error: nil, message: "down", at: now)
            #expect(try await oauth2.finishRefresh(failed, owner: "node-c"))
            #expect(try await oauth2.grant(accountId: "a1")?.failure?.state == .refreshFailed)
            #expect(try await oauth2.grant(accountId: "a1")?.refreshToken?.revealed == "refresh-2")
        }
    }

    @Test(arguments: TestDatabase.available)
    func aPendingSignInIsUsedOnceAndExpires(_ database: TestDatabase) async throws {
        try await database.withStore { store in
            let oauth2 = store.accounts.oauth2
            // Whole seconds: times are stored in milliseconds.
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded())
            let pending = SQLOAuth2Store.PendingSignIn(accountId: "a1", providerId: "p1", sessionHash: "h", userId: "u", verifier: "verifier-1",
                                                       redirectURI: "https://desk.example.com/oauth2/callback", expiresAt: now.addingTimeInterval(600))
            try await oauth2.createPending(state: "state-1", pending, now: now)
            #expect(try await oauth2.takePending(state: "state-2", now: now) == nil)
            #expect(try await oauth2.takePending(state: "state-1", now: now) == pending)
            #expect(try await oauth2.takePending(state: "state-1", now: now) == nil)

            try await oauth2.createPending(state: "state-3", pending, now: now)
            #expect(try await oauth2.takePending(state: "state-3", now: now.addingTimeInterval(601)) == nil)

            let held = SQLOAuth2Store.HeldSignIn(accountId: "a1", providerId: "p1", sessionHash: nil, refreshToken: "r", accessToken: "a",
                                                 expiresAt: nil, scopes: ["mail"], signedInAddress: "other@example.com")
            try await oauth2.hold(held, choice: "choice-1", expiresAt: now.addingTimeInterval(600), now: now)
            #expect(try await oauth2.takePending(state: "choice-1", now: now) == nil)
            #expect(try await oauth2.takeHeld(choice: "choice-1", now: now) == held)
            #expect(try await oauth2.takeHeld(choice: "choice-1", now: now) == nil)
        }
    }
}
