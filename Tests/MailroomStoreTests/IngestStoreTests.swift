import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// A small inbound message; its content hash follows what makes two messages the same.
func inbound(from: String, name: String? = nil, subject: String, messageId: String, inReplyTo: [String] = [],
             references: [String] = [], to: [String] = ["support@desk.example"], cc: [String] = [], body: String = "Hello") -> InboundMail {
    let content = "\(messageId)|\(from)|\(subject)|\(body)"
    let hash = String(content.hashValue.magnitude, radix: 16) + String(content.count)
    return InboundMail(rawSha256: "raw-" + hash, rawSize: content.utf8.count, contentHash: "content-" + hash, messageId: messageId,
                       inReplyTo: inReplyTo, references: references, subject: subject, from: [EmailAddress(name: name, address: from)],
                       to: to.map { EmailAddress(address: $0) }, cc: cc.map { EmailAddress(address: $0) }, date: Date(),
                       text: body, html: nil)
}

/// One inbound step of a conversation and the ticket it must land on ("T1", "T2"… in order of creation).
struct Step: Sendable, CustomStringConvertible {
    let mail: InboundMail
    let account: Int
    let expectedTicket: String
    var description: String { "\(mail.from.first?.address ?? "?") '\(mail.subject)' → \(expectedTicket)" }
}

func step(_ expected: String, from: String, subject: String, id: String, account: Int = 1, inReplyTo: [String] = [],
          references: [String] = [], cc: [String] = [], body: String? = nil) -> Step {
    Step(mail: inbound(from: from, subject: subject, messageId: id, inReplyTo: inReplyTo, references: references, cc: cc,
                       body: body ?? "body of \(id)"), account: account, expectedTicket: expected)
}

struct Conversation: Sendable, CustomTestStringConvertible {
    let name: String
    let resolvers: [ResolverName]
    let steps: [Step]
    var testDescription: String { name }
}

let conversations: [Conversation] = [
    Conversation(name: "caseId follows the thread and nothing else", resolvers: [.caseId], steps: [
        step("T1", from: "ann@example.com", subject: "Invoice", id: "a1@example.com", cc: ["carl@example.com"]),
        step("T1", from: "ann@example.com", subject: "Re: Invoice", id: "a2@example.com", inReplyTo: ["a1@example.com"], references: ["a1@example.com"]),
        step("T1", from: "ann@example.com", subject: "Fwd: totally different", id: "a3@example.com", references: ["a1@example.com", "a2@example.com"]),
        step("T2", from: "ann@example.com", subject: "Invoice", id: "a4@example.com"),
        // Another customer's References point at Ann's ticket: that must not put Bob's mail on it.
        step("T3", from: "bob@example.com", subject: "Re: Invoice", id: "b1@example.com", inReplyTo: ["a1@example.com"], references: ["a1@example.com"]),
        // Carl was in Cc of Ann's first message: he belongs to the thread.
        step("T1", from: "carl@example.com", subject: "Re: Invoice", id: "c1@example.com", inReplyTo: ["a1@example.com"]),
        step("T1", from: "ann@example.com", subject: "Re: [Ticket#1001] Invoice", id: "a5@example.com"),
        step("T4", from: "bob@example.com", subject: "Re: [Ticket#1001] Invoice", id: "b2@example.com"),
    ]),
    Conversation(name: "customer joins everything from one sender", resolvers: [.customer], steps: [
        step("T1", from: "ann@example.com", subject: "Invoice", id: "a1@x"),
        step("T1", from: "ANN@example.com", subject: "Something else", id: "a2@x"),
        step("T2", from: "bob@example.com", subject: "Invoice", id: "b1@x"),
        step("T1", from: "ann@example.com", subject: "Third", id: "a3@x", account: 2),
    ]),
    Conversation(name: "customerPerAccount keeps accounts apart", resolvers: [.customerPerAccount], steps: [
        step("T1", from: "ann@example.com", subject: "Invoice", id: "a1@x", account: 1),
        step("T2", from: "ann@example.com", subject: "Invoice", id: "a2@x", account: 2),
        step("T1", from: "ann@example.com", subject: "Another", id: "a3@x", account: 1),
    ]),
    Conversation(name: "subject joins the same subject from anyone", resolvers: [.subject], steps: [
        step("T1", from: "ann@example.com", subject: "Outage in Berlin", id: "a1@x"),
        step("T1", from: "bob@example.com", subject: "Re: Re: AW: Outage in Berlin", id: "b1@x"),
        step("T2", from: "bob@example.com", subject: "Outage in Paris", id: "b2@x"),
    ]),
    Conversation(name: "subjectAndCustomer: the same subject from two customers makes two tickets", resolvers: [.subjectAndCustomer], steps: [
        step("T1", from: "ann@example.com", subject: "Invoice", id: "a1@x"),
        step("T2", from: "bob@example.com", subject: "Invoice", id: "b1@x"),
        step("T1", from: "ann@example.com", subject: "Re: Re: AW: Invoice", id: "a2@x"),
        step("T3", from: "ann@example.com", subject: "Changed subject", id: "a3@x", inReplyTo: ["a1@x"]),
    ]),
    Conversation(name: "subjectFromObserver: an observer in Cc replies on the customer's ticket", resolvers: [.subjectFromObserver], steps: [
        step("T1", from: "ann@example.com", subject: "Contract", id: "a1@x", cc: ["lawyer@example.com"]),
        step("T1", from: "lawyer@example.com", subject: "RE: Contract", id: "l1@x"),
        step("T2", from: "stranger@example.com", subject: "RE: Contract", id: "s1@x"),
    ]),
    Conversation(name: "subjectCustomerAccount: same subject, customer and account", resolvers: [.subjectCustomerAccount], steps: [
        step("T1", from: "ann@example.com", subject: "Invoice", id: "a1@x", account: 1),
        step("T2", from: "ann@example.com", subject: "Invoice", id: "a2@x", account: 2),
        step("T1", from: "ann@example.com", subject: "Fwd: Invoice", id: "a3@x", account: 1),
        step("T3", from: "bob@example.com", subject: "Invoice", id: "b1@x", account: 1),
    ]),
    Conversation(name: "resolvers run in order: the first that finds a ticket wins", resolvers: [.caseId, .subjectAndCustomer], steps: [
        step("T1", from: "ann@example.com", subject: "Invoice", id: "a1@x"),
        step("T2", from: "ann@example.com", subject: "Delivery", id: "a2@x"),
        step("T1", from: "ann@example.com", subject: "Re: Delivery", id: "a3@x", inReplyTo: ["a1@x"]),
        step("T2", from: "ann@example.com", subject: "Re: Delivery", id: "a4@x"),
    ]),
]

@Suite struct IngestStoreTests {
    static func accounts(_ store: SQLStore, resolvers: [ResolverName]) async throws -> [Account] {
        var first = sampleAccount(key: "A1", name: "Desk 1")
        first.resolvers = resolvers
        var second = sampleAccount(key: "A2", name: "Desk 2")
        second.resolvers = resolvers
        return [try await store.accounts.create(first), try await store.accounts.create(second)]
    }

    @Test(arguments: TestDatabase.available)
    func aNewTicketHasANumberACustomerAndTheMessage(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await Self.accounts(store, resolvers: [.caseId])[0]
            let mail = inbound(from: "ann@example.com", name: "Ann Smith", subject: "Help", messageId: "m1@x", cc: ["carl@example.com"])
            let outcome = try await store.ingest.ingest(mail, raw: Array("raw".utf8), account: account, position: nil, tags: ["vip"])
            guard case .created(let ticketId, let messageId) = outcome else { Issue.record("\(outcome)"); return }
            let ticket = try #require(try await store.tickets.ticket(id: ticketId))
            #expect(ticket.number == 1001)
            #expect(ticket.status == .new)
            #expect(ticket.unread)
            #expect(ticket.messageCount == 1)
            #expect(ticket.customer == EmailAddress(name: "Ann Smith", address: "ann@example.com"))
            #expect(ticket.tags == ["vip"])
            #expect(ticket.lastMessageDirection == .inbound)
            let messages = try await store.tickets.messages(ticketId: ticketId)
            #expect(messages.map(\.id) == [messageId])
            #expect(messages.first?.cc == [EmailAddress(address: "carl@example.com")])
            #expect(messages.first?.messageId == "m1@x")
            #expect(try await store.rawMail.blob(sha256: mail.rawSha256) == Array("raw".utf8))
            #expect(try await store.tickets.customer(address: "ANN@example.com")?.name == "Ann Smith")
            let second = try await store.ingest.ingest(inbound(from: "bob@example.com", subject: "x", messageId: "m2@x"),
                                                        raw: [1], account: account, position: nil)
            #expect(try await store.tickets.ticket(id: second.ticketId!)?.number == 1002)
        }
    }

    @Test(arguments: TestDatabase.available)
    func duplicatesAreRecognisedByContentNotByMessageIdAlone(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let accounts = try await Self.accounts(store, resolvers: [.customer])
            let mail = inbound(from: "ann@example.com", subject: "Help", messageId: "same@x", body: "first")
            let first = try await store.ingest.ingest(mail, raw: [1], account: accounts[0], position: nil)
            #expect(try await store.ingest.ingest(mail, raw: [1], account: accounts[0], position: nil) == .duplicate(ticketId: first.ticketId))
            // A reused Message-ID with another body is another message.
            let reused = inbound(from: "ann@example.com", subject: "Help", messageId: "same@x", body: "second")
            guard case .appended = try await store.ingest.ingest(reused, raw: [2], account: accounts[0], position: nil) else {
                Issue.record("a reused Message-ID swallowed a message"); return
            }
            // The same mail delivered to a second account never shows twice on one ticket.
            #expect(try await store.ingest.ingest(mail, raw: [1], account: accounts[1], position: nil) == .duplicate(ticketId: first.ticketId))
            #expect(try await store.tickets.messages(ticketId: first.ticketId!).count == 2)
        }
    }

    @Test(arguments: TestDatabase.available)
    func theSameMailToTwoAccountsWithSeparateTicketsIsOnEachOnce(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let accounts = try await Self.accounts(store, resolvers: [.customerPerAccount])
            let mail = inbound(from: "ann@example.com", subject: "Help", messageId: "both@x")
            let one = try await store.ingest.ingest(mail, raw: [9], account: accounts[0], position: nil)
            let two = try await store.ingest.ingest(mail, raw: [9], account: accounts[1], position: nil)
            #expect(one.ticketId != two.ticketId)
            #expect(try await store.ingest.ingest(mail, raw: [9], account: accounts[1], position: nil) == .duplicate(ticketId: two.ticketId))
        }
    }

    @Test(arguments: TestDatabase.available)
    func closedTicketsAreNotJoinedAndPendingOnesReopen(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await Self.accounts(store, resolvers: [.customer])[0]
            let first = try await store.ingest.ingest(inbound(from: "ann@example.com", subject: "a", messageId: "1@x"), raw: [1],
                                                       account: account, position: nil)
            try await store.database.withConnection { db in
                try await db.raw("UPDATE tickets SET status = 'pending' WHERE id = \(bind: first.ticketId!)").run()
            }
            let second = try await store.ingest.ingest(inbound(from: "ann@example.com", subject: "b", messageId: "2@x"), raw: [2],
                                                        account: account, position: nil)
            #expect(second.ticketId == first.ticketId)
            #expect(try await store.tickets.ticket(id: first.ticketId!)?.status == .open)
            try await store.database.withConnection { db in
                try await db.raw("UPDATE tickets SET status = 'closed' WHERE id = \(bind: first.ticketId!)").run()
            }
            let third = try await store.ingest.ingest(inbound(from: "ann@example.com", subject: "c", messageId: "3@x"), raw: [3],
                                                       account: account, position: nil)
            #expect(third.ticketId != first.ticketId)
        }
    }

    @Test(arguments: TestDatabase.available)
    func fetchPositionsCommitWithTheMessage(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await Self.accounts(store, resolvers: [.caseId])[0]
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX") == nil)
            _ = try await store.ingest.ingest(inbound(from: "a@x.com", subject: "1", messageId: "1@x"), raw: [1], account: account,
                                               position: .imap(folder: "INBOX", uidValidity: 7, uid: 5))
            _ = try await store.ingest.ingest(inbound(from: "a@x.com", subject: "2", messageId: "2@x"), raw: [2], account: account,
                                               position: .imap(folder: "INBOX", uidValidity: 7, uid: 3))
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX") == .init(uidValidity: 7, highWater: 5))
            // A message that was already there moves the position too, so it is not fetched again.
            _ = try await store.ingest.ingest(inbound(from: "a@x.com", subject: "1", messageId: "1@x"), raw: [1], account: account,
                                               position: .imap(folder: "INBOX", uidValidity: 7, uid: 9))
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX")?.highWater == 9)
            try await store.fetchState.resetIMAPPosition(accountId: account.id, folder: "INBOX", uidValidity: 8)
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX") == .init(uidValidity: 8, highWater: 0))

            _ = try await store.ingest.ingest(inbound(from: "a@x.com", subject: "p", messageId: "p@x"), raw: [4], account: account,
                                               position: .pop3(uidl: "UID-1"))
            try await store.ingest.recordPosition(.pop3(uidl: "UID-2"), accountId: account.id)
            #expect(try await store.fetchState.seenPOP3UIDLs(accountId: account.id) == ["UID-1", "UID-2"])
            try await store.fetchState.forgetPOP3UIDLs(accountId: account.id, keeping: ["UID-2"])
            #expect(try await store.fetchState.seenPOP3UIDLs(accountId: account.id) == ["UID-2"])
            // Seen without being fetched (older than fetchLastDays): seen, and left on the server.
            try await store.fetchState.recordPOP3LeftOnServer(uidl: "UID-OLD", accountId: account.id)
            #expect(try await store.fetchState.seenPOP3UIDLs(accountId: account.id) == ["UID-2", "UID-OLD"])
            #expect(try await store.fetchState.pop3UIDLsLeftOnServer(accountId: account.id) == ["UID-OLD"])
        }
    }

    @Test(arguments: TestDatabase.available)
    func mailTooLargeToFetchIsNamedByItsPlaceOnTheServer(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await Self.accounts(store, resolvers: [.caseId])[0]
            for (position, leftOnServer) in [(MailboxPosition.imap(folder: "INBOX", uidValidity: 3, uid: 17), true),
                                             (.pop3(uidl: "U-9"), true), (.imap(folder: "INBOX", uidValidity: 3, uid: 18), false)] {
                _ = try await store.ingest.quarantine(
                    QuarantinedMessage(accountId: account.id, reason: .tooLarge, detail: "too large", rawSha256: nil, size: 90_000_000,
                                       source: "test", createdAt: Date(), leftOnServer: leftOnServer),
                    raw: nil, position: position)
            }
            #expect(try await store.quarantine.leftOnServer(accountId: account.id) == ["imap:3:17:INBOX", "pop3:U-9"])
            #expect(try await store.quarantine.quarantined().map(\.leftOnServer).sorted { !$0 && $1 } == [false, true, true])
        }
    }

    @Test(arguments: TestDatabase.available)
    func quarantineKeepsTheRawMessageAndMovesThePosition(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await Self.accounts(store, resolvers: [.caseId])[0]
            let id = try await store.ingest.quarantine(
                QuarantinedMessage(accountId: account.id, reason: .tooLarge, detail: "larger than 26214400 bytes", rawSha256: "abc",
                                   size: 3, source: "INBOX uid 4", subject: "Big", createdAt: Date()),
                raw: [1, 2, 3], position: .imap(folder: "INBOX", uidValidity: 1, uid: 4))
            #expect(try await store.quarantine.quarantined().map(\.id) == [id])
            #expect(try await store.quarantine.quarantineCount(accountId: account.id) == 1)
            #expect(try await store.rawMail.blob(sha256: "abc") == [1, 2, 3])
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX")?.highWater == 4)
            try await store.quarantine.markReplayed(quarantineId: id)
            #expect(try await store.quarantine.quarantined().isEmpty)
            #expect(try await store.quarantine.quarantined(includeReplayed: true).count == 1)
            try await store.quarantine.deleteQuarantined(id: id)
            #expect(try await store.quarantine.quarantined(id: id) == nil)
        }
    }

    /// A quarantine entry for `raw`, under a digest made up for the test.
    static func quarantine(_ store: SQLStore, account: Account, raw: [UInt8], sha256: String) async throws -> String {
        try await store.ingest.quarantine(
            QuarantinedMessage(accountId: account.id, reason: .unparseable, detail: "not a message", rawSha256: sha256,
                               size: raw.count, source: "INBOX", subject: nil, createdAt: Date()),
            raw: raw, position: nil)
    }

    /// Whether any pack of an SQLite store still holds `marker` (PostgreSQL: no packs, false).
    static func packsContain(_ store: SQLStore, _ marker: String) throws -> Bool {
        guard let directory = store.database.blobPacks?.directory else { return false }
        return try FileManager.default.contentsOfDirectory(atPath: directory).contains { name in
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
            return data.range(of: Data(marker.utf8)) != nil
        }
    }

    @Test(arguments: TestDatabase.available)
    func discardingAQuarantinedMessageErasesItsRawMail(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await Self.accounts(store, resolvers: [.caseId])[0]
            let marker = "poison-\(UUID().uuidString)"
            let raw = Array("X-Junk: \(marker)\r\n\r\nbody".utf8)
            let neighbour = Array("kept-\(marker)".utf8)
            let id = try await Self.quarantine(store, account: account, raw: raw, sha256: "q-\(marker)")
            let other = try await Self.quarantine(store, account: account, raw: neighbour, sha256: "n-\(marker)")
            #expect(try await store.rawMail.blob(sha256: "q-\(marker)") == raw)
            #expect(try Self.packsContain(store, "X-Junk: \(marker)") == (kind == .sqlite))

            try await store.quarantine.deleteQuarantined(id: id)
            #expect(try await store.quarantine.quarantined(id: id) == nil)
            #expect(try await store.rawMail.blob(sha256: "q-\(marker)") == nil)
            #expect(try !Self.packsContain(store, "X-Junk: \(marker)"))
            // The other entry's raw mail, written next to it, is untouched.
            #expect(try await store.rawMail.blob(sha256: "n-\(marker)") == neighbour)
            #expect(try await store.quarantine.quarantined(id: other) != nil)
        }
    }

    @Test(arguments: TestDatabase.available)
    func rawMailSomethingElseHoldsOutlivesTheDiscard(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await Self.accounts(store, resolvers: [.caseId])[0]
            // Two entries with the same bytes: the first discard leaves them to the second.
            let twice = Array("twice \(UUID().uuidString)".utf8)
            let first = try await Self.quarantine(store, account: account, raw: twice, sha256: "twice")
            let second = try await Self.quarantine(store, account: account, raw: twice, sha256: "twice")
            try await store.quarantine.deleteQuarantined(id: first)
            #expect(try await store.rawMail.blob(sha256: "twice") == twice)
            try await store.quarantine.deleteQuarantined(id: second)
            #expect(try await store.rawMail.blob(sha256: "twice") == nil)

            // A message stored from the same bytes after the entry (a replay, or another account's fetch)...
            let later = Array("later \(UUID().uuidString)".utf8)
            let entry = try await Self.quarantine(store, account: account, raw: later, sha256: "later")
            var mail = inbound(from: "a@example.com", subject: "s", messageId: "later@x")
            mail.rawSha256 = "later"
            _ = try await store.ingest.ingest(mail, raw: later, account: account, position: nil)
            try await store.quarantine.deleteQuarantined(id: entry)
            #expect(try await store.rawMail.blob(sha256: "later") == later)

            // ...or before it.
            let earlier = Array("earlier \(UUID().uuidString)".utf8)
            mail = inbound(from: "b@example.com", subject: "s", messageId: "earlier@x")
            mail.rawSha256 = "earlier"
            _ = try await store.ingest.ingest(mail, raw: earlier, account: account, position: nil)
            let afterwards = try await Self.quarantine(store, account: account, raw: earlier, sha256: "earlier")
            try await store.quarantine.deleteQuarantined(id: afterwards)
            #expect(try await store.rawMail.blob(sha256: "earlier") == earlier)
        }
    }

    @Test(arguments: TestDatabase.available)
    func ticketListFiltersAndPages(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let accounts = try await Self.accounts(store, resolvers: [.caseId])
            var ids: [String] = []
            for index in 0..<7 {
                let outcome = try await store.ingest.ingest(
                    inbound(from: "c\(index)@example.com", subject: "s\(index)", messageId: "\(index)@x"),
                    raw: [UInt8(index)], account: accounts[index % 2], position: nil, tags: index == 3 ? ["vip"] : [],
                    now: Date(timeIntervalSince1970: 1_000_000 + Double(index)))
                ids.append(outcome.ticketId!)
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await store.tickets.tickets(.init(limit: 3, cursor: cursor))
                seen += page.items.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == ids.reversed())
            #expect(try await store.tickets.tickets(.init(accountIds: [accounts[0].id])).items.count == 4)
            #expect(try await store.tickets.tickets(.init(tag: "vip")).items.map(\.id) == [ids[3]])
            #expect(try await store.tickets.tickets(.init(status: .closed)).items.isEmpty)
            #expect(try await store.tickets.tickets(.init(unread: true)).items.count == 7)
            #expect(try await store.tickets.tickets(.init(since: Date(timeIntervalSince1970: 1_000_005))).items.count == 2)
            #expect(try await store.tickets.tickets(.init(unassigned: true)).items.count == 7)
            await #expect(throws: DomainError.self) { _ = try await store.tickets.tickets(.init(cursor: "garbage")) }
        }
    }
}

@Suite struct FetchLeaseTests {
    @Test(arguments: TestDatabase.available)
    func oneNodeFetchesAnAccountAtATime(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let now = Date()
            #expect(try await store.fetchState.acquireFetchLease(accountId: "a", node: "one", duration: 30, now: now))
            #expect(try await !store.fetchState.acquireFetchLease(accountId: "a", node: "two", duration: 30, now: now))
            #expect(try await store.fetchState.acquireFetchLease(accountId: "a", node: "one", duration: 30, now: now.addingTimeInterval(10)))
            #expect(try await !store.fetchState.acquireFetchLease(accountId: "a", node: "two", duration: 30, now: now.addingTimeInterval(35)))
            // A node that stops renewing loses the account once its lease lapses.
            #expect(try await store.fetchState.acquireFetchLease(accountId: "a", node: "two", duration: 30, now: now.addingTimeInterval(41)))
            // Renewal keeps the holder's lease alive past its first expiry; it does nothing for another node.
            try await store.fetchState.renewFetchLeases(accountIds: ["a"], node: "two", duration: 30, now: now.addingTimeInterval(60))
            try await store.fetchState.renewFetchLeases(accountIds: ["a"], node: "one", duration: 300, now: now.addingTimeInterval(60))
            #expect(try await !store.fetchState.acquireFetchLease(accountId: "a", node: "one", duration: 30, now: now.addingTimeInterval(80)))
            try await store.fetchState.releaseFetchLease(accountId: "a", node: "two")
            #expect(try await store.fetchState.acquireFetchLease(accountId: "a", node: "one", duration: 30, now: now.addingTimeInterval(82)))
        }
    }
}
