import Foundation

/// One message of a batch the store commits in one transaction, as the pipeline decided it:
/// ingest it, keep it in the quarantine, or pass over it (a skip filter). Each carries the fetch
/// position it moves past.
public struct IngestItem: Sendable {
    public enum Action: Sendable {
        case ingest(InboundMail, tags: [String])
        case quarantine(QuarantinedMessage)
        /// Not ingested on purpose; only the position moves.
        case skip(reason: String)
    }

    public var action: Action
    public var raw: [UInt8]
    public var position: MailboxPosition?
    /// Where the message came from, for the quarantine entry and logs ("INBOX uid 42").
    public var source: String
    /// What the resolvers will look at, worked out before the store's transaction (subject
    /// normalisation is not free, and the transaction holds the only writer); nil: the store works it out.
    public var resolverInput: ResolverInput?
    /// Where `raw` was already written and synced, outside the transaction (SQLite's packs); nil: the store writes it.
    public var storedRaw: BlobLocation?
    /// The message's list columns as stored, written before the transaction like `resolverInput`; nil: the store writes them.
    public var messageColumns: MessageColumnJSON?

    public init(action: Action, raw: [UInt8], position: MailboxPosition?, source: String, resolverInput: ResolverInput? = nil,
                storedRaw: BlobLocation? = nil) {
        self.action = action
        self.raw = raw
        self.position = position
        self.source = source
        self.resolverInput = resolverInput
        self.storedRaw = storedRaw
    }
}

/// Where a raw message's bytes are in an SQLite store's pack files (see `BlobPacks`).
public struct BlobLocation: Sendable, Hashable {
    public let pack: Int
    public let offset: Int64

    public init(pack: Int, offset: Int64) {
        self.pack = pack
        self.offset = offset
    }
}

/// What a batch's commit did: an outcome for each committed item, in order. When `failure` is
/// set, the items from `outcomes.count` on were not committed (the store failed on that one);
/// the committed ones stay committed with their positions, so they are never fetched again.
public struct IngestBatchResult: Sendable {
    public var outcomes: [IngestOutcome]
    public var failure: (any Error)?
    /// The tickets the batch created, by id, as their first message left them (later messages of
    /// the batch may have changed them since).
    public var createdTickets: [String: Ticket]

    public init(outcomes: [IngestOutcome], failure: (any Error)? = nil, createdTickets: [String: Ticket] = [:]) {
        self.outcomes = outcomes
        self.failure = failure
        self.createdTickets = createdTickets
    }
}

/// A committed message as the steps after the commit see it (routing, live events): the outcome,
/// and the parsed message when there is one, so later steps need not read and parse it again.
public struct CommittedMessage: Sendable {
    public var outcome: IngestOutcome
    public var account: Account
    public var mail: InboundMail?
    /// For a message that created its ticket: the ticket as created.
    public var createdTicket: Ticket?

    public init(outcome: IngestOutcome, account: Account, mail: InboundMail?, createdTicket: Ticket? = nil) {
        self.outcome = outcome
        self.account = account
        self.mail = mail
        self.createdTicket = createdTicket
    }
}

/// An inbound message's list columns (references, addresses, attachments) as the store keeps them: JSON text.
public struct MessageColumnJSON: Sendable {
    public let inReplyTo: String
    public let references: String
    public let from: String
    public let to: String
    public let cc: String
    public let attachments: String

    public init(_ mail: InboundMail) {
        inReplyTo = JSONText.encode(mail.inReplyTo)
        references = JSONText.encode(mail.references)
        from = JSONText.encode(mail.from)
        to = JSONText.encode(mail.to)
        cc = JSONText.encode(mail.cc)
        attachments = JSONText.encode(mail.attachments)
    }
}
