import Foundation

/// What the resolvers know about a new inbound message.
public struct ResolverInput: Sendable, Equatable {
    public var accountId: String
    public var sender: EmailAddress
    public var cc: [EmailAddress]
    public var subject: String
    public var normalizedSubject: String
    /// In-Reply-To first, then References from the newest back: the order in which a thread is walked.
    public var referencedMessageIds: [String]
    /// The ticket number in the subject's Mailroom tag, if any.
    public var taggedTicketNumber: Int64?

    public init(accountId: String, sender: EmailAddress, cc: [EmailAddress] = [], subject: String, accountPrefix: String = "",
                inReplyTo: [String] = [], references: [String] = []) {
        self.accountId = accountId
        self.sender = sender
        self.cc = cc
        self.subject = subject
        self.normalizedSubject = SubjectNormalizer.normalise(subject, accountPrefix: accountPrefix)
        var seen = Set<String>()
        self.referencedMessageIds = (inReplyTo + references.reversed()).filter { seen.insert($0).inserted }
        self.taggedTicketNumber = SubjectNormalizer.ticketNumber(in: subject)
    }
}

extension ResolverInput {
    /// What the resolvers look at for an inbound message arriving at `account`.
    public init(mail: InboundMail, account: Account) {
        self.init(accountId: account.id, sender: mail.ticketSender, cc: mail.cc, subject: mail.subject,
                  accountPrefix: account.subjectPrefix, inReplyTo: mail.inReplyTo, references: mail.references)
    }
}

extension InboundMail {
    /// Whose ticket a message makes: its From, else its Reply-To, else a placeholder sender.
    public var ticketSender: EmailAddress {
        sender ?? replyTo.first ?? EmailAddress(name: "Unknown sender", address: "unknown@invalid")
    }
}

/// A ticket as the resolvers see it: who it belongs to and who has written on it.
public struct TicketCandidate: Sendable, Equatable {
    public var ticketId: String
    public var accountId: String
    public var customerAddress: String
    /// Lowercased addresses that appeared in From, To or Cc of the ticket's messages.
    public var participants: Set<String>

    public init(ticketId: String, accountId: String, customerAddress: String, participants: Set<String>) {
        self.ticketId = ticketId
        self.accountId = accountId
        self.customerAddress = customerAddress.lowercased()
        self.participants = participants
    }
}

/// The questions resolvers ask of the open tickets (status other than closed); the store answers them.
public protocol OpenTicketFinder: Sendable {
    /// The most recently active open ticket of this customer, on `accountId` when given, on any account otherwise.
    func latestOpenTicket(customer: String, accountId: String?) async throws -> TicketCandidate?
    /// The most recently active open ticket with this normalized subject, narrowed by customer and/or account when given.
    func latestOpenTicket(normalizedSubject: String, customer: String?, accountId: String?) async throws -> TicketCandidate?
    /// The most recently active open ticket with this normalized subject on which `observer` appeared in Cc.
    func latestOpenTicket(normalizedSubject: String, ccParticipant observer: String) async throws -> TicketCandidate?
    /// Open tickets holding a message (in or out) with one of these Message-IDs, in the order of `messageIds`.
    func openTickets(containingMessageIds messageIds: [String]) async throws -> [TicketCandidate]
    /// The open ticket with this number, if any.
    func openTicket(number: Int64) async throws -> TicketCandidate?
}

/// Runs an account's resolvers in order; the first that finds an open ticket wins.
public enum TicketResolution {
    public struct Match: Sendable, Equatable {
        public let ticketId: String
        public let resolver: ResolverName
    }

    public static func resolve(_ input: ResolverInput, resolvers: [ResolverName], finder: some OpenTicketFinder) async throws -> Match? {
        let sender = input.sender.key
        for resolver in resolvers {
            let found: TicketCandidate?
            switch resolver {
            case .customerPerAccount:
                found = try await finder.latestOpenTicket(customer: sender, accountId: input.accountId)
            case .customer:
                found = try await finder.latestOpenTicket(customer: sender, accountId: nil)
            case .subject:
                found = input.normalizedSubject.isEmpty ? nil
                    : try await finder.latestOpenTicket(normalizedSubject: input.normalizedSubject, customer: nil, accountId: nil)
            case .subjectAndCustomer:
                found = input.normalizedSubject.isEmpty ? nil
                    : try await finder.latestOpenTicket(normalizedSubject: input.normalizedSubject, customer: sender, accountId: nil)
            case .subjectCustomerAccount:
                found = input.normalizedSubject.isEmpty ? nil
                    : try await finder.latestOpenTicket(normalizedSubject: input.normalizedSubject, customer: sender, accountId: input.accountId)
            case .subjectFromObserver:
                found = input.normalizedSubject.isEmpty ? nil
                    : try await finder.latestOpenTicket(normalizedSubject: input.normalizedSubject, ccParticipant: sender)
            case .caseId:
                found = try await caseIdMatch(input, finder: finder)
            }
            if let found { return Match(ticketId: found.ticketId, resolver: resolver) }
        }
        return nil
    }

    /// The thread: the newest referenced message whose ticket this sender belongs to, then the subject's tag.
    ///
    /// A reference alone is not enough: anyone can copy another customer's Message-ID into
    /// References, so the sender must be that ticket's customer or have taken part in it.
    static func caseIdMatch(_ input: ResolverInput, finder: some OpenTicketFinder) async throws -> TicketCandidate? {
        let sender = input.sender.key
        func belongs(_ candidate: TicketCandidate) -> Bool {
            candidate.customerAddress == sender || candidate.participants.contains(sender)
        }
        if !input.referencedMessageIds.isEmpty {
            let candidates = try await finder.openTickets(containingMessageIds: Array(input.referencedMessageIds.prefix(50)))
            if let match = candidates.first(where: belongs) { return match }
        }
        if let number = input.taggedTicketNumber, let candidate = try await finder.openTicket(number: number), belongs(candidate) {
            return candidate
        }
        return nil
    }
}
