import Foundation
@testable import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// The SQLite connection Mailroom drives itself (statements compiled once, run on one thread):
/// values go in and come back as they went in, errors surface, and transactions are all or nothing.
@Suite struct SQLiteConnectionTests {
    struct Row: Sendable, Equatable {
        var text: String?
        var number: Int64?
        var real: Double?
        var flag: Bool?
        var bytes: Data?
    }

    static func roundTrip(_ row: Row, db: any SQLDatabase) async throws -> Row {
        try await db.raw("DELETE FROM t").run()
        try await db.raw("INSERT INTO t (a, b, c, d, e) VALUES (\(bind: row.text), \(bind: row.number), \(bind: row.real), \(bind: row.flag), \(bind: row.bytes))").run()
        let read = try #require(try await db.raw("SELECT a, b, c, d, e FROM t").first())
        return Row(text: try read.decode(column: "a", as: String?.self), number: try read.decode(column: "b", as: Int64?.self),
                   real: try read.decode(column: "c", as: Double?.self), flag: try read.decode(column: "d", as: Bool?.self),
                   bytes: try read.decode(column: "e", as: Data?.self))
    }

    @Test func valuesComeBackAsTheyWentIn() async throws {
        try await TestDatabase.sqlite.withDatabase { database in
            try await database.withConnection { db in
                try await db.raw("CREATE TABLE t (a TEXT, b INTEGER, c REAL, d BOOLEAN, e BLOB)").run()
                let rows = [
                    Row(text: "plain", number: 42, real: 1.5, flag: true, bytes: Data([0, 1, 2, 255])),
                    Row(text: "Grüße, 日本語, emoji 📬, and a NUL \u{0} inside", number: Int64.max, real: -0.25, flag: false, bytes: Data()),
                    Row(text: "", number: Int64.min, real: nil, flag: nil, bytes: Data(repeating: 7, count: 300_000)),
                    Row(text: nil, number: nil, real: nil, flag: nil, bytes: nil),
                ]
                for row in rows {
                    let back = try await Self.roundTrip(row, db: db)
                    // An empty blob is stored as a zero-length blob and may read back as empty or NULL; everything else is exact.
                    #expect(back.text == row.text && back.number == row.number && back.real == row.real && back.flag == row.flag)
                    #expect((back.bytes ?? Data()) == (row.bytes ?? Data()) || row.bytes == nil && back.bytes == nil)
                }
            }
        }
    }

    /// Text and blobs are bound where they are (no copy): each value must still be the one read back,
    /// also with several of them in one statement and the statement reused with other values.
    @Test func valuesBoundInPlaceStayWhatTheyWere() async throws {
        try await TestDatabase.sqlite.withDatabase { database in
            try await database.withConnection { db in
                try await db.raw("CREATE TABLE p (k INTEGER, a TEXT, b BLOB, c TEXT, d BLOB, e BLOB)").run()
                for k in 0..<20 {
                    let raw = (0..<(k * 7_919 % 70_000)).map { UInt8(truncatingIfNeeded: $0 &* (k + 1)) }
                    try await db.run(FixedSQL("INSERT INTO p (k, a, b, c, d, e) VALUES (?, ?, ?, ?, ?, ?)"), .int(k),
                                     .text("text \(k) " + String(repeating: "ü", count: k * 50)), .blob(raw), .text("second \(k)"),
                                     .blob([UInt8(k), 0, 1]), .blob([]))
                }
                for k in 0..<20 {
                    let row = try #require(try await db.raw("SELECT a, b, c, d, e FROM p WHERE k = \(bind: k)").first())
                    #expect(try row.decode(column: "a", as: String.self) == "text \(k) " + String(repeating: "ü", count: k * 50))
                    #expect(try row.decode(column: "b", as: Data?.self).map(Array.init) ?? [] == (0..<(k * 7_919 % 70_000)).map { UInt8(truncatingIfNeeded: $0 &* (k + 1)) })
                    #expect(try row.decode(column: "c", as: String.self) == "second \(k)")
                    #expect(try row.decode(column: "d", as: Data.self) == Data([UInt8(k), 0, 1]))
                    #expect(try row.decode(column: "e", as: Data?.self) ?? Data() == Data())
                }
            }
        }
    }

    /// A durable transaction syncs the log at its commit (SQLite's FULL); the others keep NORMAL.
    @Test func aDurableTransactionCommitsWithFullSync() async throws {
        try await TestDatabase.sqlite.withDatabase { database in
            @Sendable func synchronous(_ db: any SQLDatabase) async throws -> Int? {
                try await db.raw("PRAGMA synchronous").first()?.decode(column: "synchronous", as: Int.self)
            }
            let plain = try await database.transaction { db in try await synchronous(db) }
            let durable = try await database.transaction(durable: true) { db in try await synchronous(db) }
            #expect(plain == 1 && durable == 2)
            struct Stop: Error {}
            await #expect(throws: Stop.self) { try await database.transaction(durable: true) { _ in throw Stop() } }
            let after = try await database.withConnection { db in try await synchronous(db) }
            #expect(after == 1)
            #expect(database.durableCommits.load(ordering: .relaxed) == 1)
        }
    }

    @Test func theSameStatementWithOtherValuesAndListsOfOtherLengthsWork() async throws {
        try await TestDatabase.sqlite.withDatabase { database in
            try await database.withConnection { db in
                try await db.raw("CREATE TABLE n (v INTEGER)").run()
                for value in 1...500 { try await db.raw("INSERT INTO n (v) VALUES (\(bind: value))").run() }
                for count in [1, 2, 3, 50, 1] {
                    let wanted = Array(1...count)
                    let rows = try await db.raw("SELECT v FROM n WHERE v IN (\(binds: wanted)) ORDER BY v").all()
                    #expect(try rows.map { try $0.decode(column: "v", as: Int.self) } == wanted)
                }
                let total = try #require(try await db.raw("SELECT COUNT(*) AS c, SUM(v) AS s FROM n").first())
                #expect(try total.decode(column: "c", as: Int.self) == 500)
                #expect(try total.decode(column: "s", as: Int.self) == 125_250)
                #expect(total.allColumns == ["c", "s"])
                #expect(!total.contains(column: "missing"))
            }
        }
    }

    @Test func errorsSurfaceAndTheConnectionStaysUsable() async throws {
        try await TestDatabase.sqlite.withDatabase { database in
            try await database.withConnection { db in
                try await db.raw("CREATE TABLE u (k TEXT PRIMARY KEY)").run()
                try await db.raw("INSERT INTO u (k) VALUES ('a')").run()
            }
            await #expect(throws: (any Error).self) {
                try await database.withConnection { db in try await db.raw("INSERT INTO u (k) VALUES ('a')").run() }
            }
            await #expect(throws: (any Error).self) {
                try await database.withConnection { db in try await db.raw("SELECT nothing FROM nowhere").run() }
            }
            let count = try await database.withConnection { db in
                try await db.raw("SELECT COUNT(*) AS c FROM u").first()?.decode(column: "c", as: Int.self)
            }
            #expect(count == 1)
        }
    }

    @Test func aTransactionIsAllOrNothing() async throws {
        struct Stop: Error {}
        try await TestDatabase.sqlite.withDatabase { database in
            try await database.withConnection { db in try await db.raw("CREATE TABLE w (v INTEGER)").run() }
            await #expect(throws: Stop.self) {
                try await database.transaction { db in
                    try await db.raw("INSERT INTO w (v) VALUES (1)").run()
                    throw Stop()
                }
            }
            try await database.transaction { db in try await db.raw("INSERT INTO w (v) VALUES (2)").run() }
            let values = try await database.withConnection { db in
                try await db.raw("SELECT v FROM w").all().map { try $0.decode(column: "v", as: Int.self) }
            }
            #expect(values == [2])
        }
    }

    @Test func manyTasksShareTheConnection() async throws {
        try await TestDatabase.sqlite.withDatabase { database in
            try await database.withConnection { db in try await db.raw("CREATE TABLE c (v INTEGER)").run() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<8 {
                    group.addTask {
                        for index in 0..<50 {
                            try await database.transaction { db in
                                try await db.raw("INSERT INTO c (v) VALUES (\(bind: task * 1000 + index))").run()
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let count = try await database.withConnection { db in
                try await db.raw("SELECT COUNT(*) AS n FROM c").first()?.decode(column: "n", as: Int.self)
            }
            #expect(count == 400)
        }
    }
}
