/// Migrations of the seed settings work (issue 24): versions 60 to 69 belong here.
let seedsMigrations: [Migration] = [
    Migration(version: 60, name: "mark as unread takes effect: existing accounts keep marking mail unread") { _ in
        [
            // Until now the setting was stored but every account marked arriving mail unread; accounts
            // keep that behaviour, and the setting decides from here on. The settings JSON is written
            // with sorted keys and no spaces, so the pair has one spelling.
            """
            UPDATE accounts SET config = REPLACE(config, '"markUnread":false', '"markUnread":true')
            """,
        ]
    },
    Migration(version: 61, name: "campaigns: queues, accounts and agents grouped") { _ in
        [
            // The three lists are JSON arrays of ids, as a queue's account_ids: small, read whole.
            """
            CREATE TABLE campaigns (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                queue_ids TEXT NOT NULL,
                account_ids TEXT NOT NULL,
                user_ids TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
        ]
    },
    Migration(version: 62, name: "account images leave storage when no account holds them") { _ in
        [
            // Set while only uploads hold a blob (as `quarantine_only` for quarantine entries): a
            // message or outgoing mail stored from the same bytes clears it, and then removing an
            // account's image leaves the bytes alone. Blobs stored before stay held (FALSE).
            "ALTER TABLE blobs ADD COLUMN upload_only BOOLEAN NOT NULL DEFAULT FALSE",
            "CREATE INDEX uploads_sha256 ON uploads (sha256)",
        ]
    },
    Migration(version: 63, name: "indexes the reports count by") { _ in
        [
            // Each report period is a range scan of the timestamp it counts by: tickets created or
            // closed, messages written, offers made.
            "CREATE INDEX tickets_created ON tickets (created_at)",
            "CREATE INDEX tickets_status_closed ON tickets (status, closed_at)",
            "CREATE INDEX messages_created ON messages (created_at)",
            "CREATE INDEX offers_offered ON offers (offered_at)",
        ]
    },
]
