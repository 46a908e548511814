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
    Migration(version: 2, name: "customers, tickets, messages, participants, quarantine, fetch positions") { _ in
        [
            """
            CREATE TABLE customers (
                id TEXT PRIMARY KEY,
                address TEXT NOT NULL UNIQUE,
                name TEXT,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE tickets (
                id TEXT PRIMARY KEY,
                number BIGINT NOT NULL UNIQUE,
                account_id TEXT NOT NULL,
                subject TEXT NOT NULL,
                normalized_subject TEXT NOT NULL,
                status TEXT NOT NULL,
                priority TEXT NOT NULL,
                customer_id TEXT NOT NULL REFERENCES customers (id),
                customer_address TEXT NOT NULL,
                customer_name TEXT,
                queue_id TEXT,
                agent_id TEXT,
                tags TEXT NOT NULL,
                escalated BOOLEAN NOT NULL,
                unread BOOLEAN NOT NULL,
                message_count INTEGER NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                last_message_at BIGINT NOT NULL,
                last_direction TEXT
            )
            """,
            "CREATE INDEX tickets_customer_open ON tickets (customer_address, status, last_message_at)",
            "CREATE INDEX tickets_subject_open ON tickets (normalized_subject, status, last_message_at)",
            "CREATE INDEX tickets_recent ON tickets (last_message_at, id)",
            "CREATE INDEX tickets_account ON tickets (account_id, last_message_at)",
            """
            CREATE TABLE messages (
                id TEXT PRIMARY KEY,
                ticket_id TEXT NOT NULL REFERENCES tickets (id),
                account_id TEXT NOT NULL,
                direction TEXT NOT NULL,
                message_id TEXT,
                in_reply_to TEXT NOT NULL,
                refs TEXT NOT NULL,
                subject TEXT NOT NULL,
                from_addresses TEXT NOT NULL,
                to_addresses TEXT NOT NULL,
                cc_addresses TEXT NOT NULL,
                sent_date BIGINT,
                body_text TEXT,
                body_html TEXT,
                attachments TEXT NOT NULL,
                delivery_state TEXT,
                raw_sha256 TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX messages_ticket ON messages (ticket_id, created_at)",
            "CREATE INDEX messages_message_id ON messages (message_id)",
            // One copy of a message per account, even if two nodes fetched it at once.
            "CREATE UNIQUE INDEX messages_content ON messages (account_id, content_hash)",
            "CREATE INDEX messages_ticket_content ON messages (ticket_id, content_hash)",
            """
            CREATE TABLE ticket_participants (
                ticket_id TEXT NOT NULL REFERENCES tickets (id),
                address TEXT NOT NULL,
                role TEXT NOT NULL,
                PRIMARY KEY (ticket_id, address, role)
            )
            """,
            "CREATE INDEX ticket_participants_address ON ticket_participants (address, role)",
            "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            "INSERT INTO counters (name, value) VALUES ('ticket_number', 1000)",
            """
            CREATE TABLE quarantine (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL,
                reason TEXT NOT NULL,
                detail TEXT NOT NULL,
                raw_sha256 TEXT,
                size BIGINT NOT NULL,
                source TEXT NOT NULL,
                from_text TEXT,
                subject TEXT,
                created_at BIGINT NOT NULL,
                replayed_at BIGINT
            )
            """,
            "CREATE INDEX quarantine_account ON quarantine (account_id, created_at)",
            """
            CREATE TABLE mailbox_positions (
                account_id TEXT NOT NULL,
                folder TEXT NOT NULL,
                uid_validity BIGINT NOT NULL,
                high_water BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (account_id, folder)
            )
            """,
            // Which node fetches which account: one fetcher per account in the whole cluster.
            """
            CREATE TABLE fetch_leases (
                account_id TEXT PRIMARY KEY,
                node TEXT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE pop3_seen (
                account_id TEXT NOT NULL,
                uidl TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (account_id, uidl)
            )
            """,
        ]
    },
    Migration(version: 3, name: "outbox and send attempts") { _ in
        [
            """
            CREATE TABLE outbox (
                id TEXT PRIMARY KEY,
                ticket_id TEXT NOT NULL REFERENCES tickets (id),
                message_id TEXT NOT NULL REFERENCES messages (id),
                account_id TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                next_attempt_at BIGINT,
                lease_owner TEXT,
                lease_expires_at BIGINT,
                envelope_from TEXT NOT NULL,
                recipients TEXT NOT NULL,
                raw_sha256 TEXT NOT NULL,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                sent_at BIGINT
            )
            """,
            "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
            "CREATE INDEX outbox_ticket ON outbox (ticket_id)",
            """
            CREATE TABLE outbox_attempts (
                id TEXT PRIMARY KEY,
                outbox_id TEXT NOT NULL REFERENCES outbox (id),
                attempted_at BIGINT NOT NULL,
                outcome TEXT NOT NULL,
                reply_code INTEGER,
                enhanced_status TEXT,
                text TEXT NOT NULL,
                error_class TEXT,
                policy TEXT,
                next_attempt_at BIGINT,
                recipients TEXT NOT NULL
            )
            """,
            "CREATE INDEX outbox_attempts_item ON outbox_attempts (outbox_id, attempted_at)",
        ]
    },
    Migration(version: 4, name: "addresses that bounced permanently") { _ in
        [
            """
            CREATE TABLE bounced_addresses (
                address TEXT PRIMARY KEY,
                status TEXT,
                diagnostic TEXT,
                last_bounced_at BIGINT NOT NULL,
                message_id TEXT
            )
            """,
        ]
    },
    Migration(version: 5, name: "message templates") { _ in
        [
            """
            CREATE TABLE templates (
                id TEXT PRIMARY KEY,
                key TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL,
                subject TEXT,
                body_text TEXT,
                body_html TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
        ]
    },
    Migration(version: 6, name: "uploaded attachments") { _ in
        [
            """
            CREATE TABLE uploads (
                id TEXT PRIMARY KEY,
                sha256 TEXT NOT NULL,
                filename TEXT NOT NULL,
                content_type TEXT NOT NULL,
                size BIGINT NOT NULL,
                content_id TEXT,
                inline BOOLEAN NOT NULL,
                uploaded_by TEXT,
                created_at BIGINT NOT NULL
            )
            """,
        ]
    },
    Migration(version: 7, name: "routing rules") { _ in
        [
            """
            CREATE TABLE rules (
                id TEXT PRIMARY KEY,
                account_id TEXT,
                position INTEGER NOT NULL,
                enabled BOOLEAN NOT NULL,
                document TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX rules_account ON rules (account_id, position)",
        ]
    },
    Migration(version: 8, name: "auto-replies sent") { _ in
        [
            """
            CREATE TABLE auto_replies (
                id TEXT PRIMARY KEY,
                ticket_id TEXT NOT NULL,
                recipient TEXT NOT NULL,
                sent_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX auto_replies_ticket ON auto_replies (ticket_id)",
            "CREATE INDEX auto_replies_recipient ON auto_replies (recipient, sent_at)",
        ]
    },
    Migration(version: 9, name: "queues, agent presence, routing machines and offers") { _ in
        [
            """
            CREATE TABLE queues (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                strategy TEXT NOT NULL,
                agent_timeout_seconds INTEGER NOT NULL,
                account_ids TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX queues_name ON queues (name)",
            """
            CREATE TABLE queue_members (
                queue_id TEXT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
                user_id TEXT NOT NULL,
                priority INTEGER NOT NULL,
                position INTEGER NOT NULL,
                PRIMARY KEY (queue_id, user_id)
            )
            """,
            "CREATE INDEX queue_members_user ON queue_members (user_id)",
            // Users without a row are offline. `online_since` and `last_accepted_at` make "least recent".
            """
            CREATE TABLE agent_presence (
                user_id TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                reason TEXT,
                since BIGINT NOT NULL,
                online_since BIGINT,
                last_accepted_at BIGINT
            )
            """,
            // One offer state machine per ticket, as JSON. `version` makes every change a conditional
            // update (two nodes or two accepts never both win); `next_deadline` lets the timer find due
            // machines through an index; `queue_id` and `waiting_user_id` find the machines a presence change concerns.
            """
            CREATE TABLE ticket_routing (
                ticket_id TEXT PRIMARY KEY,
                machine TEXT NOT NULL,
                version BIGINT NOT NULL,
                next_deadline BIGINT,
                queue_id TEXT,
                waiting_user_id TEXT,
                active BOOLEAN NOT NULL,
                closing TEXT,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX ticket_routing_due ON ticket_routing (next_deadline)",
            "CREATE INDEX ticket_routing_queue ON ticket_routing (queue_id, active)",
            "CREATE INDEX ticket_routing_waiting ON ticket_routing (waiting_user_id, active)",
            """
            CREATE TABLE offers (
                id TEXT PRIMARY KEY,
                ticket_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                offered_at BIGINT NOT NULL,
                deadline BIGINT NOT NULL,
                state TEXT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX offers_user_state ON offers (user_id, state, deadline)",
            "CREATE INDEX offers_ticket ON offers (ticket_id)",
            "CREATE TABLE round_robin (queue_id TEXT PRIMARY KEY, last_user_id TEXT NOT NULL)",
        ]
    },
    Migration(version: 10, name: "ticket dispositions and the indexes routing counts load with") { _ in
        [
            "ALTER TABLE tickets ADD COLUMN disposition_id TEXT",
            "ALTER TABLE tickets ADD COLUMN closed_at BIGINT",
            "CREATE INDEX tickets_agent_status ON tickets (agent_id, status)",
            "CREATE INDEX tickets_queue_status ON tickets (queue_id, status)",
        ]
    },
    Migration(version: 11, name: "web sign-in sessions") { _ in
        [
            // The id is stored hashed: a copy of this table cannot be replayed as cookies.
            """
            CREATE TABLE web_sessions (
                id_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX web_sessions_user ON web_sessions (user_id)",
            "CREATE INDEX web_sessions_expiry ON web_sessions (expires_at)",
        ]
    },
    Migration(version: 14, name: "webhook deliveries") { _ in
        [
            """
            CREATE TABLE webhook_deliveries (
                id TEXT PRIMARY KEY,
                url TEXT NOT NULL,
                event TEXT NOT NULL,
                ticket_id TEXT,
                rule_ids TEXT NOT NULL,
                payload TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                next_attempt_at BIGINT,
                lease_owner TEXT,
                lease_expires_at BIGINT,
                last_status INTEGER,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                delivered_at BIGINT
            )
            """,
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at)",
            "CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at)",
        ]
    },
    Migration(version: 15, name: "an outbound message's delivery state is read from its outbox row") { _ in
        [
            // Reading a message finds its outbox row by this index; recording a send outcome then
            // updates only the outbox row (no longer the wide message row with its text), and a
            // bounce finds the row by message.
            "CREATE INDEX outbox_message ON outbox (message_id)",
        ]
    },
    Migration(version: 16, name: "raw mail of an SQLite store in pack files") { _ in
        [
            // SQLite keeps new raw mail in pack files next to the database (BlobPacks): the row names
            // the pack and offset and `data` stays empty. PostgreSQL leaves both NULL and keeps `data`.
            "ALTER TABLE blobs ADD COLUMN pack INTEGER",
            "ALTER TABLE blobs ADD COLUMN pack_offset BIGINT",
        ]
    },
    Migration(version: 17, name: "inbound messages counted per account") { _ in
        [
            // An account's status reports how many messages it ingested. Counting them on every
            // request read each of the account's message rows (the direction is not in any index),
            // holding SQLite's only connection for seconds on a large mailbox; the ingest
            // transaction now adds its own to this count.
            """
            CREATE TABLE account_message_counts (
                account_id TEXT PRIMARY KEY,
                inbound BIGINT NOT NULL
            )
            """,
            """
            INSERT INTO account_message_counts (account_id, inbound)
            SELECT account_id, COUNT(*) FROM messages WHERE direction = 'in' GROUP BY account_id
            """,
        ]
    },
    Migration(version: 18, name: "raw mail only a quarantine entry holds") { _ in
        [
            // Set while only quarantine entries hold a blob; any message or outgoing mail stored from
            // the same bytes clears it. Discarding the last entry then erases the raw message. Blobs
            // from before this migration count as held: they are never erased.
            "ALTER TABLE blobs ADD COLUMN quarantine_only BOOLEAN NOT NULL DEFAULT FALSE",
            "CREATE INDEX quarantine_raw ON quarantine (raw_sha256)",
        ]
    },
    Migration(version: 19, name: "quarantined mail left on the server") { _ in
        [
            // A message too large to fetch is listed in the quarantine without its raw bytes and left
            // in the mailbox: this names it there (MailboxPosition.serverKey), so that deleteOnFetch
            // does not delete it until the entry is discarded.
            "ALTER TABLE quarantine ADD COLUMN left_on_server TEXT",
            "CREATE INDEX quarantine_left_on_server ON quarantine (account_id, left_on_server)",
        ]
    },
    Migration(version: 20, name: "POP3 mail outside fetchLastDays") { _ in
        [
            // Seen but never fetched (older than fetchLastDays): not looked at again, and never
            // deleted by deleteOnFetch, which removes only what was committed.
            "ALTER TABLE pop3_seen ADD COLUMN left_on_server BOOLEAN NOT NULL DEFAULT FALSE",
        ]
    },
] + oauth2Migrations + operationsMigrations + peopleMigrations + exchangeMigrations + seedsMigrations + leadMigrations
    + deskMigrations + settingsMigrations

/// Applies the migrations the database has not seen yet, each in its own transaction.
public enum Migrator {
    public static var latestVersion: Int { migrations.map(\.version).max() ?? 0 }

    /// Returns the versions applied now (empty when the schema was current). `upTo`: stop after
    /// that version (upgrade tests build a database as an older release left it).
    @discardableResult
    public static func migrate(_ database: MailroomDatabase, upTo lastVersion: Int? = nil, logger: Logger) async throws -> [Int] {
        try await database.withConnection { db in
            try await db.raw("""
                CREATE TABLE IF NOT EXISTS mailroom_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)
                """).run()
        }
        var applied: [Int] = []
        for migration in migrations where migration.version <= lastVersion ?? Int.max {
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
