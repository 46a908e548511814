import Foundation
import MailroomCore
import SQLKit
import MailMessage

/// Tickets and messages as their rows hold them: the columns read and how a row becomes a value.
enum TicketRows {
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
            tags: try StoredJSON.decode(try row.decode(column: "tags", as: String.self), as: [String].self),
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
            try StoredJSON.decode(try row.decode(column: column, as: String.self), as: type)
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
            attachments: try decodeJSON("attachments", as: [AttachmentSummary].self),
            deliveryState: try row.decode(column: "delivery_state", as: String?.self).flatMap(DeliveryState.init(rawValue:)),
            rawSha256: try row.decode(column: "raw_sha256", as: String.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)))
    }
}

/// An inbound message's list columns (references, addresses, attachments) as the store keeps them:
/// JSON text, made on the parse threads ahead of the transaction.
public struct MessageColumnJSON: PreparedMessageRow {
    let inReplyTo: String
    let references: String
    let from: String
    let to: String
    let cc: String
    let attachments: String

    public init(_ mail: InboundMail) {
        inReplyTo = JSONText.encode(mail.inReplyTo)
        references = JSONText.encode(mail.references)
        from = JSONText.encode(mail.from)
        to = JSONText.encode(mail.to)
        cc = JSONText.encode(mail.cc)
        attachments = JSONText.encode(mail.attachments)
    }
}
