import ExchangeClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import MailroomApp
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWeb
import MailroomWorkers
import Testing

/// The Exchange metrics as an operator reads them at `/metrics`: messages fetched and sent per
/// protocol, after a Graph fetch round and a Graph send against the local Graph server.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_GRAPH_URL"))) struct ExchangeMetricsTests {
    static func value(_ text: String, _ name: String, protocol protocolName: String) -> Int {
        text.split(separator: "\n").filter { $0.hasPrefix(name) && $0.contains(#"protocol="\#(protocolName)""#) }
            .compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }

    @Test func fetchedAndSentMessagesAreCountedPerProtocol() async throws {
        MailroomApplication.bootstrapMetrics()
        let admin = "exchange-metrics-token-0123456789"
        let logger = Logger(label: "exchange-metrics")
        let domain = TestServers.value("MAILROOM_TEST_EXCHANGE_DOMAIN") ?? "exchange.test"
        let mailbox = "metrics-\(UUID().uuidString.prefix(8).lowercased())@\(domain)"
        let quoted = mailbox.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? mailbox
        for index in 1...3 {
            _ = try await ExchangeCrashRecoveryTests.control(.POST, "/mailboxes/\(quoted)/messages",
                                                             ["subject": "Metrics \(index)", "from": "c\(index)@sender.test"])
        }
        try await TestDatabase.sqlite.withStore { store in
            let token = try TestServers.require("MAILROOM_TEST_EXCHANGE_TOKEN")
            var draft = Account(key: "MX", name: "Metrics", fromAddress: mailbox)
            var connection = ServerConnection(acceptAnyCertificate: true,
                                              auth: ServerAuth(method: .oauth2, username: mailbox,
                                                               oauth2: OAuth2Settings(email: mailbox, clientId: "mailroom-test", accessToken: Secret(token))),
                                              connectionTimeoutSeconds: 30)
            connection.baseURL = try TestServers.require("MAILROOM_TEST_GRAPH_URL")
            draft.incoming = IncomingServer(protocol: .graph, connection: connection, mailbox: "INBOX", fetchIntervalSeconds: 60)
            draft.outgoing = OutgoingServer(protocol: .graph, connection: connection, sentFolder: "sentitems")
            let account = try await store.accounts.create(draft)

            let router = APIRouter.build(WebDependencies(store: store, adminToken: admin, metricsText: MailroomApplication.metricsText))
            try await Application(router: router).test(.router) { client in
                func metrics() async throws -> String {
                    String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                }
                let before = try await metrics()
                let fetcher = ExchangeFetcher(account: account,
                                              source: GraphMailboxSource(account: account, credentials: AccountCredentialSource(accounts: store.accounts)),
                                              pipeline: IngestPipeline(store: store.ingest, logger: logger), fetchState: store.fetchState,
                                              quarantine: store.quarantine, status: AccountStatusBoard(), logger: logger)
                #expect(try await fetcher.round() == 3)
                let ticket = try #require(try await store.tickets.tickets(.init(accountIds: [account.id])).items.first)
                var builder = MessageBuilder(from: Mailbox(name: "Desk", address: mailbox))
                builder.to = [Mailbox(address: "customer@outside.test")]
                builder.subject = "Re: Metrics"
                builder.text = "Counted."
                let raw = builder.withGeneratedMessageID().build()
                _ = try await store.outbox.enqueue(try InboundMailParser.parse(raw), raw: raw, ticketId: ticket.id, sendingAccountId: account.id,
                                                   envelopeFrom: mailbox, recipients: ["customer@outside.test"])
                #expect(await OutboxSender(store: store, logger: logger, owner: "metrics").sendDue() == 1)
                let after = try await metrics()
                let fetched = "mailroom_exchange_fetched_messages_total"
                let sent = "mailroom_exchange_sent_messages_total"
                // Other tests in this process may count too: at least this test's own.
                #expect(Self.value(after, fetched, protocol: "graph") - Self.value(before, fetched, protocol: "graph") >= 3, "\(after)")
                #expect(Self.value(after, sent, protocol: "graph") - Self.value(before, sent, protocol: "graph") >= 1)
                #expect(after.contains("# TYPE \(fetched) counter") && after.contains("# TYPE \(sent) counter"))
            }
        }
    }
}
