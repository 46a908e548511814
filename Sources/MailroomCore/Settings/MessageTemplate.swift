import Foundation

/// A reusable message (Motion's templates and invitation emails): `{{ }}` variables rendered with Mustache.
public struct MessageTemplate: Codable, Sendable, Equatable {
    public enum Kind: String, NamedValues { case reply, autoReply, notification, invitation }

    public var id: String
    /// Unique; what settings refer to (the invitation template key, an auto-reply action).
    public var key: String
    public var kind: Kind
    public var subject: String?
    public var text: String?
    public var html: String?
    public var createdAt: Date?
    public var updatedAt: Date?

    public init(id: String = "", key: String, kind: Kind, subject: String? = nil, text: String? = nil, html: String? = nil) {
        self.id = id
        self.key = key
        self.kind = kind
        self.subject = subject
        self.text = text
        self.html = html
    }
}

public struct MessageTemplateInput: Decodable, Sendable {
    public var key: String?
    public var kind: MessageTemplate.Kind?
    public var subject: String??
    public var text: String??
    public var html: String??

    enum CodingKeys: String, CodingKey { case key, kind, subject, text, html }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        key = try c.decodeIfPresent(String.self, forKey: .key)
        kind = try c.decodeIfPresent(MessageTemplate.Kind.self, forKey: .kind)
        subject = c.contains(.subject) ? .some(try c.decodeIfPresent(String.self, forKey: .subject)) : nil
        text = c.contains(.text) ? .some(try c.decodeIfPresent(String.self, forKey: .text)) : nil
        html = c.contains(.html) ? .some(try c.decodeIfPresent(String.self, forKey: .html)) : nil
    }

    public func validated(updating current: MessageTemplate?) throws -> MessageTemplate {
        let key = (self.key ?? current?.key ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var errors: [FieldError] = []
        if key.isEmpty { errors.append(FieldError("key", "is required")) }
        if key.count > 100 { errors.append(FieldError("key", "must be at most 100 characters")) }
        guard let kind = self.kind ?? current?.kind else {
            throw DomainError.invalid(errors + [FieldError("kind", "is required: one of \(MessageTemplate.Kind.allowedNames)")])
        }
        var template = current ?? MessageTemplate(key: key, kind: kind)
        template.key = key
        template.kind = kind
        if let subject { template.subject = subject.flatMap { $0.isEmpty ? nil : $0 } }
        if let text { template.text = text.flatMap { $0.isEmpty ? nil : $0 } }
        if let html { template.html = html.flatMap { $0.isEmpty ? nil : $0 } }
        if template.text == nil && template.html == nil { errors.append(FieldError("text", "is required (or html)")) }
        for (field, value) in [("subject", template.subject), ("text", template.text), ("html", template.html)] where (value?.count ?? 0) > 200_000 {
            errors.append(FieldError(field, "is too long"))
        }
        // Every kind must parse; an invitation may use only the names it is rendered with.
        let allowed = kind == .invitation ? TemplateVariables.invitation : nil
        for (field, value) in [("subject", template.subject), ("text", template.text), ("html", template.html)] {
            if let value { errors += TemplateVariables.check(value, field: field, allowed: allowed) }
        }
        guard errors.isEmpty else { throw DomainError.invalid(errors) }
        return template
    }
}

public protocol TemplateRepository: Sendable {
    func create(_ template: MessageTemplate) async throws -> MessageTemplate
    func update(_ template: MessageTemplate) async throws -> MessageTemplate
    func find(id: String) async throws -> MessageTemplate?
    func find(key: String) async throws -> MessageTemplate?
    func list() async throws -> [MessageTemplate]
    func delete(id: String) async throws
}
