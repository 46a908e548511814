import ArgumentParser
import Foundation
import Logging
import MailroomApp

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a running SQLite installation (database, raw mail, optionally the secret key) into a new directory.",
        discussion: """
            The database is copied with SQLite's online backup while `mailroom serve` keeps running; \
            the raw-mail packs are copied up to what the copied database names, and every raw message \
            is checked against its SHA-256. For PostgreSQL use pg_dump (see the README).
            """)

    @OptionGroup var store: StoreOptions

    @Flag(name: .customLong("include-secret-key"), help: "Put the secret key into the backup too (whoever reads the backup can then decrypt stored passwords).")
    var includeSecretKey = false

    @Argument(help: "A directory that does not exist yet, or is empty.")
    var destination: String

    func run() async throws {
        let configuration = try MailroomConfiguration(
            dataDirectory: store.dataDirectory, databaseURL: store.databaseURL, http: nil,
            environment: ProcessInfo.processInfo.environment)
        let outcome = try await MailroomBackup.backup(configuration, to: destination, includeSecretKey: includeSecretKey)
        for warning in outcome.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let manifest = outcome.manifest
        print("backup written to \(destination): schema version \(manifest.schemaVersion), \(manifest.blobs) raw messages "
            + "in \(manifest.packs.count) pack(s), secret key \(manifest.secretKey ? "included" : "not included")")
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Check a backup made by `mailroom backup` and restore it into a fresh data directory.",
        discussion: """
            The backup's database must pass SQLite's integrity check and every raw message it names must \
            be in its pack with the right SHA-256; nothing is written otherwise. The data directory must \
            not hold a database yet.
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: "The backup directory.")
    var source: String

    func run() async throws {
        let configuration = try MailroomConfiguration(
            dataDirectory: store.dataDirectory, databaseURL: store.databaseURL, http: nil,
            environment: ProcessInfo.processInfo.environment)
        let outcome = try await MailroomBackup.restore(from: source, into: configuration)
        for warning in outcome.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        print("restored into \(configuration.dataDirectory): schema version \(outcome.check.schemaVersion), "
            + "\(outcome.check.blobs) raw messages checked")
    }
}
