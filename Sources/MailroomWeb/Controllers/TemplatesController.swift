import Hummingbird
import MailroomCore
import Mustache

/// Message templates (reply, auto-reply, notification, invitation), checked for Mustache syntax on save.
struct TemplatesController {
    let templates: any TemplateRepository

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        let templates = templates
        CatalogResource<MessageTemplate, MessageTemplateInput>(
            path: "templates", noun: "template",
            list: { _ in try await templates.list() },
            find: { try await templates.find(id: $0) }, create: { try await templates.create($0) },
            update: { try await templates.update($0) }, delete: { try await templates.delete(id: $0.id) },
            validate: { input, current in
                let template = try input.validated(updating: current)
                try Self.checkSyntax([("subject", template.subject), ("text", template.text), ("html", template.html)])
                return template
            }
        ).addRoutes(to: api)
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
}
