import Foundation
import MailroomCore
import SQLKit

/// ``IngestSteps``' questions and writes, answered and made inside an ingest transaction.
struct SQLIngestLedger: IngestLedger {
    let db: any SQLDatabase
    let now: Date

    var finder: SQLOpenTicketFinder { SQLOpenTicketFinder(db: db) }

    func keepRaw(_ raw: [UInt8], sha256: String, staged: (any StagedRawMail)?) async throws {
        try await SQLRawMailStore.putBlob(raw, sha256: sha256, stored: staged as? BlobLocation, db: db, now: now)
    }

    func ticketOfMessage(contentHash: String, accountId: String) async throws -> String? {
        try await db.first(Statements.messageByContent, .text(accountId), .text(contentHash))?.decode(column: "ticket_id", as: String.self)
    }

    func ticket(_ ticketId: String, hasMessageWithContentHash contentHash: String) async throws -> Bool {
        try await db.first(Statements.messageOnTicket, .text(ticketId), .text(contentHash)) != nil
    }

    func reportedMessage(verpOutboxIds: [String], originalMessageIds ids: [String]) async throws -> ReportedMessage? {
        var original: (any SQLRow)?
        if !verpOutboxIds.isEmpty {
            original = try await db.raw("""
                SELECT m.id AS id, m.ticket_id AS ticket_id, m.message_id AS message_id FROM outbox o JOIN messages m ON m.id = o.message_id
                WHERE o.id IN (\(binds: verpOutboxIds))
                """).first()
        }
        if original == nil, !ids.isEmpty {
            let rows = try await db.raw("""
                SELECT id, ticket_id, message_id FROM messages WHERE direction = 'out' AND message_id IN (\(binds: ids))
                """).all()
            original = ids.lazy.compactMap({ id in rows.first { (try? $0.decode(column: "message_id", as: String.self)) == id } }).first
        }
        guard let original else { return nil }
        return ReportedMessage(messageId: try original.decode(column: "id", as: String.self),
                               ticketId: try original.decode(column: "ticket_id", as: String.self))
    }

    func recordBounce(of reported: ReportedMessage, permanentFailures: [BounceReport.Recipient]) async throws {
        let millis = Timestamp.from(now)
        try await db.raw("UPDATE outbox SET state = 'bounced', updated_at = \(bind: millis) WHERE message_id = \(bind: reported.messageId)").run()
        try await db.raw("UPDATE tickets SET escalated = \(bind: true) WHERE id = \(bind: reported.ticketId)").run()
        for recipient in permanentFailures {
            try await db.raw("DELETE FROM bounced_addresses WHERE address = \(bind: recipient.address.lowercased())").run()
            try await db.raw("""
                INSERT INTO bounced_addresses (address, status, diagnostic, last_bounced_at, message_id)
                VALUES (\(bind: recipient.address.lowercased()), \(bind: recipient.status), \(bind: recipient.diagnosticCode.map { String($0.prefix(500)) }),
                        \(bind: millis), \(bind: reported.messageId))
                """).run()
        }
    }

    func customer(address: String) async throws -> Customer? {
        guard let row = try await db.first(Statements.customerByAddress, .text(address)) else { return nil }
        return Customer(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String?.self),
                        address: address, createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)))
    }

    func createCustomer(_ customer: Customer) async throws {
        try await db.run(Statements.insertCustomer, .text(customer.id), .text(customer.address), .text(customer.name),
                         .integer(Timestamp.from(customer.createdAt ?? now)))
    }

    func nameCustomer(id: String, name: String) async throws {
        try await db.run(Statements.nameCustomer, .text(name), .text(id))
    }

    func nextTicketNumber() async throws -> Int64 {
        guard let row = try await db.first(Statements.nextTicketNumber) else {
            throw DatabaseError(description: "the ticket number counter is missing; run mailroom migrate")
        }
        return try row.decode(column: "value", as: Int64.self)
    }

    func insertTicket(_ ticket: Ticket, normalizedSubject: String) async throws -> Ticket {
        let millis = Timestamp.from(ticket.createdAt)
        try await db.run(Statements.insertTicket, .text(ticket.id), .integer(ticket.number), .text(ticket.accountId), .text(ticket.subject),
                         .text(normalizedSubject), .text(ticket.status.rawValue), .text(ticket.priority.rawValue),
                         .text(ticket.customerId), .text(ticket.customer.address), .text(ticket.customer.name), .text(JSONText.encode(ticket.tags)),
                         .bool(ticket.escalated), .bool(ticket.unread), .integer(millis), .integer(millis), .integer(millis))
        try await SQLTicketHistory.insert([TicketHistory.created(ticket, at: ticket.createdAt)], db: db)
        // As read back: times have the column's millisecond precision.
        var stored = ticket
        let stamp = Timestamp.date(millis)
        stored.createdAt = stamp
        stored.updatedAt = stamp
        stored.lastMessageAt = stamp
        return stored
    }

    func insertMessage(_ mail: InboundMail, ticketId: String, accountId: String, row: (any PreparedMessageRow)?) async throws -> String {
        try await SQLTicketWrites.insertMessage(mail, ticketId: ticketId, accountId: accountId, direction: .inbound, deliveryState: nil,
                                                columns: row as? MessageColumnJSON, db: db, now: now)
    }

    func addParticipants(ticketId: String, _ participants: [TicketParticipant]) async throws {
        try await SQLTicketWrites.addParticipants(ticketId: ticketId, participants, db: db)
    }

    func touchTicket(_ ticketId: String, _ touch: TicketTouch) async throws {
        try await SQLTicketWrites.touchTicket(ticketId, touch, db: db)
    }

    /// The statements of an ingest (see ``FixedSQL``).
    enum Statements {
        static let messageByContent = FixedSQL("SELECT ticket_id FROM messages WHERE account_id = ? AND content_hash = ?")
        static let messageOnTicket = FixedSQL("SELECT id FROM messages WHERE ticket_id = ? AND content_hash = ?")
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
