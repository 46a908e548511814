import Foundation
import Hummingbird
import MailroomCore

/// What supervisors and administrators set up once: dispositions, canned answers, message
/// templates and the global settings.
extension WebSite {
    func catalog(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let accountId = request.uri.queryParameters["accountId"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let accounts = try await store.accounts.list(includeDeleted: false)
        let keys = Dictionary(accounts.map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        let dispositions = try await store.dispositions.list(accountId: accountId)
        let answers = try await store.cannedAnswers.list(accountId: accountId)
        return try render(page(session, title: "Dispositions and canned answers", section: "catalog", CatalogView(
            accounts: try await accountChoices(selected: accountId),
            accountId: accountId ?? "",
            braces: "{{ }}",
            dispositions: dispositions.map {
                CatalogView.Disposition(id: $0.id, name: $0.name, active: $0.active, scope: $0.accountId.flatMap { keys[$0] } ?? "all accounts")
            },
            answers: answers.map {
                CatalogView.Answer(id: $0.id, name: $0.name, text: $0.text ?? "", html: $0.html ?? "", active: $0.active,
                                   scope: $0.accountId.flatMap { keys[$0] } ?? "all accounts")
            })))
    }

    func templateList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let templates = try await store.templates.list()
        return try render(page(session, title: "Templates", section: "templates", TemplateListView(
            templates: templates.map {
                TemplateListView.Row(id: $0.id, key: $0.key, subject: $0.subject ?? "", text: $0.text ?? "", html: $0.html ?? "",
                                     kinds: Self.options(MessageTemplate.Kind.self, selected: $0.kind), kind: $0.kind.rawValue)
            },
            kinds: Self.options(MessageTemplate.Kind.self, selected: .reply),
            example: "{{ user.name }}")))
    }

    func settingsPage(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .admin)
        let settings = try await store.settings.globalSettings()
        let accounts = try await store.accounts.list(includeDeleted: false)
        let keyed = Dictionary(accounts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let invitations = try await store.templates.list().filter { $0.kind == .invitation }
        var view = SettingsView(
            failureMailSenders: settings.failureMailSenders.joined(separator: "\n"),
            invitationLink: settings.invitationLinkBaseAddress ?? "",
            invitationTemplates: invitations.map { SettingsView.InvitationTemplate(key: $0.key, selected: $0.key == settings.invitationTemplateKey) },
            mappings: accounts.filter { $0.outgoingAccountId != nil }.map {
                SettingsView.Mapping(from: "\($0.key) · \($0.name)",
                                     to: $0.outgoingAccountId.flatMap { keyed[$0] }.map { "\($0.key) · \($0.name)" } ?? "?", id: $0.id)
            },
            systemSenders: accounts.filter(\.sends).map {
                SettingsView.SenderOption(value: $0.id, label: "\($0.key) · \($0.fromAddress)", selected: $0.id == settings.systemSender?.accountId)
            },
            invitationHours: settings.invitationLinkHours ?? UserLink.defaultInvitationHours)
        view.timeZones = TimeZoneName.all.map {
            LabelledOptionView(value: $0, label: $0, selected: $0 == settings.effectiveTimeZone)
        }
        view.presenceChoices = [
            LabelledOptionView(value: PresenceAfterSignIn.online.rawValue, label: "online: offers start at once",
                               selected: settings.presenceAfterSignIn == .online),
            LabelledOptionView(value: PresenceAfterSignIn.asLeft.rawValue, label: "as they left it (paused or offline stays so)",
                               selected: (settings.presenceAfterSignIn ?? .asLeft) == .asLeft),
        ]
        return try render(page(session, title: "Settings", section: "settings", view))
    }
}
