/// Migrations of the administration work (issue 27, "settings"): versions 90 to 99 belong here.
let settingsMigrations: [Migration] = [
    Migration(version: 90, name: "users' own time zone") { _ in
        // NULL: the installation's time zone (global settings) applies.
        ["ALTER TABLE users ADD COLUMN time_zone TEXT"]
    },
]
