import Foundation
import Hummingbird
import MailroomCore
import MailroomStore

extension WebSite {
    func addSignInRoutes(to pages: RouterGroup<MailroomRequestContext>) {
        pages.get("/") { request, context in
            // A fresh installation: the browser goes to the first-run page, not to a sign-in nobody can pass.
            if context.session == nil, try await !self.people.administratorExists() { return PageHeaders.redirect(to: "/setup") }
            _ = try self.session(request, context)
            return PageHeaders.redirect(to: "/desk")
        }
        pages.get("login") { request, context in
            try self.signInPage(next: Self.safeNext(request.uri.queryParameters["next"].map(String.init)), context,
                                setupNeeded: try await !self.people.administratorExists())
        }
        pages.post("login") { request, context in try await self.signIn(request, context) }
        pages.post("logout") { request, context in try await self.signOut(request, context) }
    }

    /// Where to go after signing in: a path on this server only (never `//host` or a full URL).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\"),
              !next.contains("\r"), !next.contains("\n"), next.count < 2_000 else { return "/desk" }
        return next
    }

    func signInPage(next: String, _ context: MailroomRequestContext, error: String? = nil, email: String = "",
                    status: HTTPResponse.Status = .ok, setupNeeded: Bool = false) throws -> Response {
        if context.session != nil, error == nil { return PageHeaders.redirect(to: next) }
        // The form has no session yet: its token is a random value also set as a cookie (double submit).
        let token = SessionAuthenticator.randomToken()
        var response = try render(SignInPageView(title: "Sign in", assetVersion: assets.version, signInToken: token, next: next,
                                                 email: email, error: error, setupNeeded: setupNeeded), status: status)
        response.setCookie(Cookie(name: WebSettings.signInCookie, value: token, path: "/login",
                                  secure: dependencies.web.secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    func signIn(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let form = try await FormDecoder.decode(SignInForm.self, from: request)
        let email = form.email
        let password = form.password
        let retry = form.next
        guard CSRFCheck.originAllowed(request),
              CSRFCheck.matches(form.csrf, expected: request.cookies[WebSettings.signInCookie]?.value ?? "") else {
            return try signInPage(next: retry, context, error: "The sign-in form had expired. Please try again.", email: email,
                                  status: .forbidden)
        }
        if let wait = limiter.retryAfter(address: email, client: context.clientAddress) {
            let minutes = Int((wait / 60).rounded(.up))
            var response = try signInPage(next: retry, context, error: "Too many failed sign-ins. Try again in \(minutes) minute\(minutes == 1 ? "" : "s").",
                                          email: email, status: .tooManyRequests)
            response.headers[.retryAfter] = String(Int(wait.rounded(.up)))
            return response
        }
        let user = try await store.users.find(email: email)
        let hash: String? = if let user, user.active { try await store.users.passwordHash(userId: user.id) } else { nil }
        guard let user, let hash, PasswordHasher.verify(password, against: hash) else {
            if hash == nil { _ = PasswordHasher.verify(password, against: Self.decoyHash) }
            limiter.recordFailure(address: email, client: context.clientAddress)
            return try signInPage(next: retry, context, error: "The email or password is wrong, or the user is deactivated.",
                                  email: email, status: .unauthorized)
        }
        limiter.recordSuccess(address: email)
        let (value, _) = try await sessions.signIn(user)
        await applyPresenceAfterSignIn(user)
        var response = PageHeaders.redirect(to: form.next)
        response.setCookie(sessions.cookie(value: value))
        response.setCookie(Cookie(name: WebSettings.signInCookie, value: "", expires: Date(timeIntervalSince1970: 0), maxAge: 0,
                                  path: "/login", secure: dependencies.web.secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    func signOut(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let form = try await FormDecoder.decode(SignOutForm.self, from: request)
        guard let session = context.session else { return PageHeaders.redirect(to: "/login") }
        guard CSRFCheck.originAllowed(request), CSRFCheck.matches(form.csrf, expected: session.csrfToken) else {
            throw PageError.forbidden("The sign-out form did not carry this session's token; reload the page and try again.")
        }
        try await sessions.signOut(idHash: session.idHash)
        var response = PageHeaders.redirect(to: "/login")
        response.setCookie(sessions.clearingCookie())
        return response
    }

    static let decoyHash = (try? PasswordHasher.hash(Secret("decoy password for timing"))) ?? ""
}

/// `login.mustache`: a whole document, without the layout.
struct SignInPageView: RenderedView {
    static let template = "login"
    let title: String
    let assetVersion: String
    /// The form's token, also set as a cookie (double submit): there is no session yet.
    let signInToken: String
    let next: String
    let email: String
    let error: String?
    /// No administrator exists yet: the page points to the first-run setup.
    var setupNeeded = false
}
