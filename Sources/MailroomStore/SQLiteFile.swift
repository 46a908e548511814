import Foundation
import VaporCSQLite

/// A plain SQLite connection used from one thread at a time, for the few things done outside a
/// running store: copying a live database with SQLite's online backup, and checking a copy.
/// (The store's own connection, ``SQLiteHandle``, is tuned for ingest and lives on its thread.)
final class SQLiteFile {
    private(set) var db: OpaquePointer?
    let path: String

    init(path: String, readOnly: Bool = false, create: Bool = false) throws {
        self.path = path
        var flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_EXRESCODE
        if create { flags |= SQLITE_OPEN_CREATE }
        let status = sqlite_nio_sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK else {
            let message = db.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "code \(status)"
            sqlite_nio_sqlite3_close(db)
            db = nil
            throw DatabaseError(description: "cannot open the SQLite database at \(path): \(message)")
        }
        sqlite_nio_sqlite3_busy_timeout(db, 10_000)
    }

    deinit { close() }

    func close() {
        if let db { sqlite_nio_sqlite3_close_v2(db) }
        db = nil
    }

    /// A result column's value, as far as these checks need them.
    enum Value: Equatable {
        case integer(Int64)
        case text(String)
        case blob([UInt8])
        case null

        var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
        var text: String? { if case .text(let value) = self { value } else { nil } }
    }

    /// Runs one statement (no bound values) and calls `onRow` with each row's columns.
    func query(_ sql: String, onRow: ([Value]) throws -> Void = { _ in }) throws {
        guard let db else { throw DatabaseError(description: "the SQLite database at \(path) is closed") }
        var statement: OpaquePointer?
        var status = sqlite_nio_sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status) }
        defer { sqlite_nio_sqlite3_finalize(statement) }
        let columns = sqlite_nio_sqlite3_column_count(statement)
        while true {
            status = sqlite_nio_sqlite3_step(statement)
            if status == SQLITE_DONE { return }
            guard status == SQLITE_ROW else { throw error(status) }
            var row: [Value] = []
            row.reserveCapacity(Int(columns))
            for column in 0..<columns {
                switch sqlite_nio_sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.integer(sqlite_nio_sqlite3_column_int64(statement, column)))
                case SQLITE_TEXT:
                    let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
                    let text = sqlite_nio_sqlite3_column_text(statement, column)
                    row.append(.text(text.map { String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self) } ?? ""))
                case SQLITE_BLOB:
                    let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
                    let bytes = sqlite_nio_sqlite3_column_blob(statement, column)
                    row.append(.blob(bytes.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []))
                case SQLITE_NULL: row.append(.null)
                default: row.append(.text(String(sqlite_nio_sqlite3_column_double(statement, column))))
                }
            }
            try onRow(row)
        }
    }

    /// Copies this whole database into `destination` (a connection to an empty file) with SQLite's
    /// online backup, in one step: the copy is one consistent snapshot, taken under a read
    /// transaction, so writers of a database in WAL mode go on committing meanwhile.
    func backup(into destination: SQLiteFile) throws {
        guard let db, let target = destination.db else { throw DatabaseError(description: "the SQLite database is closed") }
        guard let backup = sqlite_nio_sqlite3_backup_init(target, "main", db, "main") else {
            throw destination.error(sqlite_nio_sqlite3_errcode(target))
        }
        var status: Int32
        repeat {
            status = sqlite_nio_sqlite3_backup_step(backup, -1)
            if status == SQLITE_BUSY || status == SQLITE_LOCKED { usleep(50_000) }
        } while status == SQLITE_BUSY || status == SQLITE_LOCKED || status == SQLITE_OK
        let finished = sqlite_nio_sqlite3_backup_finish(backup)
        guard status == SQLITE_DONE, finished == SQLITE_OK else {
            throw DatabaseError(description: "the online backup of \(path) failed: "
                + (sqlite_nio_sqlite3_errstr(status == SQLITE_DONE ? finished : status).map { String(cString: $0) } ?? "code \(status)"))
        }
    }

    private func error(_ status: Int32) -> DatabaseError {
        let message = db.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "code \(status)"
        return DatabaseError(description: "SQLite error \(status) on \(path): \(message)")
    }
}
