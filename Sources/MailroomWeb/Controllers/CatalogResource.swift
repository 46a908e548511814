import Hummingbird
import MailroomCore

/// The routes of a simple catalog resource: list, create, show, change (PUT and PATCH) and delete,
/// with agents allowed to read and supervisors to write. Dispositions, canned answers and message
/// templates differ only in their types, their checks and their store.
struct CatalogResource<Item: Codable & Sendable, Input: Decodable & Sendable>: Sendable {
    /// The path below `/api/v1`, e.g. `dispositions`.
    let path: String
    /// How a 404 names one, e.g. `disposition`.
    let noun: String
    let list: @Sendable (Request) async throws -> [Item]
    let find: @Sendable (String) async throws -> Item?
    let create: @Sendable (Item) async throws -> Item
    let update: @Sendable (Item) async throws -> Item
    let delete: @Sendable (Item) async throws -> Void
    /// Turns a request body into the item to store (`current` is nil on create), or throws the field errors.
    let validate: @Sendable (Input, _ current: Item?) async throws -> Item

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get(RouterPath(path)) { request, context -> JSONResponse<ItemList<Item>> in
            try context.require(.agent)
            return JSONResponse(ItemList(try await list(request)))
        }
        api.post(RouterPath(path)) { request, context -> JSONResponse<Item> in
            try context.require(.supervisor)
            let item = try await validate(try await JSONBody.decode(Input.self, request, context: context), nil)
            return JSONResponse(try await create(item), status: .created)
        }
        api.get(RouterPath("\(path)/:id")) { request, context -> JSONResponse<Item> in
            try context.require(.agent)
            return JSONResponse(try await existing(request, context: context))
        }
        let change: @Sendable (Request, MailroomRequestContext) async throws -> JSONResponse<Item> = { request, context in
            try context.require(.supervisor)
            let current = try await existing(request, context: context)
            let item = try await validate(try await JSONBody.decode(Input.self, request, context: context), current)
            return JSONResponse(try await update(item))
        }
        api.patch(RouterPath("\(path)/:id"), use: change)
        api.put(RouterPath("\(path)/:id"), use: change)
        api.delete(RouterPath("\(path)/:id")) { request, context -> HTTPResponse.Status in
            try context.require(.supervisor)
            try await delete(try await existing(request, context: context))
            return .noContent
        }
    }

    private func existing(_ request: Request, context: MailroomRequestContext) async throws -> Item {
        let id = try request.parameter("id", context: context)
        guard let item = try await find(id) else { throw APIError.notFound("\(noun) \(id)") }
        return item
    }
}
