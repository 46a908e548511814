import Foundation
import MailroomCore
import SQLKit

/// Writes and reads the lines of tickets' histories (`ticket_events`). The writes run inside the
/// transactions of the changes they record; what a line says is ``TicketHistory``'s.
enum SQLTicketHistory {
    static func insert(_ entries: [TicketHistoryEntry], db: any SQLDatabase) async throws {
        for entry in entries {
            try await db.run(Statements.insert, .text(entry.id), .text(entry.ticketId), .integer(Timestamp.from(entry.at)),
                             .text(entry.actorId), .text(entry.kind.rawValue), .text(try StoredJSON.encode(entry.details)))
        }
    }

    static func entries(ticketId: String, kind: TicketEventKind? = nil, newestFirst: Bool = false, limit: Int? = nil,
                        db: any SQLDatabase) async throws -> [TicketHistoryEntry] {
        let kindClause: SQLQueryString = kind.map { " AND kind = \(bind: $0.rawValue)" } ?? ""
        let limitClause: SQLQueryString = limit.map { " LIMIT \(literal: $0)" } ?? ""
        let order: SQLQueryString = newestFirst ? "seq DESC" : "seq"
        return try await db.raw("""
            SELECT id, ticket_id, at, actor_id, kind, details FROM ticket_events WHERE ticket_id = \(bind: ticketId)\(kindClause)
            ORDER BY \(order)\(limitClause)
            """).all().compactMap { row in
            // A kind a later version wrote is left out rather than failing the whole history.
            guard let kind = TicketEventKind(rawValue: try row.decode(column: "kind", as: String.self)) else { return nil }
            return TicketHistoryEntry(id: try row.decode(column: "id", as: String.self), ticketId: try row.decode(column: "ticket_id", as: String.self),
                                      at: Timestamp.date(try row.decode(column: "at", as: Int64.self)),
                                      actorId: try row.decode(column: "actor_id", as: String?.self), kind: kind,
                                      details: (try? StoredJSON.decode(try row.decode(column: "details", as: String.self), as: [String: String].self)) ?? [:])
        }
    }

    enum Statements {
        static let insert = FixedSQL("INSERT INTO ticket_events (id, ticket_id, at, actor_id, kind, details) VALUES (?, ?, ?, ?, ?, ?)")
    }
}

extension SQLTicketStore: TicketHistoryRepository {
    public func history(ticketId: String) async throws -> [TicketHistoryEntry] {
        try await database.withConnection { db in try await SQLTicketHistory.entries(ticketId: ticketId, db: db) }
    }

    public func lastClosing(ticketId: String) async throws -> TicketHistoryEntry? {
        try await database.withConnection { db in
            try await SQLTicketHistory.entries(ticketId: ticketId, kind: .closed, newestFirst: true, limit: 1, db: db).first
        }
    }

    public func reopen(ticketId: String, by actorId: String?, now: Date) async throws -> Ticket? {
        let millis = Timestamp.from(now)
        let reopened = try await database.transaction { db -> Bool in
            let rows = try await db.raw("""
                UPDATE tickets SET status = \(bind: TicketDeskRules.reopenedStatus.rawValue), disposition_id = NULL, closed_at = NULL,
                    updated_at = \(bind: millis)
                WHERE id = \(bind: ticketId) AND status = 'closed'
                RETURNING id
                """).all()
            guard !rows.isEmpty else { return false }
            try await SQLTicketHistory.insert([TicketHistory.reopened(ticketId: ticketId, by: actorId, at: now)], db: db)
            return true
        }
        return reopened ? try await ticket(id: ticketId) : nil
    }
}
