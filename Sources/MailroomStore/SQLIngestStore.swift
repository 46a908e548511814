import Foundation
import MailroomCore
import SQLKit

/// Ingest's transactions: a message (or a batch of them) becomes part of a ticket as
/// ``IngestSteps`` decides, with its raw bytes and its fetch position, all in one transaction, so a
/// crash at any point leaves either all of it or none of it.
public struct SQLIngestStore: Sendable {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    /// Where work that reads and writes a lot should run (see ``MailroomDatabase/preferredExecutor``).
    public var preferredExecutor: (any TaskExecutor)? { database.preferredExecutor }

    public func ingest(_ mail: InboundMail, raw: [UInt8], account: Account, position: MailboxPosition?,
                       tags: [String] = [], now: Date = Date()) async throws -> IngestOutcome {
        try await database.transaction(durable: account.incoming.deleteOnFetch) { db in
            var created: [String: Ticket] = [:]
            let outcome = try await IngestSteps.ingest(IngestSteps.Message(mail: mail, raw: raw, tags: tags), account: account,
                                                       ledger: SQLIngestLedger(db: db, now: now), now: now, created: &created)
            try await SQLFetchStateStore.record(position, account: account.id, db: db, now: now)
            try await Self.count(inbound: [outcome], account: account.id, db: db)
            return outcome
        }
    }

    /// Commits a batch of messages in one transaction, in order, with their fetch positions (an
    /// IMAP folder's high-water mark is written once, for the last committed message). Each message
    /// runs inside a savepoint: one whose ingest breaks a domain rule is rolled back alone and kept
    /// in the quarantine instead; any other failure ends the batch there, and the messages before it
    /// are committed (see ``IngestBatchResult``). `now` nil stamps each message when it is stored.
    public func ingestBatch(_ items: [IngestItem], account: Account, now: Date? = nil) async throws -> IngestBatchResult {
        guard !items.isEmpty else { return IngestBatchResult(outcomes: []) }
        // Savepoints cost a copy of every page a message touches; the usual batch has no failure, so it
        // is tried without them first, and only a batch that failed is run again message by message.
        struct NeedsSavepoints: Error {}
        do {
            return try await ingestBatch(items, account: account, now: now, savepoints: false)
        } catch is NeedsSavepoints {
            return try await ingestBatch(items, account: account, now: now, savepoints: true)
        }

        func ingestBatch(_ items: [IngestItem], account: Account, now: Date?, savepoints: Bool) async throws -> IngestBatchResult {
            // The fetcher deletes the batch on the server right after this commit: it must survive a power failure.
            try await database.transaction(durable: account.incoming.deleteOnFetch) { db in
                var outcomes: [IngestOutcome] = []
                outcomes.reserveCapacity(items.count)
                var created: [String: Ticket] = [:]
                // Most messages of a large backlog start a ticket of their own: no rehashing of tickets as it fills.
                created.reserveCapacity(items.count)
                var failure: (any Error)?
                var highWater: MailboxPosition?
                for item in items {
                    let stamp = now ?? Date()
                    if savepoints { try await db.raw("SAVEPOINT ingest_item").run() }
                    var outcome: IngestOutcome
                    do {
                        outcome = try await Self.store(item, account: account, db: db, now: stamp, created: &created)
                    } catch let error as DomainError {
                        guard savepoints else { throw NeedsSavepoints() }
                        try await db.raw("ROLLBACK TO SAVEPOINT ingest_item").run()
                        guard let entry = item.storeFailedEntry(error, accountId: account.id, at: stamp) else {
                            failure = error
                            break
                        }
                        outcome = .quarantined(id: try await SQLQuarantineStore.insertQuarantine(entry, raw: item.raw, storedRaw: item.stagedRaw as? BlobLocation, db: db,
                                                                                  now: stamp))
                    } catch {
                        guard savepoints else { throw NeedsSavepoints() }
                        try? await db.raw("ROLLBACK TO SAVEPOINT ingest_item").run()
                        failure = error
                        break
                    }
                    if savepoints { try await db.raw("RELEASE SAVEPOINT ingest_item").run() }
                    if case .imap(_, _, let uid) = item.position {
                        if case .imap(_, _, let best)? = highWater, best >= uid {} else { highWater = item.position }
                    } else {
                        try await SQLFetchStateStore.record(item.position, account: account.id, db: db, now: stamp)
                    }
                    outcomes.append(outcome)
                }
                if let highWater { try await SQLFetchStateStore.record(highWater, account: account.id, db: db, now: now ?? Date()) }
                try await Self.count(inbound: outcomes, account: account.id, db: db)
                return IngestBatchResult(outcomes: outcomes, failure: failure, createdTickets: created)
            }
        }
    }

    static func store(_ item: IngestItem, account: Account, db: any SQLDatabase, now: Date,
                      created: inout [String: Ticket]) async throws -> IngestOutcome {
        switch item.action {
        case .ingest(let mail, let tags):
            let message = IngestSteps.Message(mail: mail, raw: item.raw, tags: tags, resolverInput: item.resolverInput,
                                              stagedRaw: item.stagedRaw, row: item.preparedRow)
            return try await IngestSteps.ingest(message, account: account, ledger: SQLIngestLedger(db: db, now: now), now: now, created: &created)
        case .quarantine(let entry):
            return .quarantined(id: try await SQLQuarantineStore.insertQuarantine(entry, raw: item.raw, storedRaw: item.stagedRaw as? BlobLocation,
                                                                                  position: item.position, db: db, now: now))
        case .skip(let reason):
            return .skipped(reason: reason)
        }
    }

    /// Keeps a message aside with the reason, and moves the fetch position past it in the same transaction.
    public func quarantine(_ entry: QuarantinedMessage, raw: [UInt8]?, position: MailboxPosition?, now: Date = Date()) async throws -> String {
        try await database.transaction { db in
            let id = try await SQLQuarantineStore.insertQuarantine(entry, raw: raw, position: position, db: db, now: now)
            try await SQLFetchStateStore.record(position, account: entry.accountId, db: db, now: now)
            return id
        }
    }

    /// Moves the fetch position past a message that was deliberately not ingested (a skip filter).
    public func recordPosition(_ position: MailboxPosition, accountId: String, now: Date = Date()) async throws {
        try await database.transaction { db in try await SQLFetchStateStore.record(position, account: accountId, db: db, now: now) }
    }

    /// Adds the messages that `outcomes` put on tickets to the account's count, in the transaction that stored them.
    static func count(inbound outcomes: [IngestOutcome], account: String, db: any SQLDatabase) async throws {
        let added = outcomes.count { $0.addedToTicket }
        guard added > 0 else { return }
        try await db.raw("""
            INSERT INTO account_message_counts (account_id, inbound) VALUES (\(bind: account), \(bind: added))
            ON CONFLICT (account_id) DO UPDATE SET inbound = account_message_counts.inbound + excluded.inbound
            """).run()
    }
}

extension SQLIngestStore: IngestRepository {
    public func prepareRow(for mail: InboundMail) -> (any PreparedMessageRow)? { MessageColumnJSON(mail) }

    public func stageRaw(_ messages: [[UInt8]?]) async throws -> [(any StagedRawMail)?] {
        try await SQLRawMailStore(database: database).stageRaw(messages).map { $0.map { $0 as any StagedRawMail } }
    }
}
