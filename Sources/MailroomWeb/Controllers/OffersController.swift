import Foundation
import Hummingbird
import MailroomCore

/// An agent's offers: the open ones, accept, reject (`/api/v1/offers`).
struct OffersController {
    let store: Repositories
    let routing: (any RoutingOperations)?

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("offers", use: list)
        api.post("offers/:id/accept", use: accept)
        api.post("offers/:id/reject", use: reject)
    }

    /// An open offer with its ticket, as the agent's screen lists it.
    struct OpenOffer: Encodable, Sendable {
        let id: String
        let ticketId: String
        let state: OfferState
        let offeredAt: Date
        let deadline: Date
        let ticket: Ticket?
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<OpenOffer>> {
        let userId = try caller(context)
        var items: [OpenOffer] = []
        for offer in try await store.routing.openOffers(userId: userId) {
            items.append(OpenOffer(id: offer.id, ticketId: offer.ticketId, state: offer.state, offeredAt: offer.offeredAt,
                                   deadline: offer.deadline, ticket: try await store.tickets.ticket(id: offer.ticketId)))
        }
        return JSONResponse(ItemList(items))
    }

    /// 200 with the ticket, now the caller's; 409 when someone else accepted first or the offer expired.
    @Sendable func accept(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Ticket> {
        let userId = try caller(context)
        let id = try request.parameter("id", context: context)
        return JSONResponse(try await service().accept(offerId: id, by: userId))
    }

    @Sendable func reject(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        let userId = try caller(context)
        let id = try request.parameter("id", context: context)
        try await service().reject(offerId: id, by: userId)
        return .noContent
    }

    /// Offers belong to users; the bootstrap administrator token has none.
    private func caller(_ context: MailroomRequestContext) throws -> String {
        guard let userId = try context.caller().userId else {
            throw APIError.forbidden("offers belong to users; sign in as one (the administrator token belongs to nobody)")
        }
        return userId
    }

    private func service() throws -> any RoutingOperations {
        guard let routing else { throw APIError(.serviceUnavailable, code: "unavailable", message: "this server does not route tickets") }
        return routing
    }
}
