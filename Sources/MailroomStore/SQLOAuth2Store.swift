import Foundation
import MailroomCore
import SQLKit

/// OAuth2 providers, accounts' grants and sign-ins under way. Every secret (client secret,
/// refresh and access tokens, PKCE verifier) is sealed with the store's `SecretBox`.
public struct SQLOAuth2Store: OAuth2GrantRepository {
    let database: MailroomDatabase
    let secrets: SecretBox

    public init(database: MailroomDatabase, secrets: SecretBox) {
        self.database = database
        self.secrets = secrets
    }

    // MARK: Providers

    public func create(_ provider: OAuth2Provider) async throws -> OAuth2Provider {
        var provider = provider
        let now = Date()
        provider.id = Identifier.make(at: now)
        provider.createdAt = now
        provider.updatedAt = now
        let row = try ProviderRow(provider, box: secrets)
        try await database.transaction { db in
            try await Self.checkUniqueName(row, in: db)
            try await db.raw("""
                INSERT INTO oauth2_providers (id, name, kind, config, client_secret, created_at, updated_at)
                VALUES (\(bind: row.id), \(bind: row.name), \(bind: row.kind), \(bind: row.config), \(bind: row.clientSecret),
                        \(bind: row.createdAt), \(bind: row.updatedAt))
                """).run()
        }
        return provider
    }

    public func update(_ provider: OAuth2Provider) async throws -> OAuth2Provider {
        var provider = provider
        provider.updatedAt = Date()
        let row = try ProviderRow(provider, box: secrets)
        let found = try await database.transaction { db -> Bool in
            try await Self.checkUniqueName(row, in: db)
            let rows = try await db.raw("""
                UPDATE oauth2_providers SET name = \(bind: row.name), config = \(bind: row.config),
                    client_secret = \(bind: row.clientSecret), updated_at = \(bind: row.updatedAt)
                WHERE id = \(bind: row.id) RETURNING id
                """).all()
            return !rows.isEmpty
        }
        guard found else { throw DomainError.notFound("OAuth2 provider \(provider.id)") }
        return provider
    }

    public func find(id: String) async throws -> OAuth2Provider? {
        try await selectProviders("WHERE id = \(bind: id)").first
    }

    public func list() async throws -> [OAuth2Provider] {
        try await selectProviders("ORDER BY name, id")
    }

    public func delete(id: String) async throws {
        let found = try await database.transaction { db -> Bool in
            let rows = try await db.raw("DELETE FROM oauth2_providers WHERE id = \(bind: id) RETURNING id").all()
            return !rows.isEmpty
        }
        guard found else { throw DomainError.notFound("OAuth2 provider \(id)") }
    }

    private func selectProviders(_ clause: SQLQueryString) async throws -> [OAuth2Provider] {
        let rows = try await database.withConnection { db in
            try await db.raw("SELECT id, config, client_secret, created_at, updated_at FROM oauth2_providers \(clause)").all()
        }
        return try rows.map { row in
            var provider = try JSONCoding.decoder.decode(OAuth2Provider.self, from: Data(try row.decode(column: "config", as: String.self).utf8))
            provider.id = try row.decode(column: "id", as: String.self)
            if let sealed = try row.decode(column: "client_secret", as: String?.self) {
                provider.clientSecret = Secret(String(decoding: try secrets.open(sealed), as: UTF8.self))
            }
            provider.createdAt = Timestamp.date(try row.decode(column: "created_at", as: Int64.self))
            provider.updatedAt = Timestamp.date(try row.decode(column: "updated_at", as: Int64.self))
            return provider
        }
    }

    private static func checkUniqueName(_ row: ProviderRow, in db: any SQLDatabase) async throws {
        let same = try await db.raw("SELECT id FROM oauth2_providers WHERE name = \(bind: row.name) AND id <> \(bind: row.id)").all()
        if !same.isEmpty { throw DomainError.conflict(FieldError("name", "'\(row.name)' is already the name of another provider")) }
    }

    // MARK: Grants

    struct GrantSecrets: Codable {
        var refreshToken: String?
        var accessToken: String?
    }

    public func grant(accountId: String) async throws -> OAuth2AccountGrant? {
        let rows = try await database.withConnection { db in
            try await db.raw("""
                SELECT account_id, provider_id, secrets, expires_at, granted_at, refreshed_at, scopes, signed_in_address, failure, version
                FROM oauth2_grants WHERE account_id = \(bind: accountId)
                """).all()
        }
        return try rows.first.map(decodeGrant)
    }

    /// Every grant, without its tokens (for status pages and the refresh scheduler).
    public func grants() async throws -> [OAuth2AccountGrant] {
        let rows = try await database.withConnection { db in
            try await db.raw("""
                SELECT account_id, provider_id, secrets, expires_at, granted_at, refreshed_at, scopes, signed_in_address, failure, version
                FROM oauth2_grants ORDER BY account_id
                """).all()
        }
        return try rows.map(decodeGrant)
    }

    /// The grants of accounts that exist and are not deleted (what the refresher keeps alive).
    public func liveGrants() async throws -> [OAuth2AccountGrant] {
        let rows = try await database.withConnection { db in
            try await db.raw("""
                SELECT g.account_id, g.provider_id, g.secrets, g.expires_at, g.granted_at, g.refreshed_at, g.scopes,
                       g.signed_in_address, g.failure, g.version
                FROM oauth2_grants g JOIN accounts a ON a.id = g.account_id
                WHERE a.deleted_at IS NULL ORDER BY g.account_id
                """).all()
        }
        return try rows.map(decodeGrant)
    }

    private func decodeGrant(_ row: any SQLRow) throws -> OAuth2AccountGrant {
        let sealed = try row.decode(column: "secrets", as: String.self)
        let tokens = try JSONCoding.decoder.decode(GrantSecrets.self, from: secrets.open(sealed))
        let failure = try row.decode(column: "failure", as: String?.self)
            .map { try JSONCoding.decoder.decode(OAuth2RefreshFailure.self, from: Data($0.utf8)) }
        return OAuth2AccountGrant(
            accountId: try row.decode(column: "account_id", as: String.self),
            providerId: try row.decode(column: "provider_id", as: String.self),
            refreshToken: tokens.refreshToken.map(Secret.init), accessToken: tokens.accessToken.map(Secret.init),
            expiresAt: try row.decode(column: "expires_at", as: Int64?.self).map(Timestamp.date),
            grantedAt: Timestamp.date(try row.decode(column: "granted_at", as: Int64.self)),
            refreshedAt: try row.decode(column: "refreshed_at", as: Int64?.self).map(Timestamp.date),
            scopes: try row.decode(column: "scopes", as: String.self).split(separator: " ").map(String.init),
            signedInAddress: try row.decode(column: "signed_in_address", as: String?.self),
            failure: failure,
            version: try row.decode(column: "version", as: Int64.self))
    }

    private func sealedTokens(_ grant: OAuth2AccountGrant) throws -> String {
        try secrets.seal(JSONCoding.encoder.encode(GrantSecrets(refreshToken: grant.refreshToken?.revealed, accessToken: grant.accessToken?.revealed)))
    }

    private func failureText(_ failure: OAuth2RefreshFailure?) throws -> String? {
        try failure.map { String(decoding: try JSONCoding.encoder.encode($0), as: UTF8.self) }
    }

    /// Stores a new sign-in, replacing any earlier grant of the account (and any lease on it).
    public func saveSignIn(_ grant: OAuth2AccountGrant) async throws {
        let sealed = try sealedTokens(grant)
        let failure = try failureText(grant.failure)
        try await database.transaction { db in
            let current = try await db.raw("SELECT version FROM oauth2_grants WHERE account_id = \(bind: grant.accountId)").all()
            let version = try current.first.map { try $0.decode(column: "version", as: Int64.self) } ?? 0
            try await db.raw("DELETE FROM oauth2_grants WHERE account_id = \(bind: grant.accountId)").run()
            try await db.raw("""
                INSERT INTO oauth2_grants (account_id, provider_id, secrets, expires_at, granted_at, refreshed_at, scopes,
                                           signed_in_address, failure, version, lease_owner, lease_until)
                VALUES (\(bind: grant.accountId), \(bind: grant.providerId), \(bind: sealed), \(bind: grant.expiresAt.map(Timestamp.from)),
                        \(bind: Timestamp.from(grant.grantedAt)), \(bind: grant.refreshedAt.map(Timestamp.from)),
                        \(bind: grant.scopes.joined(separator: " ")), \(bind: grant.signedInAddress), \(bind: failure),
                        \(bind: version + 1), NULL, NULL)
                """).run()
        }
    }

    public func deleteGrant(accountId: String) async throws {
        try await database.withConnection { db in
            try await db.raw("DELETE FROM oauth2_grants WHERE account_id = \(bind: accountId)").run()
        }
    }

    /// Takes the account's refresh lease until `until` when no other holder's lease is live;
    /// answers whether `owner` now holds it. A node that dies holding it loses it at `until`.
    public func acquireRefreshLease(accountId: String, owner: String, until: Date, now: Date) async throws -> Bool {
        try await database.withConnection { db in
            let rows = try await db.raw("""
                UPDATE oauth2_grants SET lease_owner = \(bind: owner), lease_until = \(bind: Timestamp.from(until))
                WHERE account_id = \(bind: accountId)
                  AND (lease_owner IS NULL OR lease_owner = \(bind: owner) OR lease_until < \(bind: Timestamp.from(now)))
                RETURNING account_id
                """).all()
            return !rows.isEmpty
        }
    }

    public func claimNoticeMail(accountId: String, quietPeriod: TimeInterval, now: Date) async throws -> Bool {
        try await database.withConnection { db in
            let rows = try await db.raw("""
                UPDATE oauth2_grants SET notice_mailed_at = \(bind: Timestamp.from(now))
                WHERE account_id = \(bind: accountId)
                  AND (notice_mailed_at IS NULL OR notice_mailed_at <= \(bind: Timestamp.from(now.addingTimeInterval(-quietPeriod))))
                RETURNING account_id
                """).all()
            return !rows.isEmpty
        }
    }

    /// Ends `owner`'s lease with the outcome of its refresh: the new tokens (a rotated refresh
    /// token replaces the old one in the same statement) or the failure. False when the lease was
    /// lost meanwhile (nothing is written then).
    @discardableResult
    public func finishRefresh(_ grant: OAuth2AccountGrant, owner: String) async throws -> Bool {
        let sealed = try sealedTokens(grant)
        let failure = try failureText(grant.failure)
        return try await database.transaction { db in
            let rows = try await db.raw("""
                UPDATE oauth2_grants SET secrets = \(bind: sealed), expires_at = \(bind: grant.expiresAt.map(Timestamp.from)),
                    refreshed_at = \(bind: grant.refreshedAt.map(Timestamp.from)), scopes = \(bind: grant.scopes.joined(separator: " ")),
                    failure = \(bind: failure), version = version + 1, lease_owner = NULL, lease_until = NULL
                WHERE account_id = \(bind: grant.accountId) AND lease_owner = \(bind: owner)
                RETURNING account_id
                """).all()
            return !rows.isEmpty
        }
    }

    // MARK: Sign-ins under way

    public typealias PendingSignIn = OAuth2PendingSignIn
    public typealias HeldSignIn = OAuth2HeldSignIn


    public func createPending(state: String, _ pending: PendingSignIn, now: Date) async throws {
        let verifier = try secrets.seal(Data(pending.verifier.utf8))
        try await database.transaction { db in
            // Old, unfinished sign-ins are swept here: starting one is rare enough.
            try await db.raw("DELETE FROM oauth2_pending WHERE expires_at < \(bind: Timestamp.from(now))").run()
            try await db.raw("""
                INSERT INTO oauth2_pending (state_hash, account_id, provider_id, session_hash, user_id, verifier, redirect_uri,
                                            answer, created_at, expires_at)
                VALUES (\(bind: TokenHasher.hash(state)), \(bind: pending.accountId), \(bind: pending.providerId),
                        \(bind: pending.sessionHash), \(bind: pending.userId), \(bind: verifier), \(bind: pending.redirectURI),
                        NULL, \(bind: Timestamp.from(now)), \(bind: Timestamp.from(pending.expiresAt)))
                """).run()
        }
    }

    /// The sign-in `state` names, removed so it cannot be used again; nil when unknown, used or expired.
    public func takePending(state: String, now: Date) async throws -> PendingSignIn? {
        let hash = TokenHasher.hash(state)
        let rows = try await database.transaction { db in
            try await db.raw("""
                DELETE FROM oauth2_pending WHERE state_hash = \(bind: hash) AND answer IS NULL
                RETURNING account_id, provider_id, session_hash, user_id, verifier, redirect_uri, expires_at
                """).all()
        }
        guard let row = rows.first else { return nil }
        let pending = PendingSignIn(
            accountId: try row.decode(column: "account_id", as: String.self),
            providerId: try row.decode(column: "provider_id", as: String.self),
            sessionHash: try row.decode(column: "session_hash", as: String?.self),
            userId: try row.decode(column: "user_id", as: String?.self),
            verifier: String(decoding: try secrets.open(try row.decode(column: "verifier", as: String.self)), as: UTF8.self),
            redirectURI: try row.decode(column: "redirect_uri", as: String.self),
            expiresAt: Timestamp.date(try row.decode(column: "expires_at", as: Int64.self)))
        return pending.expiresAt > now ? pending : nil
    }


    public func hold(_ held: HeldSignIn, choice: String, expiresAt: Date, now: Date) async throws {
        let sealed = try secrets.seal(JSONCoding.encoder.encode(held))
        try await database.withConnection { db in
            try await db.raw("""
                INSERT INTO oauth2_pending (state_hash, account_id, provider_id, session_hash, user_id, verifier, redirect_uri,
                                            answer, created_at, expires_at)
                VALUES (\(bind: TokenHasher.hash(choice)), \(bind: held.accountId), \(bind: held.providerId), \(bind: held.sessionHash),
                        NULL, '', '', \(bind: sealed), \(bind: Timestamp.from(now)), \(bind: Timestamp.from(expiresAt)))
                """).run()
        }
    }

    /// The held sign-in `choice` names, removed (single use); nil when unknown, used or expired.
    public func takeHeld(choice: String, now: Date) async throws -> HeldSignIn? {
        let hash = TokenHasher.hash(choice)
        let rows = try await database.transaction { db in
            try await db.raw("""
                DELETE FROM oauth2_pending WHERE state_hash = \(bind: hash) AND answer IS NOT NULL
                RETURNING answer, expires_at
                """).all()
        }
        guard let row = rows.first, let sealed = try row.decode(column: "answer", as: String?.self),
              Timestamp.date(try row.decode(column: "expires_at", as: Int64.self)) > now else { return nil }
        return try JSONCoding.decoder.decode(HeldSignIn.self, from: secrets.open(sealed))
    }
}

struct ProviderRow {
    var id: String
    var name: String
    var kind: String
    var config: String
    var clientSecret: String?
    var createdAt: Int64
    var updatedAt: Int64

    init(_ provider: OAuth2Provider, box: SecretBox) throws {
        id = provider.id
        name = provider.name
        kind = provider.kind.rawValue
        config = String(decoding: try JSONCoding.encoder.encode(provider), as: UTF8.self)
        clientSecret = try provider.clientSecret.map { try box.seal(Data($0.revealed.utf8)) }
        createdAt = Timestamp.from(provider.createdAt ?? Date())
        updatedAt = Timestamp.from(provider.updatedAt ?? Date())
    }
}

extension SQLAccountRepository {
    /// The OAuth2 store on the same database and key, for the workers that hold only the accounts.
    public var oauth2: SQLOAuth2Store { SQLOAuth2Store(database: database, secrets: secrets) }
}
