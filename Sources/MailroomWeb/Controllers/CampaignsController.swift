import Foundation
import Hummingbird
import MailroomCore
import MailroomStore

/// Campaigns (`/api/v1/campaigns`, Ameyo): queues, accounts and agents grouped. Administrators
/// manage them; supervisors and agents may read them (an agent's screens name their campaigns).
struct CampaignsController {
    let store: Repositories

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("campaigns", use: list)
        api.post("campaigns", use: create)
        api.get("campaigns/:id", use: show)
        api.put("campaigns/:id", use: update)
        api.delete("campaigns/:id", use: delete)
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<Campaign>> {
        try context.require(.agent)
        return JSONResponse(ItemList(try await store.routing.campaigns()))
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Campaign> {
        try context.require(.agent)
        let id = try request.parameter("id", context: context)
        guard let campaign = try await store.routing.campaign(id: id) else { throw APIError.notFound("campaign \(id)") }
        return JSONResponse(campaign)
    }

    @Sendable func create(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Campaign> {
        try context.require(.admin)
        let campaign = try await validated(try await JSONBody.decode(Campaign.self, request, context: context))
        return JSONResponse(try await store.routing.createCampaign(campaign), status: .created)
    }

    @Sendable func update(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Campaign> {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard try await store.routing.campaign(id: id) != nil else { throw APIError.notFound("campaign \(id)") }
        var campaign = try await validated(try await JSONBody.decode(Campaign.self, request, context: context))
        campaign.id = id
        return JSONResponse(try await store.routing.updateCampaign(campaign))
    }

    @Sendable func delete(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.admin)
        try await store.routing.deleteCampaign(id: try request.parameter("id", context: context))
        return .noContent
    }

    /// The campaign's own checks, then its references: queues, live accounts and users that exist.
    private func validated(_ input: Campaign) async throws -> Campaign {
        var campaign = input
        campaign.name = campaign.name.trimmingCharacters(in: .whitespacesAndNewlines)
        var errors = campaign.validate()
        let queues = Set(try await store.routing.queues().map(\.id))
        for (index, id) in campaign.queueIds.enumerated() where !queues.contains(id) {
            errors.append(FieldError("queueIds[\(index)]", "names no queue"))
        }
        let accounts = Set(try await store.accounts.list(includeDeleted: false).map(\.id))
        for (index, id) in campaign.accountIds.enumerated() where !accounts.contains(id) {
            errors.append(FieldError("accountIds[\(index)]", "names no account (or a deleted one)"))
        }
        let users = Set(try await store.users.list().map(\.id))
        for (index, id) in campaign.userIds.enumerated() where !users.contains(id) {
            errors.append(FieldError("userIds[\(index)]", "names no user"))
        }
        guard errors.isEmpty else { throw APIError.invalid(errors) }
        return campaign
    }
}
