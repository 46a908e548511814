import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import IMAPClient
import MailTransport
import MailroomTestSupport
import Testing

/// The whole sign-in against `mailroom serve`, the local authorization server and its Dovecot:
/// a provider is set up, `POST /accounts/{id}/oauth2/authorize` answers the address, the
/// provider's consent form is submitted, its redirect lands on `/oauth2/callback`, and the
/// account then fetches mail with the token it got. Bad callbacks end on pages that say why.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_OAUTH2_URL")))
struct OAuth2SignInServeTests {
    static func control(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: try TestServers.require("MAILROOM_TEST_OAUTH2_URL") + path)!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, _) = try await URLSession.shared.data(for: request)
        return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    static func page(_ url: String, form: String? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        if let form {
            request.httpMethod = "POST"
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(form.utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func anAdministratorSignsAnAccountInAndItFetchesWithTheNewToken() async throws {
        let provider = try TestServers.require("MAILROOM_TEST_OAUTH2_URL")
        let imapPort = try TestServers.require("MAILROOM_TEST_OAUTH2_IMAP_PORT")
        let user = "signin-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        _ = try await Self.control("/control/config", ["email": user, "rotateRefreshTokens": true, "omitRefreshToken": false, "tokenEndpointDown": false])

        // Mail waiting in the mailbox, put there with a token of the same user.
        let seed = try await Self.control("/control/issue", ["email": user])
        let endpoint = MailEndpoint(host: "127.0.0.1", port: Int(imapPort)!, security: .none, authTimeout: .seconds(30))
        let imap = try await IMAPConnection.connect(to: endpoint, credentials: .oauth2(user, accessToken: seed["access_token"] as? String ?? ""))
        _ = try await imap.append(to: "INBOX", message: Array("From: Ann <ann@example.com>\r\nSubject: Signed in\r\nMessage-ID: <oauth-e2e@x>\r\n\r\nHi\r\n".utf8), flags: [])
        await imap.logout()

        let (process, port, dataDirectory) = try await ServeCommandTests.startServe(adminToken: "serve-ingest-token", dataDirectoryPrefix: "mr-oauth2")
        defer {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
        let base = "http://127.0.0.1:\(port)/api/v1"
        _ = try await Self.control("/control/redirect-uris", ["uri": "http://127.0.0.1:\(port)/oauth2/callback"])

        let created = try await ServeIngestTests.request("POST", "\(base)/oauth2/providers", json: """
            {"name": "Local", "kind": "generic", "clientId": "\(try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_ID"))",
             "clientSecret": "\(try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_SECRET"))",
             "authorizationURL": "\(provider)/authorize", "tokenURL": "\(provider)/token", "revocationURL": "\(provider)/revoke",
             "scopes": "openid email offline_access mail"}
            """)
        #expect(created.0 == 201)
        #expect(created.1["clientSecret"] == nil)
        #expect(created.1["clientSecretSet"] as? Bool == true)
        let providerId = try #require(created.1["id"] as? String)

        let account = try await ServeIngestTests.request("POST", "\(base)/accounts", json: """
            {"key": "OA2", "name": "Signed in", "fromAddress": "\(user)",
             "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(imapPort), "security": "none", "fetchIntervalSeconds": 1,
                          "authTimeoutSeconds": 30, "auth": {"method": "oauth2", "oauth2": {"providerId": "\(providerId)"}}}}
            """)
        #expect(account.0 == 201)
        let accountId = try #require(account.1["id"] as? String)
        let before = try await ServeIngestTests.request("GET", "\(base)/accounts/\(accountId)/status")
        #expect((before.1["token"] as? [String: Any])?["state"] as? String == "consentMissing")

        // A callback that is not ours, and one that reports the provider's refusal: pages in words.
        let forged = try await Self.page("http://127.0.0.1:\(port)/oauth2/callback?state=forged&code=abc")
        #expect(forged.0 == 400)
        #expect(forged.1.contains("unknown, was already used"))
        let denied = try await ServeIngestTests.request("POST", "\(base)/accounts/\(accountId)/oauth2/authorize")
        let deniedURL = try #require(denied.1["url"] as? String)
        let deniedPage = try await Self.page(deniedURL, form: "email=\(user)&decision=deny")
        #expect(deniedPage.0 == 400)
        #expect(deniedPage.1.contains("access_denied"))

        let authorize = try await ServeIngestTests.request("POST", "\(base)/accounts/\(accountId)/oauth2/authorize")
        #expect(authorize.0 == 200)
        let url = try #require(authorize.1["url"] as? String)
        #expect(url.contains("code_challenge="))
        let consent = try await Self.page(url)
        #expect(consent.1.contains("Allow"))
        // The provider redirects to Mailroom's callback; URLSession follows it.
        let connected = try await Self.page(url, form: "email=\(user)&decision=allow")
        #expect(connected.0 == 200, "\(connected.1)")
        #expect(connected.1.contains("Account connected"))

        var subjects: [String] = []
        for _ in 0..<200 {
            let list = try await ServeIngestTests.request("GET", "\(base)/tickets")
            subjects = (list.1["items"] as? [[String: Any]] ?? []).compactMap { $0["subject"] as? String }
            if !subjects.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(subjects == ["Signed in"])
        let status = try await ServeIngestTests.request("GET", "\(base)/accounts/\(accountId)/status")
        let token = try #require(status.1["token"] as? [String: Any])
        #expect(token["state"] as? String == "valid")
        #expect((token["message"] as? String)?.contains(user) == true)

        // "Test connection" covers the token step, then logs in with the token.
        let check = try await ServeIngestTests.request("POST", "\(base)/accounts/\(accountId)/test")
        #expect(check.1["ok"] as? Bool == true)
        #expect((check.1["token"] as? [String: Any])?["ok"] as? Bool == true)
        #expect((check.1["token"] as? [String: Any])?["provider"] as? String == "Local")

        // The same answer again: the state was used.
        let replay = try await Self.page(url, form: "email=\(user)&decision=allow")
        #expect(replay.0 == 400)

        // Another mailbox signs in: the administrator is asked, discards it, and the sign-in stays as it was.
        let other = try await ServeIngestTests.request("POST", "\(base)/accounts/\(accountId)/oauth2/authorize")
        let otherPage = try await Self.page(try #require(other.1["url"] as? String), form: "email=someone-else%40example.com&decision=allow")
        #expect(otherPage.1.contains("Another mailbox signed in"))
        let choice = try #require(otherPage.1.range(of: #"name="choice" value="([^"]+)""#, options: .regularExpression)
            .map { String(otherPage.1[$0]).replacingOccurrences(of: "name=\"choice\" value=\"", with: "").dropLast() })
        let discarded = try await Self.page("http://127.0.0.1:\(port)/oauth2/choice", form: "choice=\(choice)&decision=discard")
        #expect(discarded.1.contains("Sign-in discarded"))
        let again = try await Self.page("http://127.0.0.1:\(port)/oauth2/choice", form: "choice=\(choice)&decision=use")
        #expect(again.1.contains("Choice not recognised"))
        let kept = try await ServeIngestTests.request("GET", "\(base)/accounts/\(accountId)/oauth2")
        #expect(kept.1["signedInAddress"] as? String == user)

        // A token answer without a refresh token, and a provider that is down: pages in words, nothing stored.
        _ = try await Self.control("/control/config", ["email": user, "omitRefreshToken": true])
        let noRefresh = try await ServeIngestTests.request("POST", "\(base)/accounts/\(accountId)/oauth2/authorize")
        let noRefreshPage = try await Self.page(try #require(noRefresh.1["url"] as? String), form: "email=\(user)&decision=allow")
        #expect(noRefreshPage.0 == 400)
        #expect(noRefreshPage.1.contains("no refresh token"))
        _ = try await Self.control("/control/config", ["email": user, "omitRefreshToken": false, "tokenEndpointDown": true])
        let down = try await ServeIngestTests.request("POST", "\(base)/accounts/\(accountId)/oauth2/authorize")
        let downPage = try await Self.page(try #require(down.1["url"] as? String), form: "email=\(user)&decision=allow")
        _ = try await Self.control("/control/config", ["email": user, "tokenEndpointDown": false])
        #expect(downPage.0 == 400)
        #expect(downPage.1.contains("refused to exchange the code"))
        let unchanged = try await ServeIngestTests.request("GET", "\(base)/accounts/\(accountId)/oauth2")
        #expect(unchanged.1["state"] as? String == "valid")
        #expect(unchanged.1["signedInAddress"] as? String == user)
        #expect(!noRefreshPage.1.contains("access_token") && !downPage.1.contains("code_verifier"))

        #expect(try await ServeIngestTests.request("DELETE", "\(base)/oauth2/providers/\(providerId)").0 == 409)
        process.interrupt()
        process.waitUntilExit()
    }
}
