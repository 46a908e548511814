import Hummingbird
import MailroomCore

/// Dispositions, canned answers and the global settings.
struct CatalogController {
    let dispositions: any DispositionRepository
    let cannedAnswers: any CannedAnswerRepository
    let settings: any SettingsRepository
    let accounts: any AccountRepository

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("dispositions", use: listDispositions)
        api.post("dispositions", use: createDisposition)
        api.get("dispositions/:id", use: showDisposition)
        api.patch("dispositions/:id", use: updateDisposition)
        api.put("dispositions/:id", use: updateDisposition)
        api.delete("dispositions/:id", use: deleteDisposition)
        api.get("canned-answers", use: listAnswers)
        api.post("canned-answers", use: createAnswer)
        api.get("canned-answers/:id", use: showAnswer)
        api.patch("canned-answers/:id", use: updateAnswer)
        api.put("canned-answers/:id", use: updateAnswer)
        api.delete("canned-answers/:id", use: deleteAnswer)
        api.get("settings", use: showSettings)
        api.put("settings", use: updateSettings)
        api.patch("settings", use: updateSettings)
    }

    // MARK: Dispositions

    @Sendable func listDispositions(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<Disposition>> {
        try context.require(.agent)
        return JSONResponse(ItemList(try await dispositions.list(accountId: request.uri.queryParameters["accountId"].map(String.init))))
    }

    @Sendable func createDisposition(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Disposition> {
        try context.require(.supervisor)
        let disposition = try await JSONBody.decode(DispositionInput.self, request, context: context).validated(updating: nil)
        try await checkAccount(disposition.accountId)
        return JSONResponse(try await dispositions.create(disposition), status: .created)
    }

    @Sendable func showDisposition(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Disposition> {
        try context.require(.agent)
        return JSONResponse(try await findDisposition(request, context: context))
    }

    @Sendable func updateDisposition(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Disposition> {
        try context.require(.supervisor)
        let current = try await findDisposition(request, context: context)
        let disposition = try await JSONBody.decode(DispositionInput.self, request, context: context).validated(updating: current)
        try await checkAccount(disposition.accountId)
        return JSONResponse(try await dispositions.update(disposition))
    }

    @Sendable func deleteDisposition(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.supervisor)
        try await dispositions.delete(id: try await findDisposition(request, context: context).id)
        return .noContent
    }

    private func findDisposition(_ request: Request, context: MailroomRequestContext) async throws -> Disposition {
        let id = try request.parameter("id", context: context)
        guard let disposition = try await dispositions.find(id: id) else { throw APIError.notFound("disposition \(id)") }
        return disposition
    }

    // MARK: Canned answers

    @Sendable func listAnswers(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<CannedAnswer>> {
        try context.require(.agent)
        return JSONResponse(ItemList(try await cannedAnswers.list(accountId: request.uri.queryParameters["accountId"].map(String.init))))
    }

    @Sendable func createAnswer(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<CannedAnswer> {
        try context.require(.supervisor)
        let answer = try await JSONBody.decode(CannedAnswerInput.self, request, context: context).validated(updating: nil)
        try await checkAccount(answer.accountId)
        return JSONResponse(try await cannedAnswers.create(answer), status: .created)
    }

    @Sendable func showAnswer(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<CannedAnswer> {
        try context.require(.agent)
        return JSONResponse(try await findAnswer(request, context: context))
    }

    @Sendable func updateAnswer(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<CannedAnswer> {
        try context.require(.supervisor)
        let current = try await findAnswer(request, context: context)
        let answer = try await JSONBody.decode(CannedAnswerInput.self, request, context: context).validated(updating: current)
        try await checkAccount(answer.accountId)
        return JSONResponse(try await cannedAnswers.update(answer))
    }

    @Sendable func deleteAnswer(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.supervisor)
        try await cannedAnswers.delete(id: try await findAnswer(request, context: context).id)
        return .noContent
    }

    private func findAnswer(_ request: Request, context: MailroomRequestContext) async throws -> CannedAnswer {
        let id = try request.parameter("id", context: context)
        guard let answer = try await cannedAnswers.find(id: id) else { throw APIError.notFound("canned answer \(id)") }
        return answer
    }

    private func checkAccount(_ accountId: String?) async throws {
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
