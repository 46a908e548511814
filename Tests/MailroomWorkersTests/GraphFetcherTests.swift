import ExchangeClient
import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// Mailroom's Graph fetcher against the local Graph server (Tests/ExchangeServers).
@Suite(.enabled(if: ExchangeServers.available)) struct GraphFetcherTests {
    static func fetcher(_ account: Account, store: SQLStore, pageSize: Int = 200, batchSize: Int = 50,
                        status: AccountStatusBoard = AccountStatusBoard()) throws -> ExchangeFetcher {
        let token = try ExchangeServers.token()
        let connection = account.incoming.connection
        let client = GraphClient(baseURL: connection.graphBaseURL, mailbox: account.fromAddress, acceptAnyCertificate: true,
                                 pageSize: pageSize) { _ in "Bearer \(token)" }
        return ExchangeFetcher(account: account, source: GraphMailboxSource(client: client, folder: account.incoming.mailbox),
                               pipeline: IngestPipeline(store: store.ingest, logger: quietLogger), fetchState: store.fetchState,
                               quarantine: store.quarantine, status: status, logger: quietLogger, batchSize: batchSize)
    }

    static func messages(_ range: ClosedRange<Int>, tag: String) -> [String] {
        range.map { mailText(from: "c\($0)@example.com", subject: "\(tag) \($0)", messageId: "\(tag)-\($0)-\(UUID().uuidString)@x") }
    }

    @Test func deltaRoundsFollowPagesAndTakeEachMessageOnce() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in Self.messages(1...25, tag: "Delta") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox))
            let fetcher = try Self.fetcher(account, store: store, pageSize: 7, batchSize: 10)
            #expect(try await fetcher.round() == 25)
            #expect(try await messageCount(store, accountId: account.id) == 25)
            let link = try await store.fetchState.exchangeSyncState(accountId: account.id, folder: "INBOX")
            #expect(link?.contains("$deltatoken=") == true)
            #expect(try await fetcher.round() == 0, "nothing new, nothing downloaded")
            for mime in Self.messages(26...27, tag: "Delta") { try await ExchangeServers.add(mime, to: mailbox) }
            #expect(try await fetcher.round() == 2)
            #expect(try await messageCount(store, accountId: account.id) == 27)
            #expect(try await ExchangeServers.messages(in: mailbox).count == 27, "left in the folder without deleteOnFetch")
            #expect(try await store.fetchState.exchangeItemsTaken(accountId: account.id).count == 27)
        }
    }

    @Test func anExpiredDeltaLinkResynchronisesWithoutDuplicates() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in Self.messages(1...5, tag: "Gone") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox))
            let fetcher = try Self.fetcher(account, store: store, pageSize: 2)
            #expect(try await fetcher.round() == 5)
            try await ExchangeServers.expireSyncStates(mailbox, protocol: "graph")
            for mime in Self.messages(6...6, tag: "Gone") { try await ExchangeServers.add(mime, to: mailbox) }
            #expect(try await fetcher.round() == 1, "the full listing takes only the new message")
            #expect(try await messageCount(store, accountId: account.id) == 6)
            #expect(try await ticketCount(forAccount: account.id, store) == 6)
        }
    }

    @Test func deleteOnFetchEmptiesTheFolderOnlyAfterTheCommit() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in Self.messages(1...12, tag: "Del") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox) { $0.incoming.deleteOnFetch = true })
            let fetcher = try Self.fetcher(account, store: store, batchSize: 5)
            #expect(try await fetcher.round() == 12)
            #expect(try await ExchangeServers.messages(in: mailbox).isEmpty)
            #expect(try await ExchangeServers.messages(in: mailbox, folder: "deleteditems").count == 12, "Graph's DELETE moves to Deleted Items")
            #expect(try await fetcher.round() == 0)
            #expect(try await messageCount(store, accountId: account.id) == 12)
        }
    }

    /// A crash between the commit and the delete: the next round replays the old delta link, finds
    /// the taken messages still there, and deletes them without taking them again.
    @Test func messagesCommittedButNotDeletedBeforeACrashAreDeletedNextRound() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in Self.messages(1...4, tag: "Crash") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox) { $0.incoming.deleteOnFetch = true })
            // The deletes fail as a dead process would not send them.
            try await ExchangeServers.fault(mailbox: mailbox, kind: "status", match: "delete", count: 1, extra: ["status": 500])
            let fetcher = try Self.fetcher(account, store: store, batchSize: 4)
            await #expect(throws: ExchangeError.self) { try await fetcher.round() }
            #expect(try await messageCount(store, accountId: account.id) == 4, "committed before the delete failed")
            #expect(try await store.fetchState.exchangeSyncState(accountId: account.id, folder: "INBOX") == nil, "the state waits for the deletes")
            #expect(try await fetcher.round() == 0)
            #expect(try await ExchangeServers.messages(in: mailbox).isEmpty)
            #expect(try await messageCount(store, accountId: account.id) == 4)
        }
    }

    @Test func fetchLastDaysSkipsOlderMail() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            let messages = Self.messages(1...2, tag: "Window")
            try await ExchangeServers.add(messages[0], to: mailbox, receivedDateTime: Date().addingTimeInterval(-10 * 86_400))
            try await ExchangeServers.add(messages[1], to: mailbox)
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox) { $0.incoming.fetchLastDays = 3 })
            #expect(try await Self.fetcher(account, store: store).round() == 1)
            #expect(try await store.tickets.tickets(.init()).items.map(\.subject).contains("Window 2"))
        }
    }

    @Test func aVanishedMessageThrottlingAndAnExpiredTokenLoseNothing() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in Self.messages(1...6, tag: "Fault") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox))
            try await ExchangeServers.fault(mailbox: mailbox, kind: "throttle", match: "delta", extra: ["retryAfter": 1])
            try await ExchangeServers.fault(mailbox: mailbox, kind: "unauthorized", match: "mime")
            try await ExchangeServers.fault(mailbox: mailbox, kind: "vanish", match: "mime")
            let fetcher = try Self.fetcher(account, store: store, batchSize: 2)
            let taken = try await fetcher.round()
            #expect(taken == 5, "one message vanished between the listing and its download")
            #expect(try await fetcher.round() == 0)
            #expect(try await ExchangeServers.messages(in: mailbox).count == 5)
        }
    }

    @Test func malformedAnswersAndCutDownloadsFailTheRoundAndTheNextTakesAll() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in Self.messages(1...3, tag: "Bad") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox))
            let fetcher = try Self.fetcher(account, store: store, batchSize: 1)
            try await ExchangeServers.fault(mailbox: mailbox, kind: "malformed", match: "delta")
            do {
                try await fetcher.round()
                Issue.record("a malformed delta page must fail the round")
            } catch let error as ExchangeError {
                #expect(error.kind == .malformedResponse)
            }
            try await ExchangeServers.fault(mailbox: mailbox, kind: "truncate", match: "mime")
            await #expect(throws: ExchangeError.self) { try await fetcher.round() }
            _ = try? await fetcher.round()
            #expect(try await messageCount(store, accountId: account.id) == 3)
            #expect(try await fetcher.round() == 0)
        }
    }

    @Test func aPoisonMessageAmongAHundredGoodOnesBlocksNothing() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            var batch = Self.messages(1...50, tag: "Good")
            batch.append(mailText(subject: "Poison", messageId: "poison-\(UUID().uuidString)@x", body: String(repeating: "☠", count: 10_000)))
            batch += Self.messages(51...100, tag: "Good")
            for mime in batch { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox) {
                $0.incoming.maxMessageBytes = 8_192
                $0.incoming.deleteOnFetch = true
            })
            try await Self.fetcher(account, store: store).round()
            #expect(try await messageCount(store, accountId: account.id) == 100)
            #expect(try await store.quarantine.quarantined(accountId: account.id).map(\.subject) == ["Poison"])
            let left = try await ExchangeServers.messages(in: mailbox)
            #expect(left.count == 1, "the message too large to fetch stays in the folder while its quarantine entry exists")
        }
    }

    @Test func theFetcherRunsFromTheStatusBoardsPointOfView() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in Self.messages(1...3, tag: "Run") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.graphAccount(mailbox))
            let status = AccountStatusBoard()
            let fetcher = try Self.fetcher(account, store: store, status: status)
            let task = Task { await fetcher.run() }
            defer { task.cancel() }
            #expect(try await eventually(timeout: .seconds(60)) { try await messageCount(store, accountId: account.id) == 3 })
            try await ExchangeServers.add(Self.messages(4...4, tag: "Run")[0], to: mailbox)
            #expect(try await eventually(timeout: .seconds(60)) { try await messageCount(store, accountId: account.id) == 4 })
            #expect(status.status(of: account.id)?.connected == true)
            try await ExchangeServers.fault(mailbox: mailbox, kind: "status", match: "delta", count: 50,
                                            extra: ["status": 403, "code": "ErrorAccessDenied"])
            #expect(try await eventually { status.status(of: account.id)?.lastError != nil })
            let text = status.status(of: account.id)?.lastError ?? ""
            #expect(text.contains("ErrorAccessDenied") && text.contains("may not open the mailbox"), "\(text)")
            #expect(!text.contains(try ExchangeServers.token()))
            try await ExchangeServers.control(.DELETE, "/faults?mailbox=\(ExchangeServers.quoted(mailbox))")
        }
    }

    func ticketCount(forAccount id: String, _ store: SQLStore) async throws -> Int {
        try await store.tickets.tickets(.init(accountIds: [id], limit: 500)).items.count
    }
}
