import Foundation
import IMAPClient
import MailroomCore
@testable import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// The IMAP fetcher against the real Dovecot the test command starts.
@Suite(.enabled(if: Dovecot.available)) struct IMAPFetcherTests {
    /// Runs a fetcher for `account` while `body` runs, then stops it.
    func withFetcher(_ account: Account, store: SQLStore, status: AccountStatusBoard = AccountStatusBoard(),
                     batchPlan: FetchBatchPlan = FetchBatchPlan(stepCount: 20, maxCount: 30),
                     _ body: @Sendable (Account) async throws -> Void) async throws {
        let stored = try await store.accounts.create(account)
        let fetcher = IMAPFetcher(account: stored, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                  fetchState: store.fetchState, quarantine: store.quarantine, status: status, logger: quietLogger, batchPlan: batchPlan)
        let task = Task { await fetcher.run() }
        do {
            try await body(stored)
        } catch {
            task.cancel()
            await task.value
            throw error
        }
        task.cancel()
        await task.value
    }

    @Test func mailDeliveredWhileRunningBecomesTicketsAndStaysUnreadOnTheServer() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            try await Dovecot.deliver([mailText(subject: "Before start", messageId: "b1@x")], to: user)
            try await withFetcher(try Dovecot.account(user: user), store: store) { (account: Account) async throws in
                #expect(try await eventually { try await messageCount(store, accountId: account.id) == 1 })
                try await Dovecot.deliver([mailText(subject: "While running", messageId: "w1@x"),
                                           mailText(subject: "Re: While running", messageId: "w2@x", inReplyTo: "w1@x")], to: user)
                #expect(try await eventually { try await messageCount(store, accountId: account.id) == 3 })
                let tickets = try await store.tickets.tickets(.init()).items
                #expect(Set(tickets.map(\.subject)) == ["Before start", "While running"], "the reply joined its thread")
            }
            // deleteOnFetch is off: the messages stay, and Mailroom did not mark them read.
            let imap = try await Dovecot.connect(user: user)
            _ = try await imap.select("INBOX")
            #expect(try await imap.uidSearch(.all).count == 3)
            #expect(try await imap.uidSearch(.unseen).count == 3)
            await imap.logout()
        }
    }

    /// Motion's "Mailbox" setting: an account reads the folder it names, and only that one (here a
    /// folder with a space and a non-ASCII letter, sent as modified UTF-7), new mail there included.
    @Test func fetchesFromTheFolderTheAccountNamesNotInbox() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            let folder = "Support Ünterlagen"
            let imap = try await Dovecot.connect(user: user)
            try await imap.create(folder)
            _ = try await imap.append(to: folder, message: Array(mailText(subject: "In the folder", messageId: "f1@x").utf8), flags: [])
            _ = try await imap.append(to: "INBOX", message: Array(mailText(subject: "In the inbox", messageId: "i1@x").utf8), flags: [])
            await imap.logout()
            let account = try Dovecot.account(user: user) { $0.incoming.mailbox = folder }
            try await withFetcher(account, store: store) { (account: Account) async throws in
                #expect(try await eventually { try await messageCount(store, accountId: account.id) == 1 })
                let later = try await Dovecot.connect(user: user)
                _ = try await later.append(to: folder, message: Array(mailText(subject: "Later in the folder", messageId: "f2@x").utf8), flags: [])
                await later.logout()
                #expect(try await eventually { try await messageCount(store, accountId: account.id) == 2 })
                try await Task.sleep(for: .milliseconds(500))
                let subjects = Set(try await store.tickets.tickets(.init()).items.map(\.subject))
                #expect(subjects == ["In the folder", "Later in the folder"], "the inbox is not read")
            }
        }
    }

    @Test func idleDeliversNewMailWithoutWaitingForTheInterval() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            let status = AccountStatusBoard()
            let account = try Dovecot.account(user: user) { $0.incoming.fetchIntervalSeconds = 600 }
            try await withFetcher(account, store: store, status: status) { (account: Account) async throws in
                #expect(try await eventually { status.status(of: account.id)?.idle == true })
                try await Task.sleep(for: .milliseconds(300))
                let delivered = ContinuousClock.now
                try await Dovecot.deliver([mailText(subject: "Live", messageId: "live@x")], to: user)
                #expect(try await eventually(timeout: .seconds(10)) { try await messageCount(store, accountId: account.id) == 1 })
                let latency = ContinuousClock.now - delivered
                print("IDLE delivery latency: \(latency)")
                // The interval is 10 minutes: only IDLE can explain delivery within seconds.
                #expect(latency < .seconds(30))
            }
        }
    }

    @Test func deleteOnFetchRemovesOnlyWhatWasCommitted() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            try await Dovecot.deliver((1...5).map { mailText(subject: "Del \($0)", messageId: "del\($0)@x") }, to: user)
            let account = try Dovecot.account(user: user) {
                $0.incoming.deleteOnFetch = true
                $0.incoming.maxMessageBytes = 1_024
            }
            try await Dovecot.deliver([mailText(subject: "Too big", messageId: "big@x", body: String(repeating: "y", count: 3_000))], to: user)
            try await withFetcher(account, store: store) { (account: Account) async throws in
                #expect(try await eventually { try await messageCount(store, accountId: account.id) == 5 })
                #expect(try await eventually { try await Dovecot.inboxUIDs(user).isEmpty })
            }
            let quarantined = try await store.quarantine.quarantined()
            #expect(quarantined.count == 1, "the oversized one is quarantined, raw")
            #expect(try await store.rawMail.blob(sha256: quarantined[0].rawSha256!)?.count ?? 0 > 3_000)
        }
    }

    /// A message larger than a fetch takes into memory does not block the mailbox: it is listed in
    /// the quarantine (its header, no raw bytes) and left on the server, also with deleteOnFetch and
    /// across later rounds, until its entry is discarded.
    @Test func aMessageTooLargeToFetchIsListedAndLeftOnTheServer() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = try await Dovecot.userWithAHugeMessageBetweenTwo()
            let account = try Dovecot.account(user: user) {
                $0.incoming.deleteOnFetch = true
                $0.incoming.fetchIntervalSeconds = 1
            }
            let plan = FetchBatchPlan(stepCount: 20, maxCount: 30, messageLimit: 10_000)
            try await withFetcher(account, store: store, batchPlan: plan) { (account: Account) async throws in
                #expect(try await eventually { try await messageCount(store, accountId: account.id) == 2 })
                #expect(try await eventually { try await Dovecot.inboxUIDs(user).count == 1 })
                let entry = try #require(try await store.quarantine.quarantined().first)
                #expect(entry.reason == .tooLarge && entry.leftOnServer && entry.rawSha256 == nil)
                #expect(entry.subject == "Huge" && entry.from == "ann@example.com" && entry.size > 20_000)
                #expect(entry.detail.contains("left on the server"))
                // Later rounds (the interval is a second) leave it there.
                try await Task.sleep(for: .seconds(2.5))
                #expect(try await Dovecot.inboxUIDs(user).count == 1)
                #expect(try await store.quarantine.quarantined().count == 1)
                try await store.quarantine.deleteQuarantined(id: entry.id)
            }
            // Discarded, it goes with the fetcher's next session.
            let stored = try #require(try await store.accounts.list(includeDeleted: false).first)
            let fetcher = IMAPFetcher(account: stored, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                      fetchState: store.fetchState, quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger, batchPlan: plan)
            let task = Task { await fetcher.run() }
            defer { task.cancel() }
            #expect(try await eventually { try await Dovecot.inboxUIDs(user).isEmpty })
            #expect(try await messageCount(store, accountId: stored.id) == 2)
        }
    }

    /// A backlog is committed in batches the plan bounds by count and by bytes (with deleteOnFetch
    /// each batch's commit is a durable one, so the store counts them).
    @Test(arguments: [(maxBytes: 1 << 30, batches: 2), (maxBytes: 1, batches: 3)])
    func aBacklogIsCommittedInBatchesBoundedByCountAndBytes(maxBytes: Int, batches: Int) async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            try await Dovecot.deliver((1...45).map { mailText(subject: "Backlog \($0)", messageId: "backlog\($0)@x") }, to: user)
            let account = try Dovecot.account(user: user) { $0.incoming.deleteOnFetch = true }
            // 45 messages: 20 first; then 25 under the count bound of 30, or 20 and 5 when every step fills the byte bound.
            try await withFetcher(account, store: store, batchPlan: FetchBatchPlan(stepCount: 20, maxCount: 30, maxBytes: maxBytes)) {
                (account: Account) async throws in
                #expect(try await eventually { try await messageCount(store, accountId: account.id) == 45 })
                #expect(try await eventually { try await Dovecot.inboxUIDs(user).isEmpty })
            }
            #expect(store.database.durableCommits.load(ordering: .relaxed) == batches)
        }
    }

    @Test func fetchLastDaysLeavesOlderMailAlone() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            try await Dovecot.deliver([mailText(subject: "Recent", messageId: "recent@x")], to: user)
            try Dovecot.place(mailText(subject: "Old", messageId: "old@x"), name: "old", receivedDaysAgo: 30, for: user)
            let account = try Dovecot.account(user: user) { $0.incoming.fetchLastDays = 7 }
            try await withFetcher(account, store: store) { (account: Account) async throws in
                #expect(try await eventually { try await messageCount(store, accountId: account.id) == 1 })
                try await Task.sleep(for: .seconds(2))
                #expect(try await messageCount(store, accountId: account.id) == 1)
                #expect(try await store.tickets.tickets(.init()).items.map(\.subject) == ["Recent"])
            }
        }
    }

    /// Mail outside fetchLastDays below the high-water mark was never fetched: deleteOnFetch's sweep
    /// of committed-but-not-deleted mail at the start of a session must leave it alone.
    @Test func deleteOnFetchLeavesMailOutsideFetchLastDaysOnTheServer() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            try await Dovecot.deliver([mailText(subject: "First", messageId: "first@x")], to: user)
            try Dovecot.place(mailText(subject: "Old", messageId: "old2@x"), name: "old2", receivedDaysAgo: 30, for: user)
            #expect(try await Dovecot.inboxUIDs(user).count == 2, "the old message has its UID before the next one arrives")
            try await Dovecot.deliver([mailText(subject: "Recent", messageId: "recent2@x")], to: user)
            let stored = try await store.accounts.create(try Dovecot.account(user: user) {
                $0.incoming.fetchLastDays = 7
                $0.incoming.deleteOnFetch = true
            })
            for _ in 0..<2 {
                // Each run is a session of its own, starting with the sweep.
                let fetcher = IMAPFetcher(account: stored, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                          fetchState: store.fetchState, quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger)
                let task = Task { await fetcher.run() }
                #expect(try await eventually { try await Dovecot.inboxUIDs(user).count == 1 })
                try await Task.sleep(for: .seconds(1))
                task.cancel()
                await task.value
            }
            #expect(try await Dovecot.inboxUIDs(user).count == 1, "the old message is still there")
            #expect(Set(try await store.tickets.tickets(.init()).items.map(\.subject)) == ["First", "Recent"])
        }
    }

    @Test func aUIDValidityChangeResynchronisesWithoutDuplicates() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            try await Dovecot.deliver((1...3).map { mailText(subject: "V \($0)", messageId: "v\($0)@x") }, to: user)
            let account = try Dovecot.account(user: user)
            let stored = try await store.accounts.create(account)
            func runOnce(until count: Int) async throws {
                let fetcher = IMAPFetcher(account: stored, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                          fetchState: store.fetchState, quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger)
                let task = Task { await fetcher.run() }
                #expect(try await eventually { try await messageCount(store, accountId: stored.id) == count })
                try await Task.sleep(for: .seconds(2))
                task.cancel()
                await task.value
            }
            try await runOnce(until: 3)
            let before = try await store.fetchState.imapPosition(accountId: stored.id, folder: "INBOX")
            // Make Dovecot renumber the folder: forget its UID list and indexes.
            let maildir = try Dovecot.maildir(user)
            for name in try FileManager.default.contentsOfDirectory(atPath: maildir) where name.hasPrefix("dovecot") {
                try FileManager.default.removeItem(atPath: maildir + "/" + name)
            }
            try await Dovecot.deliver([mailText(subject: "V 4", messageId: "v4@x")], to: user)
            try await runOnce(until: 4)
            let after = try await store.fetchState.imapPosition(accountId: stored.id, folder: "INBOX")
            #expect(before?.uidValidity != after?.uidValidity)
            #expect(try await messageCount(store, accountId: stored.id) == 4)
        }
    }

    @Test func aPoisonMessageAmongAHundredGoodOnesBlocksNothing() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            var batch: [[UInt8]] = (1...50).map { Array(mailText(from: "c\($0)@example.com", subject: "Good \($0)", messageId: "g\($0)@x").utf8) }
            batch.append(Array(mailText(subject: "Poison", messageId: "poison@x", body: String(repeating: "☠", count: 10_000)).utf8))
            batch += (51...100).map { Array(mailText(from: "c\($0)@example.com", subject: "Good \($0)", messageId: "g\($0)@x").utf8) }
            try await Dovecot.deliver(bytes: batch, to: user)
            let account = try Dovecot.account(user: user) { $0.incoming.maxMessageBytes = 8_192 }
            try await withFetcher(account, store: store) { (account: Account) async throws in
                #expect(try await eventually(timeout: .seconds(60)) { try await messageCount(store, accountId: account.id) == 100 })
                #expect(try await store.quarantine.quarantined(accountId: account.id).map(\.subject) == ["Poison"])
                #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX")?.highWater == 101)
            }
        }
    }

    @Test func headerFiltersApplyToFetchedMail() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            try await Dovecot.deliver([
                mailText(subject: "Spam", messageId: "spam@x", extraHeaders: "X-Spam-Flag: YES\r\n"),
                mailText(subject: "Fine", messageId: "fine@x"),
            ], to: user)
            let account = try Dovecot.account(user: user) {
                $0.incoming.headerFilters = [HeaderFilter(header: "X-Spam-Flag", match: .equals, value: "yes", action: .skip)]
            }
            try await withFetcher(account, store: store) { (account: Account) async throws in
                #expect(try await eventually { try await messageCount(store, accountId: account.id) == 1 })
                try await Task.sleep(for: .seconds(1))
                #expect(try await store.tickets.tickets(.init()).items.map(\.subject) == ["Fine"])
            }
        }
    }

    @Test func aWrongPasswordIsReportedInTheStatusWithoutTheSecret() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let status = AccountStatusBoard()
            let account = try Dovecot.account(user: Dovecot.newUser()) {
                $0.incoming.connection.auth.password = Secret("definitely-wrong-password")
            }
            try await withFetcher(account, store: store, status: status) { (account: Account) async throws in
                #expect(try await eventually { status.status(of: account.id)?.lastError != nil })
                let error = status.status(of: account.id)?.lastError ?? ""
                #expect(!error.contains("definitely-wrong-password"))
                #expect(error.lowercased().contains("auth"), "\(error)")
                #expect(error.contains("check the user name and password"), "what to do about it: \(error)")
                #expect(status.status(of: account.id)?.connected == false)
            }
        }
    }
}
