import Foundation
import MailroomCore
import SQLKit

public struct SQLUserRepository: UserRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    static let columns: SQLQueryString = "id, name, email, role, alias, capacity, active, time_zone, created_at, updated_at"

    public func create(_ user: User, passwordHash: String?) async throws -> User {
        var user = user
        let now = Date()
        user.id = Identifier.make(at: now)
        user.createdAt = now
        user.updatedAt = now
        let created = user
        try await database.transaction { db in
            try await Self.checkUnique(created, in: db)
            try await db.raw("""
                INSERT INTO users (id, name, email, role, alias, capacity, active, time_zone, password_hash, created_at, updated_at)
                VALUES (\(bind: created.id), \(bind: created.name), \(bind: created.email), \(bind: created.role.rawValue),
                        \(bind: created.alias), \(bind: created.capacity), \(bind: created.active), \(bind: created.timeZone),
                        \(bind: passwordHash), \(bind: Timestamp.from(now)), \(bind: Timestamp.from(now)))
                """).run()
        }
        return try await find(id: user.id) ?? user
    }

    public func update(_ user: User, passwordHash: String?) async throws -> User {
        let now = Timestamp.now()
        try await database.transaction { db in
            try await Self.checkUnique(user, in: db)
            try await db.raw("""
                UPDATE users SET name = \(bind: user.name), email = \(bind: user.email), role = \(bind: user.role.rawValue),
                    alias = \(bind: user.alias), capacity = \(bind: user.capacity), active = \(bind: user.active),
                    time_zone = \(bind: user.timeZone), updated_at = \(bind: now)
                WHERE id = \(bind: user.id)
                """).run()
            if let passwordHash {
                try await db.raw("UPDATE users SET password_hash = \(bind: passwordHash) WHERE id = \(bind: user.id)").run()
            }
        }
        guard let updated = try await find(id: user.id) else { throw DomainError.notFound("user \(user.id)") }
        return updated
    }

    public func find(id: String) async throws -> User? {
        try await select("WHERE id = \(bind: id)").first
    }

    public func find(email: String) async throws -> User? {
        try await select("WHERE email = \(bind: email.lowercased())").first
    }

    public func passwordHash(userId: String) async throws -> String? {
        try await database.withConnection { db in
            try await db.raw("SELECT password_hash FROM users WHERE id = \(bind: userId)").first()?
                .decode(column: "password_hash", as: String?.self)
        }
    }

    public func list() async throws -> [User] {
        try await select("ORDER BY name, id")
    }

    public func count() async throws -> Int {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT COUNT(*) AS n FROM users").first() else { return 0 }
            return try row.decode(column: "n", as: Int.self)
        }
    }

    private func select(_ clause: SQLQueryString) async throws -> [User] {
        let rows = try await database.withConnection { db in
            try await db.raw("SELECT \(Self.columns) FROM users \(clause)").all()
        }
        return try rows.map { try Self.user(from: $0) }
    }

    static func user(from row: any SQLRow, prefix: String = "") throws -> User {
        let roleName = try row.decode(column: prefix + "role", as: String.self)
        var user = User(
            id: try row.decode(column: prefix + "id", as: String.self),
            name: try row.decode(column: prefix + "name", as: String.self),
            email: try row.decode(column: prefix + "email", as: String.self),
            role: Role(rawValue: roleName) ?? .agent,
            alias: try row.decode(column: prefix + "alias", as: String?.self),
            capacity: try row.decode(column: prefix + "capacity", as: Int.self),
            active: try row.decode(column: prefix + "active", as: Bool.self))
        // Rows read by a query that does not select it (an older join) leave the zone unset.
        user.timeZone = (try? row.decode(column: prefix + "time_zone", as: String?.self)) ?? nil
        user.createdAt = Timestamp.date(try row.decode(column: prefix + "created_at", as: Int64.self))
        user.updatedAt = Timestamp.date(try row.decode(column: prefix + "updated_at", as: Int64.self))
        return user
    }

    private static func checkUnique(_ user: User, in db: any SQLDatabase) async throws {
        let same = try await db.raw("SELECT id FROM users WHERE email = \(bind: user.email) AND id <> \(bind: user.id)").all()
        if !same.isEmpty { throw DomainError.conflict(FieldError("email", "'\(user.email)' is already used by another user")) }
    }
}

public struct SQLTokenRepository: TokenRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    public func create(_ token: APIToken, hash: String) async throws -> APIToken {
        var token = token
        token.id = Identifier.make(at: token.createdAt)
        let stored = token
        try await database.withConnection { db in
            try await db.raw("""
                INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, last_used_at, expires_at)
                VALUES (\(bind: stored.id), \(bind: stored.userId), \(bind: stored.name), \(bind: hash),
                        \(bind: Timestamp.from(stored.createdAt)), NULL, \(bind: stored.expiresAt.map(Timestamp.from)))
                """).run()
        }
        return token
    }

    public func lookup(hash: String, now: Date) async throws -> (APIToken, User)? {
        let millis = Timestamp.from(now)
        let row = try await database.withConnection { db in
            try await db.raw("""
                SELECT t.id AS t_id, t.user_id AS t_user_id, t.name AS t_name, t.created_at AS t_created_at,
                       t.last_used_at AS t_last_used_at, t.expires_at AS t_expires_at,
                       u.id AS u_id, u.name AS u_name, u.email AS u_email, u.role AS u_role, u.alias AS u_alias,
                       u.capacity AS u_capacity, u.active AS u_active, u.time_zone AS u_time_zone, u.created_at AS u_created_at, u.updated_at AS u_updated_at
                FROM api_tokens t JOIN users u ON u.id = t.user_id
                WHERE t.token_hash = \(bind: hash) AND (t.expires_at IS NULL OR t.expires_at > \(bind: millis))
                """).first()
        }
        guard let row else { return nil }
        let user = try SQLUserRepository.user(from: row, prefix: "u_")
        guard user.active else { return nil }
        return (try Self.token(from: row, prefix: "t_"), user)
    }

    public func list(userId: String) async throws -> [APIToken] {
        let rows = try await database.withConnection { db in
            try await db.raw("""
                SELECT id, user_id, name, created_at, last_used_at, expires_at FROM api_tokens
                WHERE user_id = \(bind: userId) ORDER BY created_at, id
                """).all()
        }
        return try rows.map { try Self.token(from: $0) }
    }

    public func delete(id: String) async throws {
        try await database.withConnection { db in
            try await db.raw("DELETE FROM api_tokens WHERE id = \(bind: id)").run()
        }
    }

    static func token(from row: any SQLRow, prefix: String = "") throws -> APIToken {
        APIToken(
            id: try row.decode(column: prefix + "id", as: String.self),
            userId: try row.decode(column: prefix + "user_id", as: String.self),
            name: try row.decode(column: prefix + "name", as: String.self),
            createdAt: Timestamp.date(try row.decode(column: prefix + "created_at", as: Int64.self)),
            lastUsedAt: try row.decode(column: prefix + "last_used_at", as: Int64?.self).map(Timestamp.date),
            expiresAt: try row.decode(column: prefix + "expires_at", as: Int64?.self).map(Timestamp.date))
    }
}

public struct SQLSettingsRepository: SettingsRepository {
    let database: MailroomDatabase
    static let globalName = "global"

    public init(database: MailroomDatabase) { self.database = database }

    public func globalSettings() async throws -> GlobalSettings {
        let value = try await database.withConnection { db in
            try await db.raw("SELECT value FROM settings WHERE name = \(bind: Self.globalName)").first()?
                .decode(column: "value", as: String.self)
        }
        guard let value else { return GlobalSettings() }
        return try JSONCoding.decoder.decode(GlobalSettings.self, from: Data(value.utf8))
    }

    public func save(_ settings: GlobalSettings) async throws {
        let value = String(decoding: try JSONCoding.encoder.encode(settings), as: UTF8.self)
        let now = Timestamp.now()
        try await database.transaction { db in
            try await db.raw("DELETE FROM settings WHERE name = \(bind: Self.globalName)").run()
            try await db.raw("INSERT INTO settings (name, value, updated_at) VALUES (\(bind: Self.globalName), \(bind: value), \(bind: now))").run()
        }
    }
}
