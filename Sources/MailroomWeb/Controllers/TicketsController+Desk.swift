import Foundation
import Hummingbird
import MailroomCore

/// The desk's ticket actions: take or assign a ticket waiting in a queue, reopen a closed one, and
/// read a ticket's history.
extension TicketsController {
    func addDeskRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.post("tickets/:id/take", use: take)
        api.post("tickets/:id/reopen", use: reopen)
        api.get("tickets/:id/history", use: history)
    }

    struct TakeInput: Decodable {
        /// A supervisor's "Assign to…": the agent who gets the ticket (absent: the caller takes it).
        var userId: String?
    }

    /// "Take it" (an agent of the ticket's queue) or, with `userId`, a supervisor's "Assign to…".
    /// The rules of accepting an offer apply: the agent's capacity, and the first to take it wins.
    @Sendable func take(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Ticket> {
        let principal = try context.require(.agent)
        let ticket = try await findVisibleTicket(request, context: context)
        var input = TakeInput()
        if request.headers[.contentLength].map({ $0 != "0" }) ?? true, request.headers[.contentType] != nil {
            input = try await JSONBody.decode(TakeInput.self, request, context: context)
        }
        let target: String
        if let userId = input.userId?.trimmingCharacters(in: .whitespaces), !userId.isEmpty, userId != principal.userId {
            guard principal.has(atLeast: .supervisor) else {
                throw APIError.forbidden("only supervisors and administrators may assign a ticket to someone else; take it yourself without userId")
            }
            try TicketDeskRules.checkAssign(ticket, to: userId)
            target = userId
        } else {
            guard let userId = principal.userId else {
                throw APIError.invalid([FieldError("userId", "is required: this token belongs to no user, so name the agent who takes the ticket")])
            }
            let queueIds = Set(try await access.routing.queues(memberId: userId).map(\.id))
            try TicketDeskRules.checkTake(ticket, userId: userId, memberOf: queueIds)
            target = userId
        }
        return JSONResponse(try await routingService().take(ticketId: ticket.id, for: target, by: principal.userId))
    }

    /// Reopens a closed ticket: open again, with its queue and agent, its disposition cleared.
    @Sendable func reopen(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Ticket> {
        let principal = try context.require(.agent)
        let ticket = try await findVisibleTicket(request, context: context)
        try TicketDeskRules.checkReopen(ticket, userId: principal.userId, role: principal.role)
        guard let reopened = try await tickets.reopen(ticketId: ticket.id, by: principal.userId) else {
            throw APIError.conflict(FieldError("ticket", "is not closed; only a closed ticket can be reopened"))
        }
        for event in RoutingEvents.ticket(reopened, at: Date()) { events.publish(event) }
        return JSONResponse(reopened)
    }

    struct HistoryActor: Encodable, Sendable {
        /// `user`, or `system` for Mailroom itself (ingest, rules, timers).
        let type: String
        let id: String?
        let name: String
    }

    struct HistoryItem: Encodable, Sendable {
        let at: Date
        let actor: HistoryActor
        let kind: TicketEventKind
        let details: [String: String]
    }

    /// What happened to the ticket, oldest first, with who did it and when.
    @Sendable func history(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<HistoryItem>> {
        try context.require(.agent)
        let ticket = try await findVisibleTicket(request, context: context)
        let entries = try await tickets.history(ticketId: ticket.id)
        let names = try await Self.actorNames(entries, users: users)
        return JSONResponse(ItemList(entries.map { entry in
            HistoryItem(at: entry.at, actor: Self.actor(entry.actorId, names: names), kind: entry.kind, details: entry.details)
        }))
    }

    static func actorNames(_ entries: [TicketHistoryEntry], users: any UserRepository) async throws -> [String: String] {
        var names: [String: String] = [:]
        for id in Set(entries.compactMap(\.actorId)) {
            names[id] = try await users.find(id: id)?.name
        }
        return names
    }

    static func actor(_ id: String?, names: [String: String]) -> HistoryActor {
        guard let id else { return HistoryActor(type: "system", id: nil, name: "system") }
        return HistoryActor(type: "user", id: id, name: names[id] ?? "a removed user")
    }

    private func findVisibleTicket(_ request: Request, context: MailroomRequestContext) async throws -> Ticket {
        let id = try request.parameter("id", context: context)
        guard let ticket = try await access.visibleTicket(id, to: try context.caller()) else { throw APIError.notFound("ticket \(id)") }
        return ticket
    }

    private func routingService() throws -> any RoutingOperations {
        guard let routing else { throw APIError(.serviceUnavailable, code: "unavailable", message: "this server does not route tickets") }
        return routing
    }
}
