import Foundation
import MailroomApp
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

/// Issue 7's threading check end to end, with the built binary: a customer's mail is imported, an
/// agent replies through the API, the server sends the reply to a real SMTP server (smtp-sink,
/// which writes what it received to a file, as a receiving mail system would), `mailroom parse`
/// reads that file, and the customer's mail program's answer to it (another subject, threaded by
/// its headers only) joins the same ticket through `caseId`.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_SMTP_SINK_DUMP_PORT"))) struct ReplyThreadingRoundTripTests {
    let token = "threading-token"

    @Test func theSentReplyThreadsAndTheAnswerJoinsTheTicket() async throws {
        let domain = "thread-\(UUID().uuidString.prefix(8).lowercased()).example"
        let dumpDirectory = try TestServers.require("MAILROOM_TEST_SMTP_SINK_DUMP_DIR")
        let scratch = try ScratchDirectory("mr-threading")
        defer { scratch.remove() }
        let (directory, dataDirectory) = (scratch.path, scratch.dataDirectory)

        let (database, store) = try await scratch.openStore()
        var account = Account(key: "THR", name: "Threading", fromAddress: "desk@\(domain)", fromName: "Parcel Desk")
        account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(
            host: "127.0.0.1", port: Int(try TestServers.require("MAILROOM_TEST_SMTP_SINK_DUMP_PORT")), security: .none,
            auth: ServerAuth(method: .none)))
        account.resolvers = [.caseId]
        _ = try await store.accounts.create(account)
        await database.close()

        // The customer's mail, itself an answer in an older thread of theirs.
        let first = "first-\(UUID().uuidString)@customer.example"
        let earlier = "earlier-\(UUID().uuidString)@customer.example"
        try write(directory + "/first.eml", """
            From: Ann Customer <ann@customer.example>\r
            To: desk@\(domain)\r
            Subject: Where is my parcel?\r
            Message-ID: <\(first)>\r
            References: <\(earlier)>\r
            Date: Mon, 23 Nov 2026 10:00:00 +0000\r
            \r
            It has not arrived.\r

            """)
        let cli = CommandLineTests()
        let imported = try cli.run(["import", "--data-dir", dataDirectory, "--account", "THR", directory + "/first.eml"])
        #expect(imported.0 == 0, "\(imported.2)")

        // An agent replies; the server's outbox sends it.
        let port = ServeCommandTests.freePort()
        let crash = CrashRecoveryTests()
        let server = try crash.startServer(dataDirectory: dataDirectory, port: port, token: token)
        defer { if server.isRunning { server.terminate() } }
        try await crash.waitForHealth(port: port)
        let base = "http://127.0.0.1:\(port)/api/v1"
        let list = try await ServeIngestTests.request("GET", base + "/tickets", token: token)
        let tickets = list.1["items"] as? [[String: Any]] ?? []
        #expect(tickets.count == 1)
        let ticketId = try #require(tickets.first?["id"] as? String)
        let ticketNumber = try #require(tickets.first?["number"] as? Int)
        let reply = try await ServeIngestTests.request("POST", base + "/tickets/\(ticketId)/replies",
                                                       json: #"{"text": "It left our warehouse today."}"#, token: token)
        #expect(reply.0 == 201, "\(reply.1)")
        let received = try await receivedFile(in: dumpDirectory, containing: "@\(domain)")
        server.interrupt()
        server.waitUntilExit()

        // What the customer's mail system received, read by `mailroom parse`.
        let parsed = try cli.run(["parse", received])
        #expect(parsed.0 == 0, "\(parsed.2)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(parsed.1.utf8)) as? [String: Any])
        let sentId = try #require(json["messageId"] as? String)
        #expect(sentId.hasSuffix("@\(domain)"), "Mailroom's own Message-ID, under the account's domain: \(sentId)")
        #expect(json["inReplyTo"] as? [String] == [first], "In-Reply-To names the message answered")
        #expect(json["references"] as? [String] == [earlier, first],
                "References: the customer's thread, then the message answered (RFC 5322 3.6.4)")
        #expect(json["subject"] as? String == "Re: Where is my parcel? [Ticket#\(ticketNumber)]")
        let from = (json["from"] as? [[String: Any]])?.first
        #expect(from?["address"] as? String == "desk@\(domain)")
        #expect(from?["name"] as? String == "Parcel Desk")

        // The customer's mail program answers it under a subject of their own: only the headers thread it.
        try write(directory + "/answer.eml", """
            From: Ann Customer <ann@customer.example>\r
            To: Parcel Desk <desk@\(domain)>\r
            Subject: Still nothing here\r
            Message-ID: <answer-\(UUID().uuidString)@customer.example>\r
            In-Reply-To: <\(sentId)>\r
            References: <\(earlier)> <\(first)> <\(sentId)>\r
            Date: Tue, 24 Nov 2026 09:00:00 +0000\r
            \r
            Still nothing here.\r

            """)
        let answered = try cli.run(["import", "--data-dir", dataDirectory, "--account", "THR", directory + "/answer.eml"])
        #expect(answered.0 == 0, "\(answered.2)")

        let (reopened, after) = try await scratch.openStore()
        let messages = try await after.tickets.messages(ticketId: ticketId)
        await reopened.close()
        #expect(messages.map(\.direction) == [.inbound, .outbound, .inbound], "the answer joined the ticket the reply came from")
        #expect(messages.last?.subject == "Still nothing here")
    }

    func write(_ path: String, _ text: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The file smtp-sink wrote for the message whose Message-ID contains `marker`.
    func receivedFile(in directory: String, containing marker: String) async throws -> String {
        for _ in 0..<300 {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
                let path = directory + "/" + name
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
                let ids = text.split(separator: "\n").filter { $0.lowercased().hasPrefix("message-id:") }
                if ids.contains(where: { $0.contains(marker) }) { return path }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServeCommandTests.Missing(description: "smtp-sink received no message with \(marker) within 30 s")
    }
}
