import ExchangeClient
import Foundation
import MailroomStore
import MailroomTestSupport
import NIOHTTP1
import SQLKit
import Testing

/// Exactly once under crashes, over Graph and EWS: `mailroom serve` is killed with SIGKILL at random
/// moments while it ingests 1,000 messages from the local Exchange servers with deleteOnFetch on,
/// and restarted, ten times; then the folder is empty and each message is stored once.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_GRAPH_URL")), .serialized) struct ExchangeCrashRecoveryTests {
    static func control(_ method: HTTPMethod, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        let response = try await SharedHTTP.send(method: method, url: try TestServers.require("MAILROOM_TEST_GRAPH_CONTROL_URL") + path,
                                                 headers: headers, body: try body.map { Array(try JSONSerialization.data(withJSONObject: $0)) },
                                                 timeout: .seconds(120), acceptAnyCertificate: true, maxBodyBytes: 64 << 20)
        #expect(response.status == 200, "\(String(decoding: response.body.prefix(300), as: UTF8.self))")
        return (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    static func inboxCount(_ mailbox: String) async throws -> Int {
        let quoted = mailbox.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? mailbox
        return (try await control(.GET, "/mailboxes/\(quoted)/messages?folder=inbox")["messages"] as? [Any])?.count ?? -1
    }

    static func incoming(_ protocolName: String, mailbox: String) throws -> String {
        if protocolName == "graph" {
            return """
                {"protocol": "graph", "baseURL": "\(try TestServers.require("MAILROOM_TEST_GRAPH_URL"))", "acceptAnyCertificate": true,
                 "deleteOnFetch": true, "fetchIntervalSeconds": 1, "connectionTimeoutSeconds": 30,
                 "auth": {"method": "oauth2", "username": "\(mailbox)",
                          "oauth2": {"clientId": "mailroom-test", "accessToken": "\(try TestServers.require("MAILROOM_TEST_EXCHANGE_TOKEN"))"}}}
                """
        }
        return """
            {"protocol": "ews", "url": "\(try TestServers.require("MAILROOM_TEST_EWS_URL"))", "acceptAnyCertificate": true,
             "deleteOnFetch": true, "fetchIntervalSeconds": 1, "connectionTimeoutSeconds": 30,
             "auth": {"method": "password", "username": "\(mailbox)", "password": "\(try TestServers.require("MAILROOM_TEST_EXCHANGE_PASSWORD"))"}}
            """
    }

    @Test(arguments: ["graph", "ews"])
    func killedTenTimesWhileIngestingLosesAndDuplicatesNothing(protocolName: String) async throws {
        let total = 1_000
        let domain = TestServers.value("MAILROOM_TEST_EXCHANGE_DOMAIN") ?? "exchange.test"
        let mailbox = "crash-\(UUID().uuidString.prefix(8).lowercased())@\(domain)"
        let quoted = mailbox.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? mailbox
        _ = try await Self.control(.POST, "/mailboxes/\(quoted)/messages/bulk", ["count": total, "subject": "Crash \(protocolName)"])

        let crash = CrashRecoveryTests()
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mr-xcrash-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let port = ServeCommandTests.freePort()
        var server = try crash.startServer(dataDirectory: dataDirectory, port: port)
        try await crash.waitForHealth(port: port)
        let account = """
            {"key": "X\(protocolName.prefix(1).uppercased())", "name": "Crash \(protocolName)", "fromAddress": "\(mailbox)",
             "incoming": \(try Self.incoming(protocolName, mailbox: mailbox))}
            """
        let created = try await CrashRecoveryTests.post("http://127.0.0.1:\(port)/api/v1/accounts", token: "crash-test-token", json: account)
        #expect(created.0 == 201, "\(created.1)")

        var generator = SystemRandomNumberGenerator()
        var left = total
        for round in 1...10 {
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...400, using: &generator)))
            // Killed while it works: once the folder shrank since the last kill (up to five seconds),
            // a random moment later, so kills fall between a batch's commit and its delete, or in the next batch.
            var waited = 0
            while left > 0, waited < 250, try await Self.inboxCount(mailbox) == left {
                try await Task.sleep(for: .milliseconds(20))
                waited += 1
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...80, using: &generator)))
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            left = try await Self.inboxCount(mailbox)
            print("\(protocolName) crash round \(round): killed with \(left) messages left")
            server = try crash.startServer(dataDirectory: dataDirectory, port: port)
            try await crash.waitForHealth(port: port)
        }

        var remaining = -1
        for _ in 0..<600 {
            remaining = try await Self.inboxCount(mailbox)
            if remaining == 0 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Task.sleep(for: .seconds(1))
        server.interrupt()
        server.waitUntilExit()
        #expect(remaining == 0, "the folder is empty")

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
