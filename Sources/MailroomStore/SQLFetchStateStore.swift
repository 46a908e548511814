import Foundation
import MailroomCore
import SQLKit

/// Where each account's fetching stands: which node holds its fetcher (leases), how far it got in
/// its folder (IMAP UIDVALIDITY and high-water mark) and which POP3 messages it has seen.
public struct SQLFetchStateStore: Sendable {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    // MARK: Fetch leases

    /// Takes or renews the lease on an account's fetching for `node`; false while another node holds it.
    public func acquireFetchLease(accountId: String, node: String, duration: TimeInterval, now: Date = Date()) async throws -> Bool {
        let nowMillis = Timestamp.from(now)
        let expires = Timestamp.from(now.addingTimeInterval(duration))
        return try await database.transaction { db in
            try await db.raw("""
                INSERT INTO fetch_leases (account_id, node, expires_at) VALUES (\(bind: accountId), \(bind: node), \(bind: expires))
                ON CONFLICT (account_id) DO UPDATE SET node = excluded.node, expires_at = excluded.expires_at
                WHERE fetch_leases.node = excluded.node OR fetch_leases.expires_at < \(bind: nowMillis)
                """).run()
            let row = try await db.raw("SELECT node FROM fetch_leases WHERE account_id = \(bind: accountId)").first()
            return try row?.decode(column: "node", as: String.self) == node
        }
    }

    /// Extends the leases this node holds on these accounts.
    public func renewFetchLeases(accountIds: [String], node: String, duration: TimeInterval, now: Date = Date()) async throws {
        guard !accountIds.isEmpty else { return }
        let expires = Timestamp.from(now.addingTimeInterval(duration))
        try await database.withConnection { db in
            for chunk in stride(from: 0, to: accountIds.count, by: 500).map({ Array(accountIds[$0..<min($0 + 500, accountIds.count)]) }) {
                try await db.raw("""
                    UPDATE fetch_leases SET expires_at = \(bind: expires) WHERE node = \(bind: node) AND account_id IN (\(binds: chunk))
                    """).run()
            }
        }
    }

    /// Changes whenever an account is created, changed or deleted: the fetchers' supervisor reads the
    /// accounts again only then, instead of decoding and decrypting every account every round.
    public func accountsChangeMarker() async throws -> String {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT COUNT(*) AS n, MAX(updated_at) AS u FROM accounts").first() else { return "" }
            return "\(try row.decode(column: "n", as: Int64.self)):\(try row.decode(column: "u", as: Int64?.self) ?? 0)"
        }
    }

    public func releaseFetchLease(accountId: String, node: String) async throws {
        try await database.withConnection { db in
            try await db.raw("DELETE FROM fetch_leases WHERE account_id = \(bind: accountId) AND node = \(bind: node)").run()
        }
    }

    // MARK: Fetch positions

    public func imapPosition(accountId: String, folder: String) async throws -> IMAPPosition? {
        try await database.withConnection { db in
            guard let row = try await db.raw("""
                SELECT uid_validity, high_water FROM mailbox_positions WHERE account_id = \(bind: accountId) AND folder = \(bind: folder)
                """).first() else { return nil }
            return IMAPPosition(uidValidity: UInt32(truncatingIfNeeded: try row.decode(column: "uid_validity", as: Int64.self)),
                                highWater: UInt32(truncatingIfNeeded: try row.decode(column: "high_water", as: Int64.self)))
        }
    }

    /// Starts a folder over after its UIDVALIDITY changed: every message is looked at again, and
    /// content hashes keep those already ingested from being ingested twice.
    public func resetIMAPPosition(accountId: String, folder: String, uidValidity: UInt32, now: Date = Date()) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM mailbox_positions WHERE account_id = \(bind: accountId) AND folder = \(bind: folder)").run()
            try await db.raw("""
                INSERT INTO mailbox_positions (account_id, folder, uid_validity, high_water, updated_at)
                VALUES (\(bind: accountId), \(bind: folder), \(bind: Int64(uidValidity)), 0, \(bind: Timestamp.from(now)))
                """).run()
        }
    }

    public func seenPOP3UIDLs(accountId: String) async throws -> Set<String> {
        try await database.withConnection { db in
            Set(try await db.raw("SELECT uidl FROM pop3_seen WHERE account_id = \(bind: accountId)").all()
                .map { try $0.decode(column: "uidl", as: String.self) })
        }
    }

    /// Remembers a POP3 message as seen without fetching it (older than fetchLastDays): it is not
    /// looked at again, and deleteOnFetch leaves it on the server.
    public func recordPOP3LeftOnServer(uidl: String, accountId: String, now: Date = Date()) async throws {
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO pop3_seen (account_id, uidl, created_at, left_on_server) VALUES (\(bind: accountId), \(bind: uidl),
                    \(bind: Timestamp.from(now)), TRUE)
                ON CONFLICT (account_id, uidl) DO NOTHING
                """).run()
        }
    }

    /// The seen UIDLs that were left on the server unfetched (``recordPOP3LeftOnServer(uidl:accountId:now:)``).
    public func pop3UIDLsLeftOnServer(accountId: String) async throws -> Set<String> {
        try await database.withConnection { db in
            Set(try await db.raw("SELECT uidl FROM pop3_seen WHERE account_id = \(bind: accountId) AND left_on_server").all()
                .map { try $0.decode(column: "uidl", as: String.self) })
        }
    }

    /// Forgets UIDLs the server no longer has, so the set does not grow forever.
    public func forgetPOP3UIDLs(accountId: String, keeping present: Set<String>) async throws {
        let seen = try await seenPOP3UIDLs(accountId: accountId)
        let gone = seen.subtracting(present)
        guard !gone.isEmpty else { return }
        try await database.transaction { db in
            for uidl in gone {
                try await db.raw("DELETE FROM pop3_seen WHERE account_id = \(bind: accountId) AND uidl = \(bind: uidl)").run()
            }
        }
    }

    // MARK: Graph and EWS

    public func exchangeSyncState(accountId: String, folder: String) async throws -> String? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT sync_state FROM exchange_sync_states WHERE account_id = \(bind: accountId) AND folder = \(bind: folder)
                """).first()?.decode(column: "sync_state", as: String.self)
        }
    }

    public func exchangeItemsTaken(accountId: String) async throws -> Set<String> {
        try await database.withConnection { db in
            Set(try await db.raw("SELECT item_id FROM exchange_taken WHERE account_id = \(bind: accountId)").all()
                .map { try $0.decode(column: "item_id", as: String.self) })
        }
    }

    public func forgetExchangeItems(accountId: String, keeping present: Set<String>) async throws {
        let gone = try await exchangeItemsTaken(accountId: accountId).subtracting(present)
        guard !gone.isEmpty else { return }
        try await database.transaction { db in
            for chunk in stride(from: 0, to: gone.count, by: 500).map({ Array(Array(gone)[$0..<min($0 + 500, gone.count)]) }) {
                try await db.raw("DELETE FROM exchange_taken WHERE account_id = \(bind: accountId) AND item_id IN (\(binds: chunk))").run()
            }
        }
    }

    static func record(_ position: MailboxPosition?, account: String, db: any SQLDatabase, now: Date) async throws {
        switch position {
        case .none, .file:
            return
        case .imap(let folder, let uidValidity, let uid):
            try await db.run(Statements.recordHighWater, .text(account), .text(folder), .integer(Int64(uidValidity)), .integer(Int64(uid)),
                             .integer(Timestamp.from(now)))
        case .pop3(let uidl):
            try await db.run(Statements.recordUIDL, .text(account), .text(uidl), .integer(Timestamp.from(now)))
        case .exchange(let folder, let itemId, let syncState):
            if let itemId { try await db.run(Statements.recordTaken, .text(account), .text(itemId), .integer(Timestamp.from(now))) }
            if let syncState {
                try await db.run(Statements.recordSyncState, .text(account), .text(folder), .text(syncState), .integer(Timestamp.from(now)))
            }
        }
    }

    enum Statements {
        static let recordHighWater = FixedSQL("""
                INSERT INTO mailbox_positions (account_id, folder, uid_validity, high_water, updated_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (account_id, folder) DO UPDATE SET
                    high_water = CASE WHEN mailbox_positions.uid_validity = excluded.uid_validity
                                       AND mailbox_positions.high_water > excluded.high_water
                                      THEN mailbox_positions.high_water ELSE excluded.high_water END,
                    uid_validity = excluded.uid_validity,
                    updated_at = excluded.updated_at
                """)
        static let recordTaken = FixedSQL("""
                INSERT INTO exchange_taken (account_id, item_id, created_at) VALUES (?, ?, ?)
                ON CONFLICT (account_id, item_id) DO NOTHING
                """)
        static let recordSyncState = FixedSQL("""
                INSERT INTO exchange_sync_states (account_id, folder, sync_state, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (account_id, folder) DO UPDATE SET sync_state = excluded.sync_state, updated_at = excluded.updated_at
                """)
        static let recordUIDL = FixedSQL("""
                INSERT INTO pop3_seen (account_id, uidl, created_at) VALUES (?, ?, ?)
                ON CONFLICT (account_id, uidl) DO NOTHING
                """)
    }
}

extension SQLFetchStateStore: FetchStateRepository {}
