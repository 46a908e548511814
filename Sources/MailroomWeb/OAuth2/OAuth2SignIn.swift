import Foundation
import Hummingbird
import MailroomCore
import MailroomStore

/// Signing an account in with its OAuth2 provider: starting (PKCE verifier, `state`, the pending
/// row) and finishing (the callback: checks, code exchange, the signed-in address, storing).
/// Every way the callback can fail ends in an `Outcome.failed` with words for the page, and
/// stores nothing; no token, code, verifier or secret is logged or shown.
struct OAuth2SignIn: Sendable {
    let store: Repositories
    let http: (any OAuth2HTTPClient)?
    let changed: @Sendable () -> Void
    var oauth2: any OAuth2GrantRepository { store.oauth2 }

    /// How long the administrator has to finish at the provider.
    static let pendingLifetime: TimeInterval = 600
    /// A browser cookie (SameSite=Lax, so it comes back on the provider's redirect) whose hash the
    /// pending sign-in keeps: the callback must come from the browser that started it.
    static let bindingCookie = "mailroom_oauth2"
    static let callbackPath = "/oauth2/callback"

    enum Outcome {
        case connected(accountId: String, address: String?)
        case mismatch(accountId: String, signedIn: String, expected: String, choice: String)
        case failed(title: String, message: String, accountId: String?)
    }

    /// The account's OAuth2 settings that name a provider (incoming first).
    static func providerSettings(_ account: Account) -> OAuth2Settings? {
        for auth in [account.incoming.connection.auth, account.outgoing.connection.auth] where auth.method == .oauth2 {
            if let settings = auth.oauth2, settings.providerId != nil { return settings }
        }
        return nil
    }

    /// `publicBaseURL` from the settings, else the address this request came to.
    func redirectURI(request: Request) async throws -> String {
        if let base = try await store.settings.globalSettings().publicBaseURL {
            return base.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + Self.callbackPath
        }
        let host = request.head.authority ?? "127.0.0.1"
        return "http://\(host)\(Self.callbackPath)"
    }

    /// Starts a sign-in; answers the provider's address to open and the binding for the browser
    /// (nil when an API token started it: the single-use `state` is then the only binding).
    func start(accountId: String, principal: Principal?, bindToBrowser: Bool, redirectURI: String, now: Date) async throws
        -> (url: String, binding: String?, expiresAt: Date) {
        guard let account = try await store.accounts.find(id: accountId), account.deletedAt == nil else {
            throw APIError.notFound("account \(accountId)")
        }
        guard let settings = Self.providerSettings(account), let providerId = settings.providerId else {
            throw APIError(.conflict, code: "conflict", message:
                "the account does not sign in with an OAuth2 provider: set auth.method to 'oauth2' and auth.oauth2.providerId first",
                field: "incoming.auth.oauth2.providerId")
        }
        guard let provider = try await oauth2.find(id: providerId) else {
            throw APIError(.conflict, code: "conflict", message: "the account's OAuth2 provider \(providerId) no longer exists: choose another",
                           field: "incoming.auth.oauth2.providerId")
        }
        let state = OAuth2Flow.randomToken()
        let verifier = OAuth2Flow.randomToken()
        let binding = bindToBrowser ? OAuth2Flow.randomToken() : nil
        let hint = settings.email.isEmpty ? account.fromAddress : settings.email
        guard let url = OAuth2Flow.authorizationURL(provider: provider, redirectURI: redirectURI, state: state, verifier: verifier,
                                                    loginHint: hint) else {
            throw APIError(.conflict, code: "conflict", message: "the provider's authorization URL is not valid: fix it in the provider's settings")
        }
        let expiresAt = now.addingTimeInterval(Self.pendingLifetime)
        try await oauth2.createPending(state: state, OAuth2PendingSignIn(
            accountId: account.id, providerId: provider.id, sessionHash: binding.map(TokenHasher.hash), userId: principal?.userId,
            verifier: verifier, redirectURI: redirectURI, expiresAt: expiresAt), now: now)
        return (url.absoluteString, binding, expiresAt)
    }

    /// Words for the errors a provider may send back (RFC 6749 section 4.1.2.1, OpenID Connect).
    static func providerErrorText(_ error: String, description: String?) -> String {
        let detail = description.map { " The provider said: \"\($0.prefix(300))\"." } ?? ""
        switch error {
        case "access_denied":
            return "The sign-in was declined at the provider (access_denied). Nothing was changed; sign in again and accept, or ask the mailbox owner to.\(detail)"
        case "invalid_scope":
            return "The provider refused the scopes Mailroom asked for (invalid_scope). Check the provider's scopes in Mailroom's settings and the API permissions of the app registration.\(detail)"
        case "consent_required", "interaction_required":
            return "The provider needs consent that was not given (\(error)). With Microsoft, a tenant administrator may have to grant consent for the app; then sign in again.\(detail)"
        case "unauthorized_client":
            return "The provider does not allow this client to sign in this way (unauthorized_client). Check the app registration (redirect URI, platform \"Web\").\(detail)"
        case "server_error", "temporarily_unavailable":
            return "The provider had a problem (\(error)). Nothing was changed; try again in a few minutes.\(detail)"
        default:
            return "The provider answered with the error \"\(error.prefix(100))\". Nothing was changed.\(detail)"
        }
    }

    /// The callback: every check, then the exchange, then the store.
    func finish(query: [String: String], binding: String?, now: Date) async -> Outcome {
        let state = query["state"] ?? ""
        if let error = query["error"] {
            // The state (if it is ours) is spent, so the same answer cannot be replayed.
            let pending = state.isEmpty ? nil : try? await oauth2.takePending(state: state, now: now)
            return .failed(title: "Sign-in not completed", message: Self.providerErrorText(error, description: query["error_description"]),
                           accountId: pending?.accountId)
        }
        guard !state.isEmpty else {
            return .failed(title: "Sign-in not recognised", message:
                "The provider's answer carries no state, so Mailroom cannot tell which sign-in it belongs to. Nothing was changed; start again from the account page.",
                           accountId: nil)
        }
        let pending: OAuth2PendingSignIn?
        do {
            pending = try await oauth2.takePending(state: state, now: now)
        } catch {
            return .failed(title: "Sign-in failed", message: "Mailroom could not read the sign-in under way from its database. Nothing was changed; try again.", accountId: nil)
        }
        guard let pending else {
            return .failed(title: "Sign-in not recognised", message:
                "This sign-in is unknown, was already used, or took longer than \(Int(Self.pendingLifetime / 60)) minutes. Nothing was changed; start again from the account page.",
                           accountId: nil)
        }
        if let expected = pending.sessionHash {
            guard let binding, constantTimeEquals(TokenHasher.hash(binding), expected) else {
                return .failed(title: "Sign-in not recognised", message:
                    "This sign-in was started in another browser or session. Nothing was changed; start again from the account page in this browser.",
                               accountId: pending.accountId)
            }
        }
        guard let code = query["code"], !code.isEmpty else {
            return .failed(title: "Sign-in not completed", message:
                "The provider's answer has no authorization code. Nothing was changed; start again from the account page.", accountId: pending.accountId)
        }
        guard let http else {
            return .failed(title: "Sign-in not available", message: "This server cannot reach OAuth2 providers. Nothing was changed.", accountId: pending.accountId)
        }
        guard let provider = try? await oauth2.find(id: pending.providerId),
              let account = try? await store.accounts.find(id: pending.accountId), account.deletedAt == nil else {
            return .failed(title: "Sign-in not completed", message:
                "The account or its provider was deleted during the sign-in. Nothing was changed.", accountId: nil)
        }
        let answer: OAuth2TokenAnswer
        do {
            answer = try await OAuth2Flow.exchange(code: code, verifier: pending.verifier, redirectURI: pending.redirectURI,
                                                   provider: provider, http: http, now: now)
        } catch let error as OAuth2FlowError {
            let what = error.httpStatus == nil ? "Mailroom could not reach \(provider.name)'s token endpoint" : "\(provider.name) refused to exchange the code"
            return .failed(title: "Sign-in failed", message: "\(what): \(error.description). Nothing was changed; sign in again.", accountId: account.id)
        } catch {
            return .failed(title: "Sign-in failed", message: "Mailroom could not reach \(provider.name)'s token endpoint. Nothing was changed; sign in again.",
                           accountId: account.id)
        }
        guard let refreshToken = answer.refreshToken else {
            await OAuth2Flow.revoke(token: answer.accessToken, provider: provider, http: http)
            return .failed(title: "Sign-in not usable", message:
                "\(provider.name) gave an access token but no refresh token, so the account would stop working within the hour. Nothing was stored. Make sure the provider's scopes include offline access (Microsoft: offline_access; Google: Mailroom asks for access_type=offline), then sign in again.",
                           accountId: account.id)
        }
        var address = answer.idToken.flatMap(OAuth2Flow.address(fromIDToken:))
        if address == nil, let userInfo = provider.userInfoURL {
            address = await OAuth2Flow.address(fromUserInfo: userInfo, accessToken: answer.accessToken, http: http)
        }
        let settings = Self.providerSettings(account)
        let expected = (settings?.email.isEmpty == false ? settings?.email : nil) ?? account.fromAddress
        let held = OAuth2HeldSignIn(accountId: account.id, providerId: provider.id, sessionHash: pending.sessionHash,
                                             refreshToken: refreshToken, accessToken: answer.accessToken, expiresAt: answer.expiresAt,
                                             scopes: answer.scopes ?? provider.scopes, signedInAddress: address)
        if let address, !expected.isEmpty, address.lowercased() != expected.lowercased() {
            let choice = OAuth2Flow.randomToken()
            do {
                try await oauth2.hold(held, choice: choice, expiresAt: now.addingTimeInterval(Self.pendingLifetime), now: now)
            } catch {
                return .failed(title: "Sign-in failed", message: "Mailroom could not keep the sign-in while you choose. Nothing was stored; sign in again.",
                               accountId: account.id)
            }
            return .mismatch(accountId: account.id, signedIn: address, expected: expected, choice: choice)
        }
        return await store(held, now: now)
    }

    func store(_ held: OAuth2HeldSignIn, now: Date) async -> Outcome {
        let grant = OAuth2AccountGrant(accountId: held.accountId, providerId: held.providerId, refreshToken: held.refreshToken.map(Secret.init),
                                       accessToken: Secret(held.accessToken), expiresAt: held.expiresAt, grantedAt: now, refreshedAt: now,
                                       scopes: held.scopes, signedInAddress: held.signedInAddress)
        do {
            try await oauth2.saveSignIn(grant)
        } catch {
            return .failed(title: "Sign-in failed", message: "Mailroom could not store the sign-in in its database. Nothing was changed; sign in again.",
                           accountId: held.accountId)
        }
        changed()
        return .connected(accountId: held.accountId, address: held.signedInAddress)
    }

    /// The administrator's choice about a signed-in address that is not the account's.
    func choose(choice: String, use: Bool, binding: String?, now: Date) async -> Outcome {
        guard let held = try? await oauth2.takeHeld(choice: choice, now: now) else {
            return .failed(title: "Choice not recognised", message: "This choice is unknown, was already made, or took too long. Nothing was changed; sign in again.",
                           accountId: nil)
        }
        if let expected = held.sessionHash {
            guard let binding, constantTimeEquals(TokenHasher.hash(binding), expected) else {
                return .failed(title: "Choice not recognised", message: "This sign-in was started in another browser. Nothing was changed.", accountId: held.accountId)
            }
        }
        guard use else {
            if let http, let provider = try? await oauth2.find(id: held.providerId) {
                await OAuth2Flow.revoke(token: held.refreshToken ?? held.accessToken, provider: provider, http: http)
            }
            return .failed(title: "Sign-in discarded", message: "The sign-in as \(held.signedInAddress ?? "another address") was discarded; nothing was stored. Sign in again with the account's mailbox.",
                           accountId: held.accountId)
        }
        return await store(held, now: now)
    }
}
