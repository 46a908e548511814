import Foundation
import Logging
import MailroomCore
import SQLKit
import Synchronization

/// Accounts as rows: the searchable fields in columns, the settings as JSON without credentials,
/// and the credentials encrypted in a column of their own.
public struct SQLAccountRepository: AccountRepository {
    let database: MailroomDatabase
    let secrets: SecretBox
    let logger: Logger
    private let decoded = DecodedAccounts()

    public init(database: MailroomDatabase, secrets: SecretBox, logger: Logger) {
        self.database = database
        self.secrets = secrets
        self.logger = logger
    }

    public func create(_ account: Account) async throws -> Account {
        var account = account
        let now = Date()
        account.id = Identifier.make(at: now)
        account.createdAt = now
        account.updatedAt = now
        account.deletedAt = nil
        let row = try AccountRow(account, secrets: secrets)
        let stored = account
        try await database.transaction { db in
            try await Self.checkUnique(stored, in: db)
            try await db.raw("""
                INSERT INTO accounts (id, key, name, active, config, secrets, created_at, updated_at, deleted_at)
                VALUES (\(bind: row.id), \(bind: row.key), \(bind: row.name), \(bind: row.active), \(bind: row.config),
                        \(bind: row.secrets), \(bind: row.createdAt), \(bind: row.updatedAt), NULL)
                """).run()
        }
        return try await find(id: account.id) ?? account
    }

    public func update(_ account: Account) async throws -> Account {
        var account = account
        account.updatedAt = Date()
        let row = try AccountRow(account, secrets: secrets)
        let stored = account
        let postgres = database.kind == .postgres
        let named = Set(account.inlineImages.map(\.uploadId))
        let unheld = try await database.transaction { db -> [SQLUploadRelease.Unheld] in
            try await Self.checkUnique(stored, in: db)
            let before = try await SQLUploadRelease.uploadIds(ofAccount: stored.id, postgres: postgres, db: db)
            try await SQLUploadRelease.holdUploads(named.subtracting(before), postgres: postgres, db: db)
            try await db.raw("""
                UPDATE accounts SET key = \(bind: row.key), name = \(bind: row.name), active = \(bind: row.active),
                    config = \(bind: row.config), secrets = \(bind: row.secrets), updated_at = \(bind: row.updatedAt)
                WHERE id = \(bind: row.id)
                """).run()
            // A deleted account names nothing any more (its images went when it was deleted).
            return stored.deletedAt != nil ? [] : try await SQLUploadRelease.release(before.subtracting(named), leftBy: stored.id,
                                                                                     postgres: postgres, db: db)
        }
        SQLUploadRelease.erase(unheld, database: database, accountId: account.id)
        guard let updated = try await find(id: account.id) else { throw DomainError.notFound("account \(account.id)") }
        return updated
    }

    public func find(id: String) async throws -> Account? {
        try await select("WHERE id = \(bind: id)").first
    }

    public func find(key: String) async throws -> Account? {
        try await select("WHERE key = \(bind: key) AND deleted_at IS NULL").first
    }

    public func list(includeDeleted: Bool) async throws -> [Account] {
        try await select(includeDeleted ? "ORDER BY created_at, id" : "WHERE deleted_at IS NULL ORDER BY created_at, id")
    }

    public func delete(id: String, at date: Date) async throws {
        let millis = Timestamp.from(date)
        let postgres = database.kind == .postgres
        let found = try await database.transaction { db -> [SQLUploadRelease.Unheld]? in
            let rows = try await db.raw("SELECT id FROM accounts WHERE id = \(bind: id) AND deleted_at IS NULL").all()
            guard !rows.isEmpty else { return nil }
            let images = try await SQLUploadRelease.uploadIds(ofAccount: id, postgres: postgres, db: db)
            try await db.raw("""
                UPDATE accounts SET deleted_at = \(bind: millis), active = \(bind: false), updated_at = \(bind: millis)
                WHERE id = \(bind: id)
                """).run()
            try await db.raw("UPDATE dispositions SET active = \(bind: false), updated_at = \(bind: millis) WHERE account_id = \(bind: id)").run()
            try await db.raw("UPDATE canned_answers SET active = \(bind: false), updated_at = \(bind: millis) WHERE account_id = \(bind: id)").run()
            return try await SQLUploadRelease.release(images, leftBy: id, postgres: postgres, db: db)
        }
        guard let found else { throw DomainError.notFound("account \(id)") }
        SQLUploadRelease.erase(found, database: database, accountId: id)
        try await SQLRuleRepository(database: database).disable(accountId: id)
        try await SQLRoutingStore(database: database).unlinkAccount(id, now: date)
        try await SQLRoutingStore(database: database).removeAccountFromCampaigns(id, now: date)
        // Other accounts that replied through this one now reply from their own outgoing server.
        for var other in try await list(includeDeleted: false) where other.outgoingAccountId == id {
            other.outgoingAccountId = nil
            _ = try await update(other)
        }
    }

    private func select(_ clause: SQLQueryString) async throws -> [Account] {
        let rows = try await database.withConnection { db in
            try await db.raw("SELECT id, key, name, active, config, secrets, created_at, updated_at, deleted_at FROM accounts \(clause)").all()
        }
        return try rows.map { row in
            let row = try AccountRow(row: row)
            return try decoded.account(for: row) { try row.account(secrets: secrets, logger: logger) }
        }
    }

    private static func checkUnique(_ account: Account, in db: any SQLDatabase) async throws {
        let sameKey = try await db.raw("""
            SELECT id FROM accounts WHERE key = \(bind: account.key) AND deleted_at IS NULL AND id <> \(bind: account.id)
            """).all()
        if !sameKey.isEmpty { throw DomainError.conflict(FieldError("key", "'\(account.key)' is already used by another account")) }
        let sameName = try await db.raw("""
            SELECT id FROM accounts WHERE name = \(bind: account.name) AND deleted_at IS NULL AND id <> \(bind: account.id)
            """).all()
        if !sameName.isEmpty { throw DomainError.conflict(FieldError("name", "'\(account.name)' is already used by another account")) }
    }
}

/// The stored form of an account.
struct AccountRow: Equatable, Sendable {
    var id: String
    var key: String
    var name: String
    var active: Bool
    var config: String
    var secrets: String?
    var createdAt: Int64
    var updatedAt: Int64
    var deletedAt: Int64?

    init(_ account: Account, secrets box: SecretBox) throws {
        id = account.id
        key = account.key
        name = account.name
        active = account.active
        // Credentials go, sealed, into their own column; the stored form has no place for them.
        config = String(decoding: try JSONCoding.encoder.encode(StoredAccountConfig(account)), as: UTF8.self)
        let secrets = AccountSecrets(of: account)
        self.secrets = secrets.isEmpty ? nil : try box.seal(JSONCoding.encoder.encode(secrets))
        createdAt = Timestamp.from(account.createdAt ?? Date())
        updatedAt = Timestamp.from(account.updatedAt ?? Date())
        deletedAt = account.deletedAt.map(Timestamp.from)
    }

    init(row: any SQLRow) throws {
        id = try row.decode(column: "id", as: String.self)
        key = try row.decode(column: "key", as: String.self)
        name = try row.decode(column: "name", as: String.self)
        active = try row.decode(column: "active", as: Bool.self)
        config = try row.decode(column: "config", as: String.self)
        secrets = try row.decode(column: "secrets", as: String?.self)
        createdAt = try row.decode(column: "created_at", as: Int64.self)
        updatedAt = try row.decode(column: "updated_at", as: Int64.self)
        deletedAt = try row.decode(column: "deleted_at", as: Int64?.self)
    }

    func account(secrets box: SecretBox, logger: Logger) throws -> Account {
        let stored = try JSONCoding.decoder.decode(StoredAccountConfig.self, from: Data(config.utf8))
        var account = stored.account(id: id, key: key, name: name, active: active)
        account.createdAt = Timestamp.date(createdAt)
        account.updatedAt = Timestamp.date(updatedAt)
        account.deletedAt = deletedAt.map(Timestamp.date)
        if let secrets {
            do {
                let decoded = try JSONCoding.decoder.decode(AccountSecrets.self, from: box.open(secrets))
                decoded.restore(into: &account)
            } catch {
                // The account stays readable; fetching and sending will report the missing credentials.
                logger.error("cannot read an account's credentials", metadata: ["account": "\(id)", "reason": "\(error)"])
            }
        }
        return account
    }
}

/// Accounts decoded from their rows, by id. The outbox sender reads its accounts at every claim (so
/// changed settings apply at once), and decoding an account's JSON cost more than the rest of a
/// claim; a row that differs in any column is decoded again.
final class DecodedAccounts: Sendable {
    private let cache = Mutex<[String: (row: AccountRow, account: Account)]>([:])

    func account(for row: AccountRow, decode: () throws -> Account) throws -> Account {
        if let hit = cache.withLock({ $0[row.id] }), hit.row == row { return hit.account }
        let account = try decode()
        cache.withLock { cache in
            if cache.count >= 10_000 { cache.removeAll() }
            cache[row.id] = (row, account)
        }
        return account
    }
}
