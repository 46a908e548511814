import ExchangeClient
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MailroomTestSupport
import Testing

/// A Graph account signed in through an OAuth2 provider, end to end against `mailroom serve`: the
/// local authorization server issues the token through its consent form, the local Graph server
/// checks that token at the provider's introspection endpoint (as Graph trusts Entra ID), and the
/// account fetches and sends with it; the connection test names the provider's token.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_OAUTH2_URL") && TestServers.shouldRun("MAILROOM_TEST_GRAPH_URL")), .serialized)
struct GraphOAuth2SignInServeTests {
    @Test func aGraphAccountSignedInThroughAProviderFetchesAndSends() async throws {
        let provider = try TestServers.require("MAILROOM_TEST_OAUTH2_URL")
        let clientId = try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_ID")
        let clientSecret = try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_SECRET")
        let graphURL = try TestServers.require("MAILROOM_TEST_GRAPH_URL")
        let domain = TestServers.value("MAILROOM_TEST_EXCHANGE_DOMAIN") ?? "exchange.test"
        let user = "graph-signin-\(UUID().uuidString.prefix(8).lowercased())@\(domain)"
        let quoted = user.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? user
        _ = try await OAuth2SignInServeTests.control("/control/config", ["email": user, "rotateRefreshTokens": true,
                                                                         "omitRefreshToken": false, "tokenEndpointDown": false])
        // Graph takes the provider's tokens: the static test token and issued ones keep working.
        let previous = try await ExchangeCrashRecoveryTests.control(.POST, "/introspection", [
            "url": "\(provider)/introspect", "clientId": clientId, "clientSecret": clientSecret,
        ])
        _ = try await ExchangeCrashRecoveryTests.control(.POST, "/mailboxes/\(quoted)/messages",
                                                         ["subject": "Graph signed in", "from": "customer-\(UUID().uuidString.prefix(6))@sender.test"])

        let (process, port, dataDirectory) = try await ServeCommandTests.startServe(adminToken: "serve-ingest-token", dataDirectoryPrefix: "mr-graph-oauth2")
        defer {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
        let base = "http://127.0.0.1:\(port)/api/v1"
        _ = try await OAuth2SignInServeTests.control("/control/redirect-uris", ["uri": "http://127.0.0.1:\(port)/oauth2/callback"])
        let created = try await ServeIngestTests.request("POST", "\(base)/oauth2/providers", json: """
            {"name": "Local Entra", "kind": "generic", "clientId": "\(clientId)", "clientSecret": "\(clientSecret)",
             "authorizationURL": "\(provider)/authorize", "tokenURL": "\(provider)/token", "revocationURL": "\(provider)/revoke",
             "scopes": "openid email offline_access mail"}
            """)
        #expect(created.0 == 201)
        let providerId = try #require(created.1["id"] as? String)
        let server = """
            "protocol": "graph", "baseURL": "\(graphURL)", "acceptAnyCertificate": true, "connectionTimeoutSeconds": 30,
            "auth": {"method": "oauth2", "oauth2": {"providerId": "\(providerId)"}}
            """
        let account = try await ServeIngestTests.request("POST", "\(base)/accounts", json: """
            {"key": "GOA", "name": "Graph signed in", "fromAddress": "\(user)",
             "incoming": {\(server), "fetchIntervalSeconds": 1}, "outgoing": {\(server), "sentFolder": "sentitems"}}
            """)
        #expect(account.0 == 201, "\(account.1)")
        let accountId = try #require(account.1["id"] as? String)

        let authorize = try await ServeIngestTests.request("POST", "\(base)/accounts/\(accountId)/oauth2/authorize")
        let url = try #require(authorize.1["url"] as? String)
        let connected = try await OAuth2SignInServeTests.page(url, form: "email=\(user)&decision=allow")
        #expect(connected.0 == 200, "\(connected.1)")
        #expect(connected.1.contains("Account connected"))

        var tickets: [[String: Any]] = []
        for _ in 0..<200 {
            tickets = try await ServeIngestTests.request("GET", "\(base)/tickets").1["items"] as? [[String: Any]] ?? []
            if !tickets.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let status = try await ServeIngestTests.request("GET", "\(base)/accounts/\(accountId)/status")
        #expect(tickets.compactMap { $0["subject"] as? String } == ["Graph signed in"], "fetched over Graph with the provider's token: \(status.1)")
        let ticketId = try #require(tickets.first?["id"] as? String)

        let reply = try await ServeIngestTests.request("POST", "\(base)/tickets/\(ticketId)/replies", json: #"{"text": "Signed in and answering."}"#)
        #expect(reply.0 == 201, "\(reply.1)")
        var sent = false
        for _ in 0..<200 where !sent {
            let outbound = try await ExchangeCrashRecoveryTests.control(.GET, "/outbound")["messages"] as? [[String: Any]] ?? []
            sent = outbound.contains { entry in
                let mime = (entry["mime"] as? String).flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
                return (entry["from"] as? String)?.lowercased() == user && mime.contains("Signed in and answering.")
            }
            if !sent { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(sent, "sent over Graph with the provider's token")

        let check = try await ServeIngestTests.request("POST", "\(base)/accounts/\(accountId)/test")
        #expect(check.1["ok"] as? Bool == true, "\(check.1)")
        let steps = (check.1["incoming"] as? [String: Any])?["steps"] as? [[String: Any]] ?? []
        #expect(steps.first?["message"] as? String == "an access token from the account's provider", "\(steps)")

        _ = try await ExchangeCrashRecoveryTests.control(.POST, "/introspection", [
            "url": (previous["previous"] as? [String: Any])?["url"] ?? NSNull(),
            "clientId": (previous["previous"] as? [String: Any])?["clientId"] ?? NSNull(),
            "clientSecret": (previous["previous"] as? [String: Any])?["clientSecret"] ?? NSNull(),
        ])
        process.interrupt()
        process.waitUntilExit()
    }
}
