import Crypto
import Foundation
import MailMessage
import MailroomCore
import SQLKit

/// The outbox: outbound messages written with their ticket update, claimed by senders under a
/// lease (so two senders never send the same row), and every attempt logged.
public struct SQLOutboxStore: OutboxRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    /// Adds an outbound message to its ticket and to the outbox, in one transaction.
    /// With `verp`, the envelope sender becomes this entry's own return path (see `VERPAddress`).
    public func enqueue(_ message: InboundMail, raw: [UInt8], ticketId: String, sendingAccountId: String, envelopeFrom: String,
                        recipients: [String], verp: Bool = false, by actorId: String? = nil,
                        now: Date = Date()) async throws -> (message: TicketMessage, item: OutboxItem) {
        let (messageRowId, item) = try await database.transaction { db -> (String, OutboxItem) in
            try await SQLRawMailStore.putBlob(raw, sha256: message.rawSha256, db: db, now: now)
            guard try await db.raw("SELECT id FROM tickets WHERE id = \(bind: ticketId)").first() != nil else {
                throw DomainError.notFound("ticket \(ticketId)")
            }
            let rowId = try await SQLTicketWrites.insertMessage(message, ticketId: ticketId, accountId: sendingAccountId,
                                                               direction: .outbound, deliveryState: .queued, db: db, now: now)
            try await SQLTicketWrites.addParticipants(ticketId: ticketId, TicketParticipant.of(from: [], to: message.to, cc: message.cc), db: db)
            try await SQLTicketWrites.touchTicket(ticketId, TicketTouch(direction: .outbound, at: now), db: db)
            try await SQLTicketHistory.insert([TicketHistory.replied(ticketId: ticketId, messageId: rowId, subject: message.subject,
                                                                     by: actorId, at: now)], db: db)
            let id = Identifier.make(at: now)
            let item = OutboxItem(id: id, ticketId: ticketId, messageId: rowId, accountId: sendingAccountId,
                                  nextAttemptAt: now, envelopeFrom: verp ? VERPAddress.make(base: envelopeFrom, outboxId: id) : envelopeFrom,
                                  recipients: recipients, rawSha256: message.rawSha256, createdAt: now)
            try await db.raw("""
                INSERT INTO outbox (id, ticket_id, message_id, account_id, state, attempts, next_attempt_at, lease_owner, lease_expires_at,
                                    envelope_from, recipients, raw_sha256, last_error, created_at, updated_at, sent_at)
                VALUES (\(bind: item.id), \(bind: ticketId), \(bind: rowId), \(bind: sendingAccountId), 'queued', 0,
                        \(bind: Timestamp.from(now)), NULL, NULL, \(bind: item.envelopeFrom), \(bind: try StoredJSON.encode(recipients)),
                        \(bind: message.rawSha256), NULL, \(bind: Timestamp.from(now)), \(bind: Timestamp.from(now)), NULL)
                """).run()
            return (rowId, item)
        }
        guard let stored = try await SQLTicketStore(database: database).message(id: messageRowId) else {
            throw DomainError.notFound("message \(messageRowId)")
        }
        return (stored, item)
    }

    /// Takes up to `limit` due rows for `owner` until `leaseSeconds` from now. A row whose sender
    /// died mid-send is taken again once its lease lapses. The rows become 'sending' (and so do
    /// their ticket messages, whose delivery state is the row's). Rows of an inactive account stay
    /// where they are until it is switched on again.
    public func claimDue(owner: String, limit: Int, leaseSeconds: TimeInterval, now: Date = Date()) async throws -> [OutboxItem] {
        let nowMillis = Timestamp.from(now)
        let expires = Timestamp.from(now.addingTimeInterval(leaseSeconds))
        let kind = database.kind
        let limit = max(1, limit)
        return try await database.transaction { db in
            let due: SQLQueryString
            if kind == .postgres {
                due = """
                    SELECT id FROM outbox
                    WHERE ((state IN ('queued', 'retrying') AND next_attempt_at <= \(bind: nowMillis))
                       OR (state = 'sending' AND lease_expires_at < \(bind: nowMillis)))
                      AND NOT \(Self.heldByInactiveAccount)
                    ORDER BY next_attempt_at, id LIMIT \(literal: limit) FOR UPDATE SKIP LOCKED
                    """
            } else {
                // SQLite runs the OR above as a scan of every due row and a sort of all of them, for
                // every batch: with 10,000 queued, claiming them in batches of 200 sorted 250,000
                // rows. Each state's rows come in order from the outbox_due index instead, `limit` at
                // most each (the writer lock makes FOR UPDATE unnecessary here).
                func oldest(_ condition: SQLQueryString) -> SQLQueryString {
                    """
                    SELECT id, next_attempt_at FROM (
                        SELECT id, next_attempt_at FROM outbox WHERE \(condition) AND NOT \(Self.heldByInactiveAccount)
                        ORDER BY next_attempt_at, id LIMIT \(literal: limit)
                    ) AS oldest
                    """
                }
                due = """
                    SELECT id FROM (
                        \(oldest("state = 'queued' AND next_attempt_at <= \(bind: nowMillis)"))
                        UNION ALL \(oldest("state = 'retrying' AND next_attempt_at <= \(bind: nowMillis)"))
                        UNION ALL \(oldest("state = 'sending' AND lease_expires_at < \(bind: nowMillis)"))
                    ) AS due ORDER BY next_attempt_at, id LIMIT \(literal: limit)
                    """
            }
            let ids = try await db.raw(due).all().map { try $0.decode(column: "id", as: String.self) }
            guard !ids.isEmpty else { return [] }
            try await db.raw("""
                UPDATE outbox SET state = 'sending', lease_owner = \(bind: owner), lease_expires_at = \(bind: expires),
                    updated_at = \(bind: nowMillis)
                WHERE id IN (\(binds: ids))
                """).run()
            let decoder = JSONDecoder()
            return try await db.raw("SELECT \(Self.columns) FROM outbox WHERE id IN (\(binds: ids)) ORDER BY next_attempt_at, id").all()
                .map { try Self.item(from: $0, decoder: decoder) }
        }
    }

    /// Makes rows this owner held mid-send due again (after a crash of the same node); returns how many.
    /// Such a row may have been sent already: DATA answered, result not recorded. That is the one duplicate possible.
    @discardableResult
    public func releaseLeases(owner: String, now: Date = Date()) async throws -> Int {
        let millis = Timestamp.from(now)
        return try await database.transaction { db in
            let rows = try await db.raw("""
                UPDATE outbox SET state = 'retrying', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = \(bind: millis),
                    updated_at = \(bind: millis)
                WHERE state = 'sending' AND lease_owner = \(bind: owner)
                RETURNING id
                """).all()
            return rows.count
        }
    }

    /// Records an attempt and moves the row (and so its ticket message, whose delivery state is the row's) to the state it leads to.
    /// Only the sender holding the lease may record, so a lapsed sender cannot overwrite a newer result.
    @discardableResult
    public func record(_ attempt: OutboxAttempt, item: OutboxItem, state: DeliveryState, owner: String,
                       escalateOnFailure: Bool = true, now: Date = Date()) async throws -> Bool {
        let recorded = try await record([OutboxOutcome(item: item, attempt: attempt, state: state)], owner: owner,
                                        escalateOnFailure: escalateOnFailure, now: now)
        return recorded.contains(item.id)
    }

    /// Records several attempts in one transaction (the sender's group commit) and returns the ids
    /// recorded. A row is recorded only while `owner` still holds its lease: the check and the
    /// update are one statement, so a sender whose lease lapsed cannot overwrite a newer result.
    @discardableResult
    public func record(_ outcomes: [OutboxOutcome], owner: String, escalateOnFailure: Bool = true,
                       now: Date = Date()) async throws -> Set<String> {
        guard !outcomes.isEmpty else { return [] }
        let nowMillis = Timestamp.from(now)
        // Encoded before the transaction: SQLite's one writer is held as briefly as possible.
        let attemptRows = outcomes.map { outcome -> SQLQueryString in
            let attempt = outcome.attempt
            let recipients = JSONText.encode(attempt.recipients)
            return """
                (\(bind: Identifier.make(at: now)), \(bind: outcome.item.id), \(bind: Timestamp.from(attempt.attemptedAt)),
                 \(bind: attempt.outcome.rawValue), \(bind: attempt.replyCode), \(bind: attempt.enhancedStatus), \(bind: attempt.text),
                 \(bind: attempt.errorClass?.rawValue), \(bind: attempt.policy?.rawValue),
                 \(bind: attempt.nextAttemptAt.map(Timestamp.from)), \(bind: recipients))
                """
        }
        // Successes all move their row the same way, so one statement records them all.
        let plain = outcomes.indices.filter { outcomes[$0].state == .sent && outcomes[$0].attempt.outcome == .sent }
        let plainSet = Set(plain)
        let others = outcomes.indices.filter { !plainSet.contains($0) }
        // Mail a server accepted must stay recorded as sent, also across a power failure: a
        // rolled-back "sent" would send it again once its lease lapsed.
        let accepted = outcomes.contains { $0.attempt.outcome == .sent || $0.attempt.recipients.contains(where: \.accepted) }
        return try await database.transaction(durable: accepted) { db in
            var recorded: Set<String> = []
            for chunk in Self.chunks(plain, size: Self.rowsPerStatement) {
                let ids = chunk.map { outcomes[$0].item.id }
                let rows = try await db.raw("""
                    UPDATE outbox SET state = 'sent', next_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
                        last_error = NULL, updated_at = \(bind: nowMillis), sent_at = \(bind: nowMillis)
                    WHERE id IN (\(binds: ids)) AND lease_owner = \(bind: owner) AND state = 'sending'
                    RETURNING id
                    """).all()
                for row in rows { recorded.insert(try row.decode(column: "id", as: String.self)) }
            }
            for index in others {
                let (item, attempt, state) = (outcomes[index].item, outcomes[index].attempt, outcomes[index].state)
                let attempts: SQLQueryString = attempt.outcome == .failed ? "attempts + 1" : "attempts"
                let row = try await db.raw("""
                    UPDATE outbox SET state = \(bind: state.rawValue), attempts = \(attempts),
                        next_attempt_at = \(bind: attempt.nextAttemptAt.map(Timestamp.from)), lease_owner = NULL, lease_expires_at = NULL,
                        last_error = \(bind: attempt.outcome == .failed ? attempt.text : nil), updated_at = \(bind: nowMillis),
                        sent_at = \(bind: state == .sent ? nowMillis : nil)
                    WHERE id = \(bind: item.id) AND lease_owner = \(bind: owner) AND state = 'sending'
                    RETURNING id
                    """).first()
                if row != nil { recorded.insert(item.id) }
            }
            let kept = outcomes.indices.filter { recorded.contains(outcomes[$0].item.id) }
            for chunk in Self.chunks(kept, size: Self.rowsPerStatement) {
                try await db.raw("""
                    INSERT INTO outbox_attempts (id, outbox_id, attempted_at, outcome, reply_code, enhanced_status, text, error_class, policy,
                                                 next_attempt_at, recipients)
                    VALUES \(chunk.map { attemptRows[$0] }.joined(separator: ", "))
                    """).run()
            }
            // The ticket messages are not touched: an outbound message's delivery state is its outbox
            // row's (`SQLTicketStore.messageColumns`), so recording rewrites only small rows, not the
            // message row that carries the text.
            let failedTickets = Set(kept.filter { outcomes[$0].state == .failed }.map { outcomes[$0].item.ticketId })
            if escalateOnFailure && !failedTickets.isEmpty {
                // A reply that never reached the customer must not go unnoticed.
                // Unread as well, so it reappears among the agent's tickets until live notifications carry it.
                try await db.raw("""
                    UPDATE tickets SET escalated = \(bind: true), unread = \(bind: true), updated_at = \(bind: nowMillis)
                    WHERE id IN (\(binds: failedTickets.sorted()))
                    """).run()
            }
            return recorded
        }
    }

    /// Moves the lease on rows this owner still holds mid-send to `leaseSeconds` from now (a long
    /// batch to a slow server must not lose its rows to another sender while it works through them).
    /// Returns the ids renewed: a row missing from it was recorded already, or its lease lapsed and
    /// another sender took it, and must not be sent by this one.
    @discardableResult
    public func renewLeases(ids: [String], owner: String, leaseSeconds: TimeInterval, now: Date = Date()) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let expires = Timestamp.from(now.addingTimeInterval(leaseSeconds))
        return try await database.transaction { db in
            var renewed: Set<String> = []
            for chunk in Self.chunks(ids.indices, size: Self.rowsPerStatement) {
                let rows = try await db.raw("""
                    UPDATE outbox SET lease_expires_at = \(bind: expires)
                    WHERE id IN (\(binds: chunk.map { ids[$0] })) AND lease_owner = \(bind: owner) AND state = 'sending'
                    RETURNING id
                    """).all()
                for row in rows { renewed.insert(try row.decode(column: "id", as: String.self)) }
            }
            return renewed
        }
    }

    /// The stored copies of several outbound messages in one query, by SHA-256. Missing ones are
    /// absent, and so are those larger than `upToBytes` when it is given.
    public func rawMessages(sha256: [String], upToBytes: Int? = nil) async throws -> [String: [UInt8]] {
        let keys = Array(Set(sha256))
        guard !keys.isEmpty else { return [:] }
        let sizeLimit: SQLQueryString = upToBytes.map { " AND size <= \(bind: $0)" } ?? ""
        return try await database.withConnection { db in
            var found: [String: [UInt8]] = [:]
            for chunk in Self.chunks(keys.indices, size: Self.rowsPerStatement) {
                let rows = try await db.raw("""
                    SELECT sha256, size, data, pack, pack_offset FROM blobs WHERE sha256 IN (\(binds: chunk.map { keys[$0] }))\(sizeLimit)
                    """).all()
                for row in rows {
                    found[try row.decode(column: "sha256", as: String.self)] = try SQLRawMailStore.blobBytes(row, packs: database.blobPacks)
                }
            }
            return found
        }
    }

    /// Rows per multi-row statement: far below SQLite's and PostgreSQL's limits on bound values (11 per attempt row).
    static let rowsPerStatement = 500

    static func chunks<C: Collection>(_ values: C, size: Int) -> [C.SubSequence] {
        var result: [C.SubSequence] = []
        var start = values.startIndex
        while start != values.endIndex {
            let end = values.index(start, offsetBy: size, limitedBy: values.endIndex) ?? values.endIndex
            result.append(values[start..<end])
            start = end
        }
        return result
    }

    public func items(state: DeliveryState? = nil, limit: Int = 200) async throws -> [OutboxItem] {
        let clause: SQLQueryString = state.map { "WHERE state = \(bind: $0.rawValue)" } ?? ""
        let query: SQLQueryString = "SELECT \(Self.columns) FROM outbox \(clause) ORDER BY created_at DESC, id DESC LIMIT \(literal: limit)"
        let items = try await database.withConnection { db in try await db.raw(query).all().map(Self.item(from:)) }
        return try await annotateHeld(items)
    }

    public func item(id: String) async throws -> OutboxItem? {
        let item = try await database.withConnection { db in
            try await db.raw("SELECT \(Self.columns) FROM outbox WHERE id = \(bind: id)").first().map(Self.item(from:))
        }
        guard let item else { return nil }
        return try await annotateHeld([item]).first
    }

    public func attemptCounts(outboxIds: [String]) async throws -> [String: Int] {
        guard !outboxIds.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var counts: [String: Int] = [:]
            for row in try await db.raw("""
                SELECT outbox_id, COUNT(*) AS n FROM outbox_attempts WHERE outbox_id IN (\(binds: Array(Set(outboxIds)))) GROUP BY outbox_id
                """).all() {
                counts[try row.decode(column: "outbox_id", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return counts
        }
    }

    public func attempts(outboxId: String) async throws -> [OutboxAttempt] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT id, outbox_id, attempted_at, outcome, reply_code, enhanced_status, text, error_class, policy, next_attempt_at, recipients
                FROM outbox_attempts WHERE outbox_id = \(bind: outboxId) ORDER BY attempted_at, id
                """).all().map { row in
                OutboxAttempt(
                    id: try row.decode(column: "id", as: String.self),
                    outboxId: try row.decode(column: "outbox_id", as: String.self),
                    attemptedAt: Timestamp.date(try row.decode(column: "attempted_at", as: Int64.self)),
                    outcome: OutboxAttempt.Outcome(rawValue: try row.decode(column: "outcome", as: String.self)) ?? .failed,
                    replyCode: try row.decode(column: "reply_code", as: Int?.self),
                    enhancedStatus: try row.decode(column: "enhanced_status", as: String?.self),
                    text: try row.decode(column: "text", as: String.self),
                    errorClass: try row.decode(column: "error_class", as: String?.self).flatMap(DeliveryErrorClass.init(rawValue:)),
                    policy: try row.decode(column: "policy", as: String?.self).flatMap(RetryPolicyKind.init(rawValue:)),
                    nextAttemptAt: try row.decode(column: "next_attempt_at", as: Int64?.self).map(Timestamp.date),
                    recipients: try JSONCoding.decoder.decode([OutboxAttempt.RecipientResult].self,
                                                              from: Data(try row.decode(column: "recipients", as: String.self).utf8)))
            }
        }
    }

    /// Queues a failed (or bounced) message again, with a fresh count of attempts.
    public func resend(id: String, now: Date = Date()) async throws -> OutboxItem {
        try await database.transaction { db in
            guard let row = try await db.raw("SELECT \(Self.columns) FROM outbox WHERE id = \(bind: id)").first() else {
                throw DomainError.notFound("outbox entry \(id)")
            }
            let item = try Self.item(from: row)
            guard [.failed, .bounced, .retrying].contains(item.state) else {
                throw DomainError.conflict(FieldError("state", "is '\(item.state.rawValue)'; only failed, bounced or retrying messages are sent again"))
            }
            try await db.raw("""
                UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = \(bind: Timestamp.from(now)),
                    updated_at = \(bind: Timestamp.from(now)) WHERE id = \(bind: id)
                """).run()
            var updated = item
            updated.state = .queued
            updated.attempts = 0
            updated.nextAttemptAt = now
            return updated
        }
    }

    // MARK: Auto-replies

    public func autoReplyHistory(ticketId: String, recipient: String, now: Date = Date()) async throws -> (onTicket: Int, toRecipientLastHour: Int) {
        let hourAgo = Timestamp.from(now.addingTimeInterval(-3_600))
        return try await database.withConnection { db in
            let onTicket = try await db.raw("SELECT COUNT(*) AS n FROM auto_replies WHERE ticket_id = \(bind: ticketId)").first()?
                .decode(column: "n", as: Int.self) ?? 0
            let recent = try await db.raw("""
                SELECT COUNT(*) AS n FROM auto_replies WHERE recipient = \(bind: recipient.lowercased()) AND sent_at >= \(bind: hourAgo)
                """).first()?.decode(column: "n", as: Int.self) ?? 0
            return (onTicket, recent)
        }
    }

    public func recordAutoReply(ticketId: String, recipients: [String], now: Date = Date()) async throws {
        try await database.transaction { db in
            for recipient in recipients {
                try await db.raw("""
                    INSERT INTO auto_replies (id, ticket_id, recipient, sent_at)
                    VALUES (\(bind: Identifier.make(at: now)), \(bind: ticketId), \(bind: recipient.lowercased()), \(bind: Timestamp.from(now)))
                    """).run()
            }
        }
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

    // MARK: Uploads (attachments for replies)

    public func saveUpload(_ data: [UInt8], filename: String, contentType: String, contentId: String?, inline: Bool,
                           uploadedBy: String?, now: Date = Date()) async throws -> Upload {
        let sha256 = MailMessage.SHA256.hex(Crypto.SHA256.hash(data: data))
        let upload = Upload(id: Identifier.make(at: now), sha256: sha256, filename: filename, contentType: contentType, size: data.count,
                            contentId: contentId, inline: inline, createdAt: now)
        try await database.transaction { db in
            try await SQLRawMailStore.putBlob(data, sha256: sha256, forUpload: true, db: db, now: now)
            try await db.raw("""
                INSERT INTO uploads (id, sha256, filename, content_type, size, content_id, inline, uploaded_by, created_at)
                VALUES (\(bind: upload.id), \(bind: sha256), \(bind: filename), \(bind: contentType), \(bind: data.count),
                        \(bind: contentId), \(bind: inline), \(bind: uploadedBy), \(bind: Timestamp.from(now)))
                """).run()
        }
        return upload
    }

    public func uploads(ids: [String]) async throws -> [Upload] {
        guard !ids.isEmpty else { return [] }
        let rows = try await database.withConnection { db in
            try await db.raw("""
                SELECT id, sha256, filename, content_type, size, content_id, inline, created_at FROM uploads WHERE id IN (\(binds: ids))
                """).all()
        }
        let found = try rows.map { row in
            Upload(id: try row.decode(column: "id", as: String.self), sha256: try row.decode(column: "sha256", as: String.self),
                   filename: try row.decode(column: "filename", as: String.self), contentType: try row.decode(column: "content_type", as: String.self),
                   size: try row.decode(column: "size", as: Int.self), contentId: try row.decode(column: "content_id", as: String?.self),
                   inline: try row.decode(column: "inline", as: Bool.self),
                   createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)))
        }
        // In the order asked for.
        return ids.compactMap { id in found.first { $0.id == id } }
    }

    static let columns: SQLQueryString = """
        id, ticket_id, message_id, account_id, state, attempts, next_attempt_at, envelope_from, recipients, raw_sha256, last_error,
        created_at, updated_at, sent_at, purpose
        """

    static func item(from row: any SQLRow) throws -> OutboxItem {
        try item(from: row, decoder: JSONDecoder())
    }

    static func item(from row: any SQLRow, decoder: JSONDecoder) throws -> OutboxItem {
        // System mail (migration 41) belongs to no ticket: its ticket and message read as "".
        var item = OutboxItem(
            id: try row.decode(column: "id", as: String.self),
            ticketId: try row.decode(column: "ticket_id", as: String?.self) ?? "",
            messageId: try row.decode(column: "message_id", as: String?.self) ?? "",
            accountId: try row.decode(column: "account_id", as: String.self),
            state: DeliveryState(rawValue: try row.decode(column: "state", as: String.self)) ?? .queued,
            attempts: try row.decode(column: "attempts", as: Int.self),
            nextAttemptAt: try row.decode(column: "next_attempt_at", as: Int64?.self).map(Timestamp.date),
            envelopeFrom: try row.decode(column: "envelope_from", as: String.self),
            recipients: try OutboxJSON.decodeAddresses(try row.decode(column: "recipients", as: String.self), decoder: decoder),
            rawSha256: try row.decode(column: "raw_sha256", as: String.self),
            lastError: try row.decode(column: "last_error", as: String?.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Timestamp.date(try row.decode(column: "updated_at", as: Int64.self)),
            sentAt: try row.decode(column: "sent_at", as: Int64?.self).map(Timestamp.date))
        item.purpose = try row.decode(column: "purpose", as: String?.self)
        return item
    }
}


/// The outbox's small JSON columns read without Foundation's decoder, which cost more than the rest
/// of recording a send (they are written by `JSONText`).
enum OutboxJSON {
    /// A list of addresses as stored by `enqueue`; anything but plain strings goes to the full decoder.
    static func decodeAddresses(_ text: String, decoder: JSONDecoder) throws -> [String] {
        if let fast = plainStrings(text) { return fast }
        return try decoder.decode([String].self, from: Data(text.utf8))
    }

    /// `["a","b"]` with no escapes and no whitespace, else nil.
    static func plainStrings(_ text: String) -> [String]? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]") else { return nil }
        if bytes.count == 2 { return [] }
        var result: [String] = []
        var index = 1
        while true {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let start = index + 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
                if bytes[end] == UInt8(ascii: "\\") || bytes[end] < 0x20 { return nil }
                end += 1
            }
            guard end < bytes.count else { return nil }
            result.append(String(decoding: bytes[start..<end], as: UTF8.self))
            index = end + 1
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "]") { return index == bytes.count - 1 ? result : nil }
            guard bytes[index] == UInt8(ascii: ",") else { return nil }
            index += 1
        }
    }
}
