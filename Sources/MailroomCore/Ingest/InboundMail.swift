import Foundation
import MailMessage

/// A parsed inbound message as the ingest pipeline hands it to the store.
public struct InboundMail: Sendable, Equatable {
    /// SHA-256 of the raw bytes: the raw message's blob.
    public var rawSha256: String
    public var rawSize: Int
    /// SHA-256 of the message without its trace headers (Received, Delivered-To…): the same mail
    /// delivered to two mailboxes has one content hash, and a reused Message-ID with another body has another.
    public var contentHash: String
    public var messageId: String?
    public var inReplyTo: [String]
    public var references: [String]
    public var subject: String
    public var from: [EmailAddress]
    public var replyTo: [EmailAddress]
    public var to: [EmailAddress]
    public var cc: [EmailAddress]
    public var date: Date?
    public var text: String?
    public var html: String?
    public var attachments: [AttachmentSummary]
    /// Header fields in order, unfolded; values decoded when read (header filters and rules).
    public var headers: [HeaderField]
    /// Auto-Submitted and friends say a program, not a person, sent it.
    public var isAutomatic: Bool
    public var parseWarnings: [String]
    /// Set when the message reports on the delivery of one of ours (a DSN, or mail from a failure-mail sender).
    public var bounce: BounceReport?

    public init(rawSha256: String, rawSize: Int, contentHash: String, messageId: String?, inReplyTo: [String] = [],
                references: [String] = [], subject: String, from: [EmailAddress], replyTo: [EmailAddress] = [],
                to: [EmailAddress] = [], cc: [EmailAddress] = [], date: Date?, text: String?, html: String?,
                attachments: [AttachmentSummary] = [], headers: [HeaderField] = [], isAutomatic: Bool = false,
                parseWarnings: [String] = []) {
        self.rawSha256 = rawSha256
        self.rawSize = rawSize
        self.contentHash = contentHash
        self.messageId = messageId
        self.inReplyTo = inReplyTo
        self.references = references
        self.subject = subject
        self.from = from
        self.replyTo = replyTo
        self.to = to
        self.cc = cc
        self.date = date
        self.text = text
        self.html = html
        self.attachments = attachments
        self.headers = headers
        self.isAutomatic = isAutomatic
        self.parseWarnings = parseWarnings
        self.bounce = nil
    }

    /// Who the ticket belongs to: the first From address (Reply-To is where answers go, not who wrote).
    public var sender: EmailAddress? { from.first }
}

/// One header field of a message, in message order, its value unfolded and decoded: what header
/// filters, bounce detection and rules read.
public struct HeaderField: Sendable, Hashable, Codable {
    public var name: String
    /// Encoded words decoded. Fields parsed from mail decode here, when something reads them:
    /// only header filters, bounce detection and rules do, and decoding every field of every
    /// message up front was a twentieth of the parse.
    public var value: String {
        get {
            switch storage {
            case .decoded(let text): return text
            case .parsed(let field): return field.value
            }
        }
        set { storage = .decoded(newValue) }
    }
    private var storage: Storage

    private enum Storage: Sendable {
        case decoded(String)
        case parsed(MailMessage.HeaderField)
    }

    public init(name: String, value: String) {
        self.name = name
        self.storage = .decoded(value)
    }

    /// A field as the MIME parser read it (unfolded, not yet decoded).
    public init(_ field: MailMessage.HeaderField) {
        self.name = field.name
        self.storage = .parsed(field)
    }

    public static func == (lhs: HeaderField, rhs: HeaderField) -> Bool { lhs.name == rhs.name && lhs.value == rhs.value }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(value)
    }

    private enum CodingKeys: String, CodingKey { case name, value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decode(String.self, forKey: .name), value: try container.decode(String.self, forKey: .value))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(value, forKey: .value)
    }
}

/// A delivery failure report about one of Mailroom's outgoing messages.
public struct BounceReport: Sendable, Equatable, Codable {
    public struct Recipient: Sendable, Equatable, Codable {
        public var address: String
        public var action: String?
        public var status: String?
        public var diagnosticCode: String?

        public init(address: String, action: String?, status: String?, diagnosticCode: String?) {
            self.address = address
            self.action = action
            self.status = status
            self.diagnosticCode = diagnosticCode
        }

        /// RFC 3464: a failed action with a 5.x.x status is permanent.
        public var isPermanentFailure: Bool { action == "failed" && (status?.hasPrefix("5") ?? true) }
    }

    /// Message-IDs that may be the original, most likely first (the report's own field, then threading headers).
    public var originalMessageIds: [String]
    public var recipients: [Recipient]
    /// Outbox entries named by a VERP return path the report was sent to.
    public var verpOutboxIds: [String]

    public init(originalMessageIds: [String], recipients: [Recipient], verpOutboxIds: [String] = []) {
        self.originalMessageIds = originalMessageIds
        self.recipients = recipients
        self.verpOutboxIds = verpOutboxIds
    }
}

/// What an account's header filters decide for one message.
public enum HeaderFilterOutcome: Sendable, Equatable {
    case accept(tags: [String])
    case skip(HeaderFilter)
    case quarantine(HeaderFilter)
}

extension HeaderFilter {
    func matches(_ headers: [HeaderField]) -> Bool {
        let wanted = header.lowercased()
        for field in headers where field.name.lowercased() == wanted {
            let value = field.value.trimmingCharacters(in: .whitespaces)
            switch match {
            case .equals:
                if value.caseInsensitiveCompare(self.value) == .orderedSame { return true }
            case .contains:
                if value.range(of: self.value, options: .caseInsensitive) != nil { return true }
            case .regex:
                // Validated on save; a header value is bounded by the parser's limits.
                guard let regex = try? NSRegularExpression(pattern: self.value, options: [.caseInsensitive]) else { continue }
                let bounded = String(value.prefix(8_192))
                if regex.firstMatch(in: bounded, range: NSRange(bounded.startIndex..., in: bounded)) != nil { return true }
            }
        }
        return false
    }
}

public enum HeaderFilterEvaluation {
    /// The first filter that skips or quarantines wins; tag filters add up.
    public static func evaluate(_ filters: [HeaderFilter], headers: [HeaderField]) -> HeaderFilterOutcome {
        var tags: [String] = []
        for filter in filters where filter.matches(headers) {
            switch filter.action {
            case .skip: return .skip(filter)
            case .quarantine: return .quarantine(filter)
            case .tag:
                if let tag = filter.tag, !tags.contains(tag) { tags.append(tag) }
            }
        }
        return .accept(tags: tags)
    }
}

/// Where a fetched message came from on its server, so the fetch position is committed with it.
public enum MailboxPosition: Sendable, Equatable {
    /// IMAP: the folder's UIDVALIDITY and the message's UID; committing it moves the high-water mark.
    case imap(folder: String, uidValidity: UInt32, uid: UInt32)
    /// POP3: the message's UIDL, added to the set seen.
    case pop3(uidl: String)
    /// Imported from a file.
    case file(String)
    /// Graph or EWS: the item, added to the set taken, and (on the last item of a round, or
    /// alone with no item) the folder's new delta link or sync state, the high-water mark.
    case exchange(folder: String, itemId: String?, syncState: String?)

    /// The message's key on its server, for one left there (IMAP: UIDVALIDITY, UID and folder;
    /// POP3: UIDL); nil for a file.
    public var serverKey: String? {
        switch self {
        case .imap(let folder, let uidValidity, let uid): "imap:\(uidValidity):\(uid):\(folder)"
        case .pop3(let uidl): "pop3:\(uidl)"
        case .exchange(_, let itemId?, _): "exchange:\(itemId)"
        case .file, .exchange: nil
        }
    }
}

/// Why a message was not ingested but kept aside, raw, for a person to look at.
public enum QuarantineReason: String, NamedValues {
    case unparseable
    case tooLarge
    case headerFilter
    case storeFailed
    case timedOut

    /// The reason as the quarantine page says it (the raw value stays the API's).
    public var label: String {
        switch self {
        case .unparseable: "Cannot be read as mail"
        case .tooLarge: "Too large to fetch"
        case .headerFilter: "Held by a header filter"
        case .storeFailed: "Could not be stored"
        case .timedOut: "Took too long to read"
        }
    }
}

public struct QuarantinedMessage: Sendable, Equatable, Codable {
    public var id: String
    public var accountId: String
    public var reason: QuarantineReason
    /// A sentence for the administrator: what went wrong and what to do.
    public var detail: String
    public var rawSha256: String?
    public var size: Int
    /// Where it came from ("INBOX uid 42", "pop3 uidl …", a file name).
    public var source: String
    public var from: String?
    public var subject: String?
    public var createdAt: Date
    public var replayedAt: Date?
    /// Too large to fetch: not kept raw, but left in the mailbox (not deleted there, also with
    /// deleteOnFetch, until the entry is discarded).
    public var leftOnServer: Bool

    public init(id: String = "", accountId: String, reason: QuarantineReason, detail: String, rawSha256: String?, size: Int,
                source: String, from: String? = nil, subject: String? = nil, createdAt: Date, replayedAt: Date? = nil,
                leftOnServer: Bool = false) {
        self.leftOnServer = leftOnServer
        self.id = id
        self.accountId = accountId
        self.reason = reason
        self.detail = detail
        self.rawSha256 = rawSha256
        self.size = size
        self.source = source
        self.from = from
        self.subject = subject
        self.createdAt = createdAt
        self.replayedAt = replayedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, accountId, reason, detail, rawSha256, size, source, from, subject, createdAt, replayedAt, leftOnServer
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), accountId: try c.decode(String.self, forKey: .accountId),
                  reason: try c.decode(QuarantineReason.self, forKey: .reason), detail: try c.decode(String.self, forKey: .detail),
                  rawSha256: try c.decodeIfPresent(String.self, forKey: .rawSha256), size: try c.decode(Int.self, forKey: .size),
                  source: try c.decode(String.self, forKey: .source), from: try c.decodeIfPresent(String.self, forKey: .from),
                  subject: try c.decodeIfPresent(String.self, forKey: .subject), createdAt: try c.decode(Date.self, forKey: .createdAt),
                  replayedAt: try c.decodeIfPresent(Date.self, forKey: .replayedAt),
                  leftOnServer: try c.decodeIfPresent(Bool.self, forKey: .leftOnServer) ?? false)
    }
}

/// What happened to one inbound message.
public enum IngestOutcome: Sendable, Equatable {
    case created(ticketId: String, messageId: String)
    case appended(ticketId: String, messageId: String, resolver: ResolverName)
    /// A delivery failure report, joined to the ticket of the message it reports on.
    case bounce(ticketId: String, messageId: String)
    /// Seen before (same content on this account, or already on the ticket it would join).
    case duplicate(ticketId: String?)
    case skipped(reason: String)
    case quarantined(id: String)

    /// The outcome's name, as the metrics label it and the replay API reports it.
    public var name: String {
        switch self {
        case .created: return "created"
        case .appended: return "appended"
        case .bounce: return "bounce"
        case .duplicate: return "duplicate"
        case .skipped: return "skipped"
        case .quarantined: return "quarantined"
        }
    }

    /// Whether the message became part of a ticket now (not seen before, not set aside).
    public var addedToTicket: Bool {
        switch self {
        case .created, .appended, .bounce: return true
        case .duplicate, .skipped, .quarantined: return false
        }
    }

    public var ticketId: String? {
        switch self {
        case .created(let id, _), .appended(let id, _, _), .bounce(let id, _): return id
        case .duplicate(let id): return id
        case .skipped, .quarantined: return nil
        }
    }
}

/// Variable envelope return paths: `desk+mr-ID@example.com` as the envelope sender of outbox entry ID,
/// so a bounce names the message it is about even when it carries no usable report.
public enum VERPAddress {
    static let marker = "+mr-"

    public static func make(base: String, outboxId: String) -> String {
        guard let at = base.lastIndex(of: "@") else { return base }
        return String(base[..<at]) + marker + outboxId + String(base[at...])
    }

    /// The outbox id in a VERP address, if it is one.
    public static func outboxId(in address: String) -> String? {
        // Nearly every address of every ingested message is looked at: most have no "+" at all,
        // and a byte scan says so without Foundation's string search.
        guard address.utf8.contains(UInt8(ascii: "+")), let at = address.lastIndex(of: "@") else { return nil }
        let local = address[..<at]
        guard let range = local.range(of: marker, options: .backwards) else { return nil }
        let id = local[range.upperBound...]
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isLetter || $0.isNumber }) else { return nil }
        return String(id)
    }
}
