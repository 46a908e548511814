import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

@Suite(.enabled(if: Dovecot.available)) struct POP3FetcherTests {
    static func pop3Account(user: String, configure: (inout Account) -> Void = { _ in }) throws -> Account {
        try Dovecot.account(user: user) { account in
            account.incoming.protocol = .pop3
            account.incoming.connection.port = Int(try! TestServers.require("MAILROOM_TEST_POP3_PORT"))
            configure(&account)
        }
    }

    @Test func pollsByUIDLWithoutDuplicatesAndLeavesMailWithoutDeleteOnFetch() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            try await Dovecot.deliver((1...3).map { mailText(from: "p\($0)@example.com", subject: "Pop \($0)", messageId: "pop\($0)@x") }, to: user)
            let account = try await store.accounts.create(try Self.pop3Account(user: user))
            let fetcher = POP3Fetcher(account: account, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                      fetchState: store.fetchState, quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger)
            try await fetcher.poll()
            #expect(try await messageCount(store, accountId: account.id) == 3)
            try await fetcher.poll()
            #expect(try await messageCount(store, accountId: account.id) == 3, "a second poll adds nothing")
            try await Dovecot.deliver([mailText(subject: "Pop 4", messageId: "pop4@x")], to: user)
            try await fetcher.poll()
            #expect(try await messageCount(store, accountId: account.id) == 4)
            #expect(try await Dovecot.inboxUIDs(user).count == 4)
            #expect(try await store.fetchState.seenPOP3UIDLs(accountId: account.id).count == 4)
        }
    }

    @Test func deleteOnFetchRemovesCommittedMessagesAtQuit() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = Dovecot.newUser()
            try await Dovecot.deliver((1...4).map { mailText(subject: "Del \($0)", messageId: "pd\($0)@x") }, to: user)
            let account = try await store.accounts.create(try Self.pop3Account(user: user) { $0.incoming.deleteOnFetch = true })
            let fetcher = POP3Fetcher(account: account, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                      fetchState: store.fetchState, quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger)
            try await fetcher.poll()
            #expect(try await messageCount(store, accountId: account.id) == 4)
            #expect(try await Dovecot.inboxUIDs(user).isEmpty)
            #expect(try await store.fetchState.seenPOP3UIDLs(accountId: account.id).isEmpty, "forgotten once gone from the server")
        }
    }

    /// POP3 knows sizes from LIST: a message too large to fetch is listed in the quarantine with its
    /// header (TOP), never retrieved, and not deleted while its entry exists.
    @Test func aMessageTooLargeToFetchIsListedAndLeftOnTheServer() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = try await Dovecot.userWithAHugeMessageBetweenTwo()
            let account = try await store.accounts.create(try Self.pop3Account(user: user) { $0.incoming.deleteOnFetch = true })
            let fetcher = POP3Fetcher(account: account, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                      fetchState: store.fetchState, quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger,
                                      batchPlan: FetchBatchPlan(messageLimit: 10_000))
            try await fetcher.poll()
            #expect(try await messageCount(store, accountId: account.id) == 2)
            #expect(try await Dovecot.inboxUIDs(user).count == 1)
            let entry = try #require(try await store.quarantine.quarantined().first)
            #expect(entry.reason == .tooLarge && entry.leftOnServer && entry.rawSha256 == nil && entry.subject == "Huge")
            try await fetcher.poll()
            #expect(try await Dovecot.inboxUIDs(user).count == 1, "a later session leaves it too")
            #expect(try await store.quarantine.quarantined().count == 1, "and lists it once")
            try await store.quarantine.deleteQuarantined(id: entry.id)
            try await fetcher.poll()
            #expect(try await Dovecot.inboxUIDs(user).isEmpty, "discarded, it goes")
        }
    }

    @Test func fetchLastDaysUsesTheDateHeader() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = try await Self.userWithAnOldAndANewMessage(ids: ("old@x", "new@x"))
            let account = try await store.accounts.create(try Self.pop3Account(user: user) { $0.incoming.fetchLastDays = 30 })
            let fetcher = POP3Fetcher(account: account, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                      fetchState: store.fetchState, quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger)
            try await fetcher.poll()
            #expect(try await store.tickets.tickets(.init()).items.map(\.subject) == ["New"])
        }
    }

    /// Mail outside fetchLastDays is never fetched, so deleteOnFetch must never delete it: not in
    /// the session that skips it, nor in later ones (which delete what was committed but not yet removed).
    @Test func deleteOnFetchLeavesMailOutsideFetchLastDaysOnTheServer() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let user = try await Self.userWithAnOldAndANewMessage(ids: ("pold@x", "pnew@x"))
            let account = try await store.accounts.create(try Self.pop3Account(user: user) {
                $0.incoming.fetchLastDays = 30
                $0.incoming.deleteOnFetch = true
            })
            let fetcher = POP3Fetcher(account: account, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                      fetchState: store.fetchState, quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger)
            try await fetcher.poll()
            #expect(try await store.tickets.tickets(.init()).items.map(\.subject) == ["New"])
            #expect(try await Dovecot.inboxUIDs(user).count == 1)
            try await fetcher.poll()
            try await fetcher.poll()
            #expect(try await Dovecot.inboxUIDs(user).count == 1, "the old message is still there")
            #expect(try await messageCount(store, accountId: account.id) == 1)
        }
    }

    /// A new user with "Old" (Date: January 2023) and "New" (Date: now), by Message-ID.
    static func userWithAnOldAndANewMessage(ids: (old: String, new: String)) async throws -> String {
        let user = Dovecot.newUser()
        let old = mailText(subject: "Old", messageId: ids.old).replacingOccurrences(of: "Mon, 23 Nov 2026", with: "Mon, 02 Jan 2023")
        try await Dovecot.deliver([old, mailText(subject: "New", messageId: ids.new).replacingOccurrences(
            of: "Mon, 23 Nov 2026 10:00:00 +0000", with: rfc5322(Date()))], to: user)
        return user
    }

    static func rfc5322(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }
}

@Suite(.enabled(if: Dovecot.available)) struct ConnectionTestTests {
    @Test func aGoodAccountPassesEveryStep() async throws {
        let user = Dovecot.newUser()
        try await Dovecot.deliver([mailText(subject: "x", messageId: "ct@x")], to: user)
        var account = try Dovecot.account(user: user)
        account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(
            host: "127.0.0.1", port: Int(try TestServers.require("MAILROOM_TEST_SMTP_SINK_PORT")), security: .none,
            auth: ServerAuth(method: .none)))
        let result = await AccountConnectionTest.run(account)
        #expect(result["ok"] == .bool(true), "\(result)")
        guard case .array(let steps)? = result["incoming"]?["steps"] else { Issue.record("\(result)"); return }
        let names = steps.compactMap { step -> String? in if case .string(let name)? = step["name"] { return name } else { return nil } }
        #expect(names.contains { $0.lowercased().contains("auth") })
        #expect(result["outgoing"]?["ok"] == .bool(true))
    }

    @Test func aWrongPasswordFailsAtAuthenticationWithoutShowingIt() async throws {
        var account = try Dovecot.account(user: Dovecot.newUser())
        account.incoming.connection.auth.password = Secret("not-the-password-xyz")
        let result = await AccountConnectionTest.run(account)
        #expect(result["ok"] == .bool(false))
        let text = String(decoding: try JSONCoding.encoder.encode(result), as: UTF8.self)
        #expect(!text.contains("not-the-password-xyz"))
        #expect(text.lowercased().contains("auth"))
    }

    @Test func aSelfSignedCertificateFailsUnlessAcceptAnyIsOn() async throws {
        var account = try Dovecot.account(user: Dovecot.newUser())
        account.incoming.connection.port = Int(try TestServers.require("MAILROOM_TEST_IMAPS_PORT"))
        account.incoming.connection.security = .tls
        let refused = await AccountConnectionTest.run(account)
        #expect(refused["ok"] == .bool(false))
        let text = String(decoding: try JSONCoding.encoder.encode(refused), as: UTF8.self).lowercased()
        #expect(text.contains("certificate") || text.contains("tls"), "\(text)")
        account.incoming.connection.acceptAnyCertificate = true
        let accepted = await AccountConnectionTest.run(account)
        #expect(accepted["ok"] == .bool(true), "\(accepted)")
    }
}
