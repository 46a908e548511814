import Hummingbird
import MailroomCore

/// Routing rules (Ameyo's rule engine, Motion's action plan): ordered per account, then the global ones.
struct RulesController {
    let rules: any RuleRepository
    let accounts: any AccountRepository
    /// The campaign a rule names (Ameyo: a rule routes to a queue within a campaign).
    var campaign: @Sendable (String) async throws -> Campaign? = { _ in nil }

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("rules", use: list)
        api.post("rules", use: create)
        api.post("rules/reorder", use: reorder)
        api.get("rules/:id", use: show)
        api.patch("rules/:id", use: update)
        api.put("rules/:id", use: update)
        api.delete("rules/:id", use: delete)
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<RoutingRule>> {
        try context.require(.supervisor)
        if let accountId = request.uri.queryParameters["accountId"] {
            return JSONResponse(ItemList(try await rules.list(accountId: accountId == "global" ? nil : String(accountId))))
        }
        return JSONResponse(ItemList(try await rules.all()))
    }

    @Sendable func create(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<RoutingRule> {
        try context.require(.supervisor)
        var document = try await JSONBody.object(request, context: context)
        if case .object(var object) = document {
            object["id"] = nil
            document = .object(object)
        }
        let rule = try RoutingRule.decode(document)
        try await check(rule)
        return JSONResponse(try await rules.create(rule), status: .created)
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<RoutingRule> {
        try context.require(.supervisor)
        return JSONResponse(try await find(request, context: context))
    }

    @Sendable func update(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<RoutingRule> {
        try context.require(.supervisor)
        let current = try await find(request, context: context)
        var patch = try await JSONBody.object(request, context: context)
        if case .object(var object) = patch {
            object["id"] = nil
            patch = .object(object)
        }
        var rule = try RoutingRule.decode(try JSONValue(encoding: current).merging(patch))
        rule.id = current.id
        try await check(rule)
        try await rules.update([rule])
        return JSONResponse(try await rules.find(id: rule.id) ?? rule)
    }

    @Sendable func delete(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.supervisor)
        try await rules.delete(id: try await find(request, context: context).id)
        return .noContent
    }

    struct ReorderRequest: Decodable {
        var accountId: String?
        var order: [String]
    }

    /// Renumbers one group (an account's rules, or the global ones with `accountId` null) in the order given.
    @Sendable func reorder(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<RoutingRule>> {
        try context.require(.supervisor)
        let input = try await JSONBody.decode(ReorderRequest.self, request, context: context)
        let group = try await rules.list(accountId: input.accountId)
        let reordered = try RoutingRule.reordered(group, as: input.order)
        try await rules.update(reordered)
        return JSONResponse(ItemList(try await rules.list(accountId: input.accountId)))
    }

    /// The account must exist, and `goto` must name a rule that runs for the same mail.
    private func check(_ rule: RoutingRule) async throws {
        if let accountId = rule.accountId {
            guard let account = try await accounts.find(id: accountId), account.deletedAt == nil else {
                throw APIError.invalid([FieldError("accountId", "names no existing account")])
            }
        }
        let reachable: [RoutingRule]
        if let accountId = rule.accountId {
            reachable = try await rules.rules(for: accountId)
        } else {
            reachable = try await rules.all()
        }
        var known = Set(reachable.map(\.id))
        if !rule.id.isEmpty { known.insert(rule.id) }
        var errors = rule.validate(knownRuleIds: known)
        if let campaignId = rule.campaignId { errors += rule.campaignProblems(try await campaign(campaignId)) }
        if !errors.isEmpty { throw APIError.invalid(errors) }
    }

    private func find(_ request: Request, context: MailroomRequestContext) async throws -> RoutingRule {
        let id = try request.parameter("id", context: context)
        guard let rule = try await rules.find(id: id) else { throw APIError.notFound("rule \(id)") }
        return rule
    }
}
