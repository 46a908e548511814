import Foundation
import MailroomCore
import Testing

struct OAuth2ProviderTests {
    @Test func microsoftAndGoogleFillInTheirEndpointsAndMailScopes() throws {
        let microsoft = try OAuth2ProviderEditor.newProvider(from: .object([
            "name": .string("Contoso"), "kind": .string("microsoft"), "clientId": .string("app-1"), "tenant": .string("contoso.onmicrosoft.com"),
        ]))
        #expect(microsoft.tokenURL == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
        #expect(microsoft.authorizationURL == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize")
        #expect(microsoft.scopes.contains("https://outlook.office.com/IMAP.AccessAsUser.All"))
        #expect(microsoft.scopes.contains("https://outlook.office.com/SMTP.Send"))
        #expect(microsoft.scopes.contains("offline_access"))

        let google = try OAuth2ProviderEditor.newProvider(from: .object([
            "name": .string("Google"), "kind": .string("google"), "clientId": .string("x.apps.googleusercontent.com"),
        ]))
        #expect(google.tokenURL == "https://oauth2.googleapis.com/token")
        #expect(google.scopes.contains("https://mail.google.com/"))
        #expect(google.extraAuthorizationParameters.contains { $0 == ("access_type", "offline") })

        let common = try OAuth2ProviderEditor.newProvider(from: .object([
            "name": .string("Any tenant"), "kind": .string("microsoft"), "clientId": .string("app-2"),
        ]))
        #expect(common.tenant == "common")
    }

    @Test func badSettingsAreNamedByField() {
        #expect(throws: DomainError.invalid([
            FieldError("clientId", "is required: the application (client) id the provider gave when Mailroom was registered"),
            FieldError("authorizationURL", "must use https (http only on this machine)"),
            FieldError("tokenURL", "is required for a generic provider"),
            FieldError("scopes", "must name at least one scope"),
        ])) {
            try OAuth2ProviderEditor.newProvider(from: .object([
                "name": .string("Generic"), "kind": .string("generic"), "authorizationURL": .string("http://idp.example.com/authorize"),
            ]))
        }
        #expect(throws: DomainError.self) {
            try OAuth2ProviderEditor.newProvider(from: .object([
                "name": .string("Bad tenant"), "kind": .string("microsoft"), "clientId": .string("a"), "tenant": .string("../evil"),
            ]))
        }
    }

    @Test func theClientSecretIsWriteOnlyAndKeptWhenLeftOut() throws {
        let created = try OAuth2ProviderEditor.newProvider(from: .object([
            "name": .string("Google"), "kind": .string("google"), "clientId": .string("id"), "clientSecret": .string("s3cret-value"),
        ]))
        let text = String(decoding: try JSONCoding.encoder.encode(created), as: UTF8.self)
        #expect(!text.contains("s3cret-value"))
        #expect(text.contains("\"clientSecretSet\":true"))
        let renamed = try OAuth2ProviderEditor.edited(created, with: .object(["name": .string("Google Workspace")]))
        #expect(renamed.clientSecret?.revealed == "s3cret-value")
        #expect(renamed.name == "Google Workspace")
        #expect(throws: DomainError.self) { try OAuth2ProviderEditor.edited(created, with: .object(["kind": .string("microsoft")])) }
    }

    /// RFC 7636 appendix B.
    @Test func pkceChallengeMatchesTheRFCExample() {
        #expect(OAuth2Flow.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        let verifier = OAuth2Flow.randomToken()
        #expect(verifier.count == 43)
        #expect(verifier != OAuth2Flow.randomToken())
    }

    @Test func authorizationURLCarriesPKCEAndState() throws {
        let provider = try OAuth2ProviderEditor.newProvider(from: .object([
            "name": .string("Google"), "kind": .string("google"), "clientId": .string("id+1"),
        ]))
        let url = try #require(OAuth2Flow.authorizationURL(provider: provider, redirectURI: "https://desk.example.com/oauth2/callback",
                                                           state: "st", verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                                                           loginHint: "desk@example.com"))
        let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        func value(_ name: String) -> String? { items.first { $0.name == name }?.value }
        #expect(value("code_challenge") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        #expect(value("code_challenge_method") == "S256")
        #expect(value("state") == "st")
        #expect(value("client_id") == "id+1")
        #expect(value("redirect_uri") == "https://desk.example.com/oauth2/callback")
        #expect(value("login_hint") == "desk@example.com")
        #expect(!url.absoluteString.contains("dBjftJeZ4CVP"))
    }

    @Test func theSignedInAddressComesFromTheIDToken() {
        func part(_ json: String) -> String { OAuth2Flow.base64URL(Array(json.utf8)) }
        let token = part(#"{"alg":"RS256"}"#) + "." + part(#"{"preferred_username":"desk@contoso.com","sub":"x"}"#) + ".sig"
        #expect(OAuth2Flow.address(fromIDToken: token) == "desk@contoso.com")
        #expect(OAuth2Flow.address(fromIDToken: "not.a-token") == nil)
        #expect(OAuth2Flow.address(fromIDToken: part("{}") + "." + part(#"{"email":"not an address"}"#) + ".s") == nil)
    }

    @Test func tokenEndpointErrorsBecomeStatesInWords() throws {
        let now = Date()
        let revoked = OAuth2TokenStatus.failure(error: "invalid_grant", description: "AADSTS50173", httpStatus: 400, providerName: "Microsoft", at: now)
        #expect(revoked.state == .revoked)
        #expect(revoked.message == "Microsoft says the grant was revoked or has expired (invalid_grant: AADSTS50173): sign in again.")
        #expect(OAuth2TokenStatus.failure(error: nil, description: nil, httpStatus: nil, providerName: "Google", at: now).state == .refreshFailed)
        #expect(OAuth2TokenStatus.failure(error: "consent_required", description: nil, httpStatus: 400, providerName: "M", at: now).state == .consentMissing)
        #expect(OAuth2TokenStatus.of(nil, provider: nil, now: now).state == .consentMissing)

        let response = OAuth2HTTPResponse(status: 400, body: Array(#"{"error":"invalid_grant","error_description":"gone"}"#.utf8))
        #expect(throws: OAuth2FlowError.self) { try OAuth2Flow.answer(response, now: now, host: "idp") }
        let ok = OAuth2HTTPResponse(status: 200, body: Array(#"{"access_token":"a","expires_in":"3600","refresh_token":"r","scope":"x y"}"#.utf8))
        let answer = try OAuth2Flow.answer(ok, now: now, host: "idp")
        #expect(answer.refreshToken == "r")
        #expect(answer.scopes == ["x", "y"])
        #expect(answer.expiresAt == now.addingTimeInterval(3600))
    }

    @Test func accountsWithAProviderNeedNoPastedTokens() throws {
        let account = try AccountEditor.newAccount(from: .object([
            "key": .string("MS"), "name": .string("Microsoft desk"), "fromAddress": .string("desk@contoso.com"),
            "incoming": .object(["protocol": .string("imap"), "host": .string("outlook.office365.com"),
                                 "auth": .object(["method": .string("oauth2"), "oauth2": .object(["providerId": .string("p1")])])]),
        ]))
        #expect(account.incoming.connection.auth.oauth2?.providerId == "p1")
        let text = String(decoding: try JSONCoding.encoder.encode(account), as: UTF8.self)
        #expect(text.contains("\"providerId\":\"p1\""))
    }

    @Test func providersRulesWarnAheadOfTheEndOfAGrant() {
        let now = Date(timeIntervalSince1970: 1_900_000_000)
        let day: TimeInterval = 86_400
        func grant(grantedDaysAgo: Double, refreshedDaysAgo: Double?) -> OAuth2AccountGrant {
            OAuth2AccountGrant(accountId: "a", providerId: "p", refreshToken: Secret("r"), accessToken: Secret("t"),
                               expiresAt: now.addingTimeInterval(3600), grantedAt: now.addingTimeInterval(-grantedDaysAgo * day),
                               refreshedAt: refreshedDaysAgo.map { now.addingTimeInterval(-$0 * day) }, scopes: [], signedInAddress: nil)
        }
        let microsoft = OAuth2Provider(id: "p", name: "Microsoft", kind: .microsoft)
        // Refreshed yesterday: nothing to say.
        #expect(OAuth2TokenStatus.of(grant(grantedDaysAgo: 200, refreshedDaysAgo: 1), provider: microsoft, now: now).state == .valid)
        // Unused for 85 days: Microsoft ends it in 5 days.
        let idle = OAuth2TokenStatus.of(grant(grantedDaysAgo: 200, refreshedDaysAgo: 85), provider: microsoft, now: now)
        #expect(idle.state == .expiresSoon)
        #expect(idle.message.contains("unused for 90 days"))
        // The same grant at another provider has no such rule.
        let generic = OAuth2Provider(id: "p", name: "IdP", kind: .generic)
        #expect(OAuth2TokenStatus.of(grant(grantedDaysAgo: 200, refreshedDaysAgo: 85), provider: generic, now: now).state == .valid)

        let google = OAuth2Provider(id: "p", name: "Google", kind: .google)
        // Six and a half days after sign-in, a "testing" app's grant ends within the day.
        let testing = OAuth2TokenStatus.of(grant(grantedDaysAgo: 6.5, refreshedDaysAgo: 0.1), provider: google, now: now)
        #expect(testing.state == .expiresSoon)
        #expect(testing.message.contains("testing"))
        #expect(OAuth2TokenStatus.of(grant(grantedDaysAgo: 2, refreshedDaysAgo: 0.1), provider: google, now: now).state == .valid)
    }
}
