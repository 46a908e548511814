import Foundation
import MailroomStore
import SQLKit
import Testing

/// The write-ahead log is copied into the database file by a second connection: a long run of
/// large transactions must not grow the log without bound, and nothing written may be missing
/// after the database is closed and opened again.
@Suite struct SQLiteCheckpointTests {
    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    @Test func manyLargeTransactionsKeepTheLogBoundedAndLoseNothing() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailroom-checkpoint-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("test.sqlite").path
        let database = try await MailroomDatabase.open(.sqlite(path: path), logger: .init(label: "test"))
        try await database.withConnection { db in try await db.raw("CREATE TABLE b (n INTEGER PRIMARY KEY, data BLOB NOT NULL)").run() }
        // 96 MB in transactions of 1.5 MB: six times the length at which the writer waits for a full copy.
        let chunk = Data((0..<(256 * 1_024)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var largestLog = 0
        for transaction in 0..<64 {
            try await database.transaction { db in
                for part in 0..<6 {
                    try await db.raw("INSERT INTO b (n, data) VALUES (\(bind: transaction * 6 + part), \(bind: chunk))").run()
                }
            }
            largestLog = max(largestLog, Self.fileSize(path + "-wal"))
        }
        // Without the log starting over it would hold all 96 MB; the writer waits for a full copy beyond 4,000 pages (16 MB).
        #expect(largestLog > 0)
        #expect(largestLog < 32 * 1_024 * 1_024, "the write-ahead log grew to \(largestLog) bytes")
        await database.close()
        #expect(Self.fileSize(path + "-wal") == 0, "the last connection to close copies the log and removes it")

        let reopened = try await MailroomDatabase.open(.sqlite(path: path), logger: .init(label: "test"))
        let row = try await reopened.withConnection { db in
            try await db.raw("SELECT COUNT(*) AS c, SUM(length(data)) AS s FROM b").first()
        }
        await reopened.close()
        #expect(try row?.decode(column: "c", as: Int.self) == 384)
        #expect(try row?.decode(column: "s", as: Int.self) == 384 * 256 * 1_024)
    }
}
