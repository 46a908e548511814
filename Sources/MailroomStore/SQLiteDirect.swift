import CSQLiteOptions
import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import Synchronization
import VaporCSQLite

/// Mailroom's SQLite connection: one `sqlite3` handle driven from one dedicated thread, with
/// its prepared statements kept for reuse.
///
/// SQLiteNIO hands every statement to a thread pool and back (two thread wake-ups per
/// statement) and compiles every statement again; an ingest runs a dozen statements per message,
/// so that was a large share of its time. Here a transaction's body runs with the SQLite thread
/// as its task executor (``MailroomDatabase``), so every statement inside it executes in place,
/// and a statement's text maps to a statement compiled once.
final class SQLiteThread: TaskExecutor, @unchecked Sendable {
    let eventLoop: any EventLoop
    private let group: MultiThreadedEventLoopGroup

    init() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        eventLoop = group.next()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    func shutdown() async {
        try? await group.shutdownGracefully()
    }
}

/// One open SQLite database file. Not thread-safe by itself: it is only touched on its
/// ``SQLiteThread`` (the handle is opened without SQLite's own mutexes).
final class SQLiteHandle: @unchecked Sendable {
    private var db: OpaquePointer?
    private var statements: [StatementKey: OpaquePointer] = [:]

    /// Which statement: a fixed statement by its number (hashing and comparing the text of every
    /// statement an ingest runs cost as much as binding its values), any other by its text.
    enum StatementKey: Hashable {
        case text(String)
        case fixed(Int)
    }
    /// Statements are kept up to this many; then the cache starts over (statements whose text
    /// varies with a list's length would otherwise pile up).
    private let cacheLimit = 400
    let thread: SQLiteThread

    private static let initialized = Mutex(false)
    /// SQLITE_STATIC: the bound value stays where it is until the statement is reset.
    private static let `static` = unsafeBitCast(0, to: sqlite3_destructor_type.self)

    private init(db: OpaquePointer?, thread: SQLiteThread) {
        self.db = db
        self.thread = thread
    }

    static func open(path: String) async throws -> SQLiteHandle {
        let thread = SQLiteThread()
        do {
            return try await thread.eventLoop.submit {
                initialized.withLock { done in
                    if !done {
                        sqlite_nio_sqlite3_initialize()
                        done = true
                    }
                }
                var db: OpaquePointer?
                let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI | SQLITE_OPEN_EXRESCODE
                let status = sqlite_nio_sqlite3_open_v2(path, &db, flags, nil)
                guard status == SQLITE_OK else {
                    let message = db.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "code \(status)"
                    sqlite_nio_sqlite3_close(db)
                    throw DatabaseError(description: "cannot open the SQLite database at \(path): \(message)")
                }
                // Plans that never depend on bound values: otherwise SQLite compiled every cached
                // statement with an ORDER BY again whenever a new value was bound, which cost more
                // than running it (and ingest runs such statements for every message).
                let qpsg = mailroom_sqlite_enable_qpsg(UnsafeMutableRawPointer(db))
                guard qpsg == SQLITE_OK else {
                    sqlite_nio_sqlite3_close(db)
                    throw DatabaseError(description: "cannot configure the SQLite database at \(path) (code \(qpsg))")
                }
                return SQLiteHandle(db: db, thread: thread)
            }.get()
        } catch {
            await thread.shutdown()
            throw error
        }
    }

    /// What a statement binds: SQLite values, or bytes bound where they are (blobs of raw mail are
    /// large; going through a `ByteBuffer` would copy them once more).
    enum Bind {
        case value(SQLiteData)
        case data(Data)
        case bytes([UInt8])
    }

    /// Runs one statement; must be called on the SQLite thread.
    func run(_ sql: String, _ binds: [Bind], onRow: (SQLiteRowValues) -> Void) throws {
        try run(sql, key: .text(sql), binds, onRow: onRow)
    }

    /// Runs one statement, found in the cache by `key`; must be called on the SQLite thread.
    func run(_ sql: String, key: StatementKey, _ binds: [Bind], onRow: (SQLiteRowValues) -> Void) throws {
        guard let db else { throw DatabaseError(description: "the SQLite database is closed") }
        let statement = try prepared(sql, key: key, db: db)
        defer {
            sqlite_nio_sqlite3_reset(statement)
            sqlite_nio_sqlite3_clear_bindings(statement)
        }
        try bind(binds[...], to: statement, db: db) { try step(statement, db: db, onRow: onRow) }
    }

    /// Binds `binds` in order and runs `body` while they are bound. Text and bytes are bound in
    /// place (SQLITE_STATIC, no copy on SQLite's side), so `body` runs inside their pointers' scope;
    /// the statement is reset before those pointers go (see ``run(_:_:onRow:)``).
    private func bind(_ binds: ArraySlice<Bind>, to statement: OpaquePointer, db: OpaquePointer, then body: () throws -> Void) throws {
        var index = binds.startIndex
        while index < binds.endIndex {
            let position = Int32(index + 1)
            let rest = binds[(index + 1)...]
            func bound(_ status: Int32) throws {
                guard status == SQLITE_OK else { throw error(status, db: db) }
            }
            func bindBlobAndRest(_ bytes: UnsafeRawBufferPointer) throws {
                try bound(sqlite_nio_sqlite3_bind_blob64(statement, position, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                                                         UInt64(bytes.count), Self.static))
                try bind(rest, to: statement, db: db, then: body)
            }
            switch binds[index] {
            case .value(.integer(let value)):
                try bound(sqlite_nio_sqlite3_bind_int64(statement, position, Int64(value)))
            case .value(.float(let value)):
                try bound(sqlite_nio_sqlite3_bind_double(statement, position, value))
            case .value(.null):
                try bound(sqlite_nio_sqlite3_bind_null(statement, position))
            case .value(.text(let value)):
                var text = value
                return try text.withUTF8 { utf8 in
                    try bound(sqlite_nio_sqlite3_bind_text64(statement, position, UnsafeRawPointer(utf8.baseAddress ?? UnsafePointer(bitPattern: 1)!)
                        .assumingMemoryBound(to: CChar.self), UInt64(utf8.count), Self.static, UInt8(SQLITE_UTF8)))
                    try bind(rest, to: statement, db: db, then: body)
                }
            case .value(.blob(let buffer)):
                return try buffer.withUnsafeReadableBytes(bindBlobAndRest)
            case .data(let data):
                return try data.withUnsafeBytes(bindBlobAndRest)
            case .bytes(let array):
                return try array.withUnsafeBytes(bindBlobAndRest)
            }
            index += 1
        }
        try body()
    }

    private func step(_ statement: OpaquePointer, db: OpaquePointer, onRow: (SQLiteRowValues) -> Void) throws {
        var columns: SQLiteColumnNames?
        while true {
            let status = sqlite_nio_sqlite3_step(statement)
            if status == SQLITE_DONE { return }
            guard status == SQLITE_ROW else { throw error(status, db: db) }
            let names = columns ?? SQLiteColumnNames(statement: statement)
            columns = names
            var values: [SQLiteData] = []
            values.reserveCapacity(names.names.count)
            for column in 0..<Int32(names.names.count) {
                values.append(try value(statement, column: column, db: db))
            }
            onRow(SQLiteRowValues(columns: names, values: values))
        }
    }

    private func prepared(_ sql: String, key: StatementKey, db: OpaquePointer) throws -> OpaquePointer {
        if let statement = statements[key] { return statement }
        if statements.count >= cacheLimit { finalizeAll() }
        var statement: OpaquePointer?
        let status = sqlite_nio_sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status, db: db) }
        statements[key] = statement
        return statement
    }

    private func value(_ statement: OpaquePointer, column: Int32, db: OpaquePointer) throws -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER:
            return .integer(SQLiteInt64(sqlite_nio_sqlite3_column_int64(statement, column)))
        case SQLITE_FLOAT:
            return .float(sqlite_nio_sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let bytes = sqlite_nio_sqlite3_column_blob(statement, column) {
                buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count))
            }
            return .blob(buffer)
        default:
            return .null
        }
    }

    private func error(_ status: Int32, db: OpaquePointer) -> DatabaseError {
        let message = sqlite_nio_sqlite3_errmsg(db).map { String(cString: $0) } ?? "unknown error"
        return DatabaseError(description: "SQLite error \(status): \(message)", sqliteCode: status)
    }

    private func finalizeAll() {
        for statement in statements.values { sqlite_nio_sqlite3_finalize(statement) }
        statements.removeAll()
    }

    /// How often SQLite compiled each cached statement again (after a schema change, or when it
    /// judges the plan may depend on the values bound). On this handle's thread.
    func recompilations() -> [String: Int32] {
        Dictionary(statements.values.map { statement in
            (sqlite_nio_sqlite3_sql(statement).map { String(cString: $0) } ?? "", sqlite_nio_sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_REPREPARE, 0))
        }, uniquingKeysWith: max)
    }

    /// Must be called on the SQLite thread; the handle cannot be used afterwards.
    func close() {
        finalizeAll()
        if let db { sqlite_nio_sqlite3_close(db) }
        db = nil
    }
}

/// A result's column names, shared by all its rows.
final class SQLiteColumnNames: Sendable {
    let names: [String]

    init(statement: OpaquePointer) {
        let count = sqlite_nio_sqlite3_column_count(statement)
        names = (0..<count).map { column in
            sqlite_nio_sqlite3_column_name(statement, column).map { String(cString: $0) } ?? ""
        }
    }

    func index(of name: String) -> Int? { names.firstIndex(of: name) }
}

struct SQLiteRowValues: SQLRow {
    let columns: SQLiteColumnNames
    let values: [SQLiteData]
    private static let decoder = SQLiteDataDecoder()

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool { columns.index(of: column) != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let index = columns.index(of: column) else { return true }
        return values[index] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let index = columns.index(of: column) else {
            throw DatabaseError(description: "the result has no column \(column)")
        }
        if let value = Self.decodeDirectly(values[index], as: D.self) { return value }
        return try Self.decoder.decode(D.self, from: values[index])
    }

    /// The column types nearly every read asks for, without the decoder's dynamic casts (a large
    /// share of reading a row). Gives what `SQLiteDataDecoder` gives for them; nil: let it decide.
    static func decodeDirectly<D>(_ value: SQLiteData, as type: D.Type) -> D? {
        switch value {
        case .text(let text):
            if D.self == String.self { return unsafeBitCast(text, to: D.self) }
            if D.self == String?.self { return unsafeBitCast(String?.some(text), to: D.self) }
        case .integer(let number):
            if D.self == Bool.self, number == 0 || number == 1 { return unsafeBitCast(number == 1, to: D.self) }
            if D.self == Int.self { return unsafeBitCast(number, to: D.self) }
            if D.self == Int64.self { return unsafeBitCast(Int64(number), to: D.self) }
            if D.self == Int?.self { return unsafeBitCast(Int?.some(number), to: D.self) }
            if D.self == Int64?.self { return unsafeBitCast(Int64?.some(Int64(number)), to: D.self) }
        case .null:
            if D.self == String?.self { return unsafeBitCast(String?.none, to: D.self) }
            if D.self == Int?.self { return unsafeBitCast(Int?.none, to: D.self) }
            if D.self == Int64?.self { return unsafeBitCast(Int64?.none, to: D.self) }
        case .float, .blob:
            break
        }
        return nil
    }
}

/// SQLKit's view of the connection. A statement runs in place when the caller is already on the
/// SQLite thread (inside ``MailroomDatabase/transaction(_:)`` and ``MailroomDatabase/withConnection(_:)``),
/// and is sent there otherwise.
struct DirectSQLiteDatabase: SQLDatabase {
    let handle: SQLiteHandle
    let logger: Logger
    /// Where this database keeps raw mail (nil only while it is being opened).
    var packs: BlobPacks? = nil
    private static let encoder = SQLiteDataEncoder()

    var eventLoop: any EventLoop { handle.thread.eventLoop }
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    private func prepare(_ query: any SQLExpression) throws -> (String, [SQLiteHandle.Bind]) {
        let (sql, binds) = serialize(query)
        return (sql, try binds.map { bind in
            // The common values first, by concrete type: the encoder's cast to a protocol costs more.
            switch bind {
            case let text as String: return .value(.text(text))
            case let number as Int: return .value(.integer(number))
            case let number as Int64: return .value(.integer(Int(number)))
            case let data as Data: return .data(data)
            default: return .value(try Self.encoder.encode(bind))
            }
        })
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        let handle = self.handle
        do {
            let (sql, binds) = try prepare(query)
            return eventLoop.submit { try handle.run(sql, binds, onRow: onRow) }
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = try prepare(query)
        try await run(sql, binds, onRow: onRow)
    }

    /// Runs a statement whose text and values are ready (see ``FixedSQL``): in place when the
    /// caller is on the SQLite thread, sent there otherwise.
    func run(_ sql: String, key: SQLiteHandle.StatementKey? = nil, _ binds: [SQLiteHandle.Bind], onRow: (any SQLRow) -> Void) async throws {
        let key = key ?? .text(sql)
        if eventLoop.inEventLoop {
            try handle.run(sql, key: key, binds) { onRow($0) }
        } else {
            let handle = self.handle
            let rows = try await eventLoop.submit {
                var rows: [SQLiteRowValues] = []
                try handle.run(sql, key: key, binds) { rows.append($0) }
                return rows
            }.get()
            for row in rows { onRow(row) }
        }
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }
}

// MARK: - Checkpoints off the writer's thread

extension SQLiteHandle {
    /// Runs a PASSIVE checkpoint on this connection: copies what it can of the write-ahead log into
    /// the database file without waiting for anyone. Must be called on this handle's thread.
    func checkpointPassive() throws -> (logFrames: Int32, checkpointed: Int32) {
        guard let db else { throw DatabaseError(description: "the SQLite database is closed") }
        var log: Int32 = 0
        var done: Int32 = 0
        let status = sqlite_nio_sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &done)
        guard status == SQLITE_OK else { throw error(status, db: db) }
        return (log, done)
    }

    /// Reports the log's size after every commit to `checkpointer` instead of checkpointing in the
    /// committing thread (a WAL hook replaces SQLite's automatic checkpoint). On this handle's thread.
    func reportCommits(to checkpointer: SQLiteCheckpointer) {
        guard let db else { return }
        sqlite_nio_sqlite3_wal_hook(db, { context, _, _, frames in
            guard let context else { return SQLITE_OK }
            Unmanaged<SQLiteCheckpointer>.fromOpaque(context).takeUnretainedValue().committed(logFrames: frames)
            return SQLITE_OK
        }, Unmanaged.passUnretained(checkpointer).toOpaque())
    }
}

/// Copies the write-ahead log into the database file on a connection and thread of its own.
///
/// With SQLite's automatic checkpoint, the thread that commits also copies the log into the file
/// and waits for its fsync every thousand pages: during an ingest, a large share of the writer's
/// time, spent while no other write could run. Here a commit only reports the log's size; a
/// second connection copies in parallel. The log starts over from its beginning only when a write
/// begins with everything copied, so when it has grown past `holdFrames` the writer waits, before
/// its next transaction, for one full pass (it is idle then, so the pass finishes).
final class SQLiteCheckpointer: Sendable {
    private let handle: SQLiteHandle
    private let logger: Logger
    /// A pass starts once the log holds this many frames (pages) beyond what was copied.
    let startFrames: Int32
    /// Beyond this many frames in the log, the next transaction waits for a complete pass.
    let holdFrames: Int32

    private struct State {
        /// Frames in the log, copied or not (the log only starts over when a write finds all of it copied).
        var logFrames: Int32 = 0
        /// Frames of the log copied into the file so far.
        var copiedFrames: Int32 = 0
        var running: EventLoopFuture<Bool>?
        var closed = false
        /// The last pass failed (logged once until one succeeds again).
        var failing = false
    }
    private let state = Mutex(State())

    init(handle: SQLiteHandle, logger: Logger, startFrames: Int32 = 500, holdFrames: Int32 = 4_000) {
        self.handle = handle
        self.logger = logger
        self.startFrames = startFrames
        self.holdFrames = holdFrames
    }

    /// Called by the writer's WAL hook after each commit, on the writer's thread.
    func committed(logFrames: Int32) {
        state.withLock { state in
            // A log shorter than what was copied has started over.
            if logFrames < state.copiedFrames { state.copiedFrames = 0 }
            state.logFrames = logFrames
            if logFrames - state.copiedFrames >= startFrames, state.running == nil, !state.closed { _ = beginPass(&state) }
        }
    }

    /// Before a write transaction, on the writer's side: waits while the log is too long to keep growing.
    func makeRoom() async {
        guard state.withLock({ $0.logFrames >= holdFrames && $0.copiedFrames < $0.logFrames && !$0.closed }) else { return }
        // The pass in progress may have started before the last commits; a pass started now, with
        // the writer waiting, copies all of it.
        for _ in 0..<3 {
            let pass = state.withLock { state -> EventLoopFuture<Bool>? in
                if state.closed { return nil }
                return state.running ?? beginPass(&state)
            }
            guard let pass else { return }
            if (try? await pass.get()) == true { return }
        }
    }

    /// Starts one PASSIVE pass (under the state's lock); its result is true when it copied the whole log.
    private func beginPass(_ state: inout State) -> EventLoopFuture<Bool> {
        let handle = self.handle
        let promise = handle.thread.eventLoop.makePromise(of: Bool.self)
        state.running = promise.futureResult
        // `execute` only queues the pass, also from the checkpointer's own thread: the lock held here is free when it runs.
        handle.thread.eventLoop.execute { [self] in
            var failure: (any Error)?
            let result: (logFrames: Int32, checkpointed: Int32)?
            do { result = try handle.checkpointPassive() } catch { result = nil; failure = error }
            let complete = result.map { $0.logFrames >= 0 && $0.checkpointed == $0.logFrames } ?? false
            let newlyFailing = self.state.withLock { state -> Bool in
                state.running = nil
                if let result, result.checkpointed >= 0 { state.copiedFrames = result.checkpointed }
                defer { state.failing = failure != nil }
                return failure != nil && !state.failing
            }
            if newlyFailing, let failure {
                // The log keeps growing until a pass succeeds; nothing written is lost meanwhile.
                logger.warning("copying the SQLite write-ahead log into the database file failed; will retry", metadata: ["error": "\(failure)"])
            }
            promise.succeed(complete)
        }
        return promise.futureResult
    }

    /// Waits for a pass in progress and closes the checkpointing connection.
    func close() async {
        let running = state.withLock { state -> EventLoopFuture<Bool>? in
            state.closed = true
            return state.running
        }
        _ = try? await running?.get()
        let handle = self.handle
        try? await handle.thread.eventLoop.submit { handle.close() }.get()
        await handle.thread.shutdown()
    }
}
