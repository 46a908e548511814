import ExchangeClient
import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// Graph `$batch` for downloads and deletes, against the local Graph server: fewer round trips,
/// and one failing request inside a batch does not fail the others.
@Suite(.enabled(if: ExchangeServers.available)) struct GraphBatchTests {
    /// The server's log of Graph requests after `since` that concern the mailbox (batches by the
    /// requests inside them).
    static func requests(since: Int, mailbox: String) async throws -> [[String: Any]] {
        let log = try await ExchangeServers.control(.GET, "/requests?since=\(since)") as? [String: Any]
        let entries = log?["requests"] as? [[String: Any]] ?? []
        let needle = "/users/\(mailbox.lowercased())/"
        func concerns(_ entry: [String: Any]) -> Bool {
            if let inner = entry["requests"] as? [[String: Any]] { return inner.contains(where: concerns) }
            return ((entry["path"] as? String)?.lowercased() ?? "").contains(needle)
        }
        return entries.filter { $0["server"] as? String == "graph" && concerns($0) }
    }

    static func lastRequest() async throws -> Int {
        ((try await ExchangeServers.control(.GET, "/requests?since=999999999") as? [String: Any])?["last"] as? Int) ?? 0
    }

    static func client(_ mailbox: String, maxInlineWait: Duration = .seconds(10)) throws -> GraphClient {
        let token = try ExchangeServers.token()
        return GraphClient(baseURL: try ExchangeServers.graphURL(), mailbox: mailbox, acceptAnyCertificate: true,
                           maxInlineWait: maxInlineWait) { _ in "Bearer \(token)" }
    }

    static func fetcher(_ account: Account, store: SQLStore, maxInlineWait: Duration = .seconds(10), batchSize: Int = 50) throws -> ExchangeFetcher {
        ExchangeFetcher(account: account, source: GraphMailboxSource(client: try client(account.fromAddress, maxInlineWait: maxInlineWait),
                                                                      folder: account.incoming.mailbox),
                        pipeline: IngestPipeline(store: store.ingest, logger: quietLogger), fetchState: store.fetchState,
                        quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger, batchSize: batchSize)
    }

    @Test func downloadsAndDeletesGoTwentyARequest() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in GraphFetcherTests.messages(1...45, tag: "Batch") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox) { $0.incoming.deleteOnFetch = true })
            let since = try await Self.lastRequest()
            #expect(try await Self.fetcher(account, store: store).round() == 45)
            #expect(try await messageCount(store, accountId: account.id) == 45)
            #expect(try await ExchangeServers.messages(in: mailbox).isEmpty)
            #expect(try await ExchangeServers.messages(in: mailbox, folder: "deleteditems").count == 45)
            let log = try await Self.requests(since: since, mailbox: mailbox)
            let batches = log.filter { $0["operation"] as? String == "batch" }
            let inner = batches.flatMap { $0["requests"] as? [[String: Any]] ?? [] }
            #expect(inner.filter { $0["operation"] as? String == "mime" }.count == 45)
            #expect(inner.filter { $0["operation"] as? String == "delete" }.count == 45)
            #expect(batches.count == 6, "45 downloads in 3 batches (20, 20, 5) and 45 deletes in 3")
            #expect(!log.contains { $0["operation"] as? String == "mime" || $0["operation"] as? String == "delete" },
                    "no download or delete outside a batch")
        }
    }

    /// One message vanishes and one download is throttled inside the same batch: the others are
    /// taken, the throttled one is asked again (alone) after its Retry-After, the vanished one skipped.
    @Test func aVanishedAndAThrottledRequestInsideABatchDoNotFailTheOthers() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in GraphFetcherTests.messages(1...20, tag: "Inside") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox))
            try await ExchangeServers.fault(mailbox: mailbox, kind: "vanish", match: "mime")
            try await ExchangeServers.fault(mailbox: mailbox, kind: "throttle", match: "mime", extra: ["retryAfter": 1])
            let since = try await Self.lastRequest()
            let started = ContinuousClock.now
            #expect(try await Self.fetcher(account, store: store).round() == 19)
            #expect(ContinuousClock.now - started >= .seconds(1), "the throttled request waited its Retry-After")
            #expect(try await messageCount(store, accountId: account.id) == 19)
            let batches = try await Self.requests(since: since, mailbox: mailbox).filter { $0["operation"] as? String == "batch" }
            let sizes = batches.map { ($0["requests"] as? [[String: Any]] ?? []).count }
            #expect(sizes == [20, 1], "the batch, then the throttled request alone: \(sizes)")
            let statuses = batches.first.map { ($0["requests"] as? [[String: Any]] ?? []).compactMap { $0["status"] as? Int }.sorted() } ?? []
            #expect(statuses.filter { $0 == 200 }.count == 18 && statuses.contains(404) && statuses.contains(429), "\(statuses)")
            #expect(try await Self.fetcher(account, store: store).round() == 0)
        }
    }

    /// A throttling wait longer than the client waits in place ends the round with the server's
    /// wait; nothing of the batch is committed or lost, and the next round takes everything.
    @Test func aLongThrottleInsideABatchEndsTheRoundWithItsWait() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in GraphFetcherTests.messages(1...5, tag: "Long") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox))
            try await ExchangeServers.fault(mailbox: mailbox, kind: "throttle", match: "mime", extra: ["retryAfter": 30])
            let fetcher = try Self.fetcher(account, store: store, maxInlineWait: .seconds(2))
            do {
                try await fetcher.round()
                Issue.record("a 30 s throttle must end the round")
            } catch let error as ExchangeError {
                #expect(error.kind == .rateLimited)
                #expect(error.retryAfter == .seconds(30))
            }
            #expect(try await messageCount(store, accountId: account.id) == 0)
            #expect(try await fetcher.round() == 5)
        }
    }

    /// Deletes in a batch: one already gone (404) is fine, one throttled is sent again; a refused one
    /// (403) fails the round, and the state waits for the deletes.
    @Test func batchedDeletesTolerateGoneAndThrottledButNotRefused() async throws {
        let mailbox = ExchangeServers.newMailbox()
        var ids: [String] = []
        for mime in GraphFetcherTests.messages(1...6, tag: "Gone") { ids.append(try await ExchangeServers.add(mime, to: mailbox)) }
        let client = try Self.client(mailbox)
        try await client.delete(messageId: ids[0])  // moved to Deleted Items with a new id: the batch's is a 404
        try await ExchangeServers.fault(mailbox: mailbox, kind: "throttle", match: "delete", extra: ["retryAfter": 1])
        try await client.deleteBatched(ids)
        #expect(try await ExchangeServers.messages(in: mailbox).isEmpty)
        let more = try await ExchangeServers.add(GraphFetcherTests.messages(7...7, tag: "Gone")[0], to: mailbox)
        try await ExchangeServers.fault(mailbox: mailbox, kind: "status", match: "delete", extra: ["status": 403, "code": "ErrorAccessDenied"])
        do {
            try await client.deleteBatched([more])
            Issue.record("a refused delete must be thrown")
        } catch let error as ExchangeError {
            #expect(error.kind == .accessDenied)
        }
    }

    /// A batch whose answer would be larger than its messages may be together falls back to one
    /// request each, so only the large message is reported too large.
    @Test func aHugeMessageInABatchIsReportedAloneAsTooLarge() async throws {
        let mailbox = ExchangeServers.newMailbox()
        var ids: [String] = []
        for mime in GraphFetcherTests.messages(1...3, tag: "Huge") { ids.append(try await ExchangeServers.add(mime, to: mailbox)) }
        let large = try await ExchangeServers.control(.POST, "/mailboxes/\(ExchangeServers.quoted(mailbox))/messages/large",
                                                      ["bytes": 2_000_000]) as? [String: Any]
        ids.insert(try #require(large?["graphId"] as? String), at: 1)
        let downloads = try await Self.client(mailbox).mimeBatched(ids, maxBytes: 100_000)
        #expect(downloads.count == 4)
        guard case .tooLarge = downloads[1] else {
            Issue.record("the large message must be too large: \(downloads[1])")
            return
        }
        for index in [0, 2, 3] {
            guard case .message(let raw) = downloads[index] else {
                Issue.record("message \(index) must be downloaded")
                continue
            }
            #expect(String(decoding: raw, as: UTF8.self).contains("Huge"))
        }
    }
}
