import Foundation
import Hummingbird
import MailroomCore

/// The signing secrets of webhook receivers (administrators only). A secret is in the answer to
/// creating or rotating an endpoint and nowhere else: not in listings, not in logs.
struct WebhookEndpointsController {
    let endpoints: any WebhookEndpointRepository

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("webhooks/endpoints", use: list)
        api.post("webhooks/endpoints", use: create)
        api.get("webhooks/endpoints/:id", use: show)
        api.delete("webhooks/endpoints/:id", use: delete)
        api.post("webhooks/endpoints/:id/rotate", use: rotate)
    }

    struct Create: Decodable {
        let url: String
    }

    struct Rotate: Decodable {
        let overlapSeconds: Int?
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<WebhookEndpoint>> {
        try context.require(.admin)
        return JSONResponse(ItemList(try await endpoints.list()))
    }

    @Sendable func create(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<WebhookEndpointSecret> {
        try context.require(.admin)
        let input = try await JSONBody.decode(Create.self, request, context: context)
        return JSONResponse(try await endpoints.create(url: input.url.trimmingCharacters(in: .whitespaces)), status: .created)
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<WebhookEndpoint> {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard let endpoint = try await endpoints.endpoint(id: id) else { throw APIError.notFound("webhook endpoint \(id)") }
        return JSONResponse(endpoint)
    }

    @Sendable func delete(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard try await endpoints.delete(id: id) else { throw APIError.notFound("webhook endpoint \(id)") }
        return .noContent
    }

    /// A new secret; the old one keeps signing for `overlapSeconds` (a day unless told).
    @Sendable func rotate(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<WebhookEndpointSecret> {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        // The body is optional: an empty one takes the default overlap.
        var overlap = WebhookEndpoint.defaultOverlapSeconds
        if (request.headers[.contentLength].flatMap(Int.init) ?? 0) > 0 || request.headers[.transferEncoding] != nil {
            overlap = try await JSONBody.decode(Rotate.self, request, context: context).overlapSeconds ?? overlap
        }
        guard let rotated = try await endpoints.rotate(id: id, overlapSeconds: overlap) else { throw APIError.notFound("webhook endpoint \(id)") }
        return JSONResponse(rotated)
    }
}
