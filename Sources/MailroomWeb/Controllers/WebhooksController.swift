import Foundation
import Hummingbird
import MailroomCore

/// Webhook deliveries made by rules: what was posted where, how it went, and a way to send a
/// failed one again once its receiver is mended.
struct WebhooksController {
    let webhooks: any WebhookDeliveryRepository
    let endpoints: any WebhookEndpointRepository
    let changed: @Sendable () -> Void

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        WebhookEndpointsController(endpoints: endpoints).addRoutes(to: api)
        api.get("webhooks/deliveries", use: list)
        api.get("webhooks/deliveries/:id", use: show)
        api.post("webhooks/deliveries/:id/retry", use: retry)
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<WebhookDelivery>> {
        try context.require(.supervisor)
        var state: WebhookDeliveryState?
        if let text = request.uri.queryParameters["state"] {
            guard let value = WebhookDeliveryState(rawValue: String(text)) else {
                throw APIError.invalid([FieldError("state", "must be one of \(WebhookDeliveryState.allowedNames)")])
            }
            state = value
        }
        return JSONResponse(ItemList(try await webhooks.deliveries(state: state)))
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<WebhookDelivery> {
        try context.require(.supervisor)
        let id = try request.parameter("id", context: context)
        guard let delivery = try await webhooks.delivery(id: id) else { throw APIError.notFound("webhook delivery \(id)") }
        return JSONResponse(delivery)
    }

    @Sendable func retry(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<WebhookDelivery> {
        try context.require(.supervisor)
        let id = try request.parameter("id", context: context)
        guard let delivery = try await webhooks.delivery(id: id) else { throw APIError.notFound("webhook delivery \(id)") }
        guard try await webhooks.retry(id: id) else {
            throw APIError(.conflict, code: "not_failed",
                           message: "webhook delivery \(id) is \(delivery.state.rawValue); only a failed delivery can be sent again")
        }
        changed()
        guard let updated = try await webhooks.delivery(id: id) else { throw APIError.notFound("webhook delivery \(id)") }
        return JSONResponse(updated)
    }
}
