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
    /// Where the store already wrote `raw`, outside the transaction; nil: the store writes it.
    public var stagedRaw: (any StagedRawMail)?
    /// The message's row as the store writes it, made before the transaction like `resolverInput`; nil: the store makes it.
    public var preparedRow: (any PreparedMessageRow)?

    /// What a message that broke a domain rule while it was stored becomes instead (the store rolls
    /// back that message alone): a quarantine entry that says why. nil for an item that was not an ingest.
    public func storeFailedEntry(_ error: DomainError, accountId: String, at date: Date) -> QuarantinedMessage? {
        guard case .ingest(let mail, _) = action else { return nil }
        return QuarantinedMessage(accountId: accountId, reason: .storeFailed, detail: "the message could not be stored: \(error)",
                                  rawSha256: mail.rawSha256, size: raw.count, source: source, from: mail.sender?.address,
                                  subject: String(mail.subject.prefix(300)), createdAt: date)
    }

    public init(action: Action, raw: [UInt8], position: MailboxPosition?, source: String, resolverInput: ResolverInput? = nil,
                stagedRaw: (any StagedRawMail)? = nil) {
        self.action = action
        self.raw = raw
        self.position = position
        self.source = source
        self.resolverInput = resolverInput
        self.stagedRaw = stagedRaw
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
