import Foundation

/// Where the raw bytes of a message were already written by a store, ahead of its transaction:
/// opaque to everything but the store that wrote them.
public protocol StagedRawMail: Sendable {}

/// A message's row as a store will write it, worked out ahead of the transaction (on the parse
/// threads): opaque to everything but the store that made it.
public protocol PreparedMessageRow: Sendable {}

/// The message a delivery report is about: one of ours, sent from a ticket.
public struct ReportedMessage: Sendable, Equatable {
    /// The outbound message's id (its outbox entry names it).
    public var messageId: String
    public var ticketId: String

    public init(messageId: String, ticketId: String) {
        self.messageId = messageId
        self.ticketId = ticketId
    }
}

/// What one message's ingest asks of the store and writes to it, inside the store's transaction.
/// Every decision is taken in ``IngestSteps``; a ledger only looks things up and writes them down.
public protocol IngestLedger: Sendable {
    associatedtype Finder: OpenTicketFinder
    /// The resolvers' questions, answered inside the same transaction.
    var finder: Finder { get }

    /// Keeps the raw bytes under their SHA-256, once (`staged`: where they were written already).
    func keepRaw(_ raw: [UInt8], sha256: String, staged: (any StagedRawMail)?) async throws
    /// The ticket of a message with this content that the account already stored.
    func ticketOfMessage(contentHash: String, accountId: String) async throws -> String?
    func ticket(_ ticketId: String, hasMessageWithContentHash contentHash: String) async throws -> Bool
    /// The outbound message a report is about: by the VERP outbox ids first (exact), then by the
    /// first of the reported Message-IDs that one of our outbound messages has.
    func reportedMessage(verpOutboxIds: [String], originalMessageIds: [String]) async throws -> ReportedMessage?
    /// Marks the reported message bounced, escalates its ticket, and remembers the permanently failed addresses.
    func recordBounce(of reported: ReportedMessage, permanentFailures: [BounceReport.Recipient]) async throws
    /// The customer with this (lowercased) address.
    func customer(address: String) async throws -> Customer?
    func createCustomer(_ customer: Customer) async throws
    func nameCustomer(id: String, name: String) async throws
    func nextTicketNumber() async throws -> Int64
    /// Writes a new ticket (as ``TicketLifecycle/opened(id:number:by:customer:sender:accountId:tags:at:markUnread:)`` made it)
    /// and answers it as stored.
    func insertTicket(_ ticket: Ticket, normalizedSubject: String) async throws -> Ticket
    /// Writes an inbound message on a ticket and answers its id.
    func insertMessage(_ mail: InboundMail, ticketId: String, accountId: String, row: (any PreparedMessageRow)?) async throws -> String
    /// Remembers who wrote and was written to on a ticket (lowercased addresses by role, each pair once).
    func addParticipants(ticketId: String, _ participants: [TicketParticipant]) async throws
    /// Counts a new message on an existing ticket and applies what it changes.
    func touchTicket(_ ticketId: String, _ touch: TicketTouch) async throws
}

/// Someone on a ticket's messages, by role.
public struct TicketParticipant: Sendable, Equatable {
    public enum Role: String, Sendable { case from, to, cc }
    public var address: String
    public var role: Role

    public init(address: String, role: Role) {
        self.address = address
        self.role = role
    }

    /// A message's participants, each lowercased address once per role, at most 200 per role.
    public static func of(from: [EmailAddress], to: [EmailAddress], cc: [EmailAddress]) -> [TicketParticipant] {
        var result: [TicketParticipant] = []
        for (role, addresses) in [(Role.from, from), (.to, to), (.cc, cc)] {
            for address in addresses.prefix(200) {
                let participant = TicketParticipant(address: address.key, role: role)
                if !result.contains(participant) { result.append(participant) }
            }
        }
        return result
    }
}

/// What a new message on an existing ticket changes: counted, its time and direction, the status
/// change and unread mark of ``TicketLifecycle``, and tags the rules of the fetch added.
public struct TicketTouch: Sendable, Equatable {
    public var direction: MessageDirection
    public var at: Date
    public var status: TicketLifecycle.StatusChange
    /// nil: left as it is.
    public var unread: Bool?
    public var addTags: [String]

    /// - Parameter markUnread: the account's "mark as unread" setting.
    public init(direction: MessageDirection, at date: Date, addTags: [String] = [], markUnread: Bool = true) {
        self.direction = direction
        self.at = date
        self.status = TicketLifecycle.change(after: direction)
        self.unread = TicketLifecycle.unread(after: direction, markUnread: markUnread)
        self.addTags = addTags
    }
}

/// One inbound message's way onto a ticket, in order (Zammad's numbered filters, with typed values):
///
/// 1. keep the raw bytes (content-addressed, once);
/// 2. a message whose content this account stored before is a duplicate;
/// 3. a delivery report joins the ticket of our message it reports on, whatever the resolvers say;
/// 4. the customer is found (named, if they were not) or created;
/// 5. the account's resolvers find the open ticket it belongs to;
/// 6. the same content on that ticket already (the same mail to two of our mailboxes) is a duplicate;
/// 7. the message is stored on that ticket or on a new one, with its participants, and the ticket
///    is touched as ``TicketLifecycle`` says.
///
/// Steps before these (size, parse, header filters) are ``IngestTriage``'s; the store runs these
/// inside the transaction that also moves the fetch position.
public enum IngestSteps {
    /// A message to ingest with what was worked out for it ahead of the transaction.
    public struct Message: Sendable {
        public var mail: InboundMail
        public var raw: [UInt8]
        public var tags: [String]
        public var resolverInput: ResolverInput?
        public var stagedRaw: (any StagedRawMail)?
        public var row: (any PreparedMessageRow)?

        public init(mail: InboundMail, raw: [UInt8], tags: [String] = [], resolverInput: ResolverInput? = nil,
                    stagedRaw: (any StagedRawMail)? = nil, row: (any PreparedMessageRow)? = nil) {
            self.mail = mail
            self.raw = raw
            self.tags = tags
            self.resolverInput = resolverInput
            self.stagedRaw = stagedRaw
            self.row = row
        }
    }

    /// Runs the steps for one message; `created` collects the tickets it opened, as opened.
    /// Inlinable so that each store specialises the steps on its own ledger: unspecialised, the
    /// ledger's calls cost about 4% of an ingest's CPU per message (BENCHMARKS.md, ingest 1i).
    @inlinable
    public static func ingest(_ message: Message, account: Account, ledger: some IngestLedger, now: Date,
                              created: inout [String: Ticket]) async throws -> IngestOutcome {
        let mail = message.mail
        // 1.
        try await ledger.keepRaw(message.raw, sha256: mail.rawSha256, staged: message.stagedRaw)
        // 2.
        if let ticketId = try await ledger.ticketOfMessage(contentHash: mail.contentHash, accountId: account.id) {
            return .duplicate(ticketId: ticketId)
        }
        // 3.
        if let bounce = mail.bounce, let outcome = try await joinBounce(mail, bounce: bounce, account: account, ledger: ledger, now: now) {
            return outcome
        }
        // 4.
        let sender = mail.ticketSender
        let customer = try await customer(for: sender, ledger: ledger, now: now)
        // 5.
        let input = message.resolverInput.flatMap { $0.accountId == account.id ? $0 : nil } ?? ResolverInput(mail: mail, account: account)
        let match = try await TicketResolution.resolve(input, resolvers: account.resolvers, finder: ledger.finder)
        // 6.
        if let match, try await ledger.ticket(match.ticketId, hasMessageWithContentHash: mail.contentHash) {
            return .duplicate(ticketId: match.ticketId)
        }
        // 7.
        let ticketId: String
        if let match {
            ticketId = match.ticketId
        } else {
            let opened = TicketLifecycle.opened(id: Identifier.make(at: now), number: try await ledger.nextTicketNumber(), by: mail,
                                                customer: customer, sender: sender, accountId: account.id, tags: message.tags, at: now,
                                                markUnread: account.markUnread)
            let ticket = try await ledger.insertTicket(opened, normalizedSubject: String(input.normalizedSubject.prefix(TicketLifecycle.maxSubjectLength)))
            ticketId = ticket.id
            created[ticket.id] = ticket
        }
        let messageId = try await ledger.insertMessage(mail, ticketId: ticketId, accountId: account.id, row: message.row)
        try await ledger.addParticipants(ticketId: ticketId, TicketParticipant.of(from: mail.from, to: mail.to, cc: mail.cc))
        guard let match else { return .created(ticketId: ticketId, messageId: messageId) }
        // A new ticket was written with its first message counted; an existing one counts it now.
        try await ledger.touchTicket(ticketId, TicketTouch(direction: .inbound, at: now, addTags: message.tags,
                                                                  markUnread: account.markUnread))
        return .appended(ticketId: ticketId, messageId: messageId, resolver: match.resolver)
    }

    /// Step 3: a delivery failure report joins the ticket of the message it reports on; that
    /// message is marked bounced, the ticket escalated, and permanently failed addresses remembered.
    /// nil when the report is about nothing we sent (then it is ingested as any other mail).
    @inlinable
    static func joinBounce(_ mail: InboundMail, bounce: BounceReport, account: Account, ledger: some IngestLedger,
                           now: Date) async throws -> IngestOutcome? {
        guard let reported = try await ledger.reportedMessage(verpOutboxIds: Array(bounce.verpOutboxIds.prefix(10)),
                                                              originalMessageIds: Array(bounce.originalMessageIds.prefix(50)))
        else { return nil }
        try await ledger.recordBounce(of: reported, permanentFailures: bounce.recipients.filter(\.isPermanentFailure))
        if try await ledger.ticket(reported.ticketId, hasMessageWithContentHash: mail.contentHash) {
            return .duplicate(ticketId: reported.ticketId)
        }
        let messageId = try await ledger.insertMessage(mail, ticketId: reported.ticketId, accountId: account.id, row: nil)
        try await ledger.touchTicket(reported.ticketId, TicketTouch(direction: .inbound, at: now, markUnread: account.markUnread))
        return .bounce(ticketId: reported.ticketId, messageId: messageId)
    }

    /// Step 4: the sender's customer; one known without a name takes the name this mail gives.
    @inlinable
    static func customer(for sender: EmailAddress, ledger: some IngestLedger, now: Date) async throws -> Customer {
        if var customer = try await ledger.customer(address: sender.key) {
            if customer.name == nil, let name = sender.name {
                try await ledger.nameCustomer(id: customer.id, name: name)
                customer.name = name
            }
            return customer
        }
        let customer = Customer(id: Identifier.make(at: now), name: sender.name, address: sender.key, createdAt: now)
        try await ledger.createCustomer(customer)
        return customer
    }
}
