/// Migrations of the people work (issue 26): versions 40 to 49 belong here.
let peopleMigrations: [Migration] = [
    Migration(version: 40, name: "one-time user links and the audit trail") { _ in
        [
            // Invitation and password-reset links: only the token's hash is kept.
            """
            CREATE TABLE user_links (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                purpose TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                used_at BIGINT,
                revoked_at BIGINT,
                outbox_id TEXT,
                created_by TEXT
            )
            """,
            "CREATE INDEX user_links_user ON user_links (user_id, purpose, created_at)",
            """
            CREATE TABLE audit_events (
                id TEXT PRIMARY KEY,
                at BIGINT NOT NULL,
                actor_id TEXT,
                actor_name TEXT NOT NULL,
                action TEXT NOT NULL,
                target_type TEXT NOT NULL,
                target_id TEXT,
                details TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_events_at ON audit_events (at)",
        ]
    },
    Migration(version: 41, name: "system mail in the outbox, on no ticket") { kind in
        // Mailroom's own mail (invitations, resets, warnings) goes through the outbox for its retry
        // policy and attempt log, but belongs to no ticket: ticket and message become optional and
        // `purpose` tags the row. SQLite cannot drop NOT NULL, so its two tables are rebuilt (the
        // attempts too, so their reference follows the renamed table).
        if kind == .postgres {
            return [
                "ALTER TABLE outbox ALTER COLUMN ticket_id DROP NOT NULL",
                "ALTER TABLE outbox ALTER COLUMN message_id DROP NOT NULL",
                "ALTER TABLE outbox ADD COLUMN purpose TEXT",
            ]
        }
        return [
            """
            CREATE TABLE outbox_v41 (
                id TEXT PRIMARY KEY,
                ticket_id TEXT REFERENCES tickets (id),
                message_id TEXT REFERENCES messages (id),
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
                sent_at BIGINT,
                purpose TEXT
            )
            """,
            """
            INSERT INTO outbox_v41 (id, ticket_id, message_id, account_id, state, attempts, next_attempt_at, lease_owner,
                                    lease_expires_at, envelope_from, recipients, raw_sha256, last_error, created_at, updated_at, sent_at)
            SELECT id, ticket_id, message_id, account_id, state, attempts, next_attempt_at, lease_owner,
                   lease_expires_at, envelope_from, recipients, raw_sha256, last_error, created_at, updated_at, sent_at FROM outbox
            """,
            """
            CREATE TABLE outbox_attempts_v41 (
                id TEXT PRIMARY KEY,
                outbox_id TEXT NOT NULL REFERENCES outbox_v41 (id),
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
            """
            INSERT INTO outbox_attempts_v41 (id, outbox_id, attempted_at, outcome, reply_code, enhanced_status, text, error_class,
                                             policy, next_attempt_at, recipients)
            SELECT id, outbox_id, attempted_at, outcome, reply_code, enhanced_status, text, error_class,
                   policy, next_attempt_at, recipients FROM outbox_attempts
            """,
            "DROP TABLE outbox_attempts",
            "DROP TABLE outbox",
            "ALTER TABLE outbox_v41 RENAME TO outbox",
            "ALTER TABLE outbox_attempts_v41 RENAME TO outbox_attempts",
            "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
            "CREATE INDEX outbox_ticket ON outbox (ticket_id)",
            "CREATE INDEX outbox_message ON outbox (message_id)",
            "CREATE INDEX outbox_attempts_item ON outbox_attempts (outbox_id, attempted_at)",
        ]
    },
]
