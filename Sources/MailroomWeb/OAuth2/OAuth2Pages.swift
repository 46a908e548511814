import Foundation
import Hummingbird
import MailroomCore

/// The browser's side of signing an account in: the account page's "Sign in with …" button leads
/// here, the provider sends the browser back to `/oauth2/callback`, and a signed-in address that
/// is not the account's is settled at `/oauth2/choice`. Each ends on a page in words.
extension WebSite {
    func addOAuth2Routes(to pages: RouterGroup<MailroomRequestContext>) {
        // A link, not a form: the page's CSP (form-action 'self') would stop a form's redirect to the provider.
        pages.get("admin/accounts/:id/oauth2/signin") { request, context in try await self.oauth2Start(request, context) }
        pages.get("oauth2/callback") { request, context in try await self.oauth2Callback(request, context) }
        pages.post("oauth2/choice") { request, context in try await self.oauth2Choice(request, context) }
        pages.get("admin/oauth2-providers") { request, context in try await self.oauth2Providers(request, context) }
    }

    func oauth2Providers(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .admin)
        let rows = try await store.oauth2.list().map {
            OAuth2ProvidersView.Row(id: $0.id, name: $0.name, kind: $0.kind.rawValue, tenant: $0.tenant ?? "", clientId: $0.clientId,
                                    secretSet: $0.clientSecret != nil, scopes: $0.scopes.joined(separator: " "),
                                    authorizationURL: $0.authorizationURL, tokenURL: $0.tokenURL)
        }
        let redirectURI = try await oauth2SignIn.redirectURI(request: request)
        return try render(page(session, title: "OAuth2 providers", section: "accounts",
                               OAuth2ProvidersView(providers: rows, redirectURI: redirectURI)))
    }

    var oauth2SignIn: OAuth2SignIn { OAuth2SignIn(store: store, http: dependencies.oauth2HTTP, changed: dependencies.accountsChanged) }

    func oauth2Start(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .admin)
        let id = try request.parameter("id", context: context)
        // The session's token in the link: another site cannot start a sign-in in this browser.
        guard CSRFCheck.matches(request.uri.queryParameters[Substring(CSRFCheck.formField)].map(String.init), expected: session.csrfToken) else {
            throw PageError.forbidden("This sign-in link has expired. Go back to the account page, reload it and try again.")
        }
        let signIn = oauth2SignIn
        let started: (url: String, binding: String?, expiresAt: Date)
        do {
            started = try await signIn.start(accountId: id, principal: session.principal, bindToBrowser: true,
                                             redirectURI: try await signIn.redirectURI(request: request), now: Date())
        } catch let error as APIError where error.status == .conflict {
            return try oauth2Page(title: "Cannot sign in", message: error.message, accountId: id)
        }
        var response = PageHeaders.redirect(to: started.url)
        // Lax, not Strict: it must come back on the provider's (cross-site) redirect to the callback.
        response.setCookie(Cookie(name: OAuth2SignIn.bindingCookie, value: started.binding ?? "", maxAge: Int(OAuth2SignIn.pendingLifetime),
                                  path: "/oauth2", secure: dependencies.web.secureCookies, httpOnly: true, sameSite: .lax))
        return response
    }

    func oauth2Callback(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where query[String(key)] == nil {
            // Longer values than any provider sends are cut, so no page or row holds a pasted novel.
            query[String(key)] = String(String(value).prefix(4_096))
        }
        let outcome = await oauth2SignIn.finish(query: query, binding: request.cookies[OAuth2SignIn.bindingCookie]?.value, now: Date())
        return try oauth2Page(outcome)
    }

    func oauth2Choice(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let form = try await FormDecoder.decode(OAuth2ChoiceForm.self, from: request)
        guard CSRFCheck.originAllowed(request) else { throw PageError.forbidden("This form must be sent from Mailroom's own page.") }
        let outcome = await oauth2SignIn.choose(choice: form.choice, use: form.use,
                                                binding: request.cookies[OAuth2SignIn.bindingCookie]?.value, now: Date())
        return try oauth2Page(outcome)
    }

    func oauth2Page(_ outcome: OAuth2SignIn.Outcome) throws -> Response {
        switch outcome {
        case .connected(let accountId, let address):
            return try oauth2Page(title: "Account connected", message:
                "Signed in\(address.map { " as \($0)" } ?? ""). Mailroom keeps the tokens encrypted and refreshes them before they expire; mail is fetched with them from now on.",
                                  accountId: accountId)
        case .mismatch(let accountId, let signedIn, let expected, let choice):
            return try oauth2Page(title: "Another mailbox signed in", message:
                "The provider says \(signedIn) signed in, but this account's address is \(expected). Use this sign-in anyway (the account will read \(signedIn)'s mailbox), or discard it and sign in with \(expected).",
                                  accountId: accountId, choice: choice, signedIn: signedIn)
        case .failed(let title, let message, let accountId):
            return try oauth2Page(title: title, message: message, accountId: accountId, status: .badRequest)
        }
    }

    func oauth2Page(title: String, message: String, accountId: String?, choice: String? = nil, signedIn: String? = nil,
                    status: HTTPResponse.Status = .ok) throws -> Response {
        try render(OAuth2ResultView(title: title, message: message, assetVersion: assets.version, accountId: accountId,
                                    choice: choice, signedIn: signedIn), status: status)
    }
}

/// The choice form of `admin/oauth2-result.mustache` (a different mailbox signed in).
struct OAuth2ChoiceForm: DecodableForm {
    /// The held sign-in's single-use token.
    let choice: String
    /// "Use" rather than "Discard".
    let use: Bool

    init(from form: FormFields) {
        choice = form.text("choice") ?? ""
        use = form.text("decision") == "use"
    }
}
