import Foundation
import Logging
import MailroomCore
import SQLKit

/// Tickets, their messages and customers, the raw-message blobs, the quarantine and the fetch positions.
///
/// `ingest` is the one place an inbound message becomes part of a ticket: raw bytes, message,
/// ticket update and fetch position are committed in one transaction, so a crash at any point
/// leaves either all of it or none of it.
public struct SQLTicketStore: Sendable {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    /// Where work that reads and writes a lot should run (see ``MailroomDatabase/preferredExecutor``).
    public var preferredExecutor: (any TaskExecutor)? { database.preferredExecutor }

    // MARK: Ingest

    public func ingest(_ mail: InboundMail, raw: [UInt8], account: Account, position: MailboxPosition?,
                       tags: [String] = [], now: Date = Date()) async throws -> IngestOutcome {
        try await database.transaction(durable: account.incoming.deleteOnFetch) { db in
            var created: [String: Ticket] = [:]
            let outcome = try await Self.ingestOne(mail, raw: raw, account: account, tags: tags, db: db, now: now, created: &created)
            try await Self.record(position, account: account.id, db: db, now: now)
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
                        guard case .ingest(let mail, _) = item.action else {
                            failure = error
                            break
                        }
                        let entry = QuarantinedMessage(
                            accountId: account.id, reason: .storeFailed, detail: "the message could not be stored: \(error)",
                            rawSha256: mail.rawSha256, size: item.raw.count, source: item.source, from: mail.sender?.address,
                            subject: String(mail.subject.prefix(300)), createdAt: stamp)
                        outcome = .quarantined(id: try await Self.insertQuarantine(entry, raw: item.raw, storedRaw: item.storedRaw, db: db,
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
                        try await Self.record(item.position, account: account.id, db: db, now: stamp)
                    }
                    outcomes.append(outcome)
                }
                if let highWater { try await Self.record(highWater, account: account.id, db: db, now: now ?? Date()) }
                try await Self.count(inbound: outcomes, account: account.id, db: db)
                return IngestBatchResult(outcomes: outcomes, failure: failure, createdTickets: created)
            }
        }
    }

    static func store(_ item: IngestItem, account: Account, db: any SQLDatabase, now: Date,
                      created: inout [String: Ticket]) async throws -> IngestOutcome {
        switch item.action {
        case .ingest(let mail, let tags):
            return try await ingestOne(mail, raw: item.raw, account: account, tags: tags, resolverInput: item.resolverInput,
                                       storedRaw: item.storedRaw, columns: item.messageColumns, db: db, now: now, created: &created)
        case .quarantine(let entry):
            return .quarantined(id: try await insertQuarantine(entry, raw: item.raw, storedRaw: item.storedRaw, position: item.position,
                                                               db: db, now: now))
        case .skip(let reason):
            return .skipped(reason: reason)
        }
    }

    /// Writes raw messages where the store keeps them and makes them durable, ahead of the
    /// transaction that will name them (pass the locations on as `IngestItem.storedRaw`), so that
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

    /// Everything of one message's ingest but its fetch position.
    static func ingestOne(_ mail: InboundMail, raw: [UInt8], account: Account, tags: [String], resolverInput: ResolverInput? = nil,
                          storedRaw: BlobLocation? = nil, columns: MessageColumnJSON? = nil, db: any SQLDatabase,
                          now: Date, created: inout [String: Ticket]) async throws -> IngestOutcome {
        try await putBlob(raw, sha256: mail.rawSha256, stored: storedRaw, db: db, now: now)
        if let existing = try await db.first(Statements.messageByContent, .text(account.id), .text(mail.contentHash)) {
            return .duplicate(ticketId: try existing.decode(column: "ticket_id", as: String.self))
        }
        if let bounce = mail.bounce, let outcome = try await joinBounce(mail, bounce: bounce, account: account, db: db, now: now) {
            return outcome
        }
        let sender = mail.ticketSender
        let customer = try await findOrCreateCustomer(sender, db: db, now: now)
        let input = resolverInput.flatMap { $0.accountId == account.id ? $0 : nil } ?? ResolverInput(mail: mail, account: account)
        let match = try await TicketResolution.resolve(input, resolvers: account.resolvers, finder: SQLOpenTicketFinder(db: db))

        let ticketId: String
        if let match {
            // The same mail delivered to two of our mailboxes joins one ticket once.
            let onTicket = try await db.first(Statements.messageOnTicket, .text(match.ticketId), .text(mail.contentHash))
            if onTicket != nil { return .duplicate(ticketId: match.ticketId) }
            ticketId = match.ticketId
        } else {
            let ticket = try await createTicket(for: mail, customer: customer, sender: sender, account: account,
                                                normalizedSubject: input.normalizedSubject, tags: tags, db: db, now: now)
            ticketId = ticket.id
            created[ticket.id] = ticket
        }
        let messageId = try await insertMessage(mail, ticketId: ticketId, accountId: account.id, direction: .inbound,
                                                deliveryState: nil, columns: columns, db: db, now: now)
        try await addParticipants(ticketId: ticketId, from: mail.from, to: mail.to, cc: mail.cc, db: db)
        // A new ticket was written with its first message counted.
        if match != nil { try await touchTicket(ticketId, direction: .inbound, addTags: tags, db: db, now: now) }
        if let match { return .appended(ticketId: ticketId, messageId: messageId, resolver: match.resolver) }
        return .created(ticketId: ticketId, messageId: messageId)
    }

    /// A delivery failure report joins the ticket of the message it reports on, whatever the resolvers:
    /// that message is marked bounced, the ticket escalated, and permanently failed addresses remembered.
    static func joinBounce(_ mail: InboundMail, bounce: BounceReport, account: Account,
                           db: any SQLDatabase, now: Date) async throws -> IngestOutcome? {
        var original: (any SQLRow)?
        // A VERP return path names the outbox entry exactly; Message-IDs are the next best thing.
        if !bounce.verpOutboxIds.isEmpty {
            original = try await db.raw("""
                SELECT m.id AS id, m.ticket_id AS ticket_id, m.message_id AS message_id FROM outbox o JOIN messages m ON m.id = o.message_id
                WHERE o.id IN (\(binds: Array(bounce.verpOutboxIds.prefix(10))))
                """).first()
        }
        let ids = Array(bounce.originalMessageIds.prefix(50))
        if original == nil, !ids.isEmpty {
            let rows = try await db.raw("""
                SELECT id, ticket_id, message_id FROM messages WHERE direction = 'out' AND message_id IN (\(binds: ids))
                """).all()
            original = ids.lazy.compactMap({ id in rows.first { (try? $0.decode(column: "message_id", as: String.self)) == id } }).first
        }
        guard let original else { return nil }
        let outboundId = try original.decode(column: "id", as: String.self)
        let ticketId = try original.decode(column: "ticket_id", as: String.self)
        let millis = Timestamp.from(now)
        try await db.raw("UPDATE outbox SET state = 'bounced', updated_at = \(bind: millis) WHERE message_id = \(bind: outboundId)").run()
        try await db.raw("UPDATE tickets SET escalated = \(bind: true) WHERE id = \(bind: ticketId)").run()
        for recipient in bounce.recipients where recipient.isPermanentFailure {
            try await db.raw("DELETE FROM bounced_addresses WHERE address = \(bind: recipient.address.lowercased())").run()
            try await db.raw("""
                INSERT INTO bounced_addresses (address, status, diagnostic, last_bounced_at, message_id)
                VALUES (\(bind: recipient.address.lowercased()), \(bind: recipient.status), \(bind: recipient.diagnosticCode.map { String($0.prefix(500)) }),
                        \(bind: millis), \(bind: outboundId))
                """).run()
        }
        if try await db.raw("SELECT id FROM messages WHERE ticket_id = \(bind: ticketId) AND content_hash = \(bind: mail.contentHash)").first() != nil {
            return .duplicate(ticketId: ticketId)
        }
        let messageId = try await insertMessage(mail, ticketId: ticketId, accountId: account.id, direction: .inbound, deliveryState: nil,
                                                db: db, now: now)
        try await touchTicket(ticketId, direction: .inbound, addTags: [], db: db, now: now)
        return .bounce(ticketId: ticketId, messageId: messageId)
    }

    /// Addresses among `addresses` that bounced permanently before, with the reason.
    public func permanentlyBounced(_ addresses: [String]) async throws -> [(address: String, status: String?, diagnostic: String?)] {
        let keys = addresses.map { $0.lowercased() }
        guard !keys.isEmpty else { return [] }
        return try await database.withConnection { db in
            try await db.raw("SELECT address, status, diagnostic FROM bounced_addresses WHERE address IN (\(binds: keys))").all().map {
                (try $0.decode(column: "address", as: String.self), try $0.decode(column: "status", as: String?.self),
                 try $0.decode(column: "diagnostic", as: String?.self))
            }
        }
    }

    /// Keeps a message aside with the reason, and moves the fetch position past it in the same transaction.
    public func quarantine(_ entry: QuarantinedMessage, raw: [UInt8]?, position: MailboxPosition?, now: Date = Date()) async throws -> String {
        try await database.transaction { db in
            let id = try await Self.insertQuarantine(entry, raw: raw, position: position, db: db, now: now)
            try await Self.record(position, account: entry.accountId, db: db, now: now)
            return id
        }
    }

    static func insertQuarantine(_ entry: QuarantinedMessage, raw: [UInt8]?, storedRaw: BlobLocation? = nil, position: MailboxPosition? = nil,
                                 db: any SQLDatabase, now: Date) async throws -> String {
        var stored = entry
        stored.id = Identifier.make(at: now)
        if let raw, let sha = stored.rawSha256 { try await putBlob(raw, sha256: sha, stored: storedRaw, forQuarantine: true, db: db, now: now) }
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

    /// Moves the fetch position past a message that was deliberately not ingested (a skip filter).
    public func recordPosition(_ position: MailboxPosition, accountId: String, now: Date = Date()) async throws {
        try await database.transaction { db in try await Self.record(position, account: accountId, db: db, now: now) }
    }

    // MARK: Routing

    /// Applies what the rules decided: tags added, priority, queue or agent, or closing with a disposition.
    public func applyRouting(ticketId: String, tags: [String], priority: TicketPriority?, queueId: String?, agentId: String?,
                             closeWithDisposition dispositionId: String?, now: Date = Date()) async throws {
        try await database.transaction { db in
            guard try await db.raw("SELECT id FROM tickets WHERE id = \(bind: ticketId)").first() != nil else { return }
            let millis = Timestamp.from(now)
            try await Self.addTags(tags, to: ticketId, db: db)
            try await db.raw("UPDATE tickets SET updated_at = \(bind: millis) WHERE id = \(bind: ticketId)").run()
            if let priority {
                try await db.raw("UPDATE tickets SET priority = \(bind: priority.rawValue) WHERE id = \(bind: ticketId)").run()
            }
            if let queueId {
                try await db.raw("UPDATE tickets SET queue_id = \(bind: queueId) WHERE id = \(bind: ticketId)").run()
            }
            if let agentId {
                try await db.raw("UPDATE tickets SET agent_id = \(bind: agentId) WHERE id = \(bind: ticketId)").run()
            }
            if dispositionId != nil {
                try await db.raw("UPDATE tickets SET status = 'closed' WHERE id = \(bind: ticketId)").run()
            }
        }
    }

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

    public struct IMAPPosition: Sendable, Equatable {
        public let uidValidity: UInt32
        public let highWater: UInt32

        public init(uidValidity: UInt32, highWater: UInt32) {
            self.uidValidity = uidValidity
            self.highWater = highWater
        }
    }

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

    static func record(_ position: MailboxPosition?, account: String, db: any SQLDatabase, now: Date) async throws {
        switch position {
        case .none, .file:
            return
        case .imap(let folder, let uidValidity, let uid):
            try await db.run(Statements.recordHighWater, .text(account), .text(folder), .integer(Int64(uidValidity)), .integer(Int64(uid)),
                             .integer(Timestamp.from(now)))
        case .pop3(let uidl):
            try await db.run(Statements.recordUIDL, .text(account), .text(uidl), .integer(Timestamp.from(now)))
        }
    }

    // MARK: Writing pieces

    /// Stores raw bytes under their SHA-256, once. SQLite keeps them in its packs: `stored` says where
    /// they were already written and synced before the transaction; without it they are appended and
    /// synced now, before the row that names them can commit. `forQuarantine`: only a quarantine
    /// entry holds them (so far), and discarding it may erase them.
    static func putBlob(_ bytes: [UInt8], sha256: String, stored: BlobLocation? = nil, forQuarantine: Bool = false,
                        db: any SQLDatabase, now: Date) async throws {
        guard let packs = (db as? DirectSQLiteDatabase)?.packs else {
            try await db.run(forQuarantine ? Statements.putQuarantinedBlob : Statements.putBlob,
                             .text(sha256), .int(bytes.count), .blob(bytes), .integer(Timestamp.from(now)))
            return
        }
        let location: BlobLocation
        if let stored {
            location = stored
        } else {
            if try await db.first(Statements.blobExists, .text(sha256)) != nil {
                if !forQuarantine { try await db.run(Statements.holdBlob, .text(sha256)) }
                return
            }
            guard let written = try packs.write([bytes])[0] else { return }
            location = written
        }
        try await db.run(forQuarantine ? Statements.putQuarantinedPackedBlob : Statements.putPackedBlob,
                         .text(sha256), .int(bytes.count), .int(location.pack), .integer(location.offset), .integer(Timestamp.from(now)))
    }

    /// Reads a blob row's bytes: from its pack, or from `data` (PostgreSQL, and SQLite rows from before the packs).
    static func blobBytes(_ row: any SQLRow, packs: BlobPacks?) throws -> [UInt8] {
        if let pack = try row.decode(column: "pack", as: Int?.self), let packs {
            return try packs.read(BlobLocation(pack: pack, offset: try row.decode(column: "pack_offset", as: Int64.self)),
                                  size: try row.decode(column: "size", as: Int.self))
        }
        return Array(try row.decode(column: "data", as: Data.self))
    }

    static func findOrCreateCustomer(_ address: EmailAddress, db: any SQLDatabase, now: Date) async throws -> Customer {
        let key = address.key
        if let row = try await db.first(Statements.customerByAddress, .text(key)) {
            var customer = Customer(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String?.self),
                                    address: key, createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)))
            if customer.name == nil, let name = address.name {
                try await db.run(Statements.nameCustomer, .text(name), .text(customer.id))
                customer.name = name
            }
            return customer
        }
        let customer = Customer(id: Identifier.make(at: now), name: address.name, address: key, createdAt: now)
        try await db.run(Statements.insertCustomer, .text(customer.id), .text(key), .text(customer.name), .integer(Timestamp.from(now)))
        return customer
    }

    static func nextTicketNumber(db: any SQLDatabase) async throws -> Int64 {
        guard let row = try await db.first(Statements.nextTicketNumber) else {
            throw DatabaseError(description: "the ticket number counter is missing; run mailroom migrate")
        }
        return try row.decode(column: "value", as: Int64.self)
    }

    /// A new ticket with its first message, inbound, already counted (as ``touchTicket(_:direction:addTags:db:now:)`` would);
    /// answers the ticket as stored, so the steps after the commit need not read it back.
    static func createTicket(for mail: InboundMail, customer: Customer, sender: EmailAddress, account: Account,
                             normalizedSubject: String, tags: [String], db: any SQLDatabase, now: Date) async throws -> Ticket {
        let id = Identifier.make(at: now)
        let number = try await nextTicketNumber(db: db)
        let millis = Timestamp.from(now)
        let subject = String(mail.subject.prefix(1_000))
        let ticketTags = Self.adding(tags, to: [])
        let customerName = sender.name ?? customer.name
        try await db.run(Statements.insertTicket, .text(id), .integer(number), .text(account.id), .text(subject),
                         .text(String(normalizedSubject.prefix(1_000))), .text(TicketStatus.new.rawValue), .text(TicketPriority.medium.rawValue),
                         .text(customer.id), .text(customer.address), .text(customerName), .text(JSONText.encode(ticketTags)),
                         .bool(false), .bool(true), .integer(millis), .integer(millis), .integer(millis))
        let stamp = Timestamp.date(millis)
        return Ticket(id: id, number: number, accountId: account.id, subject: subject, status: .new, priority: .medium, customerId: customer.id,
                      customer: EmailAddress(name: customerName, address: customer.address), tags: ticketTags, escalated: false, unread: true,
                      messageCount: 1, createdAt: stamp, updatedAt: stamp, lastMessageAt: stamp, lastMessageDirection: .inbound)
    }

    static func insertMessage(_ mail: InboundMail, ticketId: String, accountId: String, direction: MessageDirection,
                              deliveryState: DeliveryState?, columns: MessageColumnJSON? = nil, db: any SQLDatabase, now: Date) async throws -> String {
        let id = Identifier.make(at: now)
        let lists = columns ?? MessageColumnJSON(mail)
        try await db.run(Statements.insertMessage, .text(id), .text(ticketId), .text(accountId), .text(direction.rawValue), .text(mail.messageId),
                         .text(lists.inReplyTo), .text(lists.references), .text(mail.subject), .text(lists.from), .text(lists.to), .text(lists.cc),
                         .integer(mail.date.map(Timestamp.from)), .text(mail.text), .text(mail.html), .text(lists.attachments),
                         .text(deliveryState?.rawValue), .text(mail.rawSha256), .text(mail.contentHash), .integer(Timestamp.from(now)))
        return id
    }

    static func addParticipants(ticketId: String, from: [EmailAddress], to: [EmailAddress], cc: [EmailAddress],
                                db: any SQLDatabase) async throws {
        var rows: [(String, String)] = []
        for (role, addresses) in [("from", from), ("to", to), ("cc", cc)] {
            for address in addresses.prefix(200) where !rows.contains(where: { $0 == (address.key, role) }) {
                rows.append((address.key, role))
            }
        }
        // A few rows per statement: one statement per participant cost more than SQLite's work for it.
        var rest = rows[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(Statements.addParticipants.count)
            rest = rest.dropFirst(chunk.count)
            try await db.run(Statements.addParticipants[chunk.count - 1], chunk.flatMap { [SQLArgument.text(ticketId), .text($0.0), .text($0.1)] })
        }
    }

    /// A new message: count it, mark the ticket unread, and wake a ticket that waited for the customer.
    static func touchTicket(_ ticketId: String, direction: MessageDirection, addTags: [String], db: any SQLDatabase, now: Date) async throws {
        let millis = Timestamp.from(now)
        if direction == .inbound {
            try await db.run(Statements.touchInbound, .integer(millis), .integer(millis), .bool(true), .text(ticketId))
        } else {
            try await db.run(Statements.touchOutbound, .integer(millis), .integer(millis), .text(ticketId))
        }
        try await Self.addTags(addTags, to: ticketId, db: db)
    }

    /// Adds tags the ticket does not have yet, keeping their order.
    static func addTags(_ tags: [String], to ticketId: String, db: any SQLDatabase) async throws {
        guard !tags.isEmpty, let row = try await db.first(Statements.ticketTags, .text(ticketId)) else { return }
        let current = try fromJSON(try row.decode(column: "tags", as: String.self), as: [String].self)
        let merged = adding(tags, to: current)
        guard merged.count != current.count else { return }
        try await db.run(Statements.setTicketTags, .text(JSONText.encode(merged)), .text(ticketId))
    }

    /// `current` with those of `tags` it lacks appended, in order, each once.
    static func adding(_ tags: [String], to current: [String]) -> [String] {
        var merged = current
        for tag in tags where !merged.contains(tag) { merged.append(tag) }
        return merged
    }

    /// A value stored as JSON text (by ``json(_:)`` or `JSONText`). Most list columns hold `[]`, which needs no decoder.
    static func fromJSON<T: Decodable>(_ text: String, as type: T.Type) throws -> T {
        if text == "[]", let empty = [] as? T { return empty }
        return try JSONCoding.decoder.decode(type, from: Data(text.utf8))
    }

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONCoding.encoder.encode(value), as: UTF8.self)
    }

    // MARK: Reading

    public func blob(sha256: String) async throws -> [UInt8]? {
        try await database.withConnection { db in
            guard let row = try await db.first(Statements.blobBySHA256, .text(sha256)) else { return nil }
            return try Self.blobBytes(row, packs: database.blobPacks)
        }
    }

    public func ticket(id: String) async throws -> Ticket? {
        try await database.withConnection { db in
            try await db.first(Statements.ticketById, .text(id)).map(Self.ticket(from:))
        }
    }

    public func ticket(number: Int64) async throws -> Ticket? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(Self.ticketColumns) FROM tickets WHERE number = \(bind: number)").first().map(Self.ticket(from:))
        }
    }

    public func messages(ticketId: String) async throws -> [TicketMessage] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(Self.messageColumns) FROM messages WHERE ticket_id = \(bind: ticketId) ORDER BY created_at, id
                """).all().map(Self.message(from:))
        }
    }

    public func message(id: String) async throws -> TicketMessage? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(Self.messageColumns) FROM messages WHERE id = \(bind: id)").first().map(Self.message(from:))
        }
    }

    public func customer(address: String) async throws -> Customer? {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT id, name, address, created_at FROM customers WHERE address = \(bind: address.lowercased())")
                .first() else { return nil }
            return Customer(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String?.self),
                            address: try row.decode(column: "address", as: String.self),
                            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)))
        }
    }

    /// The filters of `GET /api/v1/tickets`.
    public struct TicketFilter: Sendable {
        public var accountIds: [String]?
        public var queueId: String?
        public var agentId: String?
        public var status: TicketStatus?
        public var unread: Bool?
        public var tag: String?
        public var since: Date?
        public var until: Date?
        public var unassigned: Bool?
        /// For an agent: only the tickets they may see (nil: supervisors and administrators see all).
        public var visibility: TicketVisibility?
        public var limit: Int
        public var cursor: String?

        public init(accountIds: [String]? = nil, queueId: String? = nil, agentId: String? = nil, status: TicketStatus? = nil,
                    unread: Bool? = nil, tag: String? = nil, since: Date? = nil, until: Date? = nil, unassigned: Bool? = nil,
                    limit: Int = 50, cursor: String? = nil) {
            self.accountIds = accountIds
            self.queueId = queueId
            self.agentId = agentId
            self.status = status
            self.unread = unread
            self.tag = tag
            self.since = since
            self.until = until
            self.unassigned = unassigned
            self.limit = limit
            self.cursor = cursor
        }
    }

    /// Newest activity first; the cursor is the last item's position, so pages stay stable while mail arrives.
    public func tickets(_ filter: TicketFilter) async throws -> (items: [Ticket], nextCursor: String?) {
        var clauses: [SQLQueryString] = []
        if let accountIds = filter.accountIds {
            if accountIds.isEmpty { return ([], nil) }
            clauses.append("account_id IN (\(binds: accountIds))")
        }
        if let queueId = filter.queueId { clauses.append("queue_id = \(bind: queueId)") }
        if let agentId = filter.agentId { clauses.append("agent_id = \(bind: agentId)") }
        if let status = filter.status { clauses.append("status = \(bind: status.rawValue)") }
        if let unread = filter.unread { clauses.append("unread = \(bind: unread)") }
        if let tag = filter.tag {
            let pattern = "%" + (try Self.json(tag)).replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
            clauses.append("tags LIKE \(bind: pattern)")
        }
        if let since = filter.since { clauses.append("last_message_at >= \(bind: Timestamp.from(since))") }
        if let until = filter.until { clauses.append("last_message_at < \(bind: Timestamp.from(until))") }
        if filter.unassigned == true { clauses.append("queue_id IS NULL AND agent_id IS NULL") }
        if let visibility = filter.visibility { clauses.append(Self.visibleClause(visibility)) }
        if let cursor = filter.cursor {
            let parts = cursor.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let millis = Int64(parts[0]) else { throw DomainError.invalid([FieldError("cursor", "is not a cursor this server gave out")]) }
            let id = String(parts[1])
            clauses.append("(last_message_at < \(bind: millis) OR (last_message_at = \(bind: millis) AND id < \(bind: id)))")
        }
        var whereClause: SQLQueryString = ""
        for (index, clause) in clauses.enumerated() {
            whereClause = index == 0 ? "WHERE \(clause)" : "\(whereClause) AND \(clause)"
        }
        let limit = max(1, min(filter.limit, 500))
        let query: SQLQueryString = """
            SELECT \(Self.ticketColumns) FROM tickets \(whereClause)
            ORDER BY last_message_at DESC, id DESC LIMIT \(literal: limit + 1)
            """
        let rows = try await database.withConnection { db in try await db.raw(query).all() }
        var items = try rows.map(Self.ticket(from:))
        var next: String?
        if items.count > limit {
            items.removeLast()
            if let last = items.last { next = "\(Timestamp.from(last.lastMessageAt)):\(last.id)" }
        }
        return (items, next)
    }

    // MARK: Quarantine

    public func quarantined(accountId: String? = nil, includeReplayed: Bool = false) async throws -> [QuarantinedMessage] {
        var clause: SQLQueryString = includeReplayed ? "WHERE 1 = 1" : "WHERE replayed_at IS NULL"
        if let accountId { clause = "\(clause) AND account_id = \(bind: accountId)" }
        let query: SQLQueryString = "SELECT \(Self.quarantineColumns) FROM quarantine \(clause) ORDER BY created_at DESC, id DESC"
        return try await database.withConnection { db in try await db.raw(query).all().map(Self.quarantined(from:)) }
    }

    public func quarantined(id: String) async throws -> QuarantinedMessage? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(Self.quarantineColumns) FROM quarantine WHERE id = \(bind: id)").first().map(Self.quarantined(from:))
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

    /// How many messages the account ingested (inbound messages on its tickets), kept by the ingest
    /// transactions themselves so that asking costs one row's read however large the mailbox.
    public func messageCount(accountId: String) async throws -> Int {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT inbound FROM account_message_counts WHERE account_id = \(bind: accountId)").first()
            else { return 0 }
            return try row.decode(column: "inbound", as: Int.self)
        }
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

    // MARK: Row mapping

    static let ticketColumnList = """
        id, number, account_id, subject, status, priority, customer_id, customer_address, customer_name, queue_id, agent_id, tags,
        escalated, unread, message_count, created_at, updated_at, last_message_at, last_direction
        """
    static let ticketColumns: SQLQueryString = "\(unsafeRaw: ticketColumnList)"

    static func ticket(from row: any SQLRow) throws -> Ticket {
        Ticket(
            id: try row.decode(column: "id", as: String.self),
            number: try row.decode(column: "number", as: Int64.self),
            accountId: try row.decode(column: "account_id", as: String.self),
            subject: try row.decode(column: "subject", as: String.self),
            status: TicketStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .open,
            priority: TicketPriority(rawValue: try row.decode(column: "priority", as: String.self)) ?? .medium,
            customerId: try row.decode(column: "customer_id", as: String.self),
            customer: EmailAddress(name: try row.decode(column: "customer_name", as: String?.self),
                                   address: try row.decode(column: "customer_address", as: String.self)),
            queueId: try row.decode(column: "queue_id", as: String?.self),
            agentId: try row.decode(column: "agent_id", as: String?.self),
            tags: try fromJSON(try row.decode(column: "tags", as: String.self), as: [String].self),
            escalated: try row.decode(column: "escalated", as: Bool.self),
            unread: try row.decode(column: "unread", as: Bool.self),
            messageCount: try row.decode(column: "message_count", as: Int.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Timestamp.date(try row.decode(column: "updated_at", as: Int64.self)),
            lastMessageAt: Timestamp.date(try row.decode(column: "last_message_at", as: Int64.self)),
            lastMessageDirection: try row.decode(column: "last_direction", as: String?.self).flatMap(MessageDirection.init(rawValue:)))
    }

    /// A message's columns, selected `FROM messages`. An outbound message's delivery state is its
    /// outbox row's (migration 15): recording a send outcome rewrites that small row, not the message
    /// row that carries the text. `messages.delivery_state` keeps the state it was queued with.
    static let messageColumns: SQLQueryString = """
        id, ticket_id, account_id, direction, message_id, in_reply_to, refs, subject, from_addresses, to_addresses, cc_addresses,
        sent_date, body_text, body_html, attachments,
        CASE WHEN direction = 'out'
             THEN COALESCE((SELECT o.state FROM outbox o WHERE o.message_id = messages.id ORDER BY o.created_at DESC LIMIT 1),
                           messages.delivery_state)
             ELSE messages.delivery_state END AS delivery_state,
        raw_sha256, created_at
        """

    static func message(from row: any SQLRow) throws -> TicketMessage {
        func decodeJSON<T: Decodable>(_ column: String, as type: T.Type) throws -> T {
            try fromJSON(try row.decode(column: column, as: String.self), as: type)
        }
        return TicketMessage(
            id: try row.decode(column: "id", as: String.self),
            ticketId: try row.decode(column: "ticket_id", as: String.self),
            accountId: try row.decode(column: "account_id", as: String.self),
            direction: MessageDirection(rawValue: try row.decode(column: "direction", as: String.self)) ?? .inbound,
            messageId: try row.decode(column: "message_id", as: String?.self),
            inReplyTo: try decodeJSON("in_reply_to", as: [String].self),
            references: try decodeJSON("refs", as: [String].self),
            subject: try row.decode(column: "subject", as: String.self),
            from: try decodeJSON("from_addresses", as: [EmailAddress].self),
            to: try decodeJSON("to_addresses", as: [EmailAddress].self),
            cc: try decodeJSON("cc_addresses", as: [EmailAddress].self),
            date: try row.decode(column: "sent_date", as: Int64?.self).map(Timestamp.date),
            text: try row.decode(column: "body_text", as: String?.self),
            html: try row.decode(column: "body_html", as: String?.self),
            attachments: try decodeJSON("attachments", as: [AttachmentInfo].self),
            deliveryState: try row.decode(column: "delivery_state", as: String?.self).flatMap(DeliveryState.init(rawValue:)),
            rawSha256: try row.decode(column: "raw_sha256", as: String.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)))
    }

    static let quarantineColumns: SQLQueryString = """
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

/// The resolvers' questions, answered inside the ingest transaction.
struct SQLOpenTicketFinder: OpenTicketFinder {
    let db: any SQLDatabase

    private func candidate(_ query: SQLQueryString) async throws -> TicketCandidate? {
        guard let row = try await db.raw(query).first() else { return nil }
        return try await candidate(from: row)
    }

    private func candidate(from row: any SQLRow) async throws -> TicketCandidate {
        let id = try row.decode(column: "id", as: String.self)
        let participants = try await db.raw("SELECT address FROM ticket_participants WHERE ticket_id = \(bind: id)").all()
            .map { try $0.decode(column: "address", as: String.self) }
        return TicketCandidate(ticketId: id, accountId: try row.decode(column: "account_id", as: String.self),
                               customerAddress: try row.decode(column: "customer_address", as: String.self),
                               participants: Set(participants))
    }

    func latestOpenTicket(customer: String, accountId: String?) async throws -> TicketCandidate? {
        let account: SQLQueryString = accountId.map { "AND account_id = \(bind: $0)" } ?? ""
        return try await candidate("""
            SELECT id, account_id, customer_address FROM tickets
            WHERE customer_address = \(bind: customer) AND status <> 'closed' \(account)
            ORDER BY last_message_at DESC, id DESC LIMIT 1
            """)
    }

    func latestOpenTicket(normalizedSubject: String, customer: String?, accountId: String?) async throws -> TicketCandidate? {
        let customerClause: SQLQueryString = customer.map { "AND customer_address = \(bind: $0)" } ?? ""
        let account: SQLQueryString = accountId.map { "AND account_id = \(bind: $0)" } ?? ""
        return try await candidate("""
            SELECT id, account_id, customer_address FROM tickets
            WHERE normalized_subject = \(bind: normalizedSubject) AND status <> 'closed' \(customerClause) \(account)
            ORDER BY last_message_at DESC, id DESC LIMIT 1
            """)
    }

    func latestOpenTicket(normalizedSubject: String, ccParticipant observer: String) async throws -> TicketCandidate? {
        try await candidate("""
            SELECT t.id AS id, t.account_id AS account_id, t.customer_address AS customer_address FROM tickets t
            JOIN ticket_participants p ON p.ticket_id = t.id
            WHERE t.normalized_subject = \(bind: normalizedSubject) AND t.status <> 'closed'
              AND p.address = \(bind: observer) AND p.role = 'cc'
            ORDER BY t.last_message_at DESC, t.id DESC LIMIT 1
            """)
    }

    func openTickets(containingMessageIds messageIds: [String]) async throws -> [TicketCandidate] {
        guard !messageIds.isEmpty else { return [] }
        let rows = try await db.raw("""
            SELECT DISTINCT t.id AS id, t.account_id AS account_id, t.customer_address AS customer_address, m.message_id AS message_id
            FROM messages m JOIN tickets t ON t.id = m.ticket_id
            WHERE m.message_id IN (\(binds: messageIds)) AND t.status <> 'closed'
            """).all()
        var byMessageId: [String: [any SQLRow]] = [:]
        for row in rows { byMessageId[try row.decode(column: "message_id", as: String.self), default: []].append(row) }
        var result: [TicketCandidate] = []
        var seen = Set<String>()
        for messageId in messageIds {
            for row in byMessageId[messageId] ?? [] {
                let candidate = try await candidate(from: row)
                if seen.insert(candidate.ticketId).inserted { result.append(candidate) }
            }
        }
        return result
    }

    func openTicket(number: Int64) async throws -> TicketCandidate? {
        try await candidate("""
            SELECT id, account_id, customer_address FROM tickets WHERE number = \(bind: number) AND status <> 'closed'
            """)
    }
}

// MARK: Ticket actions (routing)

extension SQLTicketStore {
    /// The condition `TicketVisibility.admits` states, in SQL.
    static func visibleClause(_ visibility: TicketVisibility) -> SQLQueryString {
        var clause: SQLQueryString = "(agent_id = \(bind: visibility.userId)"
        if !visibility.queueIds.isEmpty { clause = "\(clause) OR queue_id IN (\(binds: Array(visibility.queueIds)))" }
        if !visibility.accountIds.isEmpty {
            clause = "\(clause) OR (queue_id IS NULL AND agent_id IS NULL AND account_id IN (\(binds: Array(visibility.accountIds))))"
        }
        return "\(clause))"
    }

    /// Marks the ticket read or unread ("mark as unread"); nil when there is no such ticket.
    public func setUnread(ticketId: String, unread: Bool, now: Date = Date()) async throws -> Ticket? {
        try await database.withConnection { db in
            try await db.raw("UPDATE tickets SET unread = \(bind: unread), updated_at = \(bind: Timestamp.from(now)) WHERE id = \(bind: ticketId)").run()
        }
        return try await ticket(id: ticketId)
    }

    /// Replaces the tags, and sets the priority and the escalation flag, where given.
    public func updateAttributes(ticketId: String, tags: [String]?, priority: TicketPriority?, escalated: Bool?,
                                 now: Date = Date()) async throws -> Ticket? {
        let tagsJSON = try tags.map { try Self.json($0) }
        try await database.transaction { db in
            if let tagsJSON { try await db.raw("UPDATE tickets SET tags = \(bind: tagsJSON) WHERE id = \(bind: ticketId)").run() }
            if let priority { try await db.raw("UPDATE tickets SET priority = \(bind: priority.rawValue) WHERE id = \(bind: ticketId)").run() }
            if let escalated { try await db.raw("UPDATE tickets SET escalated = \(bind: escalated) WHERE id = \(bind: ticketId)").run() }
            try await db.raw("UPDATE tickets SET updated_at = \(bind: Timestamp.from(now)) WHERE id = \(bind: ticketId)").run()
        }
        return try await ticket(id: ticketId)
    }

    /// Closes the ticket with its disposition; false when it was closed already (or does not exist).
    public func close(ticketId: String, dispositionId: String?, now: Date = Date()) async throws -> Bool {
        let millis = Timestamp.from(now)
        return try await database.withConnection { db in
            !(try await db.raw("""
                UPDATE tickets SET status = 'closed', disposition_id = \(bind: dispositionId), closed_at = \(bind: millis), updated_at = \(bind: millis)
                WHERE id = \(bind: ticketId) AND status <> 'closed'
                RETURNING id
                """).all().isEmpty)
        }
    }

    /// The disposition a closed ticket was closed with.
    public func dispositionId(ticketId: String) async throws -> String? {
        try await database.withConnection { db in
            try await db.raw("SELECT disposition_id FROM tickets WHERE id = \(bind: ticketId)").first()?
                .decode(column: "disposition_id", as: String?.self)
        }
    }

    /// Account transfer: the ticket belongs to the other account now, to nobody in it yet, and is unread.
    public func moveToAccount(ticketId: String, accountId: String, now: Date = Date()) async throws {
        try await database.withConnection { db in
            try await db.raw("""
                UPDATE tickets SET account_id = \(bind: accountId), queue_id = NULL, agent_id = NULL, unread = \(bind: true),
                    updated_at = \(bind: Timestamp.from(now))
                WHERE id = \(bind: ticketId)
                """).run()
        }
    }

    /// The newest inbound message of a ticket (what the rules look at when they run again).
    public func latestInboundMessage(ticketId: String) async throws -> TicketMessage? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(Self.messageColumns) FROM messages WHERE ticket_id = \(bind: ticketId) AND direction = 'in'
                ORDER BY created_at DESC, id DESC LIMIT 1
                """).first().map(Self.message(from:))
        }
    }
}

extension SQLTicketStore {
    /// The statements of an ingest (see ``FixedSQL``).
    enum Statements {
        static let messageByContent = FixedSQL("SELECT ticket_id FROM messages WHERE account_id = ? AND content_hash = ?")
        static let messageOnTicket = FixedSQL("SELECT id FROM messages WHERE ticket_id = ? AND content_hash = ?")
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
        static let recordUIDL = FixedSQL("""
                INSERT INTO pop3_seen (account_id, uidl, created_at) VALUES (?, ?, ?)
                ON CONFLICT (account_id, uidl) DO NOTHING
                """)
        // A blob stored for a message or outgoing mail is held: if only quarantine entries held it
        // before, that ends (`quarantine_only`, migration 18). A blob stored for a quarantine entry
        // leaves an existing row as it is; the no-op update takes PostgreSQL's row lock, so that a
        // concurrent discard of another entry with the same bytes waits for this one and sees it.
        static let putBlob = FixedSQL("""
            INSERT INTO blobs (sha256, size, data, created_at, quarantine_only) VALUES (?, ?, ?, ?, FALSE)
            ON CONFLICT (sha256) DO UPDATE SET quarantine_only = FALSE WHERE blobs.quarantine_only
            """)
        static let putQuarantinedBlob = FixedSQL("""
            INSERT INTO blobs (sha256, size, data, created_at, quarantine_only) VALUES (?, ?, ?, ?, TRUE)
            ON CONFLICT (sha256) DO UPDATE SET quarantine_only = blobs.quarantine_only
            """)
        /// SQLite only (an empty blob literal).
        static let putPackedBlob = FixedSQL("""
            INSERT INTO blobs (sha256, size, data, pack, pack_offset, created_at, quarantine_only) VALUES (?, ?, x'', ?, ?, ?, FALSE)
            ON CONFLICT (sha256) DO UPDATE SET quarantine_only = FALSE WHERE blobs.quarantine_only
            """)
        static let putQuarantinedPackedBlob = FixedSQL("""
            INSERT INTO blobs (sha256, size, data, pack, pack_offset, created_at, quarantine_only) VALUES (?, ?, x'', ?, ?, ?, TRUE)
            ON CONFLICT (sha256) DO NOTHING
            """)
        static let holdBlob = FixedSQL("UPDATE blobs SET quarantine_only = FALSE WHERE sha256 = ? AND quarantine_only")
        static let blobExists = FixedSQL("SELECT 1 AS found FROM blobs WHERE sha256 = ?")
        static let blobBySHA256 = FixedSQL("SELECT size, data, pack, pack_offset FROM blobs WHERE sha256 = ?")
        static let customerByAddress = FixedSQL("SELECT id, name, address, created_at FROM customers WHERE address = ?")
        static let nameCustomer = FixedSQL("UPDATE customers SET name = ? WHERE id = ?")
        static let insertCustomer = FixedSQL("INSERT INTO customers (id, address, name, created_at) VALUES (?, ?, ?, ?)")
        static let nextTicketNumber = FixedSQL("UPDATE counters SET value = value + 1 WHERE name = 'ticket_number' RETURNING value")
        static let insertTicket = FixedSQL("""
            INSERT INTO tickets (id, number, account_id, subject, normalized_subject, status, priority, customer_id, customer_address,
                                 customer_name, queue_id, agent_id, tags, escalated, unread, message_count, created_at, updated_at,
                                 last_message_at, last_direction)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, 1, ?, ?, ?, 'in')
            """)
        static let insertMessage = FixedSQL("""
            INSERT INTO messages (id, ticket_id, account_id, direction, message_id, in_reply_to, refs, subject, from_addresses,
                                  to_addresses, cc_addresses, sent_date, body_text, body_html, attachments, delivery_state,
                                  raw_sha256, content_hash, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        /// Inserts 1, 2, ... 8 participants (the statement at index n - 1 takes n rows).
        static let addParticipants = (1...8).map { rows in
            FixedSQL("""
                INSERT INTO ticket_participants (ticket_id, address, role) VALUES \(Array(repeating: "(?, ?, ?)", count: rows).joined(separator: ", "))
                ON CONFLICT (ticket_id, address, role) DO NOTHING
                """)
        }
        static let touchInbound = FixedSQL("""
            UPDATE tickets SET message_count = message_count + 1, last_message_at = ?, updated_at = ?,
                last_direction = 'in', unread = ?, status = CASE WHEN status = 'pending' THEN 'open' ELSE status END
            WHERE id = ?
            """)
        static let touchOutbound = FixedSQL("""
            UPDATE tickets SET message_count = message_count + 1, last_message_at = ?, updated_at = ?,
                last_direction = 'out', status = CASE WHEN status = 'new' THEN 'open' ELSE status END
            WHERE id = ?
            """)
        static let ticketTags = FixedSQL("SELECT tags FROM tickets WHERE id = ?")
        static let setTicketTags = FixedSQL("UPDATE tickets SET tags = ? WHERE id = ?")
        static let ticketById = FixedSQL("SELECT \(ticketColumnList) FROM tickets WHERE id = ?")
    }
}
