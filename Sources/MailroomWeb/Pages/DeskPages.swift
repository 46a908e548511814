import Foundation
import Hummingbird
import MailroomCore
import MailroomStore
import Mustache

/// The agent desk: presence, offers arriving live, and the agent's open tickets.
extension WebSite {
    func addDeskRoutes(to pages: RouterGroup<MailroomRequestContext>) {
        pages.get("desk") { request, context in try await self.desk(request, context) }
        pages.get("desk/offers") { request, context in
            let session = try self.session(request, context)
            return try self.render("desk-offers", try await self.offersData(session))
        }
    }

    func desk(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context)
        let presence = try await routing.presence(session.user.id)
        let state = presence?.state ?? "offline"
        var data = try await offersData(session)
        data["live"] = true
        data["presenceStates"] = ["online", "paused", "offline"].map { ["value": $0, "selected": $0 == state] }
        data["presence"] = state
        data["presenceReason"] = presence?.reason ?? ""
        data["ticketsSource"] = "/tickets/fragment?view=mine"
        let mine = try await store.tickets.tickets(.init(agentId: session.user.id, limit: Self.pageSize))
        let accounts = try await store.accounts.list(includeDeleted: true)
        let keys = Dictionary(accounts.map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        data["tickets"] = mine.items.map { ticketRow($0, accountKeys: keys, userNames: [session.user.id: session.user.name]) }
        data["empty"] = mine.items.isEmpty
        data["nextPage"] = mine.nextCursor.map { "/tickets?view=mine&cursor=\($0)" } as Any
        return try render("desk", page(session, title: "Desk", section: "desk", data))
    }

    /// The open offers, each with its account's notification settings and text.
    func offersData(_ session: SessionInfo) async throws -> [String: Any] {
        let offers = try await routing.openOffers(session.user.id)
        var rows: [[String: Any]] = []
        for offer in offers {
            guard let ticket = try await store.tickets.ticket(id: offer.ticketId) else { continue }
            let account = try await store.accounts.find(id: ticket.accountId)
            let notification = account?.notification ?? NotificationSettings()
            rows.append([
                "id": offer.id, "ticketId": ticket.id, "number": ticket.number, "subject": ticket.subject,
                "customer": ticket.customer.address, "account": account?.key ?? "?",
                "sound": notification.sound, "shake": notification.shake,
                "notification": Self.notificationText(notification.template, ticket: ticket, account: account),
                "deadline": offer.deadline.map(Self.displayTime) ?? "", "deadlineISO": offer.deadline.map(ISO8601.format) ?? "",
            ])
        }
        return ["offers": rows, "noOffers": rows.isEmpty]
    }

    /// The account's notification template with the ticket's variables, or a plain default.
    static func notificationText(_ template: String?, ticket: Ticket, account: Account?) -> String {
        let fallback = "New ticket #\(ticket.number) from \(ticket.customer.address): \(ticket.subject)"
        guard let template, !template.isEmpty, let parsed = try? MustacheTemplate(string: template) else { return fallback }
        let context: [String: Any] = [
            "ticket": ["number": ticket.number, "subject": ticket.subject, "id": ticket.id, "priority": ticket.priority.rawValue],
            "customer": ["name": ticket.customer.name ?? "", "address": ticket.customer.address],
            "account": ["name": account?.name ?? "", "key": account?.key ?? "", "fromAddress": account?.fromAddress ?? ""],
        ]
        // Rendered as text: the page escapes it where it is shown.
        let text = parsed.render(context).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? fallback : String(text.prefix(500))
    }
}
