/// Migrations of the Exchange work (issue 22, Graph and EWS): versions 50 to 59 belong here.
let exchangeMigrations: [Migration] = [
    Migration(version: 50, name: "exchange sync states and taken items") { _ in
        [
            // Graph's delta link or EWS's sync state per folder: the high-water mark of those
            // protocols, written in the transaction that commits a round's last message.
            """
            CREATE TABLE exchange_sync_states (
                account_id TEXT NOT NULL,
                folder TEXT NOT NULL,
                sync_state TEXT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (account_id, folder)
            )
            """,
            // Items taken from the mailbox, each written with its message: a round replayed after a
            // crash, or a full listing after an expired token, skips them (and deleteOnFetch deletes them).
            """
            CREATE TABLE exchange_taken (
                account_id TEXT NOT NULL,
                item_id TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (account_id, item_id)
            )
            """,
        ]
    },
]
