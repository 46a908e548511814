import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import IMAPClient
import MailTransport
import MailroomApp
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

    func startServer(dataDirectory: String, port: Int, token: String = "crash-test-token") throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServeCommandTests.binaryPath())
        process.arguments = ["serve", "--data-dir", dataDirectory, "--http", "127.0.0.1:\(port)", "--log-level", "error"]
        var environment = ProcessInfo.processInfo.environment
        environment["MAILROOM_ADMIN_TOKEN"] = token
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

/// Every reply is sent even when `mailroom serve` is killed while sending; a duplicate is possible
/// only for a message whose DATA was answered but whose result was not yet recorded.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_SMTP_SINK_DUMP_PORT"))) struct SendCrashTests {
    @Test func killedWhileSendingLosesNothing() async throws {
        let total = 200
        let domain = "send-crash-\(UUID().uuidString.prefix(8).lowercased()).example"
        let dumpDirectory = try TestServers.require("MAILROOM_TEST_SMTP_SINK_DUMP_DIR")
        let scratch = try ScratchDirectory("mr-send-crash")
        defer { scratch.remove() }
        let (directory, dataDirectory) = (scratch.path, scratch.dataDirectory)

        // Tickets to answer, imported from an mbox.
        var mbox = ""
        for index in 1...total {
            mbox += "From c\(index)@customer.example Mon Nov 23 10:00:00 2026\nFrom: Customer \(index) <c\(index)@customer.example>\n"
                + "Subject: Question \(index)\nMessage-ID: <q\(index)@customer.example>\n\nHello \(index)\n\n"
        }
        try mbox.write(toFile: directory + "/in.mbox", atomically: true, encoding: .utf8)
        let (database, store) = try await scratch.openStore()
        var account = Account(key: "SC", name: "Send crash", fromAddress: "desk@\(domain)")
        account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(
            host: "127.0.0.1", port: Int(try TestServers.require("MAILROOM_TEST_SMTP_SINK_DUMP_PORT")), security: .none,
            auth: ServerAuth(method: .none)))
        _ = try await store.accounts.create(account)
        await database.close()
        let imported = try CommandLineTests().run(["import", "--data-dir", dataDirectory, "--account", "SC", directory + "/in.mbox"])
        #expect(imported.0 == 0, "\(imported.2)")

        let port = ServeCommandTests.freePort()
        let crash = CrashRecoveryTests()
        var server = try crash.startServer(dataDirectory: dataDirectory, port: port, token: "send-crash-token")
        try await crash.waitForHealth(port: port)
        let list = try await ServeIngestTests.request("GET", "http://127.0.0.1:\(port)/api/v1/tickets?limit=500", token: "send-crash-token")
        let ticketIds = (list.1["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(ticketIds.count == total)
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        for (index, ticketId) in ticketIds.enumerated() {
            let reply = try? await ServeIngestTests.request("POST", "http://127.0.0.1:\(port)/api/v1/tickets/\(ticketId)/replies",
                                                            json: #"{"text": "Answer"}"#, token: "send-crash-token")
            #expect(reply?.0 == 201)
            if index % 40 == 39 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...150, using: &generator)))
                kill(server.processIdentifier, SIGKILL)
                server.waitUntilExit()
                kills += 1
                server = try crash.startServer(dataDirectory: dataDirectory, port: port, token: "send-crash-token")
                try await crash.waitForHealth(port: port)
            }
        }
        // A restarted node takes back at once what its killed predecessor held.
        var sent = 0
        for _ in 0..<600 {
            let outbox = try await ServeIngestTests.request("GET", "http://127.0.0.1:\(port)/api/v1/outbox?state=sent", token: "send-crash-token")
            sent = (outbox.1["items"] as? [[String: Any]] ?? []).count
            if sent >= total { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        server.interrupt()
        server.waitUntilExit()
        print("send crash: \(kills) kills, \(sent) of \(total) sent")
        #expect(sent == total)

        // What the SMTP server received: each reply at least once.
        var counts: [String: Int] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dumpDirectory) {
            guard let text = try? String(contentsOfFile: dumpDirectory + "/" + name, encoding: .utf8), text.contains("@\(domain)>") else { continue }
            for line in text.split(separator: "\n") where line.lowercased().hasPrefix("message-id:") {
                counts[String(line.dropFirst("message-id:".count)).trimmingCharacters(in: .whitespacesAndNewlines), default: 0] += 1
            }
        }
        let duplicates = counts.values.filter { $0 > 1 }.count
        print("send crash: \(counts.count) distinct replies received, \(duplicates) received twice")
        #expect(counts.count == total, "every reply reached the SMTP server")
        #expect(duplicates <= kills, "a duplicate needs a kill between DATA's reply and its record")
    }
}
