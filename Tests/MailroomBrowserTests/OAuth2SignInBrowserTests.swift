import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import IMAPClient
import MailTransport
import MailroomTestSupport
import Testing

/// An administrator clicks "Sign in with Local" on the account page, submits the local
/// provider's consent page, comes back to "Account connected", and the account fetches new mail
/// with the token it got.
@Suite(.enabled(if: BrowserHarness.enabled && TestServers.shouldRun("MAILROOM_TEST_OAUTH2_URL")))
struct OAuth2SignInBrowserTests {
    static func control(_ path: String, _ body: [String: Any]) async throws {
        var request = URLRequest(url: URL(string: try TestServers.require("MAILROOM_TEST_OAUTH2_URL") + path)!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        _ = try await URLSession.shared.data(for: request)
    }

    @Test func signingInFromTheAccountPageConnectsTheMailbox() async throws {
        try await BrowserHarness.run { harness in
            let provider = try TestServers.require("MAILROOM_TEST_OAUTH2_URL")
            let imapPort = try TestServers.require("MAILROOM_TEST_OAUTH2_IMAP_PORT")
            let mailbox = "browser-\(UUID().uuidString.prefix(8).lowercased())@example.com"
            try await Self.control("/control/config", ["email": mailbox, "rotateRefreshTokens": true, "omitRefreshToken": false, "tokenEndpointDown": false])
            try await Self.control("/control/redirect-uris", ["uri": harness.base + "/oauth2/callback"])

            let created = try await harness.api("POST", "/api/v1/oauth2/providers", json: """
                {"name": "Local", "kind": "generic", "clientId": "\(try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_ID"))",
                 "clientSecret": "\(try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_SECRET"))",
                 "authorizationURL": "\(provider)/authorize", "tokenURL": "\(provider)/token", "userInfoURL": "\(provider)/userinfo",
                 "scopes": ["openid", "email", "offline_access", "mail"]}
                """)
            #expect(created.0 == 201)
            let providerId = try #require(created.1["id"] as? String)
            let account = try await harness.api("POST", "/api/v1/accounts", json: """
                {"key": "WEB2", "name": "Browser OAuth", "fromAddress": "\(mailbox)",
                 "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(imapPort), "security": "none", "fetchIntervalSeconds": 1,
                              "authTimeoutSeconds": 30, "auth": {"method": "oauth2", "oauth2": {"providerId": "\(providerId)"}}}}
                """)
            #expect(account.0 == 201)
            let accountId = try #require(account.1["id"] as? String)
            _ = try await harness.createUser(name: "Admin", email: "admin-oauth@example.com", role: "admin")
            try await harness.signIn("admin-oauth@example.com", "password-123")

            // The status page shows the token too, with the way to fix it.
            try await harness.go("/admin/status")
            #expect(try await harness.text("[data-token-state]") == "not signed in")
            #expect(try await harness.text("a[href='/admin/accounts/\(accountId)#modern-authentication']") == "Sign in again")
            try await harness.screenshot("oauth2-status-before")

            try await harness.go("/admin/accounts/\(accountId)")
            #expect(try await harness.text("#oauth2-state") == "not signed in")
            #expect(try await harness.text("#oauth2-signin-button") == "Sign in with Local")
            try await harness.screenshot("oauth2-account-before")
            try await harness.click("#oauth2-signin-button")

            // The local provider's consent page.
            try await harness.driver.waitUntil("the consent page") { try await harness.driver.title().contains("consent") }
            #expect(try await harness.driver.find("#email").property("value") as? String == mailbox)
            try await harness.screenshot("oauth2-consent")
            try await harness.driver.find("#allow").click()

            try await harness.waitForURL(containing: "/oauth2/callback")
            #expect(try await harness.text("#oauth2-title") == "Account connected")
            try await harness.screenshot("oauth2-connected")

            // New mail arrives after the sign-in and is fetched with the new token.
            var request = URLRequest(url: URL(string: provider + "/control/issue")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: ["email": mailbox])
            let (data, _) = try await URLSession.shared.data(for: request)
            let seed = try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["access_token"] as? String)
            let imap = try await IMAPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: Int(imapPort)!, security: .none,
                                                                         authTimeout: .seconds(30)),
                                                        credentials: .oauth2(mailbox, accessToken: seed))
            _ = try await imap.append(to: "INBOX", message: Array("From: Bo <bo@example.com>\r\nSubject: After sign-in\r\nMessage-ID: <oauth-browser@x>\r\n\r\nHello\r\n".utf8), flags: [])
            await imap.logout()
            var subjects: [String] = []
            for _ in 0..<200 {
                let list = try await harness.api("GET", "/api/v1/tickets")
                subjects = (list.1["items"] as? [[String: Any]] ?? []).compactMap { $0["subject"] as? String }
                if !subjects.isEmpty { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(subjects == ["After sign-in"])

            try await harness.go("/admin/accounts/\(accountId)")
            #expect(try await harness.text("#oauth2-state") == "valid")
            #expect(try await harness.text("#oauth2-address") == mailbox)
            #expect(try await harness.text("#oauth2-signin-button") == "Sign in again")
            try await harness.go("/admin/status")
            #expect(try await harness.text("[data-token-state]") == "valid")
            try await harness.go("/admin/accounts/\(accountId)")
            _ = try await harness.driver.execute("document.getElementById('modern-authentication').scrollIntoView()")
            try await harness.screenshot("oauth2-account-after")
        }
    }
}
