import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWorkers
import Synchronization
import Testing

/// The recorder behind the sender's group commit, on its own.
@Suite struct OutcomeRecorderTests {
    static func outcome(_ index: Int) -> OutboxOutcome {
        let item = OutboxItem(id: "o\(index)", ticketId: "t", messageId: "m\(index)", accountId: "a", nextAttemptAt: nil,
                              envelopeFrom: "desk@example.com", recipients: ["ann@example.com"], rawSha256: "h\(index)", createdAt: Date())
        return OutboxOutcome(item: item, attempt: OutboxAttempt(outboxId: item.id, attemptedAt: Date(), outcome: .sent, replyCode: 250,
                                                                enhancedStatus: nil, text: "ok", errorClass: nil, policy: nil,
                                                                nextAttemptAt: nil),
                             state: .sent)
    }

    @Test func outcomesHandedInDuringAWriteGoTogetherInTheNextOneInOrder() async throws {
        let recorder = OutcomeRecorder(maxGroup: 3)
        let groups = Mutex<[[String]]>([])
        let (gate, open) = AsyncStream<Void>.makeStream()
        let writer = Task {
            var gates = gate.makeAsyncIterator()
            await recorder.run { group in
                groups.withLock { $0.append(group.map(\.item.id)) }
                _ = await gates.next() // each write waits until the test lets it finish
            }
        }
        #expect(recorder.submit(Self.outcome(0)) == 1)
        while groups.withLock({ $0.count }) < 1 { await Task.yield() }
        // The first write is under way: these wait for the next ones, at most three at a time.
        for index in 1...4 { #expect(recorder.submit(Self.outcome(index)) == index + 1) }
        let waiting = Task { await recorder.waitUntilRecorded(4) }
        open.yield()
        while groups.withLock({ $0.count }) < 2 { await Task.yield() }
        open.yield()
        await waiting.value
        recorder.finish()
        open.yield()
        await writer.value
        #expect(groups.withLock { $0 } == [["o0"], ["o1", "o2", "o3"], ["o4"]])
        await recorder.waitUntilRecorded(5)
    }

    @Test func finishingWithNothingHandedInEndsTheWriter() async {
        let recorder = OutcomeRecorder()
        let writer = Task { await recorder.run { _ in Issue.record("nothing to write") } }
        recorder.finish()
        await writer.value
        await recorder.waitUntilRecorded(0)
    }
}

/// Sending many messages over several connections with group commit, against smtp-sink.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_SMTP_SINK_DUMP_PORT"))) struct OutboxGroupCommitSenderTests {
    func account(_ store: SQLStore, key: String, portVariable: String) async throws -> Account {
        var account = Account(key: key, name: "Group commit \(key) \(UUID().uuidString)", fromAddress: "desk@example.com", fromName: "Desk")
        account.outgoing = OutboxSenderTests.smtp(host: "127.0.0.1", port: Int(try TestServers.require(portVariable))!)
        return try await store.accounts.create(account)
    }

    /// Queues `count` replies from `account`, each with its own Message-ID under `domain`.
    func queue(_ store: SQLStore, account: Account, count: Int, domain: String) async throws -> [OutboxItem] {
        let customer = try InboundMailParser.parse(Array(mailText(subject: "Question", messageId: "q-\(UUID().uuidString)@x").utf8))
        let ticketId = try #require(try await store.ingest.ingest(customer, raw: [1], account: account, position: nil).ticketId)
        var items: [OutboxItem] = []
        for index in 0..<count {
            var builder = MessageBuilder(from: Mailbox(name: "Desk", address: "desk@example.com"))
            builder.to = [Mailbox(address: "ann@example.com")]
            builder.subject = "Re: Question \(index)"
            builder.text = "Answer \(index)\n" + String(repeating: "Some text of a realistic reply.\n", count: 40)
            builder.messageID = "\(account.key)-\(index)@\(domain)"
            let raw = builder.build()
            let (_, item) = try await store.outbox.enqueue(try InboundMailParser.parse(raw), raw: raw, ticketId: ticketId,
                                                           sendingAccountId: account.id, envelopeFrom: "desk@example.com",
                                                           recipients: ["ann@example.com"])
            items.append(item)
        }
        return items
    }

    /// How often each Message-ID under `domain` reached the dumping sink.
    static func received(domain: String) throws -> [String: Int] {
        let directory = try TestServers.require("MAILROOM_TEST_SMTP_SINK_DUMP_DIR")
        var counts: [String: Int] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            guard let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8), text.contains("@\(domain)>") else { continue }
            for line in text.split(separator: "\n") where line.lowercased().hasPrefix("message-id:") {
                counts[String(line.dropFirst("message-id:".count)).trimmingCharacters(in: .whitespacesAndNewlines), default: 0] += 1
            }
        }
        return counts
    }

    @Test func manyMessagesOverSeveralConnectionsAreEachSentAndRecordedOnce() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let domain = "gc-\(UUID().uuidString.prefix(8).lowercased()).example"
            let account = try await account(store, key: "GC", portVariable: "MAILROOM_TEST_SMTP_SINK_DUMP_PORT")
            let items = try await queue(store, account: account, count: 120, domain: domain)
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "gc", batchSize: 25, connectionsPerAccount: 4)
            #expect(await sender.sendAllDue() == 120)
            let sent = try await store.outbox.items(state: .sent, limit: 500)
            #expect(Set(sent.map(\.id)) == Set(items.map(\.id)), "every row is recorded when sendAllDue returns")
            for item in items.prefix(10) {
                #expect(try await store.outbox.attempts(outboxId: item.id).map(\.outcome) == [.sent])
                #expect(try await store.tickets.message(id: item.messageId)?.deliveryState == .sent)
            }
            #expect(await sender.sendAllDue() == 0, "nothing is sent twice")
            // smtp-sink writes its dump files as it goes; give the last ones a moment.
            var received: [String: Int] = [:]
            for _ in 0..<50 {
                received = try Self.received(domain: domain)
                if received.count == 120 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(received.count == 120)
            #expect(received.values.allSatisfy { $0 == 1 }, "each message reached the server once")
        }
    }

    @Test func aBatchMixingAccountsAndFailuresRecordsEachOutcome() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let domain = "gcmix-\(UUID().uuidString.prefix(8).lowercased()).example"
            let good = try await account(store, key: "OK", portVariable: "MAILROOM_TEST_SMTP_SINK_DUMP_PORT")
            let rejecting = try await account(store, key: "NO", portVariable: "MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT")
            let goodItems = try await queue(store, account: good, count: 15, domain: domain)
            let rejectedItems = try await queue(store, account: rejecting, count: 15, domain: domain)
            // Zero: each outcome is recorded before the connection goes on, as without group commit.
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "gc", batchSize: 1_000, connectionsPerAccount: 3,
                                      unrecordedPerConnection: 0)
            #expect(await sender.sendDue() == 30)
            for item in goodItems {
                #expect(try await store.outbox.item(id: item.id)?.state == .sent)
            }
            for item in rejectedItems {
                #expect(try await store.outbox.item(id: item.id)?.state == .failed)
                let attempts = try await store.outbox.attempts(outboxId: item.id)
                #expect(attempts.map(\.errorClass) == [.addressing])
            }
        }
    }

    /// A server that hangs up after each message's content: each message fails once, with an
    /// attempt of its own. The message whose envelope was pipelined behind the one that got no reply
    /// is not counted as a try: it goes out first over the next connection.
    @Test(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_SMTP_SINK_DISCONNECT_DOT_PORT")))
    func aMessageLeftInThePipelineByAHangUpGoesOutOverTheNextConnection() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let account = try await account(store, key: "HU", portVariable: "MAILROOM_TEST_SMTP_SINK_DISCONNECT_DOT_PORT")
            let items = try await queue(store, account: account, count: 4, domain: "hang-up.example")
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "gc", connectionsPerAccount: 1)
            #expect(await sender.sendDue() == 4)
            for item in items {
                let attempts = try await store.outbox.attempts(outboxId: item.id)
                #expect(attempts.map(\.errorClass) == [.connection], "one try each: \(attempts.map(\.text))")
                #expect(try await store.outbox.item(id: item.id)?.state == .retrying)
            }
        }
    }
}
