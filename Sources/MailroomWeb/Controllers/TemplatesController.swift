import Hummingbird
import MailroomCore
import Mustache

/// Message templates (reply, auto-reply, notification, invitation), checked for Mustache syntax on save.
struct TemplatesController {
    let templates: any TemplateRepository

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("templates", use: list)
        api.post("templates", use: create)
        api.get("templates/:id", use: show)
        api.patch("templates/:id", use: update)
        api.put("templates/:id", use: update)
        api.delete("templates/:id", use: delete)
    }

    /// A template that would not render is refused with the field and the parser's complaint.
    static func checkSyntax(_ fields: [(String, String?)]) throws {
        var errors: [FieldError] = []
        for (field, source) in fields {
            guard let source else { continue }
            do {
                _ = try MustacheTemplate(string: source)
            } catch {
                errors.append(FieldError(field, "is not a valid template: \(error)"))
            }
        }
        if !errors.isEmpty { throw APIError.invalid(errors) }
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<MessageTemplate>> {
        try context.require(.agent)
        return JSONResponse(ItemList(try await templates.list()))
    }

    @Sendable func create(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<MessageTemplate> {
        try context.require(.supervisor)
        let template = try await JSONBody.decode(MessageTemplateInput.self, request, context: context).validated(updating: nil)
        try Self.checkSyntax([("subject", template.subject), ("text", template.text), ("html", template.html)])
        return JSONResponse(try await templates.create(template), status: .created)
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<MessageTemplate> {
        try context.require(.agent)
        return JSONResponse(try await find(request, context: context))
    }

    @Sendable func update(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<MessageTemplate> {
        try context.require(.supervisor)
        let current = try await find(request, context: context)
        let template = try await JSONBody.decode(MessageTemplateInput.self, request, context: context).validated(updating: current)
        try Self.checkSyntax([("subject", template.subject), ("text", template.text), ("html", template.html)])
        return JSONResponse(try await templates.update(template))
    }

    @Sendable func delete(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.supervisor)
        try await templates.delete(id: try await find(request, context: context).id)
        return .noContent
    }

    private func find(_ request: Request, context: MailroomRequestContext) async throws -> MessageTemplate {
        let id = try request.parameter("id", context: context)
        guard let template = try await templates.find(id: id) else { throw APIError.notFound("template \(id)") }
        return template
    }
}
