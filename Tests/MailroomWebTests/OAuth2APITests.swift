import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWeb
import Testing

/// `/api/v1/oauth2/providers`, the authorize endpoint, and callbacks that must fail in words.
struct OAuth2APITests {
    static let generic: JSONValue = .object([
        "name": .string("Local"), "kind": .string("generic"), "clientId": .string("client-1"), "clientSecret": .string("very-secret-1"),
        "authorizationURL": .string("http://127.0.0.1:9/authorize"), "tokenURL": .string("http://127.0.0.1:9/token"),
        "scopes": .string("openid email offline_access"),
    ])

    @Test(arguments: TestDatabase.available)
    func providersAreAdministeredWithFieldErrorsAndAWriteOnlySecret(_ database: TestDatabase) async throws {
        try await withAPI(database) { api, _ in
            let created = try await api.call(.post, "/api/v1/oauth2/providers", json: Self.generic)
            #expect(created.status == 201)
            #expect(!created.text.contains("very-secret-1"))
            #expect(created.json?["clientSecretSet"] == .bool(true))
            let id = try #require(created.string("id"))

            let bad = try await api.call(.post, "/api/v1/oauth2/providers", json: .object([
                "name": .string("Bad"), "kind": .string("generic"), "clientId": .string("c"), "tokenURL": .string("ftp://x/token"),
            ]))
            #expect(bad.status == 422)
            #expect(bad.errorField == "authorizationURL")
            let duplicate = try await api.call(.post, "/api/v1/oauth2/providers", json: Self.generic)
            #expect(duplicate.status == 409)
            #expect(duplicate.errorField == "name")

            let microsoft = try await api.call(.post, "/api/v1/oauth2/providers", json: .object([
                "name": .string("Contoso"), "kind": .string("microsoft"), "clientId": .string("app"), "tenant": .string("contoso.com"),
            ]))
            #expect(microsoft.status == 201)
            #expect(microsoft.json?["tokenURL"] == .string("https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token"))

            let patched = try await api.call(.patch, "/api/v1/oauth2/providers/\(id)", json: .object(["name": .string("Local IdP")]))
            #expect(patched.status == 200)
            #expect(patched.json?["clientSecretSet"] == .bool(true))
            let list = try await api.call(.get, "/api/v1/oauth2/providers")
            #expect(!list.text.contains("very-secret-1"))

            let agent = try await api.token(for: .agent)
            #expect(try await api.call(.get, "/api/v1/oauth2/providers", token: agent).status == 403)

            // An account that uses the provider keeps it from being deleted.
            let account = try await api.call(.post, "/api/v1/accounts", json: .object([
                "key": .string("OA"), "name": .string("OAuth"), "fromAddress": .string("desk@example.com"),
                "incoming": .object(["protocol": .string("imap"), "host": .string("127.0.0.1"),
                                     "auth": .object(["method": .string("oauth2"), "oauth2": .object(["providerId": .string(id)])])]),
            ]))
            #expect(account.status == 201, "\(account.text)")
            #expect(try await api.call(.delete, "/api/v1/oauth2/providers/\(id)").status == 409)
            let accountId = try #require(account.string("id"))

            let status = try await api.call(.get, "/api/v1/accounts/\(accountId)/status")
            #expect(status.json?["token"]?["state"] == .string("consentMissing"))

            let authorize = try await api.call(.post, "/api/v1/accounts/\(accountId)/oauth2/authorize")
            #expect(authorize.status == 200)
            let url = try #require(authorize.string("url"))
            #expect(url.hasPrefix("http://127.0.0.1:9/authorize?"))
            #expect(url.contains("code_challenge_method=S256"))
            #expect(url.contains("client_id=client-1"))
            #expect(!url.contains("very-secret-1"))
        }
    }

    @Test func callbacksThatAreNotOursEndOnAPageAndStoreNothing() async throws {
        try await withAPI { api, store in
            let missing = try await api.call(.get, "/oauth2/callback?code=abc", token: nil)
            #expect(missing.status == 400)
            #expect(missing.text.contains("no state"))
            let unknown = try await api.call(.get, "/oauth2/callback?state=nope&code=abc", token: nil)
            #expect(unknown.status == 400)
            #expect(unknown.text.contains("unknown, was already used"))
            let denied = try await api.call(.get, "/oauth2/callback?state=nope&error=access_denied&error_description=no", token: nil)
            #expect(denied.status == 400)
            #expect(denied.text.contains("declined"))
            let scope = try await api.call(.get, "/oauth2/callback?state=nope&error=invalid_scope", token: nil)
            #expect(scope.text.contains("invalid_scope"))
            let consent = try await api.call(.get, "/oauth2/callback?state=nope&error=consent_required", token: nil)
            #expect(consent.text.contains("administrator may have to grant consent"))
            #expect(try await store.accounts.oauth2.grants().isEmpty)

            // A state bound to a browser is refused from a request without that browser's cookie.
            try await store.accounts.oauth2.createPending(state: "bound-state", SQLOAuth2Store.PendingSignIn(
                accountId: "a1", providerId: "p1", sessionHash: TokenHasher.hash("binding-value"), userId: nil, verifier: "v",
                redirectURI: "http://127.0.0.1/oauth2/callback", expiresAt: Date().addingTimeInterval(600)), now: Date())
            let otherBrowser = try await api.call(.get, "/oauth2/callback?state=bound-state&code=abc", token: nil)
            #expect(otherBrowser.status == 400)
            #expect(otherBrowser.text.contains("another browser"))
            // …and it was spent: the right browser cannot use it afterwards either.
            #expect(try await store.accounts.oauth2.takePending(state: "bound-state", now: Date()) == nil)
            #expect(try await store.accounts.oauth2.grants().isEmpty)
        }
    }
}
