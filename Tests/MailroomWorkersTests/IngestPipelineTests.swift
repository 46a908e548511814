import Foundation
import MailroomCore
@testable import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import MailMessage
import SQLKit
import Testing

@Suite struct InboundMailParserTests {
    @Test func theSameMailThroughTwoRelaysHasOneContentHash() throws {
        let body = mailText(subject: "Hi", messageId: "m1@example.com")
        let viaA = try InboundMailParser.parse(Array(("Received: from a.example by mx.example\r\nDelivered-To: one@desk.example\r\n" + body).utf8))
        let viaB = try InboundMailParser.parse(Array(("Received: from b.example by mx2.example\r\nDelivered-To: two@desk.example\r\n" + body).utf8))
        #expect(viaA.contentHash == viaB.contentHash)
        #expect(viaA.rawSha256 != viaB.rawSha256)
        let otherBody = try InboundMailParser.parse(Array(mailText(subject: "Hi", messageId: "m1@example.com", body: "Other").utf8))
        #expect(otherBody.contentHash != viaA.contentHash, "a reused Message-ID with another body is another message")
    }

    /// Stored content hashes are compared with those of mail fetched by later versions, so the
    /// definition is pinned: non-trace fields as "lowercased-name:raw value\n", a blank line, the body.
    @Test func theContentHashDefinitionIsStable() throws {
        let raw = "Received: from a.example\r\nFrom: Ann <ann@example.com>\r\nSUBJECT: Hello\r\n\r\nBody line\r\n"
        let mail = try InboundMailParser.parse(Array(raw.utf8))
        #expect(mail.contentHash == InboundMailParser.sha256Hex(Array("from:Ann <ann@example.com>\nsubject:Hello\n\nBody line\r\n".utf8)))
        #expect(mail.rawSha256 == InboundMailParser.sha256Hex(Array(raw.utf8)))
        #expect(InboundMailParser.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(InboundMailParser.sha256Hex(Array("abc".utf8)[...]) == InboundMailParser.sha256Hex("abc".utf8))
    }

    @Test func headerFieldsDecodeWhenReadAndCodeAsText() throws {
        let mail = try InboundMailParser.parse(Array(mailText(subject: "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=", messageId: "x@y",
                                                              extraHeaders: "X-Spam-Flag:  YES\r\n").utf8))
        let subject = try #require(mail.headers.first { $0.name == "Subject" })
        #expect(subject.value == "Grüße")
        #expect(subject == MailroomCore.HeaderField(name: "Subject", value: "Grüße"))
        #expect(mail.headers.first { $0.name == "X-Spam-Flag" }?.value == "YES")
        let coded = try JSONDecoder().decode(MailroomCore.HeaderField.self, from: JSONEncoder().encode(subject))
        #expect(coded == subject && coded.value == "Grüße")
        var changed = subject
        changed.value = "Other"
        #expect(changed.value == "Other" && subject.value == "Grüße")
    }

    @Test func fieldsAreMapped() throws {
        let mail = try InboundMailParser.parse(Array(mailText(subject: "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=", messageId: "x@y",
                                                              extraHeaders: "Cc: Carl <carl@example.com>\r\nAuto-Submitted: auto-replied\r\n",
                                                              inReplyTo: "parent@y").utf8))
        #expect(mail.subject == "Grüße")
        #expect(mail.messageId == "x@y")
        #expect(mail.inReplyTo == ["parent@y"])
        #expect(mail.sender == EmailAddress(name: "Customer", address: "ann@example.com"))
        #expect(mail.cc == [EmailAddress(name: "Carl", address: "carl@example.com")])
        #expect(mail.isAutomatic)
        #expect(mail.text?.contains("Hello") == true)
    }

    @Test func emptyAndHeaderlessDataIsRefused() {
        #expect(throws: InboundMailParser.Refusal.empty) { try InboundMailParser.parse([]) }
    }
}

@Suite struct IngestPipelineTests {
    func withPipeline(_ body: @Sendable (IngestPipeline, SQLStore, Account) async throws -> Void) async throws {
        try await TestDatabase.sqlite.withStore { store in
            var account = Account(key: "P", name: "Pipeline", fromAddress: "desk@example.com")
            account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
            account.incoming.maxMessageBytes = 4_096
            account.incoming.headerFilters = [
                HeaderFilter(header: "X-Spam-Flag", match: .equals, value: "YES", action: .skip),
                HeaderFilter(header: "X-Virus", match: .contains, value: "infected", action: .quarantine),
                HeaderFilter(header: "X-Priority", match: .regex, value: "^1", action: .tag, tag: "urgent"),
            ]
            let stored = try await store.accounts.create(account)
            try await body(IngestPipeline(store: store.ingest, logger: quietLogger), store, stored)
        }
    }

    @Test func tooLargeMailIsQuarantinedNotLost() async throws {
        try await withPipeline { pipeline, store, account in
            let big = Array(mailText(subject: "Big", messageId: "big@x", body: String(repeating: "x", count: 5_000)).utf8)
            let outcome = try await pipeline.process(big, account: account, position: .imap(folder: "INBOX", uidValidity: 1, uid: 1), source: "uid 1")
            guard case .quarantined(let id) = outcome else { Issue.record("\(outcome)"); return }
            let entry = try #require(try await store.quarantine.quarantined(id: id))
            #expect(entry.reason == .tooLarge)
            #expect(entry.detail.contains("4096"))
            #expect(try await store.rawMail.blob(sha256: entry.rawSha256!) == big)
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX")?.highWater == 1)
        }
    }

    @Test func headerFiltersSkipQuarantineAndTag() async throws {
        try await withPipeline { pipeline, store, account in
            let spam = try await pipeline.process(Array(mailText(subject: "Spam", messageId: "s@x", extraHeaders: "X-Spam-Flag: YES\r\n").utf8),
                                                  account: account, position: .imap(folder: "INBOX", uidValidity: 1, uid: 1), source: "uid 1")
            #expect(spam == .skipped(reason: "header filter on X-Spam-Flag"))
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX")?.highWater == 1)
            let virus = try await pipeline.process(Array(mailText(subject: "Virus", messageId: "v@x", extraHeaders: "X-Virus: infected (EICAR)\r\n").utf8),
                                                   account: account, position: nil, source: "uid 2")
            guard case .quarantined(let id) = virus else { Issue.record("\(virus)"); return }
            #expect(try await store.quarantine.quarantined(id: id)?.reason == .headerFilter)
            #expect(try await store.quarantine.quarantined(id: id)?.subject == "Virus")
            let urgent = try await pipeline.process(Array(mailText(subject: "Urgent", messageId: "u@x", extraHeaders: "X-Priority: 1 (Highest)\r\n").utf8),
                                                    account: account, position: nil, source: "uid 3")
            #expect(try await store.tickets.ticket(id: urgent.ticketId!)?.tags == ["urgent"])
        }
    }

    @Test func garbageIsQuarantinedAndTheNextMessageStillArrives() async throws {
        try await withPipeline { pipeline, store, account in
            let garbage: [UInt8] = (0..<2_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
            let outcomes = [
                try await pipeline.process([], account: account, position: nil, source: "empty"),
                try await pipeline.process(garbage, account: account, position: nil, source: "garbage"),
                try await pipeline.process(Array(mailText(subject: "Fine", messageId: "ok@x").utf8), account: account, position: nil, source: "ok"),
            ]
            guard case .quarantined = outcomes[0] else { Issue.record("empty: \(outcomes[0])"); return }
            // Garbage is either read as a (strange) message or quarantined, never an error.
            #expect(outcomes[2].ticketId != nil)
            #expect(try await ticketCount(store) >= 1)
        }
    }

    /// SQLite: a batch's raw messages are in the packs, synced, before its transaction names them;
    /// each reads back whatever became of the message (ticket, quarantine, or a skip that stores nothing).
    @Test func aBatchsRawMailIsWrittenAheadOfItsTransaction() async throws {
        try await withPipeline { pipeline, store, account in
            let good = Array(mailText(subject: "Fine", messageId: "fine@x").utf8)
            let big = Array(mailText(subject: "Big", messageId: "big2@x", body: String(repeating: "y", count: 5_000)).utf8)
            let result = try await pipeline.processBatch([
                IngestPipeline.Inbound(raw: good, position: .imap(folder: "INBOX", uidValidity: 1, uid: 1), source: "uid 1"),
                IngestPipeline.Inbound(raw: big, position: .imap(folder: "INBOX", uidValidity: 1, uid: 2), source: "uid 2"),
            ], account: account)
            #expect(result.outcomes.map(\.name) == ["created", "quarantined"])
            // One sync for the batch, before its transaction (the store would sync each message it writes itself).
            #expect(store.database.blobPacks?.syncs.load(ordering: .relaxed) == 1)
            let blobs = try await store.blobRowsAllInPacks()
            #expect(blobs.count == 2 && blobs.allInPacks)
            #expect(try await store.rawMail.blob(sha256: InboundMailParser.sha256Hex(good)) == good)
            #expect(try await store.rawMail.blob(sha256: InboundMailParser.sha256Hex(big)) == big)
        }
    }

    /// Mail a header filter skips leaves nothing on disk: its raw bytes are not staged into the packs.
    @Test func skippedMailIsNotWrittenToThePacks() async throws {
        try await withPipeline { pipeline, store, account in
            let marker = "SPAM-BODY-\(UUID().uuidString)"
            let spam = Array(mailText(subject: "Spam", messageId: "spam@x", body: marker, extraHeaders: "X-Spam-Flag: YES\r\n").utf8)
            let virus = Array(mailText(subject: "Virus", messageId: "virus@x", extraHeaders: "X-Virus: infected\r\n").utf8)
            let good = Array(mailText(subject: "Fine", messageId: "fine3@x").utf8)
            let result = try await pipeline.processBatch([spam, virus, good].enumerated().map { index, raw in
                IngestPipeline.Inbound(raw: raw, position: .imap(folder: "INBOX", uidValidity: 1, uid: UInt32(index + 1)), source: "uid \(index + 1)")
            }, account: account)
            #expect(result.outcomes.map(\.name) == ["skipped", "quarantined", "created"])
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX")?.highWater == 3)
            let directory = try #require(store.database.blobPacks?.directory)
            var onDisk: [UInt8] = []
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
                onDisk += try #require(FileManager.default.contents(atPath: directory + "/" + name))
            }
            #expect(onDisk.firstRange(of: Array(marker.utf8)) == nil, "the skipped message's bytes are not in any pack")
            // The quarantined and the ingested message are kept raw, in the packs.
            #expect(onDisk.firstRange(of: virus) != nil && onDisk.firstRange(of: good) != nil)
            #expect(try await store.rawMail.blob(sha256: InboundMailParser.sha256Hex(good)) == good)
            #expect(try await store.rawMail.blob(sha256: InboundMailParser.sha256Hex(virus)) == virus)
        }
    }

    /// A batch prepared in parts (a fetcher parses each command's messages while it fetches the next)
    /// commits in one transaction, in order, each message with its own staged raw bytes.
    @Test func aBatchPreparedInPartsCommitsInOrderWithEachPartsRawMail() async throws {
        try await withPipeline { pipeline, store, account in
            let raws = (1...5).map { Array(mailText(from: "p\($0)@example.com", subject: "Part \($0)", messageId: "part\($0)@x").utf8) }
            func inbound(_ index: Int) -> IngestPipeline.Inbound {
                IngestPipeline.Inbound(raw: raws[index], position: .imap(folder: "INBOX", uidValidity: 1, uid: UInt32(index + 1)),
                                       source: "uid \(index + 1)")
            }
            let batch = pipeline.prepare([inbound(0), inbound(1)], account: account)
                .followed(by: pipeline.prepare([inbound(2)], account: account))
                .followed(by: pipeline.prepare([inbound(3), inbound(4)], account: account))
            let result = try await pipeline.commit(batch)
            #expect(result.outcomes.map(\.name) == Array(repeating: "created", count: 5))
            let subjects = try await store.tickets.tickets(.init()).items.map(\.subject)
            #expect(Set(subjects) == Set((1...5).map { "Part \($0)" }))
            #expect(try await store.fetchState.imapPosition(accountId: account.id, folder: "INBOX")?.highWater == 5)
            let blobs = try await store.blobRowsAllInPacks()
            #expect(blobs.count == 5 && blobs.allInPacks)
            for raw in raws { #expect(try await store.rawMail.blob(sha256: InboundMailParser.sha256Hex(raw)) == raw) }
            #expect(store.database.blobPacks?.syncs.load(ordering: .relaxed) == 3, "one sync per part")
        }
    }

    @Test func importReadsEmlMaildirAndMbox() async throws {
        try await withPipeline { pipeline, store, account in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mr-import-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let fm = FileManager.default
            try fm.createDirectory(atPath: directory + "/maildir/cur", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: directory + "/maildir/new", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: directory + "/maildir/tmp", withIntermediateDirectories: true)
            try mailText(from: "a@example.com", subject: "One", messageId: "1@x").write(toFile: directory + "/maildir/cur/1:2,S", atomically: true, encoding: .utf8)
            try mailText(from: "b@example.com", subject: "Two", messageId: "2@x").write(toFile: directory + "/maildir/new/2", atomically: true, encoding: .utf8)
            try mailText(from: "c@example.com", subject: "Half", messageId: "3@x").write(toFile: directory + "/maildir/tmp/3", atomically: true, encoding: .utf8)
            let importer = MailImporter(pipeline: pipeline)
            let maildir = try await importer.importPath(directory + "/maildir", into: account)
            #expect(maildir.created == 2)

            let mbox = "From a@example.com Mon Nov 23 10:00:00 2026\n" + mailText(subject: "Mbox one", messageId: "m1@x", body: ">From the start\nline")
                .replacingOccurrences(of: "\r\n", with: "\n")
                + "\nFrom b@example.com Mon Nov 23 10:01:00 2026\n" + mailText(from: "d@example.com", subject: "Mbox two", messageId: "m2@x")
                .replacingOccurrences(of: "\r\n", with: "\n")
            try mbox.write(toFile: directory + "/mail.mbox", atomically: true, encoding: .utf8)
            let fromMbox = try await importer.importPath(directory + "/mail.mbox", into: account)
            #expect(fromMbox.created == 2)
            let again = try await importer.importPath(directory + "/mail.mbox", into: account)
            #expect(again.duplicates == 2, "importing twice adds nothing")
            let tickets = try await store.tickets.tickets(.init()).items
            let mboxOne = try #require(tickets.first { $0.subject == "Mbox one" })
            let text = try await store.tickets.messages(ticketId: mboxOne.id).first?.text ?? ""
            #expect(text.contains("From the start") && !text.contains(">From the start"))

            try mailText(subject: "Single", messageId: "e@x").write(toFile: directory + "/single.eml", atomically: true, encoding: .utf8)
            #expect(try await importer.importPath(directory + "/single.eml", into: account).created == 1)
            await #expect(throws: MailImporter.ImportError.self) { _ = try await importer.importPath(directory + "/missing", into: account) }
        }
    }
}

@Suite struct RoutingStepTests {
    /// An IMAP account with one rule of its own: `rule` is the rule's JSON members after its `accountId`.
    static func account(_ store: SQLStore, key: String, rule: String) async throws -> Account {
        var account = Account(key: key, name: "Desk \(key)", fromAddress: "desk@example.com")
        account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
        let stored = try await store.accounts.create(account)
        _ = try await store.rules.create(try RoutingRule.decode(try JSONCoding.decoder.decode(JSONValue.self, from: Data("""
            {"accountId": "\(stored.id)", \(rule)}
            """.utf8))))
        return stored
    }

    @Test func rulesRouteNewTicketsAndUnmatchedMailStaysUnassigned() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let stored = try await Self.account(store, key: "R", rule: """
                "name": "Billing", "conditions": [{"field": "subject", "operator": "contains", "value": "invoice"}],
                 "actions": [{"type": "tag", "tag": "billing"}, {"type": "priority", "priority": "high"}, {"type": "queue", "queueId": "q-billing"}]
                """)
            let routing = RoutingStep(store: store, logger: quietLogger)
            let pipeline = IngestPipeline(store: store.ingest, logger: quietLogger, afterCommit: { await routing.run(after: $0, account: $1) })
            let billing = try await pipeline.process(Array(mailText(subject: "Your invoice 42", messageId: "r1@x").utf8), account: stored,
                                                     position: nil, source: "t")
            let billingId = try #require(billing.ticketId)
            let routed = try #require(try await store.tickets.ticket(id: billingId))
            #expect(routed.queueId == "q-billing")
            #expect(routed.tags == ["billing"])
            #expect(routed.priority == .high)
            let other = try await pipeline.process(Array(mailText(from: "bob@example.com", subject: "Hello", messageId: "r2@x").utf8), account: stored,
                                                   position: nil, source: "t")
            let otherId = try #require(other.ticketId)
            let unrouted = try #require(try await store.tickets.ticket(id: otherId))
            #expect(unrouted.queueId == nil && unrouted.agentId == nil)
            // Unassigned: no agent yet, whatever the queue (issue 27), so the routed one waiting in its queue too.
            #expect(Set(try await store.tickets.tickets(.init(unassigned: true)).items.map(\.id)) == [unrouted.id, routed.id])
        }
    }
}

extension RoutingStepTests {
    /// As `mailroom serve` wires it: routing runs once per committed batch, with the account's rules
    /// read once and each new ticket handed over as created. A reply in the same batch still finds
    /// its ticket as the rules left it, and the unassigned view hears of each new ticket as stored.
    @Test func aCommittedBatchIsRoutedAsOneMomentWithTicketsAsCreated() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let stored = try await Self.account(store, key: "B", rule: """
                "name": "Billing", "conditions": [{"field": "subject", "operator": "contains", "value": "invoice"}],
                 "actions": [{"type": "tag", "tag": "billing"}]
                """)
            let hub = LiveEventHub()
            let service = RoutingService(store: store, events: hub, logger: quietLogger)
            let routing = RoutingStep(store: store, logger: quietLogger, service: service)
            let pipeline = IngestPipeline(store: store.ingest, logger: quietLogger, onBatchCommit: { await routing.run(after: $0) })
            let raws = [
                mailText(subject: "Invoice 7", messageId: "b1@x"),
                mailText(from: "bob@example.com", subject: "Hello", messageId: "b2@x"),
                mailText(subject: "Re: Invoice 7", messageId: "b3@x", inReplyTo: "b1@x"),
            ].enumerated().map { IngestPipeline.Inbound(raw: Array($1.utf8), position: nil, source: "m\($0)") }
            let result = try await pipeline.processBatch(raws, account: stored)
            #expect(result.outcomes.map(\.name) == ["created", "created", "appended"])
            let invoiceId = try #require(result.outcomes[0].ticketId), helloId = try #require(result.outcomes[1].ticketId)
            let invoice = try #require(try await store.tickets.ticket(id: invoiceId))
            let hello = try #require(try await store.tickets.ticket(id: helloId))
            #expect(invoice.tags == ["billing"] && invoice.messageCount == 2)
            #expect(hello.tags == [] && hello.queueId == nil && hello.agentId == nil)
            // Each new ticket was announced to the unassigned view, as stored.
            let announced = hub.subscribe(after: 0).backlog.filter { $0.type == .ticket }
            #expect(announced.contains { $0.data == hello.jsonValue })
            #expect(announced.contains { $0.data["id"] == .string(invoice.id) })
        }
    }

    /// A header condition decides the same whether routing gets the message as the pipeline parsed
    /// it (as `mailroom serve` wires it) or reads the raw message back and parses it again.
    @Test(arguments: [true, false])
    func headerRulesSeeTheMessagesHeaderFields(handsOverTheParsedMessage: Bool) async throws {
        try await TestDatabase.sqlite.withStore { store in
            let stored = try await Self.account(store, key: "H", rule: """
                "name": "Scanner", "conditions": [{"field": "header:X-Spam-Flag", "operator": "is", "value": "YES"}],
                 "actions": [{"type": "tag", "tag": "spam"}]
                """)
            let routing = RoutingStep(store: store, logger: quietLogger)
            let pipeline = IngestPipeline(store: store.ingest, logger: quietLogger, onCommit: { committed in
                await routing.run(after: committed.outcome, account: committed.account, mail: handsOverTheParsedMessage ? committed.mail : nil)
            })
            let flagged = try await pipeline.process(Array(mailText(subject: "Offer", messageId: "h1@x", extraHeaders: "X-Spam-Flag: YES\r\n").utf8),
                                                     account: stored, position: nil, source: "t")
            let clean = try await pipeline.process(Array(mailText(from: "bob@example.com", subject: "Question", messageId: "h2@x").utf8),
                                                   account: stored, position: nil, source: "t")
            #expect(try await store.tickets.ticket(id: try #require(flagged.ticketId))?.tags == ["spam"])
            #expect(try await store.tickets.ticket(id: try #require(clean.ticketId))?.tags == [])
        }
    }
}

@Suite struct AutoReplyPathTests {
    func account(_ store: SQLStore, key: String, address: String) async throws -> Account {
        var account = Account(key: key, name: "Desk \(key)", fromAddress: address)
        account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
        account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(host: "127.0.0.1", port: 2525, auth: ServerAuth(method: .none)))
        account.resolvers = [.customerPerAccount]
        let stored = try await store.accounts.create(account)
        var existing = try await store.templates.find(key: "ack")
        if existing == nil {
            existing = try await store.templates.create(
                MessageTemplate(key: "ack", kind: .autoReply, subject: "We got it: {{ ticket.subject }}", text: "Ticket {{ ticket.number }} is open."))
        }
        let template = try #require(existing)
        let rule = try RoutingRule.decode(try JSONCoding.decoder.decode(JSONValue.self, from: Data("""
            {"accountId": "\(stored.id)", "name": "Acknowledge",
             "actions": [{"type": "autoReply", "templateId": "\(template.id)", "mode": "always", "recipients": "sender"}]}
            """.utf8)))
        _ = try await store.rules.create(rule)
        return stored
    }

    @Test func aRuleAutoRepliesWithRFC3834HeadersAndNeverToMachines() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let desk = try await account(store, key: "A", address: "desk@example.com")
            let routing = RoutingStep(store: store, logger: quietLogger)
            let pipeline = IngestPipeline(store: store.ingest, logger: quietLogger, afterCommit: { await routing.run(after: $0, account: $1) })
            _ = try await pipeline.process(Array(mailText(subject: "Help", messageId: "h1@x").utf8), account: desk, position: nil, source: "t")
            let queued = try await store.outbox.items(state: .queued)
            #expect(queued.count == 1)
            let raw = try #require(try await store.rawMail.blob(sha256: queued[0].rawSha256))
            let reply = MIMEMessage(parsing: raw)
            #expect(reply.headers["auto-submitted"] == "auto-replied")
            #expect(reply.headers["x-auto-response-suppress"] == "All")
            #expect(reply.headers["precedence"] == "auto_reply")
            #expect(reply.subject == "We got it: Help")
            #expect(reply.to.map(\.address) == ["ann@example.com"])

            // An automatic message gets no answer.
            _ = try await pipeline.process(Array(mailText(from: "robot@example.com", subject: "Out of office", messageId: "ooo@x",
                                                          extraHeaders: "Auto-Submitted: auto-replied\r\n").utf8), account: desk, position: nil, source: "t")
            _ = try await pipeline.process(Array(mailText(from: "mailer-daemon@example.com", subject: "Failure", messageId: "md@x").utf8),
                                           account: desk, position: nil, source: "t")
            #expect(try await store.outbox.items(state: .queued).count == 1)
        }
    }

    @Test func twoAccountsAnsweringEachOtherStop() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let first = try await account(store, key: "ONE", address: "one@desk.example")
            let second = try await account(store, key: "TWO", address: "two@desk.example")
            let routing = RoutingStep(store: store, logger: quietLogger)
            let pipeline = IngestPipeline(store: store.ingest, logger: quietLogger, afterCommit: { await routing.run(after: $0, account: $1) })
            // One writes to two; from then on each auto-reply is delivered to the other account, as a mail loop would.
            _ = try await pipeline.process(Array(mailText(from: "one@desk.example", subject: "Hello", messageId: "start@x").utf8),
                                           account: second, position: nil, source: "t")
            var delivered = 0
            for _ in 0..<20 {
                let queued = try await store.outbox.items(state: .queued)
                guard let next = queued.first else { break }
                let raw = try #require(try await store.rawMail.blob(sha256: next.rawSha256))
                try await store.database.withConnection { db in
                    try await db.raw("UPDATE outbox SET state = 'sent' WHERE id = \(bind: next.id)").run()
                }
                delivered += 1
                let target = next.accountId == first.id ? second : first
                _ = try await pipeline.process(raw, account: target, position: nil, source: "loop")
            }
            #expect(delivered == 1, "the first auto-reply carries Auto-Submitted, so the other side does not answer it")
        }
    }
}
