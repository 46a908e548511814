import ExchangeClient
import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWorkers
import Testing

/// benchmarks/exchange/run.sh runs these with MAILROOM_BENCH_GRAPH_MAILBOX and MAILROOM_BENCH_EWS_MAILBOX
/// naming mailboxes it filled, and MAILROOM_BENCH_SENDS: Mailroom's ingest of every message there
/// (into SQLite, without deleting) and its sending of that many replies, each timed.
@Suite(.enabled(if: TestServers.value("MAILROOM_BENCH_GRAPH_MAILBOX") != nil), .serialized) struct ExchangeBenchmarkTests {
    /// `graph-single`: Graph without `$batch` (each `$value` its own request, four at a time), for the before and after.
    @Test(arguments: ["graph", "graph-single", "ews"])
    func ingest(protocolName: String) async throws {
        let graph = protocolName.hasPrefix("graph")
        let mailbox = try TestServers.require(graph ? "MAILROOM_BENCH_GRAPH_MAILBOX" : "MAILROOM_BENCH_EWS_MAILBOX")
        try await TestDatabase.sqlite.withStore { store in
            let account = try await store.accounts.create(graph ? try ExchangeServers.graphAccount(mailbox)
                                                          : try ExchangeServers.ewsAccount(mailbox))
            let source: any ExchangeMailboxSource = graph
                ? GraphMailboxSource(account: account, credentials: AccountCredentialSource(accounts: store.accounts),
                                     batching: protocolName == "graph")
                : EWSMailboxSource(account: account, credentials: AccountCredentialSource(accounts: store.accounts))
            let fetcher = ExchangeFetcher(account: account, source: source, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                          fetchState: store.fetchState, quarantine: store.quarantine, status: AccountStatusBoard(),
                                          logger: quietLogger)
            let start = ContinuousClock.now
            let count = try await fetcher.round()
            let seconds = Double((ContinuousClock.now - start) / .milliseconds(1)) / 1000
            print(String(format: "BENCH mailroom %@-read %d messages %.2f s %.1f msg/s", protocolName, count, seconds, Double(count) / seconds))
            #expect(count > 0)
        }
    }

    @Test(arguments: ["graph", "ews"])
    func send(protocolName: String) async throws {
        let count = Int(TestServers.value("MAILROOM_BENCH_SENDS") ?? "1000") ?? 1000
        try await TestDatabase.sqlite.withStore { store in
            let desk = ExchangeServers.newMailbox()
            let account = try await store.accounts.create(protocolName == "graph" ? try ExchangeServers.graphAccount(desk)
                                                          : try ExchangeServers.ewsAccount(desk))
            let customer = try InboundMailParser.parse(Array(mailText(subject: "Question", messageId: "q-\(UUID().uuidString)@x").utf8))
            let ticketId = try #require(try await store.ingest.ingest(customer, raw: [1], account: account, position: nil).ticketId)
            for index in 0..<count {
                var builder = MessageBuilder(from: Mailbox(name: "Desk", address: desk))
                builder.to = [Mailbox(address: "customer-\(index)@outside.test")]
                builder.subject = "Reply \(index)"
                builder.text = "Here is the answer \(index)."
                let raw = builder.withGeneratedMessageID().build()
                _ = try await store.outbox.enqueue(try InboundMailParser.parse(raw), raw: raw, ticketId: ticketId, sendingAccountId: account.id,
                                                   envelopeFrom: desk, recipients: ["customer-\(index)@outside.test"])
            }
            let sender = OutboxSender(store: store, logger: quietLogger, owner: "bench")
            let start = ContinuousClock.now
            let sent = await sender.sendAllDue()
            let seconds = Double((ContinuousClock.now - start) / .milliseconds(1)) / 1000
            print(String(format: "BENCH mailroom %@-send %d messages %.2f s %.1f msg/s", protocolName, sent, seconds, Double(sent) / seconds))
            #expect(sent == count)
        }
    }
}
