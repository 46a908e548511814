import ExchangeClient
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MailroomTestSupport
import NIOHTTP1
import Testing

/// Graph change notifications end to end: `mailroom serve` with a public address subscribes to the
/// local Graph server, answers its validation handshake, and a message created there reaches a
/// ticket without waiting for the (five-minute) fetch interval.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_GRAPH_URL"))) struct ExchangePushServeTests {
    static func send(_ method: String, _ url: String, json: String) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.setValue("Bearer crash-test-token", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func ticketCount(port: Int) async throws -> Int {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/tickets?limit=100")!)
        request.setValue("Bearer crash-test-token", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        return ((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["items"] as? [Any])?.count ?? -1
    }

    static func addMessage(_ mailbox: String, subject: String) async throws {
        let quoted = mailbox.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? mailbox
        _ = try await ExchangeCrashRecoveryTests.control(.POST, "/mailboxes/\(quoted)/messages", ["subject": subject, "from": "c-\(UUID().uuidString.prefix(8))@sender.test"])
    }

    @Test func aNewMessageArrivesThroughAChangeNotification() async throws {
        let domain = TestServers.value("MAILROOM_TEST_EXCHANGE_DOMAIN") ?? "exchange.test"
        let mailbox = "push-\(UUID().uuidString.prefix(8).lowercased())@\(domain)"
        try await Self.addMessage(mailbox, subject: "Before push")
        let crash = CrashRecoveryTests()
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mr-push-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let port = ServeCommandTests.freePort()
        let server = try crash.startServer(dataDirectory: dataDirectory, port: port)
        defer {
            server.interrupt()
            server.waitUntilExit()
        }
        try await crash.waitForHealth(port: port)
        let settings = try await Self.send("PATCH", "http://127.0.0.1:\(port)/api/v1/settings", json: #"{"publicBaseURL": "http://127.0.0.1:\#(port)"}"#)
        #expect(settings.0 == 200, "\(settings.1)")
        let incoming = try ExchangeCrashRecoveryTests.incoming("graph", mailbox: mailbox).replacingOccurrences(of: "\"deleteOnFetch\": true", with: "\"deleteOnFetch\": false")
            .replacingOccurrences(of: "\"fetchIntervalSeconds\": 1", with: "\"fetchIntervalSeconds\": 300")
        let created = try await Self.send("POST", "http://127.0.0.1:\(port)/api/v1/accounts", json: """
            {"key": "PU", "name": "Push", "fromAddress": "\(mailbox)", "incoming": \(incoming)}
            """)
        #expect(created.0 == 201, "\(created.1)")
        var count = 0
        for _ in 0..<200 where count < 1 {
            count = try await Self.ticketCount(port: port)
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(count == 1, "the first round took the first message")
        // The subscription is made right after the first round; give the handshake a moment.
        try await Task.sleep(for: .seconds(2))
        for round in 1...3 {
            let start = ContinuousClock.now
            try await Self.addMessage(mailbox, subject: "Pushed \(round)")
            var arrived = false
            for _ in 0..<150 where !arrived {
                arrived = try await Self.ticketCount(port: port) == 1 + round
                if !arrived { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(arrived, "message \(round) arrived without waiting for the interval")
            print("Graph push latency, message \(round): \(ContinuousClock.now - start)")
        }
    }
}
