import ExchangeClient
import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// Mailroom's EWS fetcher against the local EWS server (Tests/ExchangeServers).
@Suite(.enabled(if: ExchangeServers.available)) struct EWSFetcherTests {
    static func fetcher(_ account: Account, store: SQLStore, maxChanges: Int = 512, batchSize: Int = 50) throws -> ExchangeFetcher {
        let password = try ExchangeServers.password()
        let mailbox = account.fromAddress
        let basic = "Basic " + Data("\(mailbox):\(password)".utf8).base64EncodedString()
        let client = EWSClient(url: try ExchangeServers.ewsURL(), mailbox: mailbox, acceptAnyCertificate: true, maxChanges: maxChanges,
                               batchSize: 10) { _ in basic }
        return ExchangeFetcher(account: account, source: EWSMailboxSource(client: client, folder: account.incoming.mailbox),
                               pipeline: IngestPipeline(store: store.ingest, logger: quietLogger), fetchState: store.fetchState,
                               quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger, batchSize: batchSize)
    }

    @Test func syncRoundsPageAndTakeEachMessageOnce() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in GraphFetcherTests.messages(1...23, tag: "Sync") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.ewsAccount(mailbox))
            let fetcher = try Self.fetcher(account, store: store, maxChanges: 5, batchSize: 7)
            #expect(try await fetcher.round() == 23)
            #expect(try await store.fetchState.exchangeSyncState(accountId: account.id, folder: "INBOX") != nil)
            #expect(try await fetcher.round() == 0)
            for mime in GraphFetcherTests.messages(24...25, tag: "Sync") { try await ExchangeServers.add(mime, to: mailbox) }
            #expect(try await fetcher.round() == 2)
            #expect(try await messageCount(store, accountId: account.id) == 25)
            #expect(try await ExchangeServers.messages(in: mailbox).count == 25)
        }
    }

    @Test func anInvalidSyncStateResynchronisesWithoutDuplicates() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in GraphFetcherTests.messages(1...4, tag: "State") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.ewsAccount(mailbox))
            let fetcher = try Self.fetcher(account, store: store, maxChanges: 3)
            #expect(try await fetcher.round() == 4)
            try await ExchangeServers.expireSyncStates(mailbox, protocol: "ews")
            for mime in GraphFetcherTests.messages(5...5, tag: "State") { try await ExchangeServers.add(mime, to: mailbox) }
            #expect(try await fetcher.round() == 1)
            #expect(try await messageCount(store, accountId: account.id) == 5)
        }
    }

    @Test func deleteOnFetchEmptiesTheFolderAndAPoisonMessageBlocksNothing() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            var batch = GraphFetcherTests.messages(1...50, tag: "Good")
            batch.append(mailText(subject: "Poison", messageId: "poison-\(UUID().uuidString)@x", body: String(repeating: "☠", count: 10_000)))
            batch += GraphFetcherTests.messages(51...100, tag: "Good")
            for mime in batch { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.ewsAccount(mailbox) {
                $0.incoming.maxMessageBytes = 8_192
                $0.incoming.deleteOnFetch = true
            })
            let fetcher = try Self.fetcher(account, store: store, maxChanges: 40, batchSize: 30)
            try await fetcher.round()
            #expect(try await messageCount(store, accountId: account.id) == 100)
            #expect(try await store.quarantine.quarantined(accountId: account.id).map(\.subject) == ["Poison"])
            #expect(try await ExchangeServers.messages(in: mailbox).count == 1, "only the message too large to fetch stays")
            #expect(try await ExchangeServers.messages(in: mailbox, folder: "deleteditems").count == 100)
            #expect(try await fetcher.round() == 0)
        }
    }

    @Test func busyServersVanishedItemsAndFaultsLoseNothing() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in GraphFetcherTests.messages(1...6, tag: "Busy") { try await ExchangeServers.add(mime, to: mailbox) }
            let account = try await store.accounts.create(try ExchangeServers.ewsAccount(mailbox))
            try await ExchangeServers.fault("ews", mailbox: mailbox, kind: "throttle", match: "SyncFolderItems", extra: ["backOffMs": 300])
            try await ExchangeServers.fault("ews", mailbox: mailbox, kind: "vanish", match: "GetItem")
            let fetcher = try Self.fetcher(account, store: store)
            #expect(try await fetcher.round() == 5, "one item vanished between the sync and GetItem")
            try await ExchangeServers.add(GraphFetcherTests.messages(7...7, tag: "Busy")[0], to: mailbox)
            try await ExchangeServers.fault("ews", mailbox: mailbox, kind: "soapFault", match: "GetItem", extra: ["code": "ErrorInternalServerError"])
            do {
                try await fetcher.round()
                Issue.record("a SOAP fault must fail the round")
            } catch let error as ExchangeError {
                #expect(error.kind == .serverError)
                #expect(error.code == "ErrorInternalServerError")
            }
            try await ExchangeServers.fault("ews", mailbox: mailbox, kind: "malformed", match: "SyncFolderItems")
            await #expect(throws: ExchangeError.self) { try await fetcher.round() }
            #expect(try await fetcher.round() == 1)
            #expect(try await messageCount(store, accountId: account.id) == 6)
        }
    }

    @Test func aWrongPasswordIsUnauthorizedWithoutTheSecret() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            let basic = "Basic " + Data("\(mailbox):definitely-wrong".utf8).base64EncodedString()
            let client = EWSClient(url: try ExchangeServers.ewsURL(), mailbox: mailbox, acceptAnyCertificate: true) { _ in basic }
            do {
                _ = try await client.syncRound(.distinguished("inbox", mailbox: mailbox), savedState: nil)
                Issue.record("a wrong password must be refused")
            } catch let error as ExchangeError {
                #expect(error.kind == .unauthorized)
                #expect(!error.description.contains("definitely-wrong"))
            }
        }
    }

    /// Streaming notifications bring new mail without waiting for the (two-minute) interval, also
    /// after the server ended the stream and after it dropped the subscription.
    @Test func pushBringsNewMailWithoutWaitingForTheInterval() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            try await ExchangeServers.add(GraphFetcherTests.messages(1...1, tag: "Push")[0], to: mailbox)
            let account = try await store.accounts.create(try ExchangeServers.ewsAccount(mailbox) { $0.incoming.fetchIntervalSeconds = 120 })
            let fetcher = try Self.fetcher(account, store: store)
            let task = Task { await fetcher.run() }
            defer { task.cancel() }
            #expect(try await Self.waitFor(1, messagesOf: account.id, in: store))
            try await Task.sleep(for: .milliseconds(500)) // the subscription and its stream are in place
            for (round, disturbance) in ["none", "close", "expire"].enumerated() {
                if disturbance == "close" { try await ExchangeServers.control(.POST, "/ews/streams/close", ["mailbox": mailbox], server: "ews") }
                if disturbance == "expire" { try await ExchangeServers.control(.POST, "/ews/subscriptions/expire", [:], server: "ews") }
                if disturbance != "none" { try await Task.sleep(for: .seconds(1)) }
                let start = ContinuousClock.now
                try await ExchangeServers.add(GraphFetcherTests.messages(2...2, tag: "Push \(round)")[0], to: mailbox)
                let arrived = try await Self.waitFor(round + 2, messagesOf: account.id, in: store)
                #expect(arrived, "after \(disturbance)")
                print("EWS push latency after \(disturbance): \(ContinuousClock.now - start)")
            }
        }
    }

    /// Generous (the suite shares two cores with Python servers); the interval is 120 s, so a
    /// message that arrives within this wait came by push.
    static func waitFor(_ count: Int, messagesOf accountId: String, in store: SQLStore) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if try await messageCount(store, accountId: accountId) == count { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}
