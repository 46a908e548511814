import Foundation
import MailroomCore
import Testing

/// Every store keeps a ticket's history with the changes it records (issue 27): created by
/// ingest, tagged, moved, closed and reopened, with who did it, oldest first.
@Suite struct TicketHistoryContractTests {
    @Test(arguments: StoreUnderTest.all)
    func changesLeaveTheirHistoryInOrder(_ store: StoreUnderTest) async throws {
        try await store.with { stores in
            let mail = inbound(from: "ann@example.com", subject: "Invoice", messageId: "h1@x")
            let ticketId = try #require(try await stores.ingest.ingestOne(mail, raw: [1], account: stores.accounts[0], position: nil).ticketId)
            _ = try await stores.tickets.updateAttributes(ticketId: ticketId, tags: ["vip"], priority: nil, escalated: nil, by: "user-1")
            _ = try await stores.tickets.updateAttributes(ticketId: ticketId, tags: ["vip"], priority: .high, escalated: nil, by: "user-1")
            try await stores.tickets.applyRouting(ticketId: ticketId, tags: ["vip", "rule"], priority: nil, queueId: nil, agentId: nil,
                                                  closeWithDisposition: nil)
            try await stores.tickets.moveToAccount(ticketId: ticketId, accountId: stores.accounts[1].id, by: "user-2")
            #expect(try await stores.tickets.reopen(ticketId: ticketId, by: "user-1") == nil, "an open ticket is not reopened")
            #expect(try await stores.tickets.lastClosing(ticketId: ticketId) == nil)
            #expect(try await stores.tickets.close(ticketId: ticketId, dispositionId: "solved", by: "user-2"))
            #expect(try await stores.tickets.close(ticketId: ticketId, dispositionId: "again", by: "user-1") == false)
            let closing = try #require(try await stores.tickets.lastClosing(ticketId: ticketId))
            #expect(closing.actorId == "user-2" && closing.details["dispositionId"] == "solved")

            let reopened = try #require(try await stores.tickets.reopen(ticketId: ticketId, by: "user-1"))
            #expect(reopened.status == .open)
            #expect(try await stores.tickets.dispositionId(ticketId: ticketId) == nil)
            #expect(try await stores.tickets.reopen(ticketId: ticketId, by: "user-1") == nil)

            let history = try await stores.tickets.history(ticketId: ticketId)
            #expect(history.map(\.kind) == [.created, .tagged, .tagged, .transferred, .closed, .reopened])
            #expect(history.map(\.actorId) == [nil, "user-1", nil, "user-2", "user-2", "user-1"])
            #expect(history[1].details == ["added": "vip"])
            #expect(history[2].details == ["added": "rule"])
            #expect(history[3].details == ["fromAccountId": stores.accounts[0].id, "toAccountId": stores.accounts[1].id])
            #expect(history[0].details["customer"] == "ann@example.com")
            #expect(history.allSatisfy { $0.ticketId == ticketId })
            #expect(try await stores.tickets.history(ticketId: "missing").isEmpty)

            // A rule that closes: by Mailroom, with its disposition.
            let other = inbound(from: "bob@example.com", subject: "Spam", messageId: "h2@x")
            let spamId = try #require(try await stores.ingest.ingestOne(other, raw: [2], account: stores.accounts[0], position: nil).ticketId)
            try await stores.tickets.applyRouting(ticketId: spamId, tags: [], priority: nil, queueId: nil, agentId: nil, closeWithDisposition: "junk")
            #expect(try await stores.tickets.ticket(id: spamId)?.status == .closed)
            #expect(try await stores.tickets.dispositionId(ticketId: spamId) == "junk")
            let ruleClosing = try #require(try await stores.tickets.lastClosing(ticketId: spamId))
            #expect(ruleClosing.actorId == nil && ruleClosing.details["dispositionId"] == "junk")
        }
    }
}
