import Foundation
import Hummingbird
import MailroomCore
import MailroomStore

/// The pages a person reaches without signing in (first run, invitation and reset links, the
/// forgotten-password form) and the profile page. Forms have no session before sign-in: each one's
/// token is a random value also set as a cookie for its path (double submit), as the sign-in form's.
extension WebSite {
    static let formCookie = "mailroom_form"
    var people: any PeopleRepository { store.people }
    var peopleMail: PeopleMail {
        PeopleMail(store: store, mailer: SystemMailer(store: store, wake: dependencies.outboxChanged))
    }

    func addPeopleRoutes(to pages: RouterGroup<MailroomRequestContext>) {
        pages.get("setup") { _, context in try await self.setupPage(context) }
        pages.post("setup") { request, context in try await self.setup(request, context) }
        pages.get("invitation/:token") { request, context in
            try await self.linkPage(.invitation, token: try request.parameter("token", context: context), context)
        }
        pages.post("invitation/:token") { request, context in
            try await self.useLink(.invitation, token: try request.parameter("token", context: context), request, context)
        }
        pages.get("password/reset/:token") { request, context in
            try await self.linkPage(.passwordReset, token: try request.parameter("token", context: context), context)
        }
        pages.post("password/reset/:token") { request, context in
            try await self.useLink(.passwordReset, token: try request.parameter("token", context: context), request, context)
        }
        pages.get("password/forgot") { _, _ in try self.forgotPage() }
        pages.post("password/forgot") { request, context in try await self.forgot(request, context) }
        pages.get("profile") { request, context in try await self.profilePage(try self.session(request, context)) }
        pages.post("profile") { request, context in try await self.updateProfile(request, context) }
        pages.get("admin/audit") { request, context in try await self.auditPage(request, context) }
    }

    /// A page with a fresh form token, set as a cookie for `path`.
    func formPage(_ view: some RenderedView, token: String, path: String, status: HTTPResponse.Status = .ok) throws -> Response {
        var response = try render(view, status: status)
        response.setCookie(Cookie(name: Self.formCookie, value: token, path: path, secure: dependencies.web.secureCookies,
                                  httpOnly: true, sameSite: .strict))
        return response
    }

    func formFields(_ request: Request) async throws -> FormFields {
        var request = request
        return FormFields(FormDecoder.fields(String(buffer: try await request.collectBody(upTo: FormDecoder.maximumBytes))))
    }

    func formTokenMatches(_ form: FormFields, _ request: Request) -> Bool {
        CSRFCheck.originAllowed(request)
            && CSRFCheck.matches(form.text(CSRFCheck.formField), expected: request.cookies[Self.formCookie]?.value ?? "")
    }

    func signedInRedirect(_ user: User, to path: String = "/desk") async throws -> Response {
        let (value, _) = try await sessions.signIn(user)
        await applyPresenceAfterSignIn(user)
        var response = PageHeaders.redirect(to: path)
        response.setCookie(sessions.cookie(value: value))
        return response
    }

    func goneOrInvalid(_ title: String, _ message: String, status: HTTPResponse.Status) throws -> Response {
        try render(ErrorPageView(title: title, message: message, assetVersion: assets.version, signedIn: false), status: status)
    }

    // MARK: First run

    func setupPage(_ context: MailroomRequestContext, error: String? = nil, name: String = "", email: String = "",
                   status: HTTPResponse.Status = .ok) async throws -> Response {
        // Once an administrator exists the page is gone: people sign in instead.
        if try await people.administratorExists() { return PageHeaders.redirect(to: "/login") }
        let token = SessionAuthenticator.randomToken()
        return try formPage(SetupPageView(title: "Set up Mailroom", assetVersion: assets.version, formToken: token, error: error,
                                          name: name, email: email, codeOffered: dependencies.setupCode != nil),
                            token: token, path: "/setup", status: status)
    }

    func setup(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        if try await people.administratorExists() {
            throw PageError.forbidden("Mailroom is set up already: an administrator exists. Sign in, or ask an administrator for an invitation.")
        }
        let form = try await formFields(request)
        let name = form.text("name") ?? "", email = form.text("email") ?? ""
        guard formTokenMatches(form, request) else {
            return try await setupPage(context, error: "The form had expired. Please try again.", name: name, email: email, status: .forbidden)
        }
        // The code is a password: guesses count as failed sign-ins do.
        if let wait = limiter.retryAfter(address: "setup code", client: context.clientAddress) {
            let minutes = Int((wait / 60).rounded(.up))
            return try await setupPage(context, error: "Too many wrong codes. Try again in \(minutes) minutes.", name: name, email: email,
                                       status: .tooManyRequests)
        }
        let code = (form.text("code") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let accepted = [dependencies.setupCode, dependencies.adminToken].compactMap { $0 }.contains { CSRFCheck.matches(code, expected: $0) }
        guard accepted else {
            limiter.recordFailure(address: "setup code", client: context.clientAddress)
            return try await setupPage(context, error: "The setup code is wrong. It is in the log of mailroom serve, on the line that says \"first-run setup code\".",
                                       name: name, email: email, status: .unauthorized)
        }
        let password = Secret(form.text("password") ?? "")
        var errors: [FieldError] = []
        if password.revealed != (form.text("password2") ?? "") { errors.append(FieldError("password", "and its repetition differ")) }
        do {
            let (user, _) = try UserInput(name: name, email: email, role: .admin, password: password).validated(updating: nil)
            guard errors.isEmpty else { throw DomainError.invalid(errors) }
            guard let created = try await people.createFirstAdministrator(user, passwordHash: try PasswordHasher.hash(password)) else {
                throw PageError.forbidden("Another administrator was created a moment ago. Sign in, or ask them for an invitation.")
            }
            try? await people.record(AuditEvent(actorId: nil, actorName: "setup page", action: "user.created", targetType: "user",
                                                targetId: created.id, details: ["email": created.email, "role": "admin"]))
            context.logger.notice("first administrator created on the setup page", metadata: ["user": "\(created.id)"])
            return try await signedInRedirect(created, to: "/admin/accounts")
        } catch let error as DomainError {
            let message = APIError.from(error)?.message ?? "The form is not valid."
            return try await setupPage(context, error: message.prefix(1).uppercased() + message.dropFirst() + ".", name: name, email: email,
                                       status: .unprocessableContent)
        }
    }

    // MARK: Invitation and reset links

    /// The link, if usable; otherwise the page that says why not.
    func usableLink(_ purpose: UserLinkPurpose, token: String) async throws -> Result<(UserLink, User), PageFailure> {
        let ask = purpose == .invitation ? "Ask an administrator to send you a new invitation."
                                         : "Ask for a new link on the forgotten-password page."
        guard token.count < 200, let link = try await people.link(tokenHash: TokenHasher.hash(token)), link.purpose == purpose,
              let user = try await store.users.find(id: link.userId) else {
            return .failure(PageFailure(title: "This link is not valid", message: "The link is incomplete or was changed. \(ask)", status: .notFound))
        }
        let what = purpose == .invitation ? "invitation link" : "password reset link"
        switch link.standing(at: Date()) {
        case .usable: break
        case .used: return .failure(PageFailure(title: "Link already used", message: "This \(what) was used already. \(ask)", status: .gone))
        case .revoked:
            return .failure(PageFailure(title: "Link replaced", message: "A newer \(what) replaced this one. Use the newest mail, or: \(ask)", status: .gone))
        case .expired: return .failure(PageFailure(title: "Link expired", message: "This \(what) has expired. \(ask)", status: .gone))
        }
        guard user.active else {
            return .failure(PageFailure(title: "User deactivated", message: "The user this link is for is deactivated. Ask an administrator.", status: .gone))
        }
        return .success((link, user))
    }

    struct PageFailure: Error {
        let title: String
        let message: String
        let status: HTTPResponse.Status
    }

    func linkPage(_ purpose: UserLinkPurpose, token: String, _ context: MailroomRequestContext, error: String? = nil,
                  status: HTTPResponse.Status = .ok) async throws -> Response {
        switch try await usableLink(purpose, token: token) {
        case .failure(let failure): return try goneOrInvalid(failure.title, failure.message, status: failure.status)
        case .success(let (_, user)):
            let formToken = SessionAuthenticator.randomToken()
            let path = purpose == .invitation ? "/invitation/" : "/password/reset/"
            let view = PasswordLinkPageView(
                title: purpose == .invitation ? "Welcome to Mailroom" : "Choose a new password", assetVersion: assets.version,
                formToken: formToken, action: path + token, name: user.name, email: user.email,
                invitation: purpose == .invitation, error: error, minimumLength: UserInput.minimumPasswordLength)
            return try formPage(view, token: formToken, path: path, status: status)
        }
    }

    func useLink(_ purpose: UserLinkPurpose, token: String, _ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let form = try await formFields(request)
        guard formTokenMatches(form, request) else {
            return try await linkPage(purpose, token: token, context, error: "The form had expired. Please try again.", status: .forbidden)
        }
        guard case .success(let (_, user)) = try await usableLink(purpose, token: token) else {
            return try await linkPage(purpose, token: token, context)
        }
        let password = Secret(form.text("password") ?? "")
        var errors = UserInput.passwordErrors(password)
        if password.revealed != (form.text("password2") ?? "") { errors.append(FieldError("password2", "does not repeat the password")) }
        if let first = errors.first {
            let text = first.field == "password2" ? "The two passwords differ." : "The password \(first.message)."
            return try await linkPage(purpose, token: token, context, error: text, status: .unprocessableContent)
        }
        // A reset ends every other session of the user; the link is used up in the same transaction.
        guard try await people.consume(tokenHash: TokenHasher.hash(token), passwordHash: try PasswordHasher.hash(password),
                                       endSessions: purpose == .passwordReset) != nil else {
            return try await linkPage(purpose, token: token, context)
        }
        try? await people.record(AuditEvent(actorId: user.id, actorName: user.name,
                                            action: purpose == .invitation ? "user.invitationAccepted" : "user.passwordReset",
                                            targetType: "user", targetId: user.id))
        if purpose == .passwordReset { await peopleMail.sendPasswordChangedNotice(user) }
        return try await signedInRedirect(user)
    }

    // MARK: Forgotten password

    func forgotPage(sent: Bool = false, error: String? = nil, status: HTTPResponse.Status = .ok) throws -> Response {
        let token = SessionAuthenticator.randomToken()
        return try formPage(ForgotPasswordPageView(title: "Forgot your password?", assetVersion: assets.version, formToken: token,
                                                   sent: sent, error: error),
                            token: token, path: "/password/forgot", status: status)
    }

    func forgot(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let form = try await formFields(request)
        guard formTokenMatches(form, request) else { return try forgotPage(error: "The form had expired. Please try again.", status: .forbidden) }
        let email = (form.text("email") ?? "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        // Every request counts, whether or not the address is a user's: the limit tells nothing either.
        if let wait = dependencies.resetLimiter.retryAfter(address: email, client: context.clientAddress) {
            let minutes = Int((wait / 60).rounded(.up))
            var response = try forgotPage(error: "Too many requests for this address or from this network. Try again in \(minutes) minutes.",
                                          status: .tooManyRequests)
            response.headers[.retryAfter] = String(Int(wait.rounded(.up)))
            return response
        }
        dependencies.resetLimiter.recordFailure(address: email, client: context.clientAddress)
        // The mail is made after the answer, so the answer takes as long whether or not the address is a user's.
        let (store, mail, logger) = (store, peopleMail, context.logger)
        Task {
            guard MailAddressSyntax.isValid(email), let user = try? await store.users.find(email: email), user.active else { return }
            guard let settings = try? await store.settings.globalSettings(),
                  let base = settings.publicBaseURL ?? settings.invitationLinkBaseAddress else {
                logger.error("cannot send a password reset mail: neither publicBaseURL nor invitationLinkBaseAddress is set")
                return
            }
            do {
                try await mail.sendReset(user, baseAddress: base)
            } catch {
                logger.error("cannot send a password reset mail", metadata: ["user": "\(user.id)", "error": "\(error)"])
            }
        }
        // The same answer whether or not the address belongs to someone.
        return try forgotPage(sent: true)
    }

    // MARK: Profile

    func profilePage(_ session: SessionInfo, message: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let installation = try await installationTimeZone()
        return try render(page(session, title: "Your profile", section: "profile",
                        ProfileView(name: session.user.name, email: session.user.email, role: session.user.role.rawValue,
                                    message: message, error: error, minimumLength: UserInput.minimumPasswordLength,
                                    timeZones: Self.timeZoneOptions(selected: session.user.timeZone, installation: installation))),
                   status: status)
    }

    /// The time zone select: the installation's first (no zone of one's own), then every IANA name.
    static func timeZoneOptions(selected: String?, installation: String) -> [LabelledOptionView] {
        [LabelledOptionView(value: "", label: "The installation's (\(installation))", selected: selected == nil)]
            + TimeZoneName.all.map { LabelledOptionView(value: $0, label: $0, selected: $0 == selected) }
    }

    func updateProfile(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context)
        let form = try await formFields(request)
        guard CSRFCheck.originAllowed(request), CSRFCheck.matches(form.text(CSRFCheck.formField), expected: session.csrfToken) else {
            throw PageError.forbidden("The form did not carry this session's token; reload the page and try again.")
        }
        var user = session.user
        let name = (form.text("name") ?? user.name).trimmingCharacters(in: .whitespacesAndNewlines)
        let newPassword = form.text("newPassword") ?? ""
        var hash: String? = nil
        if !newPassword.isEmpty {
            let current = Secret(form.text("currentPassword") ?? "")
            guard let stored = try await store.users.passwordHash(userId: user.id), PasswordHasher.verify(current, against: stored) else {
                return try await profilePage(session, error: "The current password is wrong.", status: .unprocessableContent)
            }
            if let problem = UserInput.passwordErrors(Secret(newPassword)).first {
                return try await profilePage(session, error: "The new password \(problem.message).", status: .unprocessableContent)
            }
            guard newPassword == form.text("newPassword2") else {
                return try await profilePage(session, error: "The two new passwords differ.", status: .unprocessableContent)
            }
            hash = try PasswordHasher.hash(Secret(newPassword))
        }
        guard !name.isEmpty, name.count <= 200 else {
            return try await profilePage(session, error: "The name is required (at most 200 characters).", status: .unprocessableContent)
        }
        user.name = name
        if let zone = form.text("timeZone") {
            guard zone.isEmpty || TimeZoneName.isValid(zone) else {
                return try await profilePage(session, error: "Choose a time zone from the list.", status: .unprocessableContent)
            }
            user.timeZone = zone.isEmpty ? nil : zone
        }
        let updated = try await store.users.update(user, passwordHash: hash)
        if hash != nil {
            try? await people.record(AuditEvent(actorId: user.id, actorName: user.name, action: "user.passwordChanged", targetType: "user",
                                                targetId: user.id))
            await peopleMail.sendPasswordChangedNotice(updated)
        }
        let fresh = SessionInfo(idHash: session.idHash, csrfToken: session.csrfToken, user: updated)
        return try await profilePage(fresh, message: hash != nil ? "Your name and password are saved." : "Your profile is saved.")
    }
}

/// `setup.mustache`: the first-run page, a whole document without the layout.
struct SetupPageView: RenderedView {
    static let template = "setup"
    let title: String
    let assetVersion: String
    let formToken: String
    let error: String?
    let name: String
    let email: String
    /// A setup code was printed in the log (otherwise only the administrator token opens the page).
    let codeOffered: Bool
}

/// `password-link.mustache`: set a password from an invitation or a reset link.
struct PasswordLinkPageView: RenderedView {
    static let template = "password-link"
    let title: String
    let assetVersion: String
    let formToken: String
    let action: String
    let name: String
    let email: String
    let invitation: Bool
    let error: String?
    let minimumLength: Int
}

/// `password-forgot.mustache`.
struct ForgotPasswordPageView: RenderedView {
    static let template = "password-forgot"
    let title: String
    let assetVersion: String
    let formToken: String
    let sent: Bool
    let error: String?
}

/// `profile.mustache`, inside the layout.
struct ProfileView: PageContent {
    static let template = "profile"
    let name: String
    let email: String
    let role: String
    let message: String?
    let error: String?
    let minimumLength: Int
    let timeZones: [LabelledOptionView]
}

extension WebSite {
    /// The users page's invitation column, previews and the reason invitations cannot be sent yet.
    func addInvitations(to view: inout UserListView, users: [User], session: SessionInfo) async throws {
        let latest = try await people.latestInvitations()
        let mail = peopleMail
        do {
            _ = try await mail.invitationSetup(try await store.settings.globalSettings())
            view.invitationsReady = true
        } catch let error as DomainError {
            view.invitationProblem = APIError.from(error)?.message
        }
        let byId = Dictionary(users.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let now = Date()
        for index in view.users.indices {
            let id = view.users[index].id
            if let entry = latest[id] {
                let state: String
                switch entry.link.standing(at: now) {
                case .used: state = "accepted"
                case .revoked: state = "replaced"
                case .expired: state = "expired"
                case .usable: state = entry.state.map { $0 == .sent ? "sent" : $0.rawValue } ?? "queued"
                }
                view.users[index].invitation = state
                view.users[index].invited = true
                view.users[index].invitationFailed = entry.state == .failed || entry.state == .bounced
                view.users[index].invitationError = view.users[index].invitationFailed ? entry.lastError ?? "" : ""
            }
            if view.invitationsReady, let user = byId[id], user.active,
               let preview = try? await mail.preview(user: user, senderName: session.user.name) {
                view.users[index].previewSubject = preview.subject
                view.users[index].previewText = preview.text
            }
        }
    }
}

extension WebSite {
    /// A request path fit for the log: the token of an invitation or reset link is cut off.
    static func loggablePath(_ path: String) -> String {
        for prefix in ["/invitation/", "/password/reset/"] where path.hasPrefix(prefix) { return prefix + "…" }
        return path
    }
}

extension WebSite {
    /// The audit trail for administrators: newest first.
    func auditPage(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .admin)
        let events = try await people.auditEvents(limit: 500)
        let users = Dictionary((try await store.users.list()).map { ($0.id, "\($0.name) <\($0.email)>") }, uniquingKeysWith: { first, _ in first })
        let accounts = Dictionary((try await store.accounts.list(includeDeleted: true)).map { ($0.id, "\($0.name) (\($0.key))") }, uniquingKeysWith: { first, _ in first })
        let rows = events.map { event in
            let names = event.targetType == "account" ? accounts : users
            let target = event.targetId.map { names[$0] ?? "\(event.targetType) \($0) (deleted)" } ?? ""
            return AuditView.Row(at: WebSite.displayTime(event.at), actor: event.actorName, action: AuditWording.action(event.action),
                                 code: event.action, target: target, details: AuditWording.details(event.details))
        }
        return try render(page(session, title: "Audit trail", section: "audit", AuditView(events: rows)))
    }
}

/// `admin/audit.mustache`.
struct AuditView: PageContent {
    static let template = "admin/audit"

    struct Row: TemplateView {
        let at: String
        let actor: String
        let action: String
        /// The stable name (`user.invited`), for scripts reading the page and for the API's readers.
        let code: String
        let target: String
        let details: String
    }

    let events: [Row]
}

/// The audit trail's actions and details as an administrator reads them.
enum AuditWording {
    static func action(_ code: String) -> String {
        switch code {
        case "user.created": "User created"
        case "user.invited": "Invitation sent"
        case "user.passwordSet": "Password set by an administrator"
        case "user.passwordChanged": "Password changed"
        case "user.passwordResetRequested": "Password reset requested"
        case "user.passwordReset": "Password reset by mail"
        case "user.invitationAccepted": "Invitation accepted"
        case "user.roleChanged": "Role changed"
        case "user.deactivated": "User deactivated"
        case "user.reactivated": "User reactivated"
        case "account.credentialsChanged": "Account credentials changed"
        default: code
        }
    }

    static func details(_ details: [String: String]) -> String {
        if let from = details["from"], let to = details["to"], details.count == 2 { return "from \(from) to \(to)" }
        return details.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
    }
}
