#include "CSQLiteOptions.h"

// Linked from sqlite-nio's copy of SQLite (its symbols carry the sqlite_nio_ prefix).
extern int sqlite_nio_sqlite3_db_config(void *db, int op, ...);

// SQLITE_DBCONFIG_ENABLE_QPSG in sqlite3.h.
#define MAILROOM_DBCONFIG_ENABLE_QPSG 1007

int mailroom_sqlite_enable_qpsg(void *db) {
    int now = 0;
    return sqlite_nio_sqlite3_db_config(db, MAILROOM_DBCONFIG_ENABLE_QPSG, 1, &now);
}
