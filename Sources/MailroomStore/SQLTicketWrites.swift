import Foundation
import MailroomCore
import SQLKit
import Synchronization

/// The writes that put a message on a ticket, shared by ingest and the outbox: the message row,
/// its participants, and the ticket touched as ``TicketLifecycle`` decided.
enum SQLTicketWrites {
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

    static func addParticipants(ticketId: String, _ participants: [TicketParticipant], db: any SQLDatabase) async throws {
        // A few rows per statement: one statement per participant cost more than SQLite's work for it.
        var rest = participants[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(Statements.addParticipants.count)
            rest = rest.dropFirst(chunk.count)
            try await db.run(Statements.addParticipants[chunk.count - 1],
                             chunk.flatMap { [SQLArgument.text(ticketId), .text($0.address), .text($0.role.rawValue)] })
        }
    }

    static func touchTicket(_ ticketId: String, _ touch: TicketTouch, db: any SQLDatabase) async throws {
        let millis = Timestamp.from(touch.at)
        var arguments: [SQLArgument] = [.integer(millis), .integer(millis)]
        if let unread = touch.unread { arguments.append(.bool(unread)) }
        arguments.append(.text(ticketId))
        try await db.run(Statements.touch(touch), arguments)
        try await addTags(touch.addTags, to: ticketId, db: db)
    }

    /// Adds tags the ticket does not have yet, keeping their order.
    static func addTags(_ tags: [String], to ticketId: String, db: any SQLDatabase) async throws {
        guard !tags.isEmpty, let row = try await db.first(Statements.ticketTags, .text(ticketId)) else { return }
        let current = try StoredJSON.decode(try row.decode(column: "tags", as: String.self), as: [String].self)
        let merged = TicketLifecycle.adding(tags, to: current)
        guard merged.count != current.count else { return }
        try await db.run(Statements.setTicketTags, .text(JSONText.encode(merged)), .text(ticketId))
    }

    enum Statements {
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
        static let ticketTags = FixedSQL("SELECT tags FROM tickets WHERE id = ?")
        static let setTicketTags = FixedSQL("UPDATE tickets SET tags = ? WHERE id = ?")

        /// The update a touch makes: the lifecycle's status change as a conditional expression, so
        /// applying it needs no read of the row. Made once per kind of touch.
        static func touch(_ touch: TicketTouch) -> FixedSQL {
            let key = TouchKey(direction: touch.direction, status: touch.status, setsUnread: touch.unread != nil)
            if key == inboundKey { return touchInbound }
            if key == outboundKey { return touchOutbound }
            return madeTouches.withLock { made in
                if let statement = made[key] { return statement }
                let statement = makeTouch(key)
                made[key] = statement
                return statement
            }
        }

        struct TouchKey: Hashable {
            let direction: MessageDirection
            let status: TicketLifecycle.StatusChange
            let setsUnread: Bool
        }

        static func makeTouch(_ key: TouchKey) -> FixedSQL {
            FixedSQL("""
                UPDATE tickets SET message_count = message_count + 1, last_message_at = ?, updated_at = ?,
                    last_direction = '\(key.direction.rawValue)',\(key.setsUnread ? " unread = ?," : "")
                    status = CASE WHEN status = '\(key.status.from.rawValue)' THEN '\(key.status.to.rawValue)' ELSE status END
                WHERE id = ?
                """)
        }

        static let inboundKey = TouchKey(direction: .inbound, status: TicketLifecycle.change(after: .inbound),
                                         setsUnread: TicketLifecycle.unread(after: .inbound) != nil)
        static let outboundKey = TouchKey(direction: .outbound, status: TicketLifecycle.change(after: .outbound),
                                          setsUnread: TicketLifecycle.unread(after: .outbound) != nil)
        static let touchInbound = makeTouch(inboundKey)
        static let touchOutbound = makeTouch(outboundKey)
        private static let madeTouches = Mutex<[TouchKey: FixedSQL]>([:])
    }
}
