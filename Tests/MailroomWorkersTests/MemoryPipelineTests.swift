import Foundation
import Logging
import MailroomCore
import MailroomMemoryStore
import MailroomWorkers
import Testing

/// The ingest pipeline over the in-memory stores: parse, triage and the ingest steps, no database.
@Suite struct MemoryPipelineTests {
    static let logger: Logger = {
        var logger = Logger(label: "memory-pipeline")
        logger.logLevel = .critical
        return logger
    }()

    static func mail(_ id: String, subject: String, extra: String = "") -> [UInt8] {
        Array("""
            From: Ann <ann@example.com>\r
            To: desk@example.com\r
            Subject: \(subject)\r
            Message-ID: <\(id)>\r
            \(extra)Date: Mon, 7 Dec 2026 10:00:00 +0000\r
            \r
            Hello from \(id).\r

            """.utf8)
    }

    static func account() -> Account {
        var account = Account(key: "MEM", name: "Memory desk", fromAddress: "desk@example.com")
        account.id = "memory-account"
        account.resolvers = [.caseId]
        account.incoming.maxMessageBytes = 4_096
        account.incoming.headerFilters = [HeaderFilter(header: "X-Spam", match: .equals, value: "yes", action: .skip),
                                          HeaderFilter(header: "X-Priority", match: .contains, value: "1", action: .tag, tag: "urgent")]
        return account
    }

    @Test func aBatchIsTriagedIngestedAndItsPositionMovesInOneCommit() async throws {
        let store = MemoryTicketStore()
        let pipeline = IngestPipeline(store: store, logger: Self.logger)
        let account = Self.account()
        func inbound(_ raw: [UInt8], uid: UInt32) -> IngestPipeline.Inbound {
            IngestPipeline.Inbound(raw: raw, position: .imap(folder: "INBOX", uidValidity: 7, uid: uid), source: "INBOX uid \(uid)")
        }
        let batch = [
            inbound(Self.mail("a1@x", subject: "Invoice", extra: "X-Priority: 1 (Highest)\r\n"), uid: 1),
            inbound(Self.mail("a2@x", subject: "Re: Invoice", extra: "In-Reply-To: <a1@x>\r\n"), uid: 2),
            inbound(Self.mail("s1@x", subject: "Cheap pills", extra: "X-Spam: yes\r\n"), uid: 3),
            inbound(Array("no header at all".utf8), uid: 4),
            inbound(Self.mail("big@x", subject: "Large", extra: "X-Pad: \(String(repeating: "x", count: 5_000))\r\n"), uid: 5),
        ]
        let result = try await pipeline.processBatch(batch, account: account)
        #expect(result.failure == nil)
        #expect(result.outcomes.map(\.name) == ["created", "appended", "skipped", "quarantined", "quarantined"])
        let ticketId = try #require(result.outcomes[0].ticketId)
        #expect(result.outcomes[1].ticketId == ticketId)
        #expect(try await store.ticket(id: ticketId)?.tags == ["urgent"])
        #expect(try await store.messages(ticketId: ticketId).count == 2)
        #expect(try await store.imapPosition(accountId: account.id, folder: "INBOX") == IMAPPosition(uidValidity: 7, highWater: 5))
        let reasons = try await store.quarantined(accountId: account.id).map(\.reason)
        #expect(Set(reasons) == [.unparseable, .tooLarge])
        #expect(try await store.messageCount(accountId: account.id) == 2)

        // The same batch again (a fetch repeated after a crash) adds nothing.
        let again = try await pipeline.processBatch(Array(batch.prefix(2)), account: account)
        #expect(again.outcomes.map(\.name) == ["duplicate", "duplicate"])
        #expect(try await store.messages(ticketId: ticketId).count == 2)
    }
}
