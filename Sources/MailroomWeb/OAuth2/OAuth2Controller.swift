import Foundation
import Hummingbird
import MailroomCore

/// `/api/v1/oauth2/providers` (administrators' settings) and an account's sign-in:
/// `POST /api/v1/accounts/{id}/oauth2/authorize` answers the provider's address to open,
/// `GET /api/v1/accounts/{id}/oauth2` the token's state, `DELETE` signs the account out.
struct OAuth2Controller {
    let dependencies: WebDependencies
    var store: Repositories { dependencies.store }
    var providers: any OAuth2GrantRepository { store.oauth2 }
    var signIn: OAuth2SignIn { OAuth2SignIn(store: store, http: dependencies.oauth2HTTP, changed: dependencies.accountsChanged) }

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("oauth2/providers", use: list)
        api.post("oauth2/providers", use: create)
        api.get("oauth2/providers/:id", use: show)
        api.put("oauth2/providers/:id", use: update)
        api.patch("oauth2/providers/:id", use: update)
        api.delete("oauth2/providers/:id", use: delete)
        api.post("accounts/:id/oauth2/authorize", use: authorize)
        api.get("accounts/:id/oauth2", use: tokenStatus)
        api.delete("accounts/:id/oauth2", use: signOut)
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<OAuth2Provider>> {
        try context.require(.admin)
        return JSONResponse(ItemList(try await providers.list()))
    }

    @Sendable func create(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<OAuth2Provider> {
        try context.require(.admin)
        let provider = try OAuth2ProviderEditor.newProvider(from: try await JSONBody.object(request, context: context))
        return JSONResponse(try await providers.create(provider), status: .created)
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<OAuth2Provider> {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard let provider = try await providers.find(id: id) else { throw APIError.notFound("OAuth2 provider \(id)") }
        return JSONResponse(provider)
    }

    @Sendable func update(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<OAuth2Provider> {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard let current = try await providers.find(id: id) else { throw APIError.notFound("OAuth2 provider \(id)") }
        let edited = try OAuth2ProviderEditor.edited(current, with: try await JSONBody.object(request, context: context))
        let saved = try await providers.update(edited)
        dependencies.accountsChanged()
        return JSONResponse(saved)
    }

    @Sendable func delete(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        let users = try await store.accounts.list(includeDeleted: false).filter { OAuth2SignIn.providerSettings($0)?.providerId == id }
        if !users.isEmpty {
            let names = users.prefix(5).map { "'\($0.name)'" }.joined(separator: ", ")
            throw APIError.conflict(FieldError("id", "is used by the account\(users.count == 1 ? "" : "s") \(names): choose another provider there first"))
        }
        try await providers.delete(id: id)
        return .noContent
    }

    struct AuthorizeAnswer: Encodable, Sendable {
        let url: String
        let redirectURI: String
        let expiresAt: Date
    }

    /// For scripts: the address to open in a browser. The `state` in it is single use and expires;
    /// as no browser session started it, the callback accepts it from any browser.
    @Sendable func authorize(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<AuthorizeAnswer> {
        let principal = try context.require(.admin)
        let id = try request.parameter("id", context: context)
        let redirectURI = try await signIn.redirectURI(request: request)
        let started = try await signIn.start(accountId: id, principal: principal, bindToBrowser: false, redirectURI: redirectURI, now: Date())
        return JSONResponse(AuthorizeAnswer(url: started.url, redirectURI: redirectURI, expiresAt: started.expiresAt))
    }

    @Sendable func tokenStatus(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<OAuth2TokenStatus> {
        try context.require(.supervisor)
        let id = try request.parameter("id", context: context)
        guard let status = try await Self.tokenStatus(accountId: id, accounts: store.accounts, grants: store.oauth2) else {
            throw APIError.notFound("an OAuth2 sign-in of account \(id)")
        }
        return JSONResponse(status)
    }

    /// The `token` of an account's status; nil when the account does not exist or signs in otherwise.
    static func tokenStatus(accountId: String, accounts: any AccountRepository, grants: any OAuth2GrantRepository,
                            now: Date = Date()) async throws -> OAuth2TokenStatus? {
        guard let account = try await accounts.find(id: accountId),
              let providerId = OAuth2SignIn.providerSettings(account)?.providerId else { return nil }
        let provider = try await grants.find(id: providerId)
        let grant = try await grants.grant(accountId: accountId)
        return OAuth2TokenStatus.of(grant?.providerId == providerId ? grant : nil, provider: provider, now: now)
    }

    @Sendable func signOut(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard let grant = try await providers.grant(accountId: id) else { throw APIError.notFound("a sign-in of account \(id)") }
        if let http = dependencies.oauth2HTTP, let provider = try await providers.find(id: grant.providerId),
           let token = grant.refreshToken ?? grant.accessToken {
            await OAuth2Flow.revoke(token: token.revealed, provider: provider, http: http)
        }
        try await providers.deleteGrant(accountId: id)
        dependencies.accountsChanged()
        return .noContent
    }
}
