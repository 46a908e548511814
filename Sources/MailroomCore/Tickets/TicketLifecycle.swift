import Foundation

/// How a ticket's state follows from what happens to it: the rules of its life, as values that a
/// store executes (a store turns ``StatusChange`` into one conditional update, so applying it needs
/// no read of the row first).
public enum TicketLifecycle {
    /// A status change that depends only on the current status: `from` becomes `to`, any other status stays.
    public struct StatusChange: Sendable, Hashable {
        public let from: TicketStatus
        public let to: TicketStatus

        public func applied(to status: TicketStatus) -> TicketStatus { status == from ? to : status }
    }

    /// A customer wrote: a ticket waiting for the customer is open again.
    public static let customerWrote = StatusChange(from: .pending, to: .open)
    /// An agent wrote: a ticket nobody had worked on is open now.
    public static let agentWrote = StatusChange(from: .new, to: .open)
    /// An agent took the ticket (accepted an offer, or was assigned): it is open now.
    public static let agentAssigned = StatusChange(from: .new, to: .open)

    /// What a new message does to its ticket.
    public static func change(after direction: MessageDirection) -> StatusChange {
        direction == .inbound ? customerWrote : agentWrote
    }

    /// An inbound message marks its ticket unread for the agent; an outbound one leaves it as it is.
    public static func unread(after direction: MessageDirection) -> Bool? {
        direction == .inbound ? true : nil
    }

    /// As ``unread(after:)``, on an account whose "mark as unread" setting is `markUnread`: when it
    /// is off, arriving mail leaves the ticket's read mark as the agent set it.
    public static func unread(after direction: MessageDirection, markUnread: Bool) -> Bool? {
        markUnread ? unread(after: direction) : nil
    }

    /// The ticket a first inbound message opens: new, medium priority, counted with that message;
    /// unread unless its account's "mark as unread" is off (`markUnread`).
    public static func opened(id: String, number: Int64, by mail: InboundMail, customer: Customer, sender: EmailAddress,
                              accountId: String, tags: [String], at date: Date, markUnread: Bool = true) -> Ticket {
        Ticket(id: id, number: number, accountId: accountId, subject: String(mail.subject.prefix(maxSubjectLength)), status: .new,
               priority: .medium, customerId: customer.id, customer: EmailAddress(name: sender.name ?? customer.name, address: customer.address),
               tags: adding(tags, to: []), escalated: false, unread: markUnread, messageCount: 1, createdAt: date, updatedAt: date,
               lastMessageAt: date, lastMessageDirection: .inbound)
    }

    /// Subjects are kept to this many characters (the normalised one too).
    public static let maxSubjectLength = 1_000

    /// `current` with those of `tags` it lacks appended, in order, each once.
    public static func adding(_ tags: [String], to current: [String]) -> [String] {
        var merged = current
        for tag in tags where !merged.contains(tag) { merged.append(tag) }
        return merged
    }
}
