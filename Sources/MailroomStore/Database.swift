import Foundation
import Logging
import MailroomCore
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit
import Synchronization

/// Where the data lives: an SQLite file (the default) or a PostgreSQL server (several nodes).
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    /// Reads `sqlite:///absolute/path`, `sqlite://relative/path`, `sqlite::memory:`-free paths, or `postgres://user:pass@host:port/db`.
    public init(url: String) throws {
        let lower = url.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
            self = .postgres(url: url)
        } else if lower.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw DatabaseError.badURL("sqlite:// needs a file path, as in sqlite:///var/lib/mailroom/mailroom.sqlite") }
            self = .sqlite(path: path)
        } else {
            throw DatabaseError.badURL("the database URL must start with sqlite:// or postgres://")
        }
    }

    /// Never shows a password.
    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite://\(path)"
        case .postgres(let url):
            guard var components = URLComponents(string: url) else { return "postgres://(unparseable URL)" }
            if components.password != nil { components.password = "***" }
            return components.string ?? "postgres://"
        }
    }
}

public enum SQLDialectKind: Sendable {
    case sqlite, postgres
}

public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// SQLite's result code, when SQLite refused.
    var sqliteCode: Int32? = nil

    static func badURL(_ message: String) -> DatabaseError { DatabaseError(description: "invalid database URL: \(message)") }
}

/// The database the store runs on, with one way to read and one way to write in a transaction.
///
/// SQLite allows one writer at a time, so its single connection is used under a lock, and
/// a transaction holds the lock to its end; the work runs on the connection's own thread (see
/// ``SQLiteHandle``), so the statements inside need no thread hand-off. PostgreSQL uses a pool (`PostgresClient`); its
/// `run()` must be running (it is a Service in the app) while the database is used.
public final class MailroomDatabase: Sendable {
    public let kind: SQLDialectKind
    private let backend: Backend
    /// SQLite only: commits made with `durable` (for tests).
    let durableCommits = Atomic<Int>(0)
    let logger: Logger

    /// PostgreSQL: how long a call waits for a pooled connection before it fails as "database
    /// unreachable" (see ``leased(_:within:_:)``).
    public var leaseTimeout: Duration { Duration.seconds(Double(leaseTimeoutMilliseconds.load(ordering: .relaxed)) / 1000) }
    let leaseTimeoutMilliseconds = Atomic<Int>(20_000)

    /// Changes ``leaseTimeout`` (tests make it short).
    public func setLeaseTimeout(_ timeout: Duration) {
        leaseTimeoutMilliseconds.store(Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000),
                                       ordering: .relaxed)
    }

    /// Whether the database answers and its disk has room; reported on every call that fails for that reason.
    public let health = StorageHealth()

    /// SQLite only: where raw mail is kept (see ``BlobPacks``); nil for PostgreSQL, which keeps it in its `blobs` table.
    public let blobPacks: BlobPacks?

    private enum Backend: Sendable {
        case sqlite(SQLiteHandle, AsyncLock, SQLiteCheckpointer)
        case postgres(PostgresClient)
    }

    private init(kind: SQLDialectKind, backend: Backend, blobPacks: BlobPacks? = nil, logger: Logger) {
        self.kind = kind
        self.backend = backend
        self.blobPacks = blobPacks
        self.logger = logger
    }

    public static func open(_ location: DatabaseLocation, logger: Logger) async throws -> MailroomDatabase {
        switch location {
        case .sqlite(let path):
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let connection = try await SQLiteHandle.open(path: path)
            let db = DirectSQLiteDatabase(handle: connection, logger: logger)
            // WAL lets readers work while a writer commits; a busy timeout rides out a second process.
            try await db.raw("PRAGMA journal_mode = WAL").run()
            try await db.raw("PRAGMA synchronous = NORMAL").run()
            try await db.raw("PRAGMA foreign_keys = ON").run()
            try await db.raw("PRAGMA busy_timeout = 5000").run()
            // Reads map the file instead of copying it, so SQLite's own cache mostly holds the pages a
            // transaction changes and pages read back from the log. An ingest batch changes a few
            // megabytes of them: 16 MiB (the default is 2) keeps a batch from spilling into the log
            // early. Not more: every page of this cache is fresh memory the first time it is filled,
            // and the process faulted in 64 MiB of it during its first 10,000 messages, for nothing
            // the mapping did not already give. Statement journals (savepoints) stay in memory.
            try await db.raw("PRAGMA cache_size = -16384").run()
            try await db.raw("PRAGMA temp_store = MEMORY").run()
            try await db.raw("PRAGMA mmap_size = 268435456").run()
            // The log is copied into the file by a second connection on its own thread (see SQLiteCheckpointer).
            let copier = try await SQLiteHandle.open(path: path)
            try await DirectSQLiteDatabase(handle: copier, logger: logger).raw("PRAGMA synchronous = NORMAL").run()
            let checkpointer = SQLiteCheckpointer(handle: copier, logger: logger)
            try await connection.thread.eventLoop.submit { connection.reportCommits(to: checkpointer) }.get()
            let packs = try BlobPacks(directory: path + "-blobs")
            return MailroomDatabase(kind: .sqlite, backend: .sqlite(connection, AsyncLock(), checkpointer), blobPacks: packs, logger: logger)
        case .postgres(let url):
            let sqlConfiguration = try SQLPostgresConfiguration(url: url)
            let core = sqlConfiguration.coreConfiguration
            guard case .some(let host) = core.host else {
                throw DatabaseError.badURL("a postgres URL needs a host")
            }
            var configuration = PostgresClient.Configuration(
                host: host, port: core.port ?? 5432, username: core.username,
                password: core.password, database: core.database, tls: .disable)
            configuration.options.maximumConnections = 20
            let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            return MailroomDatabase(kind: .postgres, backend: .postgres(client), logger: logger)
        }
    }

    /// The SQLite thread, for code that runs many statements in a row (each then executes in
    /// place instead of being sent to that thread); nil for PostgreSQL, whose statements go over
    /// the network from anywhere.
    public var preferredExecutor: (any TaskExecutor)? {
        if case .sqlite(let connection, _, _) = backend { return connection.thread }
        return nil
    }

    /// SQLite only: how often each cached statement was compiled again since it was cached.
    func recompilations() async throws -> [String: Int32] {
        guard case .sqlite(let connection, _, _) = backend else { return [:] }
        return try await connection.thread.eventLoop.submit { connection.recompilations() }.get()
    }

    /// Keeps the PostgreSQL pool working; returns at once for SQLite. Cancel the task to stop.
    public func run() async {
        switch backend {
        case .sqlite: return
        case .postgres(let client): await client.run()
        }
    }

    /// Runs statements outside an explicit transaction (each statement commits on its own).
    public func withConnection<T: Sendable>(file: String = #fileID, line: Int = #line,
                                            _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            let result = try await uncheckedConnection(site: CallSite(file: file, line: line), body)
            health.databaseAnswered()
            return result
        } catch {
            throw noted(Self.translated(error))
        }
    }

    private func uncheckedConnection<T: Sendable>(site: CallSite, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let connection, let lock, _):
            let db = DirectSQLiteDatabase(handle: connection, logger: logger, packs: blobPacks)
            return try await withTaskExecutorPreference(connection.thread) {
                try await lock.withLock { try await body(db) }
            }
        case .postgres(let client):
            return try await Self.leased(client, within: leaseTimeout, site: site, logger: logger) { connection in
                try await body(connection.sql(queryLogLevel: nil))
            }
        }
    }

    /// Runs `body` in one transaction: all of it commits, or none of it does.
    ///
    /// `durable`: the commit is on disk when this returns, also against a power failure or an
    /// operating system crash. Use it when something irreversible follows the commit (mail deleted
    /// on the server after its ingest). SQLite otherwise commits with `synchronous = NORMAL`: safe
    /// against a crash of the process, but the last commits before a power failure may roll back.
    /// PostgreSQL commits are always durable.
    public func transaction<T: Sendable>(durable: Bool = false, file: String = #fileID, line: Int = #line,
                                         _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            let result = try await uncheckedTransaction(durable: durable, site: CallSite(file: file, line: line), body)
            health.databaseAnswered()
            return result
        } catch {
            throw noted(Self.translated(error))
        }
    }

    private func uncheckedTransaction<T: Sendable>(durable: Bool, site: CallSite, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let connection, let lock, let checkpointer):
            let db = DirectSQLiteDatabase(handle: connection, logger: logger, packs: blobPacks)
            return try await withTaskExecutorPreference(connection.thread) {
                try await lock.withLock {
                    await checkpointer.makeRoom()
                    guard durable else { return try await Self.sqliteTransaction(db, body) }
                    // FULL syncs the write-ahead log at this commit; it is set outside the transaction, as SQLite requires.
                    try await db.raw("PRAGMA synchronous = FULL").run()
                    do {
                        let result = try await Self.sqliteTransaction(db, body)
                        durableCommits.add(1, ordering: .relaxed)
                        try? await db.raw("PRAGMA synchronous = NORMAL").run()
                        return result
                    } catch {
                        try? await db.raw("PRAGMA synchronous = NORMAL").run()
                        throw error
                    }
                }
            }
        case .postgres(let client):
            return try await Self.leased(client, within: leaseTimeout, site: site, logger: logger) { connection in
                try await Self.inTransaction(connection.sql(queryLogLevel: nil), begin: "BEGIN", body)
            }
        }
    }

    /// SQLite's transactions take the write lock at once (a deferred one could fail to upgrade later).
    private static func sqliteTransaction<T: Sendable>(_ db: DirectSQLiteDatabase, _ body: @Sendable (any SQLDatabase) async throws -> T)
        async throws -> T {
        try await inTransaction(db, begin: "BEGIN IMMEDIATE", body)
    }

    private static func inTransaction<T: Sendable>(_ db: any SQLDatabase, begin: SQLQueryString, _ body: @Sendable (any SQLDatabase) async throws -> T)
        async throws -> T {
        try await db.raw(begin).run()
        do {
            let result = try await body(db)
            try await db.raw("COMMIT").run()
            return result
        } catch {
            try? await db.raw("ROLLBACK").run()
            throw error
        }
    }

    /// Closes the SQLite connection (PostgreSQL closes when `run()` is cancelled).
    public func close() async {
        if case .sqlite(let connection, let lock, let checkpointer) = backend {
            try? await lock.withLock { try await connection.thread.eventLoop.submit { connection.close() }.get() }
            await connection.thread.shutdown()
            // Last: the writer's hook points at the checkpointer, and the last connection to close copies what is left.
            await checkpointer.close()
            blobPacks?.close()
        }
    }
}

/// A first-come, first-served lock for async code.
final class AsyncLock: Sendable {
    private let state = Mutex(State())

    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    func withLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                if state.locked {
                    state.waiters.append(continuation)
                    return false
                }
                state.locked = true
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

// MARK: - Notifications between nodes

extension MailroomDatabase {
    /// Sends `payload` to every node listening on `channel` (PostgreSQL NOTIFY). SQLite has one
    /// node, so there is no one else to tell.
    public func notify(channel: String, payload: String) async throws {
        guard case .postgres = backend else { return }
        try await withConnection { db in
            try await db.raw("SELECT pg_notify(\(bind: channel), \(bind: payload))").run()
        }
    }

    /// Calls `receive` with each notification's payload on `channel` until the task is cancelled;
    /// holds one pooled connection while it listens. Returns at once for SQLite.
    public func listen(channel: String, receive: @escaping @Sendable (String) async -> Void) async throws {
        guard case .postgres(let client) = backend else { return }
        try await client.withConnection { connection in
            try await connection.listen(on: channel) { notifications in
                for try await notification in notifications {
                    await receive(notification.payload)
                }
            }
        }
    }
}
