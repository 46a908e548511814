import Foundation
import Hummingbird
import MailroomCore
import Mustache

/// The agent desk: presence, offers arriving live, the agent's queues and open tickets.
extension WebSite {
    func addDeskRoutes(to pages: RouterGroup<MailroomRequestContext>) {
        pages.get("desk") { request, context in try await self.desk(request, context) }
        pages.get("desk/queues") { request, context in
            let session = try self.session(request, context)
            return try self.render(try await self.queuesView(session))
        }
        pages.get("desk/offers") { request, context in
            let session = try self.session(request, context)
            return try self.render(try await self.offersView(session))
        }
    }

    /// Short notices other pages send the agent back with (`/desk?done=transferred`).
    static let deskNotices = [
        "transferred": "The ticket was transferred.",
        "closed": "The ticket was closed.",
    ]

    func desk(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context)
        let presence = try await routing.presence(session.user.id)
        let presenceView = Self.presenceView(state: presence?.state ?? "offline", reason: presence?.reason)
        let offers = try await offersView(session)
        let mine = try await store.tickets.tickets(.init(agentId: session.user.id, limit: Self.pageSize))
        let accounts = try await store.accounts.list(includeDeleted: true)
        let keys = Dictionary(accounts.map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        let rows = TicketRowsView(
            tickets: mine.items.map { ticketRow($0, accountKeys: keys, userNames: [session.user.id: session.user.name]) },
            empty: mine.items.isEmpty, firstPage: nil, nextPage: mine.nextCursor.map { "/tickets?view=mine&cursor=\($0)" })
        let view = DeskView(
            notice: request.uri.queryParameters["done"].flatMap { Self.deskNotices[String($0)] },
            offerList: offers,
            presenceStates: presenceView.states, presenceReason: presenceView.reason, presenceSummary: presenceView.summary,
            queueList: try await queuesView(session),
            ticketsSource: "/tickets/fragment?view=mine",
            rows: rows)
        return try render(page(session, title: "Desk", section: "desk", live: true, view))
    }

    /// The agent's queues, each with its count of tickets no agent holds yet.
    func queuesView(_ session: SessionInfo) async throws -> DeskQueuesView {
        let queues = try await routing.memberQueues(session.user.id)
        let waiting = try await store.tickets.waitingCounts(queueIds: queues.map(\.id))
        // The unassigned view's count: what the agent sees with no agent yet (the list's rule, capped as a page is).
        var filter = TicketFilter(limit: 500)
        filter.unassigned = true
        filter.visibility = try await TicketVisibility.of(userId: session.user.id, role: session.user.role, memberOf: { _ in queues },
                                                          campaignAccounts: { try await store.routing.campaignAccountIds(userId: $0) })
        let page = try await store.tickets.tickets(filter)
        let unassigned = page.nextCursor == nil ? "\(page.items.count)" : "500+"
        return DeskQueuesView(myQueues: queues.map { queue in
            let count = waiting[queue.id] ?? 0
            return DeskQueuesView.QueueLink(name: queue.name, href: "/tickets?view=queue&queueId=" + PercentEncoding.component(queue.id),
                                            waiting: count, waitingLabel: count == 1 ? "1 waiting" : "\(count) waiting")
        }, hasQueues: !queues.isEmpty, unassignedLabel: "\(unassigned) waiting")
    }

    /// The presence control's values: the state's choices and a sentence saying where the agent stands.
    static func presenceView(state: String, reason: String?) -> PresenceView {
        let labels = ["online": "Online", "paused": "Paused", "offline": "Offline"]
        let summary: String = switch state {
        case "online": "You are online: new tickets are offered to you."
        case "paused": "You are paused" + (reason.map { " (\($0))" } ?? "") + ": no new tickets are offered to you."
        default: "You are offline: no tickets are offered to you."
        }
        return PresenceView(
            states: ["online", "paused", "offline"].map { PresenceView.State(value: $0, label: labels[$0] ?? $0, selected: $0 == state) },
            reason: reason ?? "", summary: summary)
    }

    /// The open offers, each with its account's notification settings and text.
    func offersView(_ session: SessionInfo) async throws -> OffersView {
        let offers = try await routing.openOffers(session.user.id)
        var rows: [OffersView.Offer] = []
        var queueNames: [String: String]?
        for offer in offers {
            guard let ticket = try await store.tickets.ticket(id: offer.ticketId) else { continue }
            let account = try await store.accounts.find(id: ticket.accountId)
            let notification = account?.notification ?? NotificationSettings()
            if queueNames == nil, ticket.queueId != nil {
                queueNames = Dictionary(try await routing.queues().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            }
            let queueName = ticket.queueId.flatMap { queueNames?[$0] }
            rows.append(OffersView.Offer(
                id: offer.id, ticketId: ticket.id, number: ticket.number,
                subject: ticket.subject.isEmpty ? "(no subject)" : ticket.subject,
                customer: ticket.customer.name.map { "\($0) <\(ticket.customer.address)>" } ?? ticket.customer.address,
                account: account?.key ?? "?",
                queue: queueName,
                sound: notification.sound, shake: notification.shake,
                notification: Self.notificationText(notification.template, ticket: ticket, account: account, queueName: queueName),
                // The default notification repeats the number, customer and subject the card shows already.
                showNotification: !(notification.template ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                deadline: offer.deadline.map(Self.displayTime) ?? "", deadlineISO: offer.deadline.map(ISO8601.format) ?? ""))
        }
        return OffersView(offers: rows, noOffers: rows.isEmpty)
    }

    /// The variables a notification template may use, as the account form lists them.
    static let notificationVariables = [
        "ticket.number", "ticket.subject", "ticket.priority", "customer.name", "customer.address",
        "account.name", "account.key", "account.fromAddress", "queue.name",
    ]

    /// The account's notification template with the ticket's variables, or a plain default.
    ///
    /// The result is plain text: the template is rendered without HTML escaping, and the page
    /// escapes it once where it shows it (escaping here too showed `&amp;` for `&`).
    static func notificationText(_ template: String?, ticket: Ticket, account: Account?, queueName: String? = nil) -> String {
        let fallback = "New ticket #\(ticket.number) from \(ticket.customer.address): \(ticket.subject)"
        guard let template, !template.isEmpty,
              let parsed = try? MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + template) else { return fallback }
        let context = NotificationVariables(
            ticket: .init(number: String(ticket.number), subject: ticket.subject, id: ticket.id, priority: ticket.priority.rawValue),
            customer: .init(name: ticket.customer.name ?? "", address: ticket.customer.address, email: ticket.customer.address),
            account: .init(name: account?.name ?? "", key: account?.key ?? "", fromAddress: account?.fromAddress ?? ""),
            queue: .init(name: queueName ?? ""))
        let text = parsed.render(context).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? fallback : String(text.prefix(500))
    }
}
