/// Migrations of the operations work (issue 25): versions 30 to 39 belong here.
let operationsMigrations: [Migration] = [
    Migration(version: 30, name: "webhook endpoints with signing secrets") { _ in
        [
            // A rule's webhook action names a URL; the endpoint row for that URL holds the secret its
            // deliveries are signed with. The secrets are sealed with the data directory's key, like
            // account passwords; the previous one signs too until its overlap ends.
            """
            CREATE TABLE webhook_endpoints (
                id TEXT PRIMARY KEY,
                url TEXT NOT NULL UNIQUE,
                secret_sealed TEXT NOT NULL,
                previous_secret_sealed TEXT,
                previous_secret_expires_at BIGINT,
                created_at BIGINT NOT NULL,
                rotated_at BIGINT
            )
            """,
        ]
    },
]
