import Foundation
import Hummingbird
import MailroomCore

/// Queues and their members (`/api/v1/queues`). Supervisors manage them; every signed-in user may
/// read them (an agent's screen names the queues it shows).
struct QueuesController {
    let store: Repositories
    let routing: (any RoutingOperations)?

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("queues", use: list)
        api.post("queues", use: create)
        api.get("queues/:id", use: show)
        api.put("queues/:id", use: update)
        api.delete("queues/:id", use: delete)
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<AgentQueue>> {
        try context.require(.agent)
        let queues = try await store.routing.queues()
        guard let campaign = try await Self.campaignFilter(request, routing: store.routing) else { return JSONResponse(ItemList(queues)) }
        return JSONResponse(ItemList(queues.filter { campaign.queueIds.contains($0.id) }))
    }

    /// The campaign a supervisor's list is narrowed to (`?campaignId=`), nil without one.
    static func campaignFilter(_ request: Request, routing: any RoutingRepository) async throws -> Campaign? {
        guard let id = request.uri.queryParameters["campaignId"].map(String.init), !id.isEmpty else { return nil }
        guard let campaign = try await routing.campaign(id: id) else { throw APIError.invalid([FieldError("campaignId", "names no campaign")]) }
        return campaign
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<AgentQueue> {
        try context.require(.agent)
        return JSONResponse(try await find(request, context: context))
    }

    @Sendable func create(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<AgentQueue> {
        try context.require(.supervisor)
        let queue = try await validated(try await JSONBody.decode(AgentQueue.self, request, context: context))
        return JSONResponse(try await store.routing.createQueue(queue), status: .created)
    }

    @Sendable func update(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<AgentQueue> {
        try context.require(.supervisor)
        let current = try await find(request, context: context)
        var queue = try await validated(try await JSONBody.decode(AgentQueue.self, request, context: context))
        queue.id = current.id
        guard try await store.routing.updateQueue(queue) else { throw APIError.notFound("queue \(current.id)") }
        await routing?.queueChanged(id: queue.id, queue: queue)
        return JSONResponse(try await store.routing.queue(id: queue.id) ?? queue)
    }

    @Sendable func delete(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.supervisor)
        let queue = try await find(request, context: context)
        // Tickets still being offered in it go to the unassigned view first, so none is left waiting in a queue that is gone.
        await routing?.queueChanged(id: queue.id, queue: nil)
        guard try await store.routing.deleteQueue(id: queue.id) else { throw APIError.notFound("queue \(queue.id)") }
        return .noContent
    }

    private func find(_ request: Request, context: MailroomRequestContext) async throws -> AgentQueue {
        let id = try request.parameter("id", context: context)
        guard let queue = try await store.routing.queue(id: id) else { throw APIError.notFound("queue \(id)") }
        return queue
    }

    /// The model's own checks, then the references: members must be users, linked accounts must exist.
    private func validated(_ input: AgentQueue) async throws -> AgentQueue {
        var queue = input
        queue.name = queue.name.trimmingCharacters(in: .whitespacesAndNewlines)
        var errors = queue.validate()
        let users = Dictionary(try await store.users.list().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, member) in queue.members.enumerated() where !member.userId.isEmpty {
            if users[member.userId] == nil { errors.append(FieldError("members[\(index)].userId", "names no user")) }
        }
        let accounts = Set(try await store.accounts.list(includeDeleted: false).map(\.id))
        for (index, accountId) in queue.accountIds.enumerated() where !accounts.contains(accountId) {
            errors.append(FieldError("accountIds[\(index)]", "names no account (or a deleted one)"))
        }
        guard errors.isEmpty else { throw APIError.invalid(errors) }
        return queue
    }
}
