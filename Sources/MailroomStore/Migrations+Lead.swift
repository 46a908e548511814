/// Migrations of the lead's work: versions 70 to 79 belong here.
let leadMigrations: [Migration] = [
    Migration(version: 70, name: "when administrators were last mailed about an account's token") { _ in
        [
            // Issue 21: a token state change mails the administrators at most once a day per
            // account; the time lives with the grant so every node of a cluster sees it.
            "ALTER TABLE oauth2_grants ADD COLUMN notice_mailed_at BIGINT",
        ]
    },
]
