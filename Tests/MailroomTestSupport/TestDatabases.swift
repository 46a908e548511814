import Foundation
import Logging
import MailroomStore
import SQLKit
import Testing

/// Fresh, migrated databases of each kind, for tests that must hold on both.
public enum TestDatabase: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    public var testDescription: String { rawValue }

    public static let postgresVariable = "MAILROOM_TEST_POSTGRES_URL"

    /// SQLite always; PostgreSQL when the test command started one (or must have).
    public static var available: [TestDatabase] {
        TestServers.shouldRun(postgresVariable) ? [.sqlite, .postgres] : [.sqlite]
    }

    public static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }()

    public static let secrets = SecretBox.random()

    /// Opens an empty database of this kind with the current schema (with no schema at all when
    /// `migrated` is false), runs `body`, and throws the database away.
    public func withDatabase<T: Sendable>(migrated: Bool = true, _ body: @Sendable (MailroomDatabase) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailroom-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let database = try await MailroomDatabase.open(.sqlite(path: directory.appendingPathComponent("test.sqlite").path),
                                                           logger: Self.logger)
            if migrated { try await Migrator.migrate(database, logger: Self.logger) }
            do {
                let result = try await body(database)
                await database.close()
                return result
            } catch {
                await database.close()
                throw error
            }
        case .postgres:
            let (url, drop) = try await Self.scratchPostgresDatabase()
            defer { Task { await drop() } }
            return try await Self.withPostgres(url: url) { database in
                if migrated { try await Migrator.migrate(database, logger: Self.logger) }
                return try await body(database)
            }
        }
    }

    /// A new, empty database on the test PostgreSQL server: its URL, and how to drop it.
    public static func scratchPostgresDatabase(prefix: String = "mr_") async throws -> (url: String, drop: @Sendable () async -> Void) {
        let baseURL = try TestServers.require(postgresVariable)
        let name = prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await withPostgres(url: baseURL) { admin in
            try await admin.withConnection { db in try await db.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
        }
        var components = URLComponents(string: baseURL)!
        components.path = "/" + name
        return (components.string!, {
            try? await withPostgres(url: baseURL) { admin in
                try await admin.withConnection { db in try await db.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run() }
            }
        })
    }

    public func withStore<T: Sendable>(_ body: @Sendable (SQLStore) async throws -> T) async throws -> T {
        try await withDatabase { database in
            try await body(SQLStore(database: database, secrets: Self.secrets, logger: Self.logger))
        }
    }

    public static func withPostgres<T: Sendable>(url: String, _ body: @Sendable (MailroomDatabase) async throws -> T) async throws -> T {
        let database = try await MailroomDatabase.open(.postgres(url: url), logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }
}

extension SQLStore {
    /// SQLite: how many blob rows there are, and whether every one names a pack and keeps no bytes itself.
    public func blobRowsAllInPacks() async throws -> (count: Int, allInPacks: Bool) {
        let rows = try await database.withConnection { db in
            try await db.raw("SELECT length(data) AS n, pack FROM blobs").all().map {
                (try $0.decode(column: "n", as: Int.self), try $0.decode(column: "pack", as: Int?.self))
            }
        }
        return (rows.count, rows.allSatisfy { $0.0 == 0 && $0.1 != nil })
    }
}
