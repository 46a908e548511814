import Foundation

/// What happened to a ticket, one kind per line of its history (`GET /api/v1/tickets/{id}/history`).
public enum TicketEventKind: String, NamedValues {
    case created, routed, offered, accepted, transferred, replied, tagged, closed, reopened, merged
}

/// One line of a ticket's history. Written by the store in the same transaction as the change it
/// records, so the history never tells of a change that did not happen, nor misses one that did.
public struct TicketHistoryEntry: Sendable, Equatable, Codable {
    public var id: String
    public var ticketId: String
    public var at: Date
    /// The user who did it; nil for Mailroom itself (ingest, rules, timers).
    public var actorId: String?
    public var kind: TicketEventKind
    /// What the kind needs to be told in words: ids of queues, agents, dispositions, messages; tags.
    public var details: [String: String]

    public init(id: String? = nil, ticketId: String, at: Date, actorId: String?, kind: TicketEventKind, details: [String: String] = [:]) {
        self.id = id ?? Identifier.make(at: at)
        self.ticketId = ticketId
        self.at = at
        self.actorId = actorId
        self.kind = kind
        self.details = details
    }
}

/// The entries each change of a ticket makes: the one place that says what a history entry is.
public enum TicketHistory {
    public static func created(_ ticket: Ticket, at date: Date) -> TicketHistoryEntry {
        TicketHistoryEntry(ticketId: ticket.id, at: date, actorId: nil, kind: .created,
                           details: ["accountId": ticket.accountId, "customer": ticket.customer.address])
    }

    /// The tags changed from `before` to `after` (nil when they did not).
    public static func tagged(ticketId: String, before: [String], after: [String], by actorId: String?, at date: Date) -> TicketHistoryEntry? {
        let added = after.filter { !before.contains($0) }
        let removed = before.filter { !after.contains($0) }
        guard !added.isEmpty || !removed.isEmpty else { return nil }
        var details: [String: String] = [:]
        if !added.isEmpty { details["added"] = added.joined(separator: ", ") }
        if !removed.isEmpty { details["removed"] = removed.joined(separator: ", ") }
        return TicketHistoryEntry(ticketId: ticketId, at: date, actorId: actorId, kind: .tagged, details: details)
    }

    public static func closed(ticketId: String, dispositionId: String?, by actorId: String?, at date: Date) -> TicketHistoryEntry {
        TicketHistoryEntry(ticketId: ticketId, at: date, actorId: actorId, kind: .closed,
                           details: dispositionId.map { ["dispositionId": $0] } ?? [:])
    }

    public static func reopened(ticketId: String, by actorId: String?, at date: Date) -> TicketHistoryEntry {
        TicketHistoryEntry(ticketId: ticketId, at: date, actorId: actorId, kind: .reopened)
    }

    /// A message went out on the ticket: an agent's reply, or an automatic one (actor nil).
    public static func replied(ticketId: String, messageId: String, subject: String, by actorId: String?, at date: Date) -> TicketHistoryEntry {
        TicketHistoryEntry(ticketId: ticketId, at: date, actorId: actorId, kind: .replied,
                           details: ["messageId": messageId, "subject": String(subject.prefix(200))])
    }

    public static func movedToAccount(ticketId: String, from: String, to: String, by actorId: String?, at date: Date) -> TicketHistoryEntry {
        TicketHistoryEntry(ticketId: ticketId, at: date, actorId: actorId, kind: .transferred, details: ["fromAccountId": from, "toAccountId": to])
    }

    public static func merged(ticketId: String, into target: String, by actorId: String?, at date: Date) -> TicketHistoryEntry {
        TicketHistoryEntry(ticketId: ticketId, at: date, actorId: actorId, kind: .merged, details: ["intoTicketId": target])
    }

    /// Why routing changed a ticket, as the history tells it.
    public enum RoutingCause: Sendable, Equatable {
        /// Rules, timers, presence and queue changes: Mailroom itself.
        case system
        /// The agent accepted an offer.
        case accepted
        /// "Take it" (the agent themselves) or "Assign to…" (a supervisor for the agent).
        case taken
        /// An agent or supervisor moved the ticket to a queue or an agent.
        case transfer(toQueueId: String?, toUserId: String?)
    }

    /// The entries a routing change makes, from its actions and the ticket's holders before it.
    public static func routing(ticketId: String, actions: [RoutingAction], cause: RoutingCause, before: (queueId: String?, agentId: String?),
                               by actorId: String?, at date: Date) -> [TicketHistoryEntry] {
        func entry(_ kind: TicketEventKind, _ details: [String: String]) -> TicketHistoryEntry {
            TicketHistoryEntry(ticketId: ticketId, at: date, actorId: actorId, kind: kind, details: details)
        }
        var entries: [TicketHistoryEntry] = []
        if case .transfer(let queueId, let userId) = cause {
            var details: [String: String] = [:]
            details["fromUserId"] = before.agentId
            details["toQueueId"] = queueId
            details["toUserId"] = userId
            entries.append(entry(.transferred, details))
        }
        for action in actions {
            switch action {
            case .moveToQueue(let queueId):
                if case .transfer = cause { continue }
                if before.queueId == queueId && before.agentId == nil { continue }
                entries.append(entry(.routed, ["queueId": queueId]))
            case .leaveUnassigned:
                guard before.queueId != nil || before.agentId != nil else { continue }
                entries.append(entry(.routed, ["to": "unassigned"]))
            case .sendOffer(let userId, let deadline):
                entries.append(entry(.offered, ["userId": userId, "deadline": ISO8601.format(deadline)]))
            case .assign(let userId):
                guard userId != before.agentId else { continue }
                switch cause {
                case .accepted, .taken:
                    var details = ["userId": userId]
                    if case .taken = cause { details["how"] = actorId == userId ? "taken" : "assigned" }
                    entries.append(entry(.accepted, details))
                case .system, .transfer:
                    entries.append(entry(.routed, ["agentId": userId]))
                }
            default:
                continue
            }
        }
        return entries
    }
}

/// Who may reopen a closed ticket, and who may take one waiting in a queue: the rules the pages
/// and the API share.
public enum TicketDeskRules {
    /// Reopening: only a closed ticket; supervisors any they see, agents one they held or nobody held.
    public static func checkReopen(_ ticket: Ticket, userId: String?, role: Role) throws(DomainError) {
        guard ticket.status == .closed else {
            throw .conflict(FieldError("ticket", "is not closed; only a closed ticket can be reopened"))
        }
        guard role >= .supervisor || ticket.agentId == nil || ticket.agentId == userId else {
            throw .conflict(FieldError("ticket", "was held by another agent when it closed; they or a supervisor can reopen it"))
        }
    }

    /// The status a reopened ticket has: someone works on it again.
    public static let reopenedStatus = TicketStatus.open

    /// "Take it": an open ticket nobody holds, waiting in one of the agent's queues (or in no queue,
    /// in the unassigned view of an account linked to their queues, which they see).
    public static func checkTake(_ ticket: Ticket, userId: String, memberOf queueIds: Set<String>) throws(DomainError) {
        guard ticket.isOpen else { throw .conflict(FieldError("ticket", "is closed; reopen it first")) }
        if ticket.agentId == userId { throw .conflict(FieldError("ticket", "is yours already")) }
        if ticket.agentId != nil { throw .conflict(FieldError("ticket", "was taken by another agent already")) }
        if let queueId = ticket.queueId, !queueIds.contains(queueId) {
            throw .conflict(FieldError("ticket", "waits in a queue you are not a member of; ask a supervisor to assign it to you"))
        }
    }

    /// "Assign to…" (supervisors): any open ticket, to an active agent other than its holder.
    public static func checkAssign(_ ticket: Ticket, to userId: String) throws(DomainError) {
        guard ticket.isOpen else { throw .conflict(FieldError("ticket", "is closed; reopen it first")) }
        if ticket.agentId == userId { throw .conflict(FieldError("userId", "holds this ticket already")) }
    }
}
