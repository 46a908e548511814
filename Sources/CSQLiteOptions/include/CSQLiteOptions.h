#ifndef CSQLITEOPTIONS_H
#define CSQLITEOPTIONS_H

/// Turns on SQLite's query planner stability guarantee for a connection (an `sqlite3 *` of
/// sqlite-nio's SQLite): plans no longer depend on bound values, so a cached statement is not
/// compiled again whenever a value is bound. Returns SQLite's result code.
/// `sqlite3_db_config` is variadic, which Swift cannot call; hence this C function.
int mailroom_sqlite_enable_qpsg(void *db);

#endif
