import Foundation
import MailroomCore
import MailroomMemoryStore
import Testing

private func mail(_ id: String, from: String = "ann@example.com", subject: String = "Invoice", inReplyTo: [String] = [],
                  body: String? = nil) -> InboundMail {
    let text = body ?? "body of \(id)"
    return InboundMail(rawSha256: "raw-\(id)", rawSize: text.utf8.count, contentHash: "content-\(id)-\(text)", messageId: id,
                       inReplyTo: inReplyTo, subject: subject, from: [EmailAddress(address: from)],
                       to: [EmailAddress(address: "desk@example.com")], date: nil, text: text, html: nil)
}

private func account() -> Account {
    var account = Account(key: "D", name: "Desk", fromAddress: "desk@example.com", fromName: "Desk")
    account.id = "account-1"
    return account
}

/// The ticket lifecycle and the ingest steps, decided in Core and run against the memory store.
@Suite struct IngestStepsTests {
    @Test func theLifecycleIsATableOfStatusChanges() {
        #expect(TicketLifecycle.change(after: .inbound).applied(to: .pending) == .open)
        #expect(TicketLifecycle.change(after: .inbound).applied(to: .new) == .new)
        #expect(TicketLifecycle.change(after: .inbound).applied(to: .closed) == .closed)
        #expect(TicketLifecycle.change(after: .outbound).applied(to: .new) == .open)
        #expect(TicketLifecycle.change(after: .outbound).applied(to: .pending) == .pending)
        #expect(TicketLifecycle.unread(after: .inbound) == true)
        #expect(TicketLifecycle.unread(after: .outbound) == nil)
        #expect(TicketLifecycle.adding(["b", "a", "b"], to: ["a"]) == ["a", "b"])
    }

    @Test func participantsAreLowercasedAndEachRoleListsAnAddressOnce() {
        let participants = TicketParticipant.of(from: [EmailAddress(address: "Ann@X.com")],
                                                to: [EmailAddress(address: "desk@x.com"), EmailAddress(address: "DESK@x.com")],
                                                cc: [EmailAddress(address: "ann@x.com")])
        #expect(participants == [TicketParticipant(address: "ann@x.com", role: .from), TicketParticipant(address: "desk@x.com", role: .to),
                                 TicketParticipant(address: "ann@x.com", role: .cc)])
    }

    @Test func aCustomerReplyReopensAPendingTicketAndMarksItUnread() async throws {
        let store = MemoryTicketStore()
        let ticketId = try #require(try await store.ingestOne(mail("a1"), raw: [1], account: account(), position: nil).ticketId)
        _ = try await store.setUnread(ticketId: ticketId, unread: false)
        store.setStatus(ticketId: ticketId, .pending)
        _ = try await store.ingestOne(mail("a2", subject: "Re: Invoice", inReplyTo: ["a1"]), raw: [2], account: account(), position: nil)
        let ticket = try #require(try await store.ticket(id: ticketId))
        #expect(ticket.status == .open)
        #expect(ticket.unread)
        #expect(ticket.messageCount == 2)
    }

    @Test func anAccountWithMarkAsUnreadOffLeavesTheReadMarkAsTheAgentSetIt() async throws {
        #expect(TicketLifecycle.unread(after: .inbound, markUnread: false) == nil)
        #expect(TicketLifecycle.unread(after: .inbound, markUnread: true) == true)
        let store = MemoryTicketStore()
        var quiet = account()
        quiet.markUnread = false
        let ticketId = try #require(try await store.ingestOne(mail("a1"), raw: [1], account: quiet, position: nil).ticketId)
        #expect(try await store.ticket(id: ticketId)?.unread == false, "a new ticket on the account starts read")
        _ = try await store.ingestOne(mail("a2", subject: "Re: Invoice", inReplyTo: ["a1"]), raw: [2], account: quiet, position: nil)
        #expect(try await store.ticket(id: ticketId)?.unread == false, "nor does a reply mark it unread")
        _ = try await store.setUnread(ticketId: ticketId, unread: true)
        _ = try await store.ingestOne(mail("a3", subject: "Re: Invoice", inReplyTo: ["a1"]), raw: [3], account: quiet, position: nil)
        #expect(try await store.ticket(id: ticketId)?.unread == true, "an agent's own unread mark stays")
        #expect(try await store.ticket(id: ticketId)?.messageCount == 3)
    }

    @Test func markAsUnreadIsOnUnlessAnAccountTurnsItOff() throws {
        #expect(Account(key: "D", name: "Desk").markUnread)
        let decoded = try JSONCoding.decoder.decode(Account.self, from: Data(#"{"key":"D","name":"Desk"}"#.utf8))
        #expect(decoded.markUnread)
    }

    @Test func anAgentReplyOpensANewTicketButLeavesItRead() async throws {
        let store = MemoryTicketStore()
        let ticketId = try #require(try await store.ingestOne(mail("a1"), raw: [1], account: account(), position: nil).ticketId)
        _ = try await store.setUnread(ticketId: ticketId, unread: false)
        store.addOutbound(mail("out1", from: "desk@example.com", subject: "Re: Invoice"), ticketId: ticketId, accountId: "account-1")
        let ticket = try #require(try await store.ticket(id: ticketId))
        #expect(ticket.status == .open)
        #expect(!ticket.unread)
        #expect(ticket.lastMessageDirection == .outbound)
    }

    @Test func aBounceJoinsTheTicketOfTheMessageItReportsOnWhateverTheResolvers() async throws {
        let store = MemoryTicketStore()
        var desk = account()
        desk.resolvers = [.subjectAndCustomer]
        let ticketId = try #require(try await store.ingestOne(mail("a1"), raw: [1], account: desk, position: nil).ticketId)
        store.addOutbound(mail("reply-1@desk", from: "desk@example.com", subject: "Re: Invoice"), ticketId: ticketId, accountId: desk.id)
        var report = mail("dsn-1", from: "mailer-daemon@example.net", subject: "Undelivered Mail Returned to Sender")
        report.bounce = BounceReport(originalMessageIds: ["unknown@x", "reply-1@desk"], recipients: [
            .init(address: "Ann@Example.com", action: "failed", status: "5.1.1", diagnosticCode: "no such user"),
            .init(address: "later@example.com", action: "delayed", status: "4.4.1", diagnosticCode: nil),
        ])
        let outcome = try await store.ingestOne(report, raw: [3], account: desk, position: nil)
        guard case .bounce(let joined, _) = outcome else { Issue.record("not a bounce: \(outcome)"); return }
        #expect(joined == ticketId)
        #expect(try await store.ticket(id: ticketId)?.escalated == true)
        #expect(store.permanentlyBounced("ann@example.com")?.status == "5.1.1")
        #expect(store.permanentlyBounced("later@example.com") == nil)
        let reported = try await store.messages(ticketId: ticketId).first { $0.messageId == "reply-1@desk" }
        #expect(reported?.deliveryState == .bounced)
        // The same report again is a duplicate on that ticket.
        #expect(try await store.ingestOne(report, raw: [3], account: desk, position: nil) == .duplicate(ticketId: ticketId))
    }

    @Test func aReportAboutNothingWeSentIsOrdinaryMail() async throws {
        let store = MemoryTicketStore()
        var report = mail("dsn-2", from: "mailer-daemon@example.net", subject: "Delivery failure")
        report.bounce = BounceReport(originalMessageIds: ["not-ours@x"], recipients: [])
        let outcome = try await store.ingestOne(report, raw: [4], account: account(), position: nil)
        guard case .created = outcome else { Issue.record("expected a new ticket: \(outcome)"); return }
    }

    @Test func aKnownCustomerWithoutANameTakesTheNameAMessageGives() async throws {
        let store = MemoryTicketStore()
        _ = try await store.ingestOne(mail("a1"), raw: [1], account: account(), position: nil)
        #expect(try await store.customer(address: "ann@example.com")?.name == nil)
        var named = mail("a2", subject: "Other")
        named.from = [EmailAddress(name: "Ann Smith", address: "ANN@example.com")]
        _ = try await store.ingestOne(named, raw: [2], account: account(), position: nil)
        #expect(try await store.customer(address: "ann@example.com")?.name == "Ann Smith")
    }
}
