import Foundation
import MailroomCore
import SQLKit

/// Raw mail: every message as received and every reply as sent, content-addressed by SHA-256.
/// SQLite keeps the bytes in append-only pack files (``BlobPacks``), PostgreSQL in the `blobs` table.
public struct SQLRawMailStore: Sendable {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    public func blob(sha256: String) async throws -> [UInt8]? {
        try await database.withConnection { db in
            guard let row = try await db.first(Statements.blobBySHA256, .text(sha256)) else { return nil }
            return try Self.blobBytes(row, packs: database.blobPacks)
        }
    }

    /// Writes raw messages where the store keeps them and makes them durable, ahead of the
    /// transaction that will name them (pass the locations on as `IngestItem.stagedRaw`), so that
    /// this I/O overlaps with other work instead of holding the only writer. SQLite: appended to its
    /// packs and synced, on a thread of their own. PostgreSQL: nothing to do (the transaction
    /// stores them), all nil. A nil input stays nil.
    public func stageRaw(_ messages: [[UInt8]?]) async throws -> [BlobLocation?] {
        guard let packs = database.blobPacks, messages.contains(where: { $0 != nil }) else { return messages.map { _ in nil } }
        return try await withCheckedThrowingContinuation { continuation in
            Self.stagingQueue.async {
                continuation.resume(with: Result { try packs.write(messages) })
            }
        }
    }

    /// Blocking file I/O stays off the concurrency pool's few threads.
    private static let stagingQueue = DispatchQueue(label: "mailroom.raw-mail-staging")

    /// Stores raw bytes under their SHA-256, once. SQLite keeps them in its packs: `stored` says where
    /// they were already written and synced before the transaction; without it they are appended and
    /// synced now, before the row that names them can commit. `forQuarantine`: only a quarantine
    /// entry holds them (so far), and discarding it may erase them.
    /// `forUpload`: an uploaded file (`uploads`), which removing an account's image may erase while
    /// nothing else holds the same bytes (`upload_only`).
    static func putBlob(_ bytes: [UInt8], sha256: String, stored: BlobLocation? = nil, forQuarantine: Bool = false,
                        forUpload: Bool = false, db: any SQLDatabase, now: Date) async throws {
        guard let packs = (db as? DirectSQLiteDatabase)?.packs else {
            let statement = forUpload ? Statements.putUploadedBlob : forQuarantine ? Statements.putQuarantinedBlob : Statements.putBlob
            try await db.run(statement, .text(sha256), .int(bytes.count), .blob(bytes), .integer(Timestamp.from(now)))
            return
        }
        let location: BlobLocation
        if let stored {
            location = stored
        } else {
            if try await db.first(Statements.blobExists, .text(sha256)) != nil {
                if forUpload {
                    try await db.run(Statements.holdBlobForUpload, .text(sha256))
                } else if !forQuarantine {
                    try await db.run(Statements.holdBlob, .text(sha256))
                }
                return
            }
            guard let written = try packs.write([bytes])[0] else { return }
            location = written
        }
        let statement = forUpload ? Statements.putUploadedPackedBlob : forQuarantine ? Statements.putQuarantinedPackedBlob : Statements.putPackedBlob
        try await db.run(statement, .text(sha256), .int(bytes.count), .int(location.pack), .integer(location.offset), .integer(Timestamp.from(now)))
    }

    /// Reads a blob row's bytes: from its pack, or from `data` (PostgreSQL, and SQLite rows from before the packs).
    static func blobBytes(_ row: any SQLRow, packs: BlobPacks?) throws -> [UInt8] {
        if let pack = try row.decode(column: "pack", as: Int?.self), let packs {
            return try packs.read(BlobLocation(pack: pack, offset: try row.decode(column: "pack_offset", as: Int64.self)),
                                  size: try row.decode(column: "size", as: Int.self))
        }
        return Array(try row.decode(column: "data", as: Data.self))
    }

    enum Statements {
        // A blob stored for a message or outgoing mail is held: if only quarantine entries held it
        // before, that ends (`quarantine_only`, migration 18). A blob stored for a quarantine entry
        // leaves an existing row as it is; the no-op update takes PostgreSQL's row lock, so that a
        // concurrent discard of another entry with the same bytes waits for this one and sees it.
        static let putBlob = FixedSQL("""
            INSERT INTO blobs (sha256, size, data, created_at, quarantine_only) VALUES (?, ?, ?, ?, FALSE)
            ON CONFLICT (sha256) DO UPDATE SET quarantine_only = FALSE, upload_only = FALSE WHERE blobs.quarantine_only OR blobs.upload_only
            """)
        // An upload holds its bytes against a quarantine discard; the update always runs, so that it
        // takes PostgreSQL's row lock against a concurrent removal of an account's image.
        static let putUploadedBlob = FixedSQL("""
            INSERT INTO blobs (sha256, size, data, created_at, quarantine_only, upload_only) VALUES (?, ?, ?, ?, FALSE, TRUE)
            ON CONFLICT (sha256) DO UPDATE SET quarantine_only = FALSE
            """)
        static let putUploadedPackedBlob = FixedSQL("""
            INSERT INTO blobs (sha256, size, data, pack, pack_offset, created_at, quarantine_only, upload_only) VALUES (?, ?, x'', ?, ?, ?, FALSE, TRUE)
            ON CONFLICT (sha256) DO UPDATE SET quarantine_only = FALSE
            """)
        static let holdBlobForUpload = FixedSQL("UPDATE blobs SET quarantine_only = FALSE WHERE sha256 = ?")
        static let putQuarantinedBlob = FixedSQL("""
            INSERT INTO blobs (sha256, size, data, created_at, quarantine_only) VALUES (?, ?, ?, ?, TRUE)
            ON CONFLICT (sha256) DO UPDATE SET quarantine_only = blobs.quarantine_only
            """)
        /// SQLite only (an empty blob literal).
        static let putPackedBlob = FixedSQL("""
            INSERT INTO blobs (sha256, size, data, pack, pack_offset, created_at, quarantine_only) VALUES (?, ?, x'', ?, ?, ?, FALSE)
            ON CONFLICT (sha256) DO UPDATE SET quarantine_only = FALSE, upload_only = FALSE WHERE blobs.quarantine_only OR blobs.upload_only
            """)
        static let putQuarantinedPackedBlob = FixedSQL("""
            INSERT INTO blobs (sha256, size, data, pack, pack_offset, created_at, quarantine_only) VALUES (?, ?, x'', ?, ?, ?, TRUE)
            ON CONFLICT (sha256) DO NOTHING
            """)
        static let holdBlob = FixedSQL("UPDATE blobs SET quarantine_only = FALSE, upload_only = FALSE WHERE sha256 = ? AND (quarantine_only OR upload_only)")
        static let blobExists = FixedSQL("SELECT 1 AS found FROM blobs WHERE sha256 = ?")
        static let blobBySHA256 = FixedSQL("SELECT size, data, pack, pack_offset FROM blobs WHERE sha256 = ?")
    }
}

/// Where a raw message's bytes are in an SQLite store's pack files (see ``BlobPacks``).
public struct BlobLocation: StagedRawMail, Hashable {
    public let pack: Int
    public let offset: Int64

    public init(pack: Int, offset: Int64) {
        self.pack = pack
        self.offset = offset
    }
}

extension SQLRawMailStore: RawMailRepository {}
