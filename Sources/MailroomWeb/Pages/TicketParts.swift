import Foundation
import Hummingbird
import MailroomCore

/// The parts of the ticket page that follow live events: the summary (status, holder, closing,
/// take/assign/reopen), the thread of messages and the history. Each renders inside the page and
/// alone (`/tickets/{id}/live/{part}`) when an event about the ticket arrives, so a reply being
/// written is never lost to a reload.
struct TicketSummaryView: RenderedView {
    static let template = "ticket-summary"

    struct Closing: TemplateView {
        let by: String
        let at: String
        let atISO: String
        let disposition: String?
    }

    let ticket: TicketRowView
    let ticketId: String
    let accountName: String
    let priority: String
    let unread: Bool
    /// "Waiting in queue Parcels", when no agent holds the ticket yet.
    let waitingIn: String?
    let closing: Closing?
    let isClosed: Bool
    let canTake: Bool
    let canAssign: Bool
    let assignAgents: [NamedView]
    let canReopen: Bool
}

struct TicketThreadView: RenderedView {
    static let template = "ticket-thread"
    let ticketId: String
    let messages: [TicketPageView.MessageView]
}

struct TicketHistoryView: RenderedView {
    static let template = "ticket-history"

    struct Line: TemplateView {
        let at: String
        let atISO: String
        let actor: String
        let text: String
    }

    let lines: [Line]
    let empty: Bool
}

extension WebSite {
    func addTicketPartRoutes(to pages: RouterGroup<MailroomRequestContext>) {
        pages.get("tickets/:id/live/:part") { request, context in
            let session = try self.session(request, context)
            let ticket = try await self.visibleTicket(try request.parameter("id", context: context), session: session)
            switch try request.parameter("part", context: context) {
            case "summary": return try self.render(try await self.summaryView(ticket, session: session))
            case "thread":
                let showImages = request.uri.queryParameters["images"].map(String.init)
                return try self.render(try await self.threadView(ticket, showImagesFor: showImages))
            case "history": return try self.render(try await self.historyView(ticket))
            default: throw PageError.notFound("That part of the ticket page")
            }
        }
    }

    func summaryView(_ ticket: Ticket, session: SessionInfo) async throws -> TicketSummaryView {
        let account = try await store.accounts.find(id: ticket.accountId)
        let users = try await store.users.list()
        let userNames = Dictionary(users.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let me = session.user
        var waitingIn: String?
        if ticket.agentId == nil, ticket.isOpen {
            if let queueId = ticket.queueId {
                waitingIn = "Waiting in queue " + (try await store.routing.queue(id: queueId)?.name ?? "(deleted queue)")
            } else {
                waitingIn = "Unassigned: in no queue yet"
            }
        }
        var closing: TicketSummaryView.Closing?
        if ticket.status == .closed, let entry = try await store.tickets.lastClosing(ticketId: ticket.id) {
            let disposition = try await entry.details["dispositionId"].asyncMap { try await store.dispositions.find(id: $0)?.name ?? "(deleted disposition)" }
            closing = .init(by: entry.actorId.map { userNames[$0] ?? "a removed user" } ?? "Mailroom (a rule)",
                            at: Self.displayTime(entry.at), atISO: ISO8601.format(entry.at), disposition: disposition)
        }
        let memberOf = Set(try await store.routing.queues(memberId: me.id).map(\.id))
        let canTake = (try? TicketDeskRules.checkTake(ticket, userId: me.id, memberOf: memberOf)) != nil
        let supervisor = me.role >= .supervisor
        return TicketSummaryView(
            ticket: ticketRow(ticket, accountKeys: [ticket.accountId: account?.key ?? "?"], userNames: userNames),
            ticketId: ticket.id, accountName: account?.name ?? "(deleted account)", priority: ticket.priority.rawValue,
            unread: ticket.unread, waitingIn: waitingIn, closing: closing, isClosed: ticket.status == .closed,
            canTake: canTake, canAssign: supervisor && ticket.isOpen,
            assignAgents: users.filter { $0.active && $0.id != ticket.agentId }.map { NamedView(id: $0.id, name: $0.name) },
            canReopen: (try? TicketDeskRules.checkReopen(ticket, userId: me.id, role: me.role)) != nil)
    }

    func threadView(_ ticket: Ticket, showImagesFor: String?) async throws -> TicketThreadView {
        let messages = try await store.tickets.messages(ticketId: ticket.id)
        return TicketThreadView(ticketId: ticket.id, messages: messages.map { messageView($0, ticket: ticket, showImagesFor: showImagesFor) })
    }

    func historyView(_ ticket: Ticket) async throws -> TicketHistoryView {
        let entries = try await store.tickets.history(ticketId: ticket.id)
        let users = Dictionary(try await store.users.list().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let queues = Dictionary(try await store.routing.queues().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var dispositions: [String: String] = [:]
        for id in Set(entries.compactMap { $0.details["dispositionId"] }) {
            dispositions[id] = try await store.dispositions.find(id: id)?.name
        }
        var accounts: [String: String] = [:]
        for id in Set(entries.flatMap { [$0.details["toAccountId"], $0.details["fromAccountId"]].compactMap { $0 } }) {
            accounts[id] = try await store.accounts.find(id: id)?.name
        }
        let names = HistoryNames(users: users, queues: queues, dispositions: dispositions, accounts: accounts)
        let lines = entries.reversed().map { entry in
            TicketHistoryView.Line(at: Self.displayTime(entry.at), atISO: ISO8601.format(entry.at),
                                   actor: entry.actorId.map { users[$0] ?? "a removed user" } ?? "Mailroom",
                                   text: names.sentence(entry))
        }
        return TicketHistoryView(lines: lines, empty: lines.isEmpty)
    }

    func messageView(_ message: TicketMessage, ticket: Ticket, showImagesFor: String?) -> TicketPageView.MessageView {
        let showImages = showImagesFor == message.id || showImagesFor == "all"
        let blocked = message.html.map { HTMLSanitizer.sanitize($0).blockedRemoteImages } ?? 0
        return TicketPageView.MessageView(
            id: message.id,
            direction: message.direction.rawValue,
            directionLabel: message.direction == .inbound ? "Received" : "Sent",
            from: Self.addresses(message.from), to: Self.addresses(message.to), cc: Self.addresses(message.cc),
            hasCc: !message.cc.isEmpty,
            subject: message.subject,
            date: Self.displayTime(message.date ?? message.createdAt),
            dateISO: ISO8601.format(message.date ?? message.createdAt),
            text: message.text ?? "",
            hasHTML: message.html != nil,
            bodyURL: "/web/messages/\(message.id)/body" + (showImages ? "?images=1" : ""),
            blockedImages: blocked > 0 && !showImages,
            blockedCount: blocked,
            showImagesURL: "/tickets/\(ticket.id)?images=\(message.id)#message-\(message.id)",
            deliveryState: message.deliveryState.map(\.rawValue),
            attachments: message.attachments.enumerated().map { index, attachment in
                TicketPageView.AttachmentView(
                    url: "/web/messages/\(message.id)/attachments/\(index)",
                    name: attachment.filename ?? "attachment-\(index + 1)",
                    size: Self.byteCount(attachment.size),
                    inline: attachment.inline)
            },
            hasAttachments: !message.attachments.isEmpty)
    }
}

/// A history line in words, with the names of what its details name.
struct HistoryNames {
    let users: [String: String]
    let queues: [String: String]
    let dispositions: [String: String]
    let accounts: [String: String]

    func user(_ id: String?) -> String { id.map { users[$0] ?? "a removed user" } ?? "nobody" }
    func queue(_ id: String) -> String { queues[id].map { "queue \($0)" } ?? "a deleted queue" }

    func sentence(_ entry: TicketHistoryEntry) -> String {
        let details = entry.details
        switch entry.kind {
        case .created:
            return "Created from a message of \(details["customer"] ?? "the customer")."
        case .routed:
            if let queueId = details["queueId"] { return "Routed to \(queue(queueId))." }
            if let agentId = details["agentId"] { return "Given to \(user(agentId))." }
            return "Left unassigned."
        case .offered:
            return "Offered to \(user(details["userId"]))."
        case .accepted:
            switch details["how"] {
            case "taken": return "\(user(details["userId"])) took it."
            case "assigned": return "Assigned to \(user(details["userId"]))."
            default: return "\(user(details["userId"])) accepted the offer."
            }
        case .transferred:
            if let queueId = details["toQueueId"] { return "Transferred to \(queue(queueId))." }
            if let userId = details["toUserId"] { return "Transferred to \(user(userId))." }
            if let accountId = details["toAccountId"] { return "Moved to account \(accounts[accountId] ?? "(deleted account)")." }
            return "Transferred."
        case .replied:
            let subject = details["subject"].map { ": “\($0)”" } ?? ""
            return entry.actorId == nil ? "Automatic message sent\(subject)." : "Reply sent\(subject)."
        case .tagged:
            var parts: [String] = []
            if let added = details["added"] { parts.append("tags added: \(added)") }
            if let removed = details["removed"] { parts.append("tags removed: \(removed)") }
            let text = parts.joined(separator: "; ")
            return text.prefix(1).uppercased() + text.dropFirst() + "."
        case .closed:
            if let id = details["dispositionId"] { return "Closed with disposition \(dispositions[id] ?? "(deleted disposition)")." }
            return "Closed."
        case .reopened:
            return "Reopened."
        case .merged:
            return "Merged into another ticket."
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
