/// Migrations of the desk work (issue 27, the ticket side): versions 80 to 89 belong here.
let deskMigrations: [Migration] = [
    Migration(version: 80, name: "ticket history") { kind in
        // One row per line of a ticket's history, written in the transaction of the change it
        // records. `seq` orders lines that share a millisecond (a routing change makes several).
        let seq = kind == .postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
        return [
            """
            CREATE TABLE ticket_events (
                seq \(seq),
                id TEXT NOT NULL UNIQUE,
                ticket_id TEXT NOT NULL,
                at BIGINT NOT NULL,
                actor_id TEXT,
                kind TEXT NOT NULL,
                details TEXT NOT NULL
            )
            """,
            "CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, seq)",
        ]
    },
]
