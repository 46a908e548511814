import Foundation
import Logging
import SQLKit

/// One numbered schema change, with its SQL for each dialect.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: @Sendable (SQLDialectKind) -> [String]
}

/// Types that differ between the two dialects.
private func blob(_ kind: SQLDialectKind) -> String { kind == .postgres ? "BYTEA" : "BLOB" }

/// The schema, in order. Migrations are only ever appended: a released one never changes.
let migrations: [Migration] = [
    Migration(version: 1, name: "accounts, users, tokens, dispositions, canned answers, settings") { kind in
        [
            """
            CREATE TABLE accounts (
                id TEXT PRIMARY KEY,
                key TEXT NOT NULL,
                name TEXT NOT NULL,
                active BOOLEAN NOT NULL,
                config TEXT NOT NULL,
                secrets TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                deleted_at BIGINT
            )
            """,
            "CREATE UNIQUE INDEX accounts_key_live ON accounts (key) WHERE deleted_at IS NULL",
            "CREATE UNIQUE INDEX accounts_name_live ON accounts (name) WHERE deleted_at IS NULL",
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                email TEXT NOT NULL UNIQUE,
                role TEXT NOT NULL,
                alias TEXT,
                capacity INTEGER NOT NULL,
                active BOOLEAN NOT NULL,
                password_hash TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE api_tokens (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                last_used_at BIGINT,
                expires_at BIGINT
            )
            """,
            "CREATE INDEX api_tokens_user ON api_tokens (user_id)",
            """
            CREATE TABLE dispositions (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                account_id TEXT REFERENCES accounts (id),
                active BOOLEAN NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE canned_answers (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                body_text TEXT,
                body_html TEXT,
                account_id TEXT REFERENCES accounts (id),
                active BOOLEAN NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE settings (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            // Content-addressed raw messages and attachments (SHA-256), used by ingest and outbound mail.
            """
            CREATE TABLE blobs (
                sha256 TEXT PRIMARY KEY,
                size BIGINT NOT NULL,
                data \(blob(kind)) NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
        ]
    },
]

/// Applies the migrations the database has not seen yet, each in its own transaction.
public enum Migrator {
    public static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Returns the versions applied now (empty when the schema was current).
    @discardableResult
    public static func migrate(_ database: MailroomDatabase, logger: Logger) async throws -> [Int] {
        try await database.withConnection { db in
            try await db.raw("""
                CREATE TABLE IF NOT EXISTS mailroom_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)
                """).run()
        }
        var applied: [Int] = []
        for migration in migrations {
            let didApply = try await database.transaction { db in
                if database.kind == .postgres {
                    // Several nodes may start at once: one migrates, the others wait and then see it done.
                    try await db.raw("SELECT pg_advisory_xact_lock(727072)").run()
                }
                let existing = try await db.raw("SELECT version FROM mailroom_migrations WHERE version = \(bind: migration.version)").all()
                guard existing.isEmpty else { return false }
                for statement in migration.statements(database.kind) {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await db.raw("""
                    INSERT INTO mailroom_migrations (version, name, applied_at)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Timestamp.now()))
                    """).run()
                return true
            }
            if didApply {
                logger.info("applied schema migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                applied.append(migration.version)
            }
        }
        return applied
    }

    public static func currentVersion(_ database: MailroomDatabase) async throws -> Int {
        try await database.withConnection { db in
            let rows = try await db.raw("SELECT MAX(version) AS v FROM mailroom_migrations").all()
            return try rows.first?.decodeNil(column: "v") == false ? try rows.first?.decode(column: "v", as: Int.self) ?? 0 : 0
        }
    }
}

/// Times are stored as milliseconds since 1970 in a BIGINT, the same in both dialects.
enum Timestamp {
    static func now() -> Int64 { from(Date()) }
    static func from(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}
