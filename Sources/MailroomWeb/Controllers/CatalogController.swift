import Hummingbird
import MailroomCore

/// Dispositions, canned answers and the global settings.
struct CatalogController {
    let dispositions: any DispositionRepository
    let cannedAnswers: any CannedAnswerRepository
    let settings: any SettingsRepository
    let accounts: any AccountRepository

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        let dispositions = dispositions
        let cannedAnswers = cannedAnswers
        CatalogResource<Disposition, DispositionInput>(
            path: "dispositions", noun: "disposition",
            list: { try await dispositions.list(accountId: $0.uri.queryParameters["accountId"].map(String.init)) },
            find: { try await dispositions.find(id: $0) }, create: { try await dispositions.create($0) },
            update: { try await dispositions.update($0) }, delete: { try await dispositions.delete(id: $0.id) },
            validate: { input, current in
                let disposition = try input.validated(updating: current)
                try await checkAccount(disposition.accountId)
                return disposition
            }
        ).addRoutes(to: api)
        CatalogResource<CannedAnswer, CannedAnswerInput>(
            path: "canned-answers", noun: "canned answer",
            list: { try await cannedAnswers.list(accountId: $0.uri.queryParameters["accountId"].map(String.init)) },
            find: { try await cannedAnswers.find(id: $0) }, create: { try await cannedAnswers.create($0) },
            update: { try await cannedAnswers.update($0) }, delete: { try await cannedAnswers.delete(id: $0.id) },
            validate: { input, current in
                let answer = try input.validated(updating: current)
                try await checkAccount(answer.accountId)
                return answer
            }
        ).addRoutes(to: api)
        api.get("settings", use: showSettings)
        api.put("settings", use: updateSettings)
        api.patch("settings", use: updateSettings)
    }

    @Sendable private func checkAccount(_ accountId: String?) async throws {
        guard let accountId else { return }
        guard let account = try await accounts.find(id: accountId), account.deletedAt == nil else {
            throw APIError.invalid([FieldError("accountId", "names no existing account")])
        }
    }

    // MARK: Global settings

    @Sendable func showSettings(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<GlobalSettings> {
        try context.require(.supervisor)
        return JSONResponse(try await settings.globalSettings())
    }

    @Sendable func updateSettings(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<GlobalSettings> {
        try context.require(.admin)
        let patch = try await JSONBody.object(request, context: context)
        let current = try JSONValue(encoding: try await settings.globalSettings())
        let updated: GlobalSettings
        do {
            updated = try current.merging(patch).decode(GlobalSettings.self)
        } catch let error as DecodingError {
            throw APIError.invalid([FieldError(error)])
        }
        let errors = updated.validate()
        guard errors.isEmpty else { throw APIError.invalid(errors) }
        try await settings.save(updated)
        return JSONResponse(updated)
    }
}
