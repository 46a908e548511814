import Foundation
import MailMessage

public enum TicketStatus: String, NamedValues {
    /// Nobody has worked on it yet.
    case new
    case open
    /// Waiting for the customer.
    case pending
    case closed
}

public enum TicketPriority: String, NamedValues {
    case low, medium, high
}

public enum MessageDirection: String, NamedValues {
    case inbound = "in"
    case outbound = "out"
}

/// A mail address with its display name, shaped as `mailroom parse` prints it.
public struct EmailAddress: Sendable, Hashable, Codable {
    public var name: String?
    /// As written, except that the domain is lowercased.
    public var address: String

    public init(name: String? = nil, address: String) {
        self.name = name?.isEmpty == true ? nil : name
        self.address = EmailAddress.normalise(address)
    }

    /// The form addresses are compared in: the whole address lowercased (local parts are
    /// case-sensitive in theory, never in the mailboxes contact centers deal with).
    public var key: String { address.lowercased() }

    static func normalise(_ address: String) -> String {
        if isNormalised(address) { return address }
        let trimmed = address.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let at = trimmed.lastIndex(of: "@") else { return trimmed }
        return trimmed[..<at] + trimmed[at...].lowercased()
    }

    /// True when `normalise` would return the address unchanged, decided from its bytes alone (the
    /// usual case: addresses are made once and read back many times). Printable ASCII at both ends
    /// (nothing to trim) and no upper-case or non-ASCII letter after the last `@`.
    static func isNormalised(_ address: String) -> Bool {
        let bytes = address.utf8
        guard let first = bytes.first, let last = bytes.last else { return true }
        guard (0x21...0x7E).contains(first), (0x21...0x7E).contains(last) else { return false }
        for byte in bytes.reversed() {
            if byte == UInt8(ascii: "@") { return true }
            if byte >= 0x80 || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) { return false }
        }
        return true
    }

}

/// Someone who writes to the contact center; found or created from each message's sender.
public struct Customer: Sendable, Equatable, Codable {
    public var id: String
    public var name: String?
    public var address: String
    public var createdAt: Date?

    public init(id: String = "", name: String?, address: String, createdAt: Date? = nil) {
        self.id = id
        self.name = name
        self.address = address
        self.createdAt = createdAt
    }
}

/// A conversation with a customer: ordered messages in and out.
public struct Ticket: Sendable, Equatable, Codable {
    public var id: String
    /// The human number agents and customers quote (`[Ticket#1042]`).
    public var number: Int64
    public var accountId: String
    public var subject: String
    public var status: TicketStatus
    public var priority: TicketPriority
    public var customerId: String
    public var customer: EmailAddress
    public var queueId: String?
    public var agentId: String?
    public var tags: [String]
    /// Set when a delivery failure or a rule marks the ticket for attention.
    public var escalated: Bool
    public var unread: Bool
    public var messageCount: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var lastMessageAt: Date
    public var lastMessageDirection: MessageDirection?

    public init(id: String = "", number: Int64 = 0, accountId: String, subject: String, status: TicketStatus = .new,
                priority: TicketPriority = .medium, customerId: String, customer: EmailAddress, queueId: String? = nil,
                agentId: String? = nil, tags: [String] = [], escalated: Bool = false, unread: Bool = true, messageCount: Int = 0,
                createdAt: Date, updatedAt: Date? = nil, lastMessageAt: Date? = nil, lastMessageDirection: MessageDirection? = nil) {
        self.id = id
        self.number = number
        self.accountId = accountId
        self.subject = subject
        self.status = status
        self.priority = priority
        self.customerId = customerId
        self.customer = customer
        self.queueId = queueId
        self.agentId = agentId
        self.tags = tags
        self.escalated = escalated
        self.unread = unread
        self.messageCount = messageCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.lastMessageAt = lastMessageAt ?? createdAt
        self.lastMessageDirection = lastMessageDirection
    }

    public var isOpen: Bool { status != .closed }

}

/// Where an outgoing message is on its way to the customer.
public enum DeliveryState: String, NamedValues {
    case queued, sending, sent, retrying, failed, bounced
}

/// One message of a ticket, in or out.
public struct TicketMessage: Sendable, Equatable, Codable {
    public var id: String
    public var ticketId: String
    public var accountId: String
    public var direction: MessageDirection
    /// Without angle brackets.
    public var messageId: String?
    public var inReplyTo: [String]
    public var references: [String]
    public var subject: String
    public var from: [EmailAddress]
    public var to: [EmailAddress]
    public var cc: [EmailAddress]
    public var date: Date?
    public var text: String?
    public var html: String?
    public var attachments: [AttachmentSummary]
    /// Nil for inbound mail.
    public var deliveryState: DeliveryState?
    /// SHA-256 of the raw message: its blob, and the identity used to recognise a message seen before.
    public var rawSha256: String
    public var createdAt: Date

    public init(id: String = "", ticketId: String, accountId: String, direction: MessageDirection, messageId: String?,
                inReplyTo: [String] = [], references: [String] = [], subject: String, from: [EmailAddress], to: [EmailAddress] = [],
                cc: [EmailAddress] = [], date: Date?, text: String?, html: String?, attachments: [AttachmentSummary] = [],
                deliveryState: DeliveryState? = nil, rawSha256: String, createdAt: Date) {
        self.id = id
        self.ticketId = ticketId
        self.accountId = accountId
        self.direction = direction
        self.messageId = messageId
        self.inReplyTo = inReplyTo
        self.references = references
        self.subject = subject
        self.from = from
        self.to = to
        self.cc = cc
        self.date = date
        self.text = text
        self.html = html
        self.attachments = attachments
        self.deliveryState = deliveryState
        self.rawSha256 = rawSha256
        self.createdAt = createdAt
    }

}

extension Ticket {
    /// What `JSONValue(encoding:)` gives for the ticket (tested), built directly: every live event
    /// carries the ticket, and the generic encoder was a visible share of routing each new one.
    public var jsonValue: JSONValue {
        func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
        return .object([
            "id": .string(id),
            "number": .number(Double(number)),
            "accountId": .string(accountId),
            "subject": .string(subject),
            "status": .string(status.rawValue),
            "priority": .string(priority.rawValue),
            "customerId": .string(customerId),
            "customer": .object(["name": optional(customer.name), "address": .string(customer.address)]),
            "queueId": optional(queueId),
            "agentId": optional(agentId),
            "tags": .array(tags.map(JSONValue.string)),
            "escalated": .bool(escalated),
            "unread": .bool(unread),
            "messageCount": .number(Double(messageCount)),
            "createdAt": .string(ISO8601.format(createdAt)),
            "updatedAt": .string(ISO8601.format(updatedAt)),
            "lastMessageAt": .string(ISO8601.format(lastMessageAt)),
            "lastMessageDirection": optional(lastMessageDirection?.rawValue),
        ])
    }
}
