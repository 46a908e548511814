import Foundation
import MailroomCore
import SQLKit

/// Tickets and their messages as agents and the API see them: reading, filtering, and the actions
/// taken on a ticket. Messages get onto tickets through ``SQLIngestStore`` and ``SQLOutboxStore``.
public struct SQLTicketStore: Sendable {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    // MARK: Reading

    public func ticket(id: String) async throws -> Ticket? {
        try await database.withConnection { db in
            try await db.first(Statements.ticketById, .text(id)).map(TicketRows.ticket(from:))
        }
    }

    public func ticket(number: Int64) async throws -> Ticket? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(TicketRows.ticketColumns) FROM tickets WHERE number = \(bind: number)").first().map(TicketRows.ticket(from:))
        }
    }

    public func messages(ticketId: String) async throws -> [TicketMessage] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(TicketRows.messageColumns) FROM messages WHERE ticket_id = \(bind: ticketId) ORDER BY created_at, id
                """).all().map(TicketRows.message(from:))
        }
    }

    public func message(id: String) async throws -> TicketMessage? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(TicketRows.messageColumns) FROM messages WHERE id = \(bind: id)").first().map(TicketRows.message(from:))
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
            let pattern = "%" + (try StoredJSON.encode(tag)).replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
            clauses.append("tags LIKE \(bind: pattern)")
        }
        if let since = filter.since { clauses.append("last_message_at >= \(bind: Timestamp.from(since))") }
        if let until = filter.until { clauses.append("last_message_at < \(bind: Timestamp.from(until))") }
        if filter.unassigned == true { clauses.append("agent_id IS NULL AND status <> 'closed'") }
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
            SELECT \(TicketRows.ticketColumns) FROM tickets \(whereClause)
            ORDER BY last_message_at DESC, id DESC LIMIT \(literal: limit + 1)
            """
        let rows = try await database.withConnection { db in try await db.raw(query).all() }
        var items = try rows.map(TicketRows.ticket(from:))
        var next: String?
        if items.count > limit {
            items.removeLast()
            if let last = items.last { next = "\(Timestamp.from(last.lastMessageAt)):\(last.id)" }
        }
        return (items, next)
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

    // MARK: Routing

    /// Applies what the rules decided: tags added, priority, queue or agent, or closing with a disposition.
    public func applyRouting(ticketId: String, tags: [String], priority: TicketPriority?, queueId: String?, agentId: String?,
                             closeWithDisposition dispositionId: String?, now: Date = Date()) async throws {
        try await database.transaction { db in
            guard let row = try await db.first(SQLTicketWrites.Statements.ticketTags, .text(ticketId)) else { return }
            let before = try StoredJSON.decode(try row.decode(column: "tags", as: String.self), as: [String].self)
            let millis = Timestamp.from(now)
            try await SQLTicketWrites.addTags(tags, to: ticketId, db: db)
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
            var history: [TicketHistoryEntry] = []
            if let tagged = TicketHistory.tagged(ticketId: ticketId, before: before, after: TicketLifecycle.adding(tags, to: before), by: nil, at: now) {
                history.append(tagged)
            }
            if let dispositionId {
                let closed = try await db.raw("""
                    UPDATE tickets SET status = 'closed', disposition_id = \(bind: dispositionId), closed_at = \(bind: millis)
                    WHERE id = \(bind: ticketId) AND status <> 'closed'
                    RETURNING id
                    """).all()
                if !closed.isEmpty { history.append(TicketHistory.closed(ticketId: ticketId, dispositionId: dispositionId, by: nil, at: now)) }
            }
            try await SQLTicketHistory.insert(history, db: db)
        }
    }
}

// MARK: Ticket actions

extension SQLTicketStore {
    /// The condition `TicketVisibility.admits` states, in SQL.
    static func visibleClause(_ visibility: TicketVisibility) -> SQLQueryString {
        var others: SQLQueryString = "1 = 0"
        if !visibility.queueIds.isEmpty { others = "\(others) OR queue_id IN (\(binds: Array(visibility.queueIds)))" }
        if !visibility.accountIds.isEmpty {
            others = "\(others) OR (queue_id IS NULL AND agent_id IS NULL AND account_id IN (\(binds: Array(visibility.accountIds))))"
        }
        if let campaign = visibility.campaignAccountIds {
            // An agent in campaigns: of the others, only their campaigns' accounts.
            others = campaign.isEmpty ? "1 = 0" : "(\(others)) AND account_id IN (\(binds: campaign.sorted()))"
        }
        return "(agent_id = \(bind: visibility.userId) OR (\(others)))"
    }

    /// Marks the ticket read or unread ("mark as unread"); nil when there is no such ticket.
    public func setUnread(ticketId: String, unread: Bool, now: Date = Date()) async throws -> Ticket? {
        try await database.withConnection { db in
            try await db.raw("UPDATE tickets SET unread = \(bind: unread), updated_at = \(bind: Timestamp.from(now)) WHERE id = \(bind: ticketId)").run()
        }
        return try await ticket(id: ticketId)
    }

    /// Replaces the tags, and sets the priority and the escalation flag, where given.
    public func updateAttributes(ticketId: String, tags: [String]?, priority: TicketPriority?, escalated: Bool?, by actorId: String? = nil,
                                 now: Date = Date()) async throws -> Ticket? {
        let tagsJSON = try tags.map { try StoredJSON.encode($0) }
        try await database.transaction { db in
            if let tags, let tagsJSON, let row = try await db.first(SQLTicketWrites.Statements.ticketTags, .text(ticketId)) {
                let before = try StoredJSON.decode(try row.decode(column: "tags", as: String.self), as: [String].self)
                try await db.raw("UPDATE tickets SET tags = \(bind: tagsJSON) WHERE id = \(bind: ticketId)").run()
                if let entry = TicketHistory.tagged(ticketId: ticketId, before: before, after: tags, by: actorId, at: now) {
                    try await SQLTicketHistory.insert([entry], db: db)
                }
            }
            if let priority { try await db.raw("UPDATE tickets SET priority = \(bind: priority.rawValue) WHERE id = \(bind: ticketId)").run() }
            if let escalated { try await db.raw("UPDATE tickets SET escalated = \(bind: escalated) WHERE id = \(bind: ticketId)").run() }
            try await db.raw("UPDATE tickets SET updated_at = \(bind: Timestamp.from(now)) WHERE id = \(bind: ticketId)").run()
        }
        return try await ticket(id: ticketId)
    }

    /// Closes the ticket with its disposition; false when it was closed already (or does not exist).
    public func close(ticketId: String, dispositionId: String?, by actorId: String? = nil, now: Date = Date()) async throws -> Bool {
        let millis = Timestamp.from(now)
        return try await database.transaction { db in
            let closed = !(try await db.raw("""
                UPDATE tickets SET status = 'closed', disposition_id = \(bind: dispositionId), closed_at = \(bind: millis), updated_at = \(bind: millis)
                WHERE id = \(bind: ticketId) AND status <> 'closed'
                RETURNING id
                """).all().isEmpty)
            if closed {
                try await SQLTicketHistory.insert([TicketHistory.closed(ticketId: ticketId, dispositionId: dispositionId, by: actorId, at: now)], db: db)
            }
            return closed
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
    public func moveToAccount(ticketId: String, accountId: String, by actorId: String? = nil, now: Date = Date()) async throws {
        try await database.transaction { db in
            guard let row = try await db.raw("SELECT account_id FROM tickets WHERE id = \(bind: ticketId)").first() else { return }
            let from = try row.decode(column: "account_id", as: String.self)
            try await SQLTicketHistory.insert([TicketHistory.movedToAccount(ticketId: ticketId, from: from, to: accountId, by: actorId, at: now)], db: db)
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
                SELECT \(TicketRows.messageColumns) FROM messages WHERE ticket_id = \(bind: ticketId) AND direction = 'in'
                ORDER BY created_at DESC, id DESC LIMIT 1
                """).first().map(TicketRows.message(from:))
        }
    }
}

extension SQLTicketStore {
    enum Statements {
        static let ticketById = FixedSQL("SELECT \(TicketRows.ticketColumnList) FROM tickets WHERE id = ?")
    }
}

extension SQLTicketStore: TicketRepository {
    /// Per queue, its open tickets no agent holds yet.
    public func waitingCounts(queueIds: [String]) async throws -> [String: Int] {
        guard !queueIds.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var counts: [String: Int] = [:]
            for row in try await db.raw("""
                SELECT queue_id, COUNT(*) AS n FROM tickets
                WHERE queue_id IN (\(binds: Array(Set(queueIds)))) AND agent_id IS NULL AND status <> 'closed'
                GROUP BY queue_id
                """).all() {
                counts[try row.decode(column: "queue_id", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return counts
        }
    }
}
