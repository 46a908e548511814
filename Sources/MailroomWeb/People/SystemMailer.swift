import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import Mustache

/// Mailroom's own mail (invitations, password resets, notices): composed here, sent by the account
/// the `systemSender` setting names, through the outbox (its retry policy and attempt log), on no
/// ticket, and marked `Auto-Submitted: auto-generated` so that responders do not answer it.
public struct SystemMailer: Sendable {
    let store: Repositories
    /// Tells the outbox sender that a row is due.
    let wake: @Sendable () -> Void

    public init(store: some RepositoryProvider, wake: @escaping @Sendable () -> Void) {
        self.store = store.repositories
        self.wake = wake
    }

    /// The sending account, or an error that names the setting to fix.
    public func sender(settings: GlobalSettings? = nil) async throws -> Account {
        var settings = settings
        if settings == nil { settings = try await store.settings.globalSettings() }
        guard let accountId = settings?.systemSender?.accountId else {
            throw DomainError.conflict(FieldError("systemSender", "is not set: choose the account that sends Mailroom's own mail in Settings"))
        }
        guard let account = try await store.accounts.find(id: accountId) else {
            throw DomainError.conflict(FieldError("systemSender", "names account \(accountId), which no longer exists; choose another in Settings"))
        }
        guard account.sends else {
            throw DomainError.conflict(FieldError("systemSender", "names account '\(account.key)', which has no outgoing server"))
        }
        return account
    }

    /// Queues one message to `to`; answers its outbox row.
    @discardableResult
    public func send(to: Mailbox, subject: String, text: String, html: String? = nil, purpose: String,
                     settings: GlobalSettings? = nil, now: Date = Date()) async throws -> OutboxItem {
        let account = try await sender(settings: settings)
        var builder = MessageBuilder(from: Mailbox(name: account.fromName.isEmpty ? "Mailroom" : account.fromName, address: account.fromAddress))
        builder.to = [to]
        builder.subject = subject
        builder.text = text
        builder.html = html
        builder.date = now
        let domain = account.fromAddress.split(separator: "@").last.map(String.init) ?? "mailroom.invalid"
        builder.messageID = "mailroom.system.\(Identifier.make(at: now))@\(domain)"
        builder.extraHeaders = [OutgoingHeader("Auto-Submitted", "auto-generated"), OutgoingHeader("X-Mailroom-System", purpose)]
        guard let queue = store.systemMail else {
            throw DomainError.conflict(FieldError("systemSender", "this server keeps no outbox for Mailroom's own mail"))
        }
        let item = try await queue.enqueueSystem(raw: builder.build(), accountId: account.id, envelopeFrom: account.fromAddress,
                                                 recipients: [to.address], purpose: purpose, now: now)
        wake()
        return item
    }
}

/// An invitation's subject and bodies, rendered from the template the settings name.
public struct InvitationContent: Codable, Sendable, Equatable {
    public var subject: String
    public var text: String
    public var html: String?
}

/// Sends invitations and password-reset links: a fresh single-use token per mail, only its hash kept.
public struct PeopleMail: Sendable {
    let store: Repositories
    let mailer: SystemMailer
    var people: any PeopleRepository {
        get throws { try store.peopleRepository }
    }

    public init(store: some RepositoryProvider, mailer: SystemMailer) {
        self.store = store.repositories
        self.mailer = mailer
    }

    /// What an invitation needs before it can be sent: the template, the base address and the sender.
    func invitationSetup(_ settings: GlobalSettings) async throws -> (MessageTemplate, String, Account) {
        guard let key = settings.invitationTemplateKey else {
            throw DomainError.conflict(FieldError("invitationTemplateKey", "is not set: choose the invitation template in Settings before inviting"))
        }
        guard let base = settings.invitationLinkBaseAddress ?? settings.publicBaseURL else {
            throw DomainError.conflict(FieldError("invitationLinkBaseAddress", "is not set: enter the address people open Mailroom at in Settings"))
        }
        guard let template = try await store.templates.find(key: key), template.kind == .invitation else {
            throw DomainError.conflict(FieldError("invitationTemplateKey", "names '\(key)', which is not an invitation template"))
        }
        let account = try await mailer.sender(settings: settings)
        return (template, base.hasSuffix("/") ? String(base.dropLast()) : base, account)
    }

    /// Whether invitations can be sent now (the new-user form ticks "send invitation" then).
    public func invitationsReady() async -> Bool {
        guard let settings = try? await store.settings.globalSettings() else { return false }
        return (try? await invitationSetup(settings)) != nil
    }

    static func render(_ template: MessageTemplate, user: User, link: String, expiresAt: Date, senderName: String,
                       settings: GlobalSettings) -> InvitationContent {
        let context: [String: Any] = [
            "user": ["name": user.name, "email": user.email, "role": user.role.rawValue, "alias": user.alias ?? ""],
            "invitation": ["link": link, "expiresAt": ISO8601.format(expiresAt)],
            "sender": ["name": senderName],
            "settings": ["publicBaseURL": settings.publicBaseURL ?? "", "invitationLinkBaseAddress": settings.invitationLinkBaseAddress ?? "",
                         "invitationTemplateKey": settings.invitationTemplateKey ?? ""],
        ]
        func render(_ source: String, text: Bool) -> String {
            let prefixed = text ? "{{% CONTENT_TYPE: TEXT}}" + source : source
            return (try? MustacheTemplate(string: prefixed))?.render(context) ?? source
        }
        let html = template.html.map { render($0, text: false) }
        let text = template.text.map { render($0, text: true) } ?? html.map(HTMLText.plainText) ?? ""
        return InvitationContent(subject: template.subject.map { render($0, text: true) } ?? "Your Mailroom invitation", text: text, html: html)
    }

    /// The invitation as it would go out now (the link's token is made only when it is sent).
    public func preview(user: User, senderName: String) async throws -> InvitationContent {
        let settings = try await store.settings.globalSettings()
        let (template, base, _) = try await invitationSetup(settings)
        let hours = settings.invitationLinkHours ?? UserLink.defaultInvitationHours
        return Self.render(template, user: user, link: base + "/invitation/…", expiresAt: Date().addingTimeInterval(Double(hours) * 3_600),
                           senderName: senderName, settings: settings)
    }

    /// Sends a new invitation to `user` (the previous link stops working) and records it.
    @discardableResult
    public func invite(_ user: User, by principal: Principal?, now: Date = Date()) async throws -> (UserLink, OutboxItem) {
        guard user.active else { throw DomainError.conflict(FieldError("active", "user \(user.email) is deactivated; activate them before inviting")) }
        let settings = try await store.settings.globalSettings()
        let (template, base, _) = try await invitationSetup(settings)
        let hours = settings.invitationLinkHours ?? UserLink.defaultInvitationHours
        let token = TokenHasher.newToken()
        var link = try await people.createLink(userId: user.id, purpose: .invitation, tokenHash: TokenHasher.hash(token),
                                               lifetime: Double(hours) * 3_600, createdBy: principal?.name, now: now)
        let content = Self.render(template, user: user, link: base + "/invitation/" + token, expiresAt: link.expiresAt,
                                  senderName: principal?.name ?? "Mailroom", settings: settings)
        let item = try await mailer.send(to: Mailbox(name: user.name, address: user.email), subject: content.subject, text: content.text,
                                         html: content.html, purpose: "invitation", settings: settings, now: now)
        try await people.attachOutbox(linkId: link.id, outboxId: item.id)
        link.outboxId = item.id
        try await people.record(.by(principal, action: "user.invited", targetType: "user", targetId: user.id,
                                    details: ["email": user.email, "expiresAt": ISO8601.format(link.expiresAt)]))
        return (link, item)
    }

    /// Mails a one-hour reset link to `user`, whose address was asked for on the forgotten-password page.
    public func sendReset(_ user: User, baseAddress: String, now: Date = Date()) async throws {
        let token = TokenHasher.newToken()
        let link = try await people.createLink(userId: user.id, purpose: .passwordReset, tokenHash: TokenHasher.hash(token),
                                               lifetime: UserLink.resetLifetime, createdBy: nil, now: now)
        let base = baseAddress.hasSuffix("/") ? String(baseAddress.dropLast()) : baseAddress
        let text = """
            Hello \(user.name),

            someone (hopefully you) asked to reset your Mailroom password. Open this link within an hour to choose a new one:

            \(base)/password/reset/\(token)

            If you did not ask for this, ignore this mail: your password stays as it is.
            """
        let item = try await mailer.send(to: Mailbox(name: user.name, address: user.email), subject: "Reset your Mailroom password",
                                         text: text, purpose: "passwordReset", now: now)
        try await people.attachOutbox(linkId: link.id, outboxId: item.id)
        try await people.record(AuditEvent(actorId: nil, actorName: "forgotten-password page", action: "user.passwordResetRequested",
                                           targetType: "user", targetId: user.id, details: ["email": user.email]))
    }

    /// Tells the user that their password changed (they should know when it was not them).
    public func sendPasswordChangedNotice(_ user: User, now: Date = Date()) async {
        let text = """
            Hello \(user.name),

            the password of your Mailroom account \(user.email) was changed on \(ISO8601.format(now)), and every other session was signed out.
            If this was not you, tell an administrator at once.
            """
        _ = try? await mailer.send(to: Mailbox(name: user.name, address: user.email), subject: "Your Mailroom password was changed",
                                   text: text, purpose: "passwordChanged", now: now)
    }
}

extension PeopleMail {
    /// Tells every active administrator that an account's sign-in token needs attention (issue 21):
    /// called once per state change, never per refresh attempt. No token or secret is in the mail.
    public func sendTokenNotice(accountId: String, state: String, message: String, now: Date = Date()) async throws -> Int {
        let account = try await store.accounts.find(id: accountId)
        let name = account.map { "\($0.key) (\($0.fromAddress))" } ?? "account \(accountId)"
        let admins = try await store.users.list().filter { $0.role == .admin && $0.active }
        let settings = try await store.settings.globalSettings()
        let link = settings.publicBaseURL.map { ($0.hasSuffix("/") ? String($0.dropLast()) : $0) + "/admin/accounts/\(accountId)" }
        let text = """
            The sign-in token of \(name) is now: \(state).

            \(message)

            \(link.map { "Open the account to sign in again: \($0)" } ?? "Open the account in Mailroom (Accounts) to sign in again.")
            """
        for admin in admins {
            try await mailer.send(to: Mailbox(name: admin.name, address: admin.email), subject: "Mailroom: \(name) token \(state)",
                                  text: text, purpose: "tokenNotice", settings: settings, now: now)
        }
        return admins.count
    }
}

/// The one-time code `mailroom serve` prints while no administrator exists (as Grafana and Jenkins
/// do): easy to type, about 59 random bits, good for this run of the process only.
public enum SetupCode {
    public static func make() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")
        var random = SystemRandomNumberGenerator()
        let groups = (0..<3).map { _ in String((0..<4).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }) }
        return groups.joined(separator: "-")
    }
}

extension Repositories {
    /// The people repository, or a 503 where this server keeps none.
    var peopleRepository: any PeopleRepository {
        get throws {
            guard let people else {
                throw APIError(.serviceUnavailable, code: "unavailable", message: "this server keeps no invitations or audit trail")
            }
            return people
        }
    }
}
