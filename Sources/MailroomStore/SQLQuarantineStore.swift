import Foundation
import MailroomCore
import SQLKit

/// The quarantine: messages kept aside, raw, with the reason they were not ingested, for a person
/// to look at, replay or discard.
public struct SQLQuarantineStore: Sendable {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    public func quarantined(accountId: String? = nil, includeReplayed: Bool = false) async throws -> [QuarantinedMessage] {
        var clause: SQLQueryString = includeReplayed ? "WHERE 1 = 1" : "WHERE replayed_at IS NULL"
        if let accountId { clause = "\(clause) AND account_id = \(bind: accountId)" }
        let query: SQLQueryString = "SELECT \(Self.columns) FROM quarantine \(clause) ORDER BY created_at DESC, id DESC"
        return try await database.withConnection { db in try await db.raw(query).all().map(Self.quarantined(from:)) }
    }

    public func quarantined(id: String) async throws -> QuarantinedMessage? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(Self.columns) FROM quarantine WHERE id = \(bind: id)").first().map(Self.quarantined(from:))
        }
    }

    public func markReplayed(quarantineId: String, at date: Date = Date()) async throws {
        try await database.withConnection { db in
            try await db.raw("UPDATE quarantine SET replayed_at = \(bind: Timestamp.from(date)) WHERE id = \(bind: quarantineId)").run()
        }
    }

    /// Discards a quarantine entry. Its raw message goes with it when nothing else holds those
    /// bytes: no message or outgoing mail was stored from them (`quarantine_only`) and no other
    /// entry names them. With SQLite its bytes are then erased from the pack after the commit;
    /// with PostgreSQL they leave with the row.
    public func deleteQuarantined(id: String) async throws {
        let postgres = database.kind == .postgres
        let unheld = try await database.transaction { db -> (location: BlobLocation, size: Int)? in
            guard let entry = try await db.raw("SELECT raw_sha256 FROM quarantine WHERE id = \(bind: id)").first() else { return nil }
            try await db.raw("DELETE FROM quarantine WHERE id = \(bind: id)").run()
            guard let sha256 = try entry.decode(column: "raw_sha256", as: String?.self) else { return nil }
            // PostgreSQL: the row lock waits for a transaction storing the same bytes to commit, and
            // the reads after it (each with a new snapshot) see what it stored.
            let blobQuery: SQLQueryString = """
                SELECT CASE WHEN quarantine_only THEN 1 ELSE 0 END AS unheld, size, pack, pack_offset
                FROM blobs WHERE sha256 = \(bind: sha256)\(unsafeRaw: postgres ? " FOR UPDATE" : "")
                """
            guard let blob = try await db.raw(blobQuery).first(), try blob.decode(column: "unheld", as: Int.self) == 1,
                  try await db.raw("SELECT 1 AS found FROM quarantine WHERE raw_sha256 = \(bind: sha256) LIMIT 1").first() == nil
            else { return nil }
            try await db.raw("DELETE FROM blobs WHERE sha256 = \(bind: sha256)").run()
            guard let pack = try blob.decode(column: "pack", as: Int?.self) else { return nil }
            return (BlobLocation(pack: pack, offset: try blob.decode(column: "pack_offset", as: Int64.self)),
                    try blob.decode(column: "size", as: Int.self))
        }
        if let unheld, let packs = database.blobPacks {
            // The entry is gone either way; bytes left behind by a failed erase are named by no row.
            do { try packs.erase(unheld.location, size: unheld.size) } catch {
                database.logger.error("a discarded quarantined message could not be erased from its pack",
                                      metadata: ["quarantine": "\(id)", "error": "\(error)"])
            }
        }
    }

    public func quarantineCount(accountId: String? = nil) async throws -> Int {
        let query: SQLQueryString = accountId.map { "SELECT COUNT(*) AS n FROM quarantine WHERE replayed_at IS NULL AND account_id = \(bind: $0)" }
            ?? "SELECT COUNT(*) AS n FROM quarantine WHERE replayed_at IS NULL"
        return try await database.withConnection { db in
            guard let row = try await db.raw(query).first() else { return 0 }
            return try row.decode(column: "n", as: Int.self)
        }
    }

    static func insertQuarantine(_ entry: QuarantinedMessage, raw: [UInt8]?, storedRaw: BlobLocation? = nil, position: MailboxPosition? = nil,
                                 db: any SQLDatabase, now: Date) async throws -> String {
        var stored = entry
        stored.id = Identifier.make(at: now)
        if let raw, let sha = stored.rawSha256 { try await SQLRawMailStore.putBlob(raw, sha256: sha, stored: storedRaw, forQuarantine: true, db: db, now: now) }
        let serverKey = stored.leftOnServer ? position?.serverKey : nil
        try await db.raw("""
            INSERT INTO quarantine (id, account_id, reason, detail, raw_sha256, size, source, from_text, subject, created_at, replayed_at,
                                    left_on_server)
            VALUES (\(bind: stored.id), \(bind: stored.accountId), \(bind: stored.reason.rawValue), \(bind: stored.detail),
                    \(bind: stored.rawSha256), \(bind: stored.size), \(bind: stored.source), \(bind: stored.from),
                    \(bind: stored.subject), \(bind: Timestamp.from(stored.createdAt)), NULL, \(bind: serverKey))
            """).run()
        return stored.id
    }

    /// The server keys (``MailboxPosition/serverKey``) of an account's messages left on the server
    /// by quarantine entries not yet discarded: deleteOnFetch must leave them there.
    public func leftOnServer(accountId: String) async throws -> Set<String> {
        try await database.withConnection { db in
            Set(try await db.raw("""
                SELECT left_on_server FROM quarantine WHERE account_id = \(bind: accountId) AND left_on_server IS NOT NULL
                """).all().map { try $0.decode(column: "left_on_server", as: String.self) })
        }
    }

    // MARK: Row mapping

    static let columns: SQLQueryString = """
        id, account_id, reason, detail, raw_sha256, size, source, from_text, subject, created_at, replayed_at, left_on_server
        """

    static func quarantined(from row: any SQLRow) throws -> QuarantinedMessage {
        QuarantinedMessage(
            id: try row.decode(column: "id", as: String.self),
            accountId: try row.decode(column: "account_id", as: String.self),
            reason: QuarantineReason(rawValue: try row.decode(column: "reason", as: String.self)) ?? .unparseable,
            detail: try row.decode(column: "detail", as: String.self),
            rawSha256: try row.decode(column: "raw_sha256", as: String?.self),
            size: try row.decode(column: "size", as: Int.self),
            source: try row.decode(column: "source", as: String.self),
            from: try row.decode(column: "from_text", as: String?.self),
            subject: try row.decode(column: "subject", as: String?.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            replayedAt: try row.decode(column: "replayed_at", as: Int64?.self).map(Timestamp.date),
            leftOnServer: try row.decode(column: "left_on_server", as: String?.self) != nil)
    }
}

extension SQLQuarantineStore: QuarantineRepository {}
