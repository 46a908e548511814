/// Modern authentication (issue 21): providers, accounts' grants, and sign-ins under way.
let oauth2Migrations: [Migration] = [
    Migration(version: 21, name: "OAuth2 providers, account grants and pending sign-ins") { _ in
        [
            // The client secret is sealed like account passwords (SecretBox), in its own column.
            """
            CREATE TABLE oauth2_providers (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                config TEXT NOT NULL,
                client_secret TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX oauth2_providers_name ON oauth2_providers (name)",
            // One grant per account. `secrets` holds the sealed refresh and access tokens; `version`
            // makes every write conditional on what was read; the lease serialises refreshes across
            // nodes without holding a connection during the call to the provider.
            """
            CREATE TABLE oauth2_grants (
                account_id TEXT PRIMARY KEY,
                provider_id TEXT NOT NULL,
                secrets TEXT NOT NULL,
                expires_at BIGINT,
                granted_at BIGINT NOT NULL,
                refreshed_at BIGINT,
                scopes TEXT NOT NULL,
                signed_in_address TEXT,
                failure TEXT,
                version BIGINT NOT NULL,
                lease_owner TEXT,
                lease_until BIGINT
            )
            """,
            "CREATE INDEX oauth2_grants_expiry ON oauth2_grants (expires_at)",
            // A sign-in between the redirect to the provider and its callback: found by the hash of
            // its `state`, used once. `answer` holds the sealed tokens while an administrator
            // chooses what to do about a signed-in address that is not the account's.
            """
            CREATE TABLE oauth2_pending (
                state_hash TEXT PRIMARY KEY,
                account_id TEXT NOT NULL,
                provider_id TEXT NOT NULL,
                session_hash TEXT,
                user_id TEXT,
                verifier TEXT NOT NULL,
                redirect_uri TEXT NOT NULL,
                answer TEXT,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX oauth2_pending_expiry ON oauth2_pending (expires_at)",
        ]
    },
]
