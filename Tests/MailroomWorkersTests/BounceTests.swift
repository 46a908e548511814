import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// Delivery failure reports in the shapes the big providers send, written from their public formats.
enum BounceFixtures {
    static func postfix(original: String, recipient: String) -> String {
        """
        From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
        To: desk@example.com
        Subject: Undelivered Mail Returned to Sender
        Message-ID: <20261123101500.AB12@mx.example.net>
        Date: Mon, 23 Nov 2026 10:15:00 +0000
        Auto-Submitted: auto-replied
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="PFX.1700000000/mx.example.net"

        --PFX.1700000000/mx.example.net
        Content-Type: text/plain; charset=us-ascii

        This is the mail system at host mx.example.net.
        I'm sorry to have to inform you that your message could not be delivered.

        --PFX.1700000000/mx.example.net
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.net
        X-Postfix-Queue-ID: AB12
        Arrival-Date: Mon, 23 Nov 2026 10:14:59 +0000

        Final-Recipient: rfc822; \(recipient)
        Original-Recipient: rfc822;\(recipient)
        Action: failed
        Status: 5.1.1
        Remote-MTA: dns; customer.example
        Diagnostic-Code: smtp; 550 5.1.1 <\(recipient)>: Recipient address rejected: User unknown

        --PFX.1700000000/mx.example.net
        Content-Type: text/rfc822-headers

        From: Example Desk <desk@example.com>
        To: \(recipient)
        Subject: Re: Where is my order?
        Message-ID: <\(original)>

        --PFX.1700000000/mx.example.net--
        """.replacingOccurrences(of: "\n", with: "\r\n")
    }

    static func gmail(original: String, recipient: String) -> String {
        """
        From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
        To: desk@example.com
        Subject: Delivery Status Notification (Failure)
        Message-ID: <5f1e.gmail.dsn@mx.google.com>
        Date: Mon, 23 Nov 2026 10:15:00 -0800
        MIME-Version: 1.0
        Content-Type: multipart/report; boundary="000000000000gmail"; report-type=delivery-status

        --000000000000gmail
        Content-Type: multipart/related; boundary="000000000000inner"

        --000000000000inner
        Content-Type: multipart/alternative; boundary="000000000000alt"

        --000000000000alt
        Content-Type: text/plain; charset="UTF-8"

        ** Address not found **
        Your message wasn't delivered to \(recipient) because the address couldn't be found.

        --000000000000alt
        Content-Type: text/html; charset="UTF-8"

        <html><body><h2>Address not found</h2></body></html>
        --000000000000alt--
        --000000000000inner--
        --000000000000gmail
        Content-Type: message/delivery-status

        Reporting-MTA: dns; googlemail.com
        Received-From-MTA: dns; desk.example.com
        Arrival-Date: Mon, 23 Nov 2026 10:14:58 -0800

        Final-Recipient: rfc822; \(recipient)
        Action: failed
        Status: 5.1.1
        Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.

        --000000000000gmail
        Content-Type: message/rfc822

        From: Example Desk <desk@example.com>
        To: \(recipient)
        Subject: Re: Where is my order?
        Message-ID: <\(original)>
        Date: Mon, 23 Nov 2026 10:14:57 +0000

        It ships today.
        --000000000000gmail--
        """.replacingOccurrences(of: "\n", with: "\r\n")
    }

    static func outlook(original: String, recipient: String) -> String {
        """
        From: postmaster@outlook.com
        To: desk@example.com
        Subject: Undeliverable: Re: Where is my order?
        Message-ID: <exchange-ndr-1@outlook.com>
        Date: Mon, 23 Nov 2026 10:15:00 +0000
        Content-Language: en-US
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="_ndr_boundary_"

        --_ndr_boundary_
        Content-Type: text/html; charset="us-ascii"

        <html><body><b>Your message to \(recipient) couldn't be delivered.</b></body></html>
        --_ndr_boundary_
        Content-Type: message/delivery-status

        Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.outlook.com
        Received-From-MTA: dns;desk.example.com
        Arrival-Date: Mon, 23 Nov 2026 10:14:59 +0000

        Final-Recipient: rfc822;\(recipient)
        Action: failed
        Status: 5.2.2
        Diagnostic-Code: smtp;554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException

        --_ndr_boundary_
        Content-Type: message/rfc822

        From: Example Desk <desk@example.com>
        To: <\(recipient)>
        Subject: Re: Where is my order?
        Message-ID: <\(original)>

        It ships today.
        --_ndr_boundary_--
        """.replacingOccurrences(of: "\n", with: "\r\n")
    }

    /// Yahoo's classic plain-text bounce: no DSN, the original quoted below a line.
    static func yahoo(original: String, recipient: String) -> String {
        """
        From: MAILER-DAEMON@yahoo.com
        To: desk@example.com
        Subject: Failure Notice
        Message-ID: <yahoo-bounce-1@yahoo.com>
        Date: Mon, 23 Nov 2026 10:15:00 +0000
        Content-Type: text/plain; charset=us-ascii

        Sorry, we were unable to deliver your message to the following address.

        <\(recipient)>:
        554: delivery error: dd This user doesn't have a yahoo.com account (\(recipient)) [0] - mta1.mail.yahoo.com

        --- Below this line is a copy of the message.

        From: Example Desk <desk@example.com>
        To: \(recipient)
        Subject: Re: Where is my order?
        Message-ID: <\(original)>

        It ships today.
        """.replacingOccurrences(of: "\n", with: "\r\n")
    }
}

@Suite struct BounceTests {
    static let shapes: [(String, @Sendable (String, String) -> String)] = [
        ("postfix", BounceFixtures.postfix), ("gmail", BounceFixtures.gmail), ("outlook", BounceFixtures.outlook), ("yahoo", BounceFixtures.yahoo),
    ]

    @Test(arguments: ["postfix", "gmail", "outlook", "yahoo"])
    func aBounceJoinsTheTicketOfTheMessageItReportsOn(shape: String) async throws {
        try await TestDatabase.sqlite.withStore { store in
            var account = Account(key: "DESK", name: "Desk", fromAddress: "desk@example.com")
            account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
            account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(host: "127.0.0.1", port: 2525, auth: ServerAuth(method: .none)))
            // A subject resolver would put the bounce on a new ticket; a bounce must join its own ticket anyway.
            account.resolvers = [.subjectAndCustomer]
            let stored = try await store.accounts.create(account)
            let pipeline = IngestPipeline(store: store.ingest, settings: store.settings, logger: quietLogger)
            let first = try await pipeline.process(Array(mailText(subject: "Where is my order?", messageId: "c1@customer.example").utf8),
                                                   account: stored, position: nil, source: "test")
            let ticketId = try #require(first.ticketId)
            let reply = try await ReplyComposer(store: store).compose(ticketId: ticketId, request: ReplyRequest(text: "It ships today."),
                                                                      author: Principal(userId: nil, name: "A", role: .agent))
            let originalId = try #require(reply.messageId)

            let builder = try #require(Self.shapes.first { $0.0 == shape }?.1)
            let report = builder(originalId, "ann@example.com")
            let outcome = try await pipeline.process(Array(report.utf8), account: stored, position: nil, source: "bounce")
            #expect(outcome.ticketId == ticketId, "\(shape): \(outcome)")
            guard case .bounce = outcome else { Issue.record("\(shape) was not recognised as a bounce: \(outcome)"); return }
            #expect(try await store.tickets.message(id: reply.id)?.deliveryState == .bounced)
            #expect(try await store.tickets.ticket(id: ticketId)?.escalated == true)
            #expect(try await store.outbox.items(state: .bounced).count == 1)
            if shape != "yahoo" {
                // A permanent failure is remembered: the next reply to that address warns the agent.
                let (_, warnings) = try await ReplyComposer(store: store).composeWithWarnings(
                    ticketId: ticketId, request: ReplyRequest(text: "Trying again"), author: Principal(userId: nil, name: "A", role: .agent))
                #expect(warnings.count == 1)
                #expect(warnings.first?.contains("ann@example.com") == true)
            }
        }
    }

    @Test func theDSNFieldsAreRead() throws {
        let mail = try InboundMailParser.parse(Array(BounceFixtures.postfix(original: "orig@example.com", recipient: "bob@customer.example").utf8))
        let bounce = try #require(mail.bounce)
        #expect(bounce.originalMessageIds.first == "orig@example.com")
        #expect(bounce.recipients.first?.address == "bob@customer.example")
        #expect(bounce.recipients.first?.status == "5.1.1")
        #expect(bounce.recipients.first?.action == "failed")
        #expect(bounce.recipients.first?.isPermanentFailure == true)
    }

    @Test func aReportAboutMailWeNeverSentIsOrdinaryMail() async throws {
        try await TestDatabase.sqlite.withStore { store in
            var account = Account(key: "DESK", name: "Desk", fromAddress: "desk@example.com")
            account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
            let stored = try await store.accounts.create(account)
            let pipeline = IngestPipeline(store: store.ingest, settings: store.settings, logger: quietLogger)
            let outcome = try await pipeline.process(Array(BounceFixtures.gmail(original: "unknown@elsewhere", recipient: "x@y.example").utf8),
                                                     account: stored, position: nil, source: "stray")
            guard case .created = outcome else { Issue.record("\(outcome)"); return }
        }
    }
}

@Suite struct VERPTests {
    /// The return path is in To, or only in the field the delivering server added (any case).
    @Test(arguments: ["To", "DELIVERED-TO", "X-Original-To"])
    func aPlainBounceToTheReturnPathFindsItsMessage(field: String) async throws {
        try await TestDatabase.sqlite.withStore { store in
            var account = Account(key: "V", name: "VERP", fromAddress: "desk@example.com")
            account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
            account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(host: "127.0.0.1", port: 2525, auth: ServerAuth(method: .none)),
                                              verp: true)
            account.resolvers = [.subjectAndCustomer]
            let stored = try await store.accounts.create(account)
            let pipeline = IngestPipeline(store: store.ingest, settings: store.settings, logger: quietLogger)
            let first = try await pipeline.process(Array(mailText(subject: "Order", messageId: "v1@customer.example").utf8),
                                                   account: stored, position: nil, source: "t")
            let ticketId = try #require(first.ticketId)
            let reply = try await ReplyComposer(store: store).compose(ticketId: ticketId, request: ReplyRequest(text: "Shipped"),
                                                                      author: Principal(userId: nil, name: "A", role: .agent))
            let item = try #require(try await store.outbox.items().first)
            #expect(item.envelopeFrom == "desk+mr-\(item.id)@example.com")
            #expect(VERPAddress.outboxId(in: item.envelopeFrom) == item.id)
            // A relay's bounce with no report, no threading headers and a sender not on the failure list.
            let bounce = """
                From: postmaster@relay.example
                \(field == "To" ? "To: \(item.envelopeFrom)" : "To: desk@example.com\n\(field): \(item.envelopeFrom)")
                Subject: Returned mail
                Message-ID: <r1@relay.example>

                The mail you sent could not be delivered.
                """.replacingOccurrences(of: "\n", with: "\r\n")
            let outcome = try await pipeline.process(Array(bounce.utf8), account: stored, position: nil, source: "bounce")
            guard case .bounce(let bouncedTicket, _) = outcome else { Issue.record("\(outcome)"); return }
            #expect(bouncedTicket == ticketId)
            #expect(try await store.tickets.message(id: reply.id)?.deliveryState == .bounced)
            #expect(VERPAddress.outboxId(in: "desk@example.com") == nil)
            #expect(VERPAddress.outboxId(in: "desk+mr-../x@example.com") == nil)
        }
    }
}
