import Foundation
import MailroomCore
import MailroomMemoryStore
import MailroomStore
import MailroomTestSupport
import Testing

/// The ticket, ingest, fetch-state, quarantine and raw-mail stores behind their protocols.
struct TicketStores: Sendable {
    let ingest: any IngestRepository
    let tickets: any TicketRepository
    let fetchState: any FetchStateRepository
    let quarantine: any QuarantineRepository
    let rawMail: any RawMailRepository
    /// Two accounts, stored where the store needs them.
    let accounts: [Account]
}

/// Each implementation of the stores: SQLite, PostgreSQL (when the test command started it) and memory.
enum StoreUnderTest: Sendable, CustomTestStringConvertible {
    case sql(TestDatabase)
    case memory

    static var all: [StoreUnderTest] { TestDatabase.available.map { .sql($0) } + [.memory] }

    var testDescription: String {
        switch self {
        case .sql(let kind): kind.testDescription
        case .memory: "memory"
        }
    }

    func with(resolvers: [ResolverName] = ResolverName.defaultOrder, _ body: @Sendable (TicketStores) async throws -> Void) async throws {
        @Sendable func configured(_ account: Account) -> Account {
            var account = account
            account.resolvers = resolvers
            return account
        }
        switch self {
        case .sql(let kind):
            try await kind.withStore { store in
                let accounts = [try await store.accounts.create(configured(sampleAccount(key: "A1", name: "Desk 1"))),
                                try await store.accounts.create(configured(sampleAccount(key: "A2", name: "Desk 2")))]
                try await body(TicketStores(ingest: store.ingest, tickets: store.tickets, fetchState: store.fetchState,
                                            quarantine: store.quarantine, rawMail: store.rawMail, accounts: accounts))
            }
        case .memory:
            let store = MemoryTicketStore()
            var first = configured(sampleAccount(key: "A1", name: "Desk 1"))
            first.id = "account-1"
            var second = configured(sampleAccount(key: "A2", name: "Desk 2"))
            second.id = "account-2"
            try await body(TicketStores(ingest: store, tickets: store, fetchState: store, quarantine: store, rawMail: store,
                                        accounts: [first, second]))
        }
    }
}

/// One contract for every implementation of the stores, so SQL and memory cannot drift.
@Suite struct TicketStoreContractTests {
    @Test(arguments: StoreUnderTest.all, conversations)
    func resolversThreadConversations(_ store: StoreUnderTest, conversation: Conversation) async throws {
        try await store.with(resolvers: conversation.resolvers) { stores in
            var labels: [String: String] = [:]
            for step in conversation.steps {
                let outcome = try await stores.ingest.ingestOne(step.mail, raw: Array("raw \(step.mail.messageId!)".utf8),
                                                                account: stores.accounts[step.account - 1], position: nil)
                let ticketId = try #require(outcome.ticketId, "\(step)")
                if let known = labels[step.expectedTicket] {
                    #expect(known == ticketId, "\(conversation.name): \(step)")
                } else {
                    #expect(!labels.values.contains(ticketId), "\(conversation.name): \(step) joined an existing ticket")
                    labels[step.expectedTicket] = ticketId
                }
            }
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aNewMessageOpensATicketAndAReplyJoinsIt(_ store: StoreUnderTest) async throws {
        try await store.with { stores in
            let account = stores.accounts[0]
            let first = inbound(from: "Ann@Example.com", name: "Ann", subject: "Invoice", messageId: "a1@x")
            let raw = Array("raw a1".utf8)
            let created = try await stores.ingest.ingestOne(first, raw: raw, account: account, position: nil, tags: ["vip"])
            guard case .created(let ticketId, _) = created else { Issue.record("not created: \(created)"); return }
            let ticket = try #require(try await stores.tickets.ticket(id: ticketId))
            #expect(ticket.status == .new)
            #expect(ticket.unread)
            #expect(ticket.messageCount == 1)
            #expect(ticket.tags == ["vip"])
            #expect(ticket.customer == EmailAddress(name: "Ann", address: "ann@example.com"))
            #expect(try await stores.tickets.ticket(number: ticket.number)?.id == ticketId)
            #expect(try await stores.tickets.customer(address: "ANN@example.com")?.name == "Ann")
            #expect(try await stores.rawMail.blob(sha256: first.rawSha256) == raw)

            #expect(try await stores.tickets.setUnread(ticketId: ticketId, unread: false)?.unread == false)
            let reply = inbound(from: "ann@example.com", subject: "Re: Invoice", messageId: "a2@x", inReplyTo: ["a1@x"])
            let appended = try await stores.ingest.ingestOne(reply, raw: Array("raw a2".utf8), account: account, position: nil, tags: ["late"])
            #expect(appended.ticketId == ticketId)
            let after = try #require(try await stores.tickets.ticket(id: ticketId))
            #expect(after.messageCount == 2)
            #expect(after.unread)
            #expect(after.tags == ["vip", "late"])
            #expect(after.lastMessageDirection == .inbound)
            #expect(try await stores.tickets.messages(ticketId: ticketId).compactMap(\.messageId).sorted() == ["a1@x", "a2@x"])
            #expect(try await stores.tickets.latestInboundMessage(ticketId: ticketId) != nil)
            #expect(try await stores.tickets.messageCount(accountId: account.id) == 2)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func theSameContentTwiceIsStoredOnce(_ store: StoreUnderTest) async throws {
        try await store.with { stores in
            let mail = inbound(from: "ann@example.com", subject: "Invoice", messageId: "a1@x")
            let first = try await stores.ingest.ingestOne(mail, raw: Array("raw".utf8), account: stores.accounts[0], position: nil)
            let again = try await stores.ingest.ingestOne(mail, raw: Array("raw".utf8), account: stores.accounts[0], position: nil)
            #expect(again == .duplicate(ticketId: first.ticketId))
            #expect(try await stores.tickets.messageCount(accountId: stores.accounts[0].id) == 1)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func filtersPageNewestFirstWithACursor(_ store: StoreUnderTest) async throws {
        try await store.with(resolvers: [.caseId]) { stores in
            var ids: [String] = []
            for index in 0..<3 {
                let mail = inbound(from: "c\(index)@example.com", subject: "Case \(index)", messageId: "m\(index)@x")
                let outcome = try await stores.ingest.ingestOne(mail, raw: Array("raw \(index)".utf8), account: stores.accounts[index % 2],
                                                                position: nil, now: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)))
                ids.append(try #require(outcome.ticketId))
            }
            let first = try await stores.tickets.tickets(TicketFilter(limit: 2))
            #expect(first.items.map(\.id) == [ids[2], ids[1]])
            let cursor = try #require(first.nextCursor)
            let second = try await stores.tickets.tickets(TicketFilter(limit: 2, cursor: cursor))
            #expect(second.items.map(\.id) == [ids[0]])
            #expect(second.nextCursor == nil)
            #expect(try await stores.tickets.tickets(TicketFilter(accountIds: [stores.accounts[1].id])).items.map(\.id) == [ids[1]])
            #expect(try await stores.tickets.tickets(TicketFilter(accountIds: [])).items.isEmpty)
            await #expect(throws: DomainError.self) { try await stores.tickets.tickets(TicketFilter(cursor: "nonsense")) }
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func ticketActions(_ store: StoreUnderTest) async throws {
        try await store.with { stores in
            let mail = inbound(from: "ann@example.com", subject: "Invoice", messageId: "a1@x")
            let ticketId = try #require(try await stores.ingest.ingestOne(mail, raw: [1], account: stores.accounts[0], position: nil).ticketId)
            let changed = try await stores.tickets.updateAttributes(ticketId: ticketId, tags: ["x"], priority: .high, escalated: true)
            #expect(changed?.tags == ["x"] && changed?.priority == .high && changed?.escalated == true)
            try await stores.tickets.applyRouting(ticketId: ticketId, tags: ["y"], priority: nil, queueId: "queue-1", agentId: nil,
                                                  closeWithDisposition: nil)
            let routed = try #require(try await stores.tickets.ticket(id: ticketId))
            #expect(routed.tags == ["x", "y"] && routed.queueId == "queue-1")
            try await stores.tickets.moveToAccount(ticketId: ticketId, accountId: stores.accounts[1].id)
            let moved = try #require(try await stores.tickets.ticket(id: ticketId))
            #expect(moved.accountId == stores.accounts[1].id && moved.queueId == nil && moved.unread)
            #expect(try await stores.tickets.close(ticketId: ticketId, dispositionId: nil))
            #expect(try await stores.tickets.close(ticketId: ticketId, dispositionId: nil) == false)
            #expect(try await stores.tickets.ticket(id: ticketId)?.status == .closed)
            #expect(try await stores.tickets.close(ticketId: "missing", dispositionId: nil) == false)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func quarantineKeepsListsAndDiscards(_ store: StoreUnderTest) async throws {
        try await store.with { stores in
            let account = stores.accounts[0]
            let raw = Array("not a message".utf8)
            let entry = QuarantinedMessage(accountId: account.id, reason: .unparseable, detail: "no header", rawSha256: "sha-q1", size: raw.count,
                                           source: "INBOX uid 7", createdAt: Date())
            let id = try await stores.ingest.quarantine(entry, raw: raw, position: .imap(folder: "INBOX", uidValidity: 3, uid: 7))
            #expect(try await stores.quarantine.quarantined(id: id)?.reason == .unparseable)
            #expect(try await stores.quarantine.quarantineCount(accountId: account.id) == 1)
            #expect(try await stores.quarantine.quarantined(accountId: stores.accounts[1].id).isEmpty)
            #expect(try await stores.rawMail.blob(sha256: "sha-q1") == raw)
            #expect(try await stores.fetchState.imapPosition(accountId: account.id, folder: "INBOX") == IMAPPosition(uidValidity: 3, highWater: 7))

            try await stores.quarantine.markReplayed(quarantineId: id)
            #expect(try await stores.quarantine.quarantined().isEmpty)
            #expect(try await stores.quarantine.quarantined(accountId: nil, includeReplayed: true).map(\.id) == [id])
            #expect(try await stores.quarantine.quarantineCount() == 0)

            try await stores.quarantine.deleteQuarantined(id: id)
            #expect(try await stores.quarantine.quarantined(id: id) == nil)
            #expect(try await stores.rawMail.blob(sha256: "sha-q1") == nil)

            let tooLarge = QuarantinedMessage(accountId: account.id, reason: .tooLarge, detail: "large", rawSha256: nil, size: 1 << 30,
                                              source: "pop3", createdAt: Date(), leftOnServer: true)
            _ = try await stores.ingest.quarantine(tooLarge, raw: nil, position: .pop3(uidl: "U9"))
            #expect(try await stores.quarantine.leftOnServer(accountId: account.id) == ["pop3:U9"])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func fetchPositionsOnlyMoveForward(_ store: StoreUnderTest) async throws {
        try await store.with { stores in
            let id = stores.accounts[0].id
            try await stores.ingest.recordPosition(.imap(folder: "INBOX", uidValidity: 5, uid: 10), accountId: id)
            try await stores.ingest.recordPosition(.imap(folder: "INBOX", uidValidity: 5, uid: 4), accountId: id)
            #expect(try await stores.fetchState.imapPosition(accountId: id, folder: "INBOX") == IMAPPosition(uidValidity: 5, highWater: 10))
            try await stores.fetchState.resetIMAPPosition(accountId: id, folder: "INBOX", uidValidity: 6)
            #expect(try await stores.fetchState.imapPosition(accountId: id, folder: "INBOX") == IMAPPosition(uidValidity: 6, highWater: 0))
            #expect(try await stores.fetchState.imapPosition(accountId: id, folder: "Other") == nil)

            try await stores.ingest.recordPosition(.pop3(uidl: "A"), accountId: id)
            try await stores.fetchState.recordPOP3LeftOnServer(uidl: "B", accountId: id)
            #expect(try await stores.fetchState.seenPOP3UIDLs(accountId: id) == ["A", "B"])
            #expect(try await stores.fetchState.pop3UIDLsLeftOnServer(accountId: id) == ["B"])
            try await stores.fetchState.forgetPOP3UIDLs(accountId: id, keeping: ["B"])
            #expect(try await stores.fetchState.seenPOP3UIDLs(accountId: id) == ["B"])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func exchangeItemsAndSyncStatesAreRecordedWithTheirPositions(_ store: StoreUnderTest) async throws {
        try await store.with { stores in
            let id = stores.accounts[0].id
            #expect(try await stores.fetchState.exchangeSyncState(accountId: id, folder: "inbox") == nil)
            try await stores.ingest.recordPosition(.exchange(folder: "inbox", itemId: "A", syncState: nil), accountId: id)
            try await stores.ingest.recordPosition(.exchange(folder: "inbox", itemId: "B", syncState: "d1"), accountId: id)
            try await stores.ingest.recordPosition(.exchange(folder: "inbox", itemId: nil, syncState: "d2"), accountId: id)
            #expect(try await stores.fetchState.exchangeSyncState(accountId: id, folder: "inbox") == "d2")
            #expect(try await stores.fetchState.exchangeSyncState(accountId: id, folder: "other") == nil)
            #expect(try await stores.fetchState.exchangeItemsTaken(accountId: id) == ["A", "B"])
            try await stores.fetchState.forgetExchangeItems(accountId: id, keeping: ["B", "C"])
            #expect(try await stores.fetchState.exchangeItemsTaken(accountId: id) == ["B"])
            #expect(MailboxPosition.exchange(folder: "inbox", itemId: "B", syncState: nil).serverKey == "exchange:B")
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aFetchLeaseBelongsToOneNodeUntilItLapses(_ store: StoreUnderTest) async throws {
        try await store.with { stores in
            let id = stores.accounts[0].id
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(try await stores.fetchState.acquireFetchLease(accountId: id, node: "a", duration: 30, now: now))
            #expect(try await stores.fetchState.acquireFetchLease(accountId: id, node: "b", duration: 30, now: now.addingTimeInterval(10)) == false)
            try await stores.fetchState.renewFetchLeases(accountIds: [id], node: "a", duration: 30, now: now.addingTimeInterval(20))
            #expect(try await stores.fetchState.acquireFetchLease(accountId: id, node: "b", duration: 30, now: now.addingTimeInterval(40)) == false)
            #expect(try await stores.fetchState.acquireFetchLease(accountId: id, node: "b", duration: 30, now: now.addingTimeInterval(51)))
            try await stores.fetchState.releaseFetchLease(accountId: id, node: "a")
            #expect(try await stores.fetchState.acquireFetchLease(accountId: id, node: "a", duration: 30, now: now.addingTimeInterval(52)) == false)
            try await stores.fetchState.releaseFetchLease(accountId: id, node: "b")
            #expect(try await stores.fetchState.acquireFetchLease(accountId: id, node: "a", duration: 30, now: now.addingTimeInterval(53)))
        }
    }
}
