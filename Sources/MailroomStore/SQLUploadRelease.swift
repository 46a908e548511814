import Foundation
import MailroomCore
import SQLKit

/// An account's logo and signature images (uploads named by its `inlineImages`) leave storage when
/// the account stops naming them, unless something still does: another account, a template or a
/// canned answer that names the upload, or (for the bytes) another upload, a message, outgoing
/// mail or a quarantine entry stored from the same bytes. Mail already in the outbox carries its
/// images inside its own raw message, so it sends them whatever happens here.
enum SQLUploadRelease {
    /// The bytes to erase from SQLite's packs once the transaction committed.
    struct Unheld: Sendable {
        var location: BlobLocation
        var size: Int
    }

    /// The upload ids an account's stored settings name.
    static func uploadIds(ofAccount id: String, postgres: Bool, db: any SQLDatabase) async throws -> Set<String> {
        // The row lock orders this against another update of the same account (PostgreSQL).
        guard let row = try await db.raw("""
            SELECT config FROM accounts WHERE id = \(bind: id)\(unsafeRaw: postgres ? " FOR UPDATE" : "")
            """).first() else { return [] }
        let text = try row.decode(column: "config", as: String.self)
        guard let stored = try? JSONCoding.decoder.decode(StoredAccountConfig.self, from: Data(text.utf8)) else { return [] }
        return Set((stored.inlineImages ?? []).map(\.uploadId))
    }

    /// Deletes the uploads among `ids` that nothing but `accountId` named (run in the transaction
    /// that changed or deleted that account), and their bytes where nothing else holds them.
    static func release(_ ids: Set<String>, leftBy accountId: String, postgres: Bool, db: any SQLDatabase) async throws -> [Unheld] {
        let lock: SQLQueryString = postgres ? " FOR UPDATE" : ""
        var unheld: [Unheld] = []
        for id in ids.sorted() where !id.isEmpty {
            // PostgreSQL: an account update naming this upload locks its row too (`holdUploads`), so
            // one of the two waits and then reads what the other committed.
            guard let upload = try await db.raw("SELECT sha256 FROM uploads WHERE id = \(bind: id)\(lock)").first() else { continue }
            if try await named(id, besides: accountId, db: db) { continue }
            try await db.raw("DELETE FROM uploads WHERE id = \(bind: id)").run()
            let sha256 = try upload.decode(column: "sha256", as: String.self)
            guard let blob = try await db.raw("""
                SELECT CASE WHEN upload_only THEN 1 ELSE 0 END AS unheld, size, pack, pack_offset FROM blobs WHERE sha256 = \(bind: sha256)\(lock)
                """).first(), try blob.decode(column: "unheld", as: Int.self) == 1,
                try await db.raw("SELECT 1 AS found FROM uploads WHERE sha256 = \(bind: sha256) LIMIT 1").first() == nil,
                try await db.raw("SELECT 1 AS found FROM quarantine WHERE raw_sha256 = \(bind: sha256) LIMIT 1").first() == nil
            else { continue }
            try await db.raw("DELETE FROM blobs WHERE sha256 = \(bind: sha256)").run()
            if let pack = try blob.decode(column: "pack", as: Int?.self) {
                unheld.append(Unheld(location: BlobLocation(pack: pack, offset: try blob.decode(column: "pack_offset", as: Int64.self)),
                                     size: try blob.decode(column: "size", as: Int.self)))
            }
        }
        return unheld
    }

    /// Locks the uploads an account is about to name (PostgreSQL), against their release by another
    /// account's update at the same time.
    static func holdUploads(_ ids: Set<String>, postgres: Bool, db: any SQLDatabase) async throws {
        guard postgres, !ids.isEmpty else { return }
        _ = try await db.raw("SELECT id FROM uploads WHERE id IN (\(binds: ids.sorted())) FOR UPDATE").all()
    }

    /// Whether an account other than `accountId`, a template or a canned answer names the upload.
    /// Upload ids are unique tokens, so a text match is exact enough (a false match only keeps it).
    private static func named(_ id: String, besides accountId: String, db: any SQLDatabase) async throws -> Bool {
        let pattern = "%" + id + "%"
        let queries: [SQLQueryString] = [
            "SELECT 1 AS found FROM accounts WHERE deleted_at IS NULL AND id <> \(bind: accountId) AND config LIKE \(bind: pattern) LIMIT 1",
            "SELECT 1 AS found FROM templates WHERE body_html LIKE \(bind: pattern) OR body_text LIKE \(bind: pattern) LIMIT 1",
            "SELECT 1 AS found FROM canned_answers WHERE body_html LIKE \(bind: pattern) OR body_text LIKE \(bind: pattern) LIMIT 1",
        ]
        for query in queries where try await db.raw(query).first() != nil { return true }
        return false
    }

    /// Erases released bytes from SQLite's packs (PostgreSQL: they left with their rows).
    static func erase(_ unheld: [Unheld], database: MailroomDatabase, accountId: String) {
        guard let packs = database.blobPacks else { return }
        for blob in unheld {
            // The rows are gone either way; bytes left behind by a failed erase are named by no row.
            do { try packs.erase(blob.location, size: blob.size) } catch {
                database.logger.error("a removed account image could not be erased from its pack",
                                      metadata: ["account": "\(accountId)", "error": "\(error)"])
            }
        }
    }
}
