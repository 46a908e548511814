import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import IMAPClient
import MailTransport
import MailroomCore
import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// Exactly once under crashes: `mailroom serve` is killed with SIGKILL at random moments while it
/// ingests 1,000 messages with deleteOnFetch on, and restarted, ten times.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_IMAP_PORT"))) struct CrashRecoveryTests {
    static func post(_ url: String, token: String, json: String) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    func startServer(dataDirectory: String, port: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServeCommandTests.binaryPath())
        process.arguments = ["serve", "--data-dir", dataDirectory, "--http", "127.0.0.1:\(port)", "--log-level", "error"]
        var environment = ProcessInfo.processInfo.environment
        environment["MAILROOM_ADMIN_TOKEN"] = "crash-test-token"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    func waitForHealth(port: Int) async throws {
        for _ in 0..<200 {
            if await ServeCommandTests.get("http://127.0.0.1:\(port)/healthz")?.0 == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the server did not come up")
    }

    func imap(_ user: String) async throws -> IMAPConnection {
        let endpoint = MailEndpoint(host: "127.0.0.1", port: Int(try TestServers.require("MAILROOM_TEST_IMAP_PORT"))!, security: .none,
                                    connectionTimeout: .seconds(30), authTimeout: .seconds(30))
        return try await IMAPConnection.connect(to: endpoint, credentials: .password(user, try TestServers.require("MAILROOM_TEST_DOVECOT_PASSWORD")))
    }

    @Test func killedTenTimesWhileIngestingLosesAndDuplicatesNothing() async throws {
        let total = 1_000
        let user = "crash-\(UUID().uuidString.prefix(8).lowercased())"
        let client = try await imap(user)
        for index in 1...total {
            let message = "From: Customer \(index) <c\(index)@example.com>\r\nTo: desk@example.com\r\nSubject: Crash test \(index)\r\n"
                + "Message-ID: <crash-\(index)@example.com>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nBody \(index)\r\n"
            _ = try await client.append(to: "INBOX", message: Array(message.utf8), flags: [])
        }
        await client.logout()

        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mr-crash-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let port = ServeCommandTests.freePort()
        var server = try startServer(dataDirectory: dataDirectory, port: port)
        try await waitForHealth(port: port)
        let account = """
            {"key": "CR", "name": "Crash", "fromAddress": "desk@example.com", "incoming": {"protocol": "imap", "host": "127.0.0.1",
             "port": \(try TestServers.require("MAILROOM_TEST_IMAP_PORT")), "security": "none", "deleteOnFetch": true,
             "fetchIntervalSeconds": 1, "authTimeoutSeconds": 30, "auth": {"username": "\(user)", "password": "\(try TestServers.require("MAILROOM_TEST_DOVECOT_PASSWORD"))"}}}
            """
        let created = try await Self.post("http://127.0.0.1:\(port)/api/v1/accounts", token: "crash-test-token", json: account)
        #expect(created.0 == 201, "\(created.1)")

        var generator = SystemRandomNumberGenerator()
        for round in 1...10 {
            try await Task.sleep(for: .milliseconds(Int.random(in: 150...900, using: &generator)))
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            print("crash round \(round): killed")
            server = try startServer(dataDirectory: dataDirectory, port: port)
            try await waitForHealth(port: port)
        }

        // Let the last run finish the work, then stop it cleanly.
        var remaining = -1
        for _ in 0..<600 {
            let check = try await imap(user)
            _ = try await check.select("INBOX")
            remaining = try await check.uidSearch(.all).count
            await check.logout()
            if remaining == 0 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Task.sleep(for: .seconds(1))
        server.interrupt()
        server.waitUntilExit()
        #expect(remaining == 0, "the mailbox is empty")

        let database = try await MailroomDatabase.open(.sqlite(path: dataDirectory + "/mailroom.sqlite"), logger: TestDatabase.logger)
        let counts = try await database.withConnection { db in
            let row = try await db.raw("SELECT COUNT(*) AS n, COUNT(DISTINCT message_id) AS d FROM messages").first()!
            return (try row.decode(column: "n", as: Int.self), try row.decode(column: "d", as: Int.self))
        }
        await database.close()
        #expect(counts.0 == total, "exactly \(total) messages")
        #expect(counts.1 == total, "each once")
    }
}
