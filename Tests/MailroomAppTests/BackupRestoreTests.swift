import Foundation
import MailroomApp
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Synchronization
import Testing

/// `mailroom backup` and `mailroom restore` on SQLite: a copy taken while the pipeline commits,
/// restored onto a fresh data directory, has every message committed before it began, with raw
/// bytes identical to what arrived.
@Suite struct BackupRestoreTests {
    /// Message `index`, of varying size (some over a pack-write buffer's worth), with its own Message-ID.
    static func message(_ index: Int) -> [UInt8] {
        let body = String(repeating: "line \(index) of the body, with some text to fill it\r\n", count: 5 + (index * 37) % 400)
        let big = index % 97 == 0 ? String(repeating: "x", count: 2_200_000) + "\r\n" : ""
        return Array(("From: Customer \(index) <c\(index % 50)@example.com>\r\nTo: desk@example.com\r\nSubject: Backup test \(index)\r\n"
            + "Message-ID: <bk-\(index)@example.com>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n" + body + big).utf8)
    }

    static func configuration(_ dataDirectory: String) throws -> MailroomConfiguration {
        try MailroomConfiguration(dataDirectory: dataDirectory, databaseURL: nil, http: nil, environment: [:])
    }

    /// Message-ID to raw SHA-256 of every stored inbound message.
    static func storedMessages(_ database: MailroomDatabase) async throws -> [String: String] {
        try await database.withConnection { db in
            var result: [String: String] = [:]
            for row in try await db.raw("SELECT message_id, raw_sha256 FROM messages").all() {
                result[try row.decode(column: "message_id", as: String.self)] = try row.decode(column: "raw_sha256", as: String.self)
            }
            return result
        }
    }

    @Test func backupTakenMidIngestRestoresEveryCommittedMessageByteForByte() async throws {
        let scratch = try ScratchDirectory("mr-backup")
        defer { scratch.remove() }
        let (database, store) = try await scratch.openStore()
        let account = try await store.accounts.create(Account(key: "BK", name: "Backup", fromAddress: "desk@example.com"))
        let pipeline = IngestPipeline(store: store.ingest, logger: TestDatabase.logger)
        let stop = Atomic<Bool>(false)
        let ingest = Task {
            var next = 0
            while !stop.load(ordering: .relaxed), next < 20_000 {
                let batch = (next..<next + 10).map { IngestPipeline.Inbound(raw: Self.message($0), position: nil, source: "test \($0)") }
                let result = try await pipeline.processBatch(batch, account: account)
                if let failure = result.failure { throw failure }
                next += 10
            }
            return next
        }
        var before: [String: String] = [:]
        for _ in 0..<600 {
            before = try await Self.storedMessages(database)
            if before.count >= 200 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(before.count >= 200, "the ingest got going")

        let backupDirectory = scratch.path + "/backup"
        let outcome = try await MailroomBackup.backup(try Self.configuration(scratch.dataDirectory), to: backupDirectory, includeSecretKey: true)
        // The ingest goes on past the backup (a small copy can finish before the next batch
        // commits, so this waits for one rather than expecting it already).
        var after = try await Self.storedMessages(database)
        for _ in 0..<1_500 where after.count <= before.count {
            try await Task.sleep(for: .milliseconds(20))
            after = try await Self.storedMessages(database)
        }
        stop.store(true, ordering: .relaxed)
        let ingested = try await ingest.value
        await database.close()
        #expect(after.count > before.count, "the pipeline kept committing after the backup began")
        #expect(outcome.manifest.secretKey)
        #expect(outcome.warnings.contains { $0.contains("holds the secret key") })
        #expect(!outcome.manifest.packs.isEmpty)

        let restoredDirectory = scratch.path + "/restored"
        let restored = try await MailroomBackup.restore(from: backupDirectory, into: try Self.configuration(restoredDirectory))
        #expect(restored.check.schemaVersion == Migrator.latestVersion)
        #expect(restored.warnings.isEmpty)
        #expect(FileManager.default.contents(atPath: restoredDirectory + "/secret.key")
            == FileManager.default.contents(atPath: scratch.dataDirectory + "/secret.key"))

        let (restoredDatabase, restoredStore) = try await MailroomApplication.openStore(try Self.configuration(restoredDirectory), logger: TestDatabase.logger)
        try await Migrator.migrate(restoredDatabase, logger: TestDatabase.logger)
        let messages = try await Self.storedMessages(restoredDatabase)
        #expect(messages.count >= before.count && messages.count <= after.count,
                "restored \(messages.count); \(before.count) were committed before the backup, \(after.count) after it")
        for (messageId, _) in before { #expect(messages[messageId] != nil, "\(messageId) committed before the backup is restored") }
        for (messageId, sha256) in messages {
            let index = Int(messageId.dropFirst(3).prefix { $0 != "@" })!
            #expect(index < ingested)
            let raw = try await restoredStore.rawMail.blob(sha256: sha256)
            #expect(raw == Self.message(index), "raw bytes of \(messageId)")
        }
        await restoredDatabase.close()
    }

    /// A damaged pack or database is refused before anything is written, and so is a data directory in use.
    @Test func restoreChecksTheBackupAndRefusesToOverwrite() async throws {
        let scratch = try ScratchDirectory("mr-restore")
        defer { scratch.remove() }
        let (database, store) = try await scratch.openStore()
        let account = try await store.accounts.create(Account(key: "BK", name: "Backup", fromAddress: "desk@example.com"))
        let pipeline = IngestPipeline(store: store.ingest, logger: TestDatabase.logger)
        _ = try await pipeline.processBatch((0..<20).map { IngestPipeline.Inbound(raw: Self.message($0), position: nil, source: "t") },
                                           account: account)
        await database.close()
        let backupDirectory = scratch.path + "/backup"
        let outcome = try await MailroomBackup.backup(try Self.configuration(scratch.dataDirectory), to: backupDirectory, includeSecretKey: false)
        #expect(!outcome.manifest.secretKey)
        #expect(outcome.warnings.contains { $0.contains("does not hold the secret key") })
        #expect(!FileManager.default.fileExists(atPath: backupDirectory + "/secret.key"))
        #expect(try SQLiteBackup.readManifest(in: backupDirectory) == outcome.manifest)
        #expect(try await SQLiteBackup.check(backupDirectory).blobs == 20)

        // A backup never lands on top of another one.
        await #expect(throws: SQLiteBackup.BackupError.self) {
            _ = try await MailroomBackup.backup(try Self.configuration(scratch.dataDirectory), to: backupDirectory, includeSecretKey: false)
        }
        // Nor a restore on top of a live data directory.
        await #expect(throws: SQLiteBackup.BackupError.self) {
            _ = try await MailroomBackup.restore(from: backupDirectory, into: try Self.configuration(scratch.dataDirectory))
        }

        // One flipped byte in a pack: refused, and nothing is restored.
        let pack = backupDirectory + "/mailroom.sqlite-blobs/" + outcome.manifest.packs[0].name
        var bytes = try Data(contentsOf: URL(fileURLWithPath: pack))
        bytes[100] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: pack))
        let target = scratch.path + "/restored"
        do {
            _ = try await MailroomBackup.restore(from: backupDirectory, into: try Self.configuration(target))
            Issue.record("a damaged pack was restored")
        } catch {
            #expect("\(error)".contains("SHA-256"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: target + "/mailroom.sqlite"))
        bytes[100] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: pack))

        // A missing pack: refused too.
        try FileManager.default.moveItem(atPath: pack, toPath: pack + ".away")
        await #expect(throws: SQLiteBackup.BackupError.self) { _ = try await SQLiteBackup.check(backupDirectory) }
        try FileManager.default.moveItem(atPath: pack + ".away", toPath: pack)

        let restored = try await MailroomBackup.restore(from: backupDirectory, into: try Self.configuration(target))
        #expect(restored.check.blobs == 20)
        #expect(restored.warnings.contains { $0.contains("holds no secret key") })
    }

    /// The commands as an operator types them; PostgreSQL is pointed at pg_dump.
    @Test func backupAndRestoreCommands() async throws {
        let scratch = try ScratchDirectory("mr-backup-cli")
        defer { scratch.remove() }
        let (database, _) = try await scratch.openStore()
        await database.close()
        let cli = CommandLineTests()
        let backup = try cli.run(["backup", "--data-dir", scratch.dataDirectory, "--include-secret-key", scratch.path + "/b"])
        #expect(backup.0 == 0, "\(backup.2)")
        #expect(backup.1.contains("backup written to"), "\(backup.1)")
        #expect(backup.2.contains("warning: this backup holds the secret key"), "\(backup.2)")
        let restore = try cli.run(["restore", "--data-dir", scratch.path + "/r", scratch.path + "/b"])
        #expect(restore.0 == 0, "\(restore.2)")
        #expect(restore.1.contains("restored into"), "\(restore.1)")
        let again = try cli.run(["restore", "--data-dir", scratch.path + "/r", scratch.path + "/b"])
        #expect(again.0 != 0)
        #expect(again.2.contains("exists already"), "\(again.2)")
        let postgres = try cli.run(["backup", "--database", "postgres://u:p@127.0.0.1:1/x", scratch.path + "/p"])
        #expect(postgres.0 != 0)
        #expect(postgres.2.contains("pg_dump"), "\(postgres.2)")
    }
}
