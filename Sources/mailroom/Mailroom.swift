import ArgumentParser
import Foundation
import Logging
import MailroomApp

@main
struct Mailroom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailroom",
        abstract: "An email channel server for contact centers and help desks.",
        subcommands: [Serve.self, Migrate.self, ParseCommand.self, Import.self, BackupCommand.self, RestoreCommand.self])
}

/// The flags every command that opens the store shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data directory (env MAILROOM_DATA_DIR; default ./mailroom-data).")
    var dataDirectory: String?

    @Option(name: .customLong("database"), help: "sqlite:///path or postgres://user:pass@host:port/db (env MAILROOM_DATABASE_URL).")
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env MAILROOM_LOG_LEVEL).")
    var logLevel: String?

    func logger() -> Logger {
        let level = (logLevel ?? ProcessInfo.processInfo.environment["MAILROOM_LOG_LEVEL"]).flatMap(Logger.Level.init(rawValue:)) ?? .info
        var logger = Logger(label: "mailroom")
        logger.logLevel = level
        return logger
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server: HTTP API, fetchers and senders.")

    @OptionGroup var store: StoreOptions

    @Option(name: .customLong("http"), help: "host:port to listen on (env MAILROOM_HTTP; default 127.0.0.1:8080).")
    var http: String?

    func run() async throws {
        let configuration = try MailroomConfiguration(
            dataDirectory: store.dataDirectory, databaseURL: store.databaseURL, http: http,
            environment: ProcessInfo.processInfo.environment)
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        try await MailroomApplication.serve(configuration, logger: store.logger())
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or update the database schema, then exit.")

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let configuration = try MailroomConfiguration(
            dataDirectory: store.dataDirectory, databaseURL: store.databaseURL, http: nil,
            environment: ProcessInfo.processInfo.environment)
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = store.logger()
        let (applied, latest) = try await MailroomApplication.migrate(configuration, logger: logger)
        print(applied.isEmpty ? "schema is up to date (version \(latest))" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ingest .eml files, a Maildir or an mbox into an account, through the same pipeline as fetched mail.",
        discussion: """
            Messages are parsed, deduplicated, threaded into tickets and stored as fetched mail is; \
            what cannot be ingested goes to the quarantine. Routing rules do not run on imported mail \
            (no auto-replies to old senders, no offers). It may run while `mailroom serve` uses the \
            same data directory or database. Prints a JSON summary of the outcomes.
            """)

    @OptionGroup var store: StoreOptions

    @Option(name: .customLong("account"), help: "The key of the account the mail belongs to.")
    var accountKey: String

    @Argument(help: "An .eml file, an mbox file, a Maildir, or a directory of .eml files.")
    var path: String

    func run() async throws {
        let configuration = try MailroomConfiguration(
            dataDirectory: store.dataDirectory, databaseURL: store.databaseURL, http: nil,
            environment: ProcessInfo.processInfo.environment)
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let summary = try await MailroomApplication.importMail(configuration, accountKey: accountKey, path: path, logger: store.logger())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(summary), as: UTF8.self))
    }
}
