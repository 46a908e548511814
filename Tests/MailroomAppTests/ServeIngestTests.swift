import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import IMAPClient
import MailTransport
import MailroomTestSupport
import Testing

/// The whole server: an account created over the API starts fetching at once, mail becomes a
/// ticket, the connection test answers step by step, and deactivating stops the fetcher.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_IMAP_PORT"))) struct ServeIngestTests {
    static func request(_ method: String, _ url: String, json: String? = nil, token: String = "serve-ingest-token") async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(json.utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, object)
    }

    @Test func accountsFetchAsSoonAsTheyAreCreatedAndStopWhenDeactivated() async throws {
        let user = "serve-\(UUID().uuidString.prefix(8).lowercased())"
        let password = try TestServers.require("MAILROOM_TEST_DOVECOT_PASSWORD")
        let imapPort = try TestServers.require("MAILROOM_TEST_IMAP_PORT")
        let endpoint = MailEndpoint(host: "127.0.0.1", port: Int(imapPort)!, security: .none, authTimeout: .seconds(30))
        let imap = try await IMAPConnection.connect(to: endpoint, credentials: .password(user, password))
        _ = try await imap.append(to: "INBOX", message: Array("From: Ann <ann@example.com>\r\nSubject: Hello desk\r\nMessage-ID: <serve1@x>\r\n\r\nHi\r\n".utf8), flags: [])
        await imap.logout()

        let (process, port, dataDirectory) = try await ServeCommandTests.startServe(adminToken: "serve-ingest-token", dataDirectoryPrefix: "mr-serve-ingest")
        defer {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
        let base = "http://127.0.0.1:\(port)/api/v1"

        let created = try await Self.request("POST", "\(base)/accounts", json: """
            {"key": "SRV", "name": "Served", "fromAddress": "desk@example.com",
             "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(imapPort), "security": "none", "fetchIntervalSeconds": 1,
                          "authTimeoutSeconds": 30, "auth": {"username": "\(user)", "password": "\(password)"}},
             "outgoing": {"protocol": "smtp", "host": "127.0.0.1", "port": \(try TestServers.require("MAILROOM_TEST_SMTP_SINK_PORT")),
                          "security": "none", "auth": {"method": "none"}}}
            """)
        #expect(created.0 == 201)
        let id = try #require(created.1["id"] as? String)

        var subjects: [String] = []
        for _ in 0..<200 {
            let list = try await Self.request("GET", "\(base)/tickets")
            subjects = (list.1["items"] as? [[String: Any]] ?? []).compactMap { $0["subject"] as? String }
            if !subjects.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(subjects == ["Hello desk"])

        // An agent's reply goes out through the SMTP sink.
        let tickets = try await Self.request("GET", "\(base)/tickets")
        let ticketId = try #require((tickets.1["items"] as? [[String: Any]])?.first?["id"] as? String)
        let reply = try await Self.request("POST", "\(base)/tickets/\(ticketId)/replies", json: #"{"mode": "reply", "text": "Thanks, on it."}"#)
        #expect(reply.0 == 201)
        #expect(reply.1["deliveryState"] as? String == "queued")
        var sent = false
        for _ in 0..<100 {
            let outbox = try await Self.request("GET", "\(base)/outbox?state=sent")
            sent = !(outbox.1["items"] as? [[String: Any]] ?? []).isEmpty
            if sent { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(sent, "the sender delivered the reply to the SMTP server")

        let status = try await Self.request("GET", "\(base)/accounts/\(id)/status")
        #expect(status.1["fetching"] as? Bool == true)
        #expect(status.1["messagesIngested"] as? Int == 1)

        let check = try await Self.request("POST", "\(base)/accounts/\(id)/test")
        #expect(check.0 == 200)
        #expect(check.1["ok"] as? Bool == true)
        let wrong = try await Self.request("POST", "\(base)/accounts/\(id)/test", json: #"{"incoming": {"auth": {"password": "wrong-one"}}}"#)
        #expect(wrong.1["ok"] as? Bool == false)

        #expect(try await Self.request("PATCH", "\(base)/accounts/\(id)", json: #"{"active": false}"#).0 == 200)
        var stopped = false
        for _ in 0..<100 {
            stopped = try await Self.request("GET", "\(base)/accounts/\(id)/status").1["fetching"] as? Bool == false
            if stopped { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(stopped, "deactivating stops the fetcher without a restart")
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
