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
]
