import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

@Suite struct ReplyComposerTests {
    func setUp(_ store: SQLStore, configure: (inout Account) -> Void = { _ in }) async throws -> (Account, Ticket, InboundMail) {
        var account = Account(key: "DESK", name: "Desk", fromAddress: "desk@example.com", fromName: "Example Desk",
                              subjectPrefix: "[Desk]", replyTo: "answers@example.com")
        account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
        account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(host: "127.0.0.1", port: 2525, security: .none,
                                                                                       auth: ServerAuth(method: .none)))
        account.signature = Signature(html: "<p>{{ agent.name }}<br>{{ account.name }}</p>", beforeQuote: true)
        configure(&account)
        let stored = try await store.accounts.create(account)
        let customerRaw = Array(mailText(subject: "Where is my order?", messageId: "order-1@customer.example",
                                         extraHeaders: "Cc: partner@customer.example, desk@example.com\r\n").utf8)
        let customerMail = try InboundMailParser.parse(customerRaw)
        let outcome = try await store.ingest.ingest(customerMail, raw: customerRaw, account: stored, position: nil)
        let ticketId = try #require(outcome.ticketId)
        let ticket = try #require(try await store.tickets.ticket(id: ticketId))
        return (stored, ticket, customerMail)
    }

    @Test func aReplyThreadsAndTheCustomersAnswerJoinsTheTicket() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (account, ticket, customer) = try await setUp(store)
            let agent = Principal(userId: "u1", name: "Alice Agent", role: .agent)
            let message = try await ReplyComposer(store: store).compose(
                ticketId: ticket.id, request: ReplyRequest(mode: .reply, text: "It ships today."), author: agent)
            #expect(message.direction == .outbound)
            #expect(message.deliveryState == .queued)
            let raw = try #require(try await store.rawMail.blob(sha256: message.rawSha256))
            let sent = MIMEMessage(parsing: raw)
            #expect(sent.inReplyTo == ["order-1@customer.example"])
            #expect(sent.references == ["order-1@customer.example"])
            #expect(sent.subject == "Re: [Desk] Where is my order? [Ticket#\(ticket.number)]")
            #expect(sent.from.first?.address == "desk@example.com")
            #expect(sent.from.first?.name == "Example Desk")
            #expect(sent.replyTo.map(\.address) == ["answers@example.com"])
            #expect(sent.to.map(\.address) == ["ann@example.com"])
            let text = MessageSummary(sent).text ?? ""
            #expect(text.contains("It ships today."))
            let signature = try #require(text.range(of: "Alice Agent"))
            let quote = try #require(text.range(of: "> Hello"))
            #expect(signature.lowerBound < quote.lowerBound, "the signature goes before the quote when the account says so")
            #expect(try await store.outbox.items(state: .queued).count == 1)
            #expect(try await store.tickets.ticket(id: ticket.id)?.lastMessageDirection == .outbound)

            // The customer's mail program answers the reply: it joins the same ticket through caseId.
            let sentId = try #require(sent.messageID)
            let answer = try InboundMailParser.parse(Array(mailText(subject: "Re: Re: [Desk] Where is my order?", messageId: "order-2@customer.example",
                                                                    inReplyTo: sentId).utf8))
            let outcome = try await store.ingest.ingest(answer, raw: [9], account: account, position: nil)
            #expect(outcome.ticketId == ticket.id)
            _ = customer
        }
    }

    @Test func replyAllCopiesTheOthersButNotOurselves() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (_, ticket, _) = try await setUp(store) { $0.signature = Signature(html: "<b>Sig</b>", beforeQuote: false) }
            let message = try await ReplyComposer(store: store).compose(
                ticketId: ticket.id, request: ReplyRequest(mode: .replyAll, text: "Copying everyone."),
                author: Principal(userId: nil, name: "A", role: .agent))
            #expect(message.to.map(\.address) == ["ann@example.com"])
            #expect(message.cc.map(\.address) == ["partner@customer.example"])
            let raw = try #require(try await store.rawMail.blob(sha256: message.rawSha256))
            let text = MessageSummary(MIMEMessage(parsing: raw)).text ?? ""
            let quote = try #require(text.range(of: "> Hello"))
            let signature = try #require(text.range(of: "Sig"))
            #expect(quote.lowerBound < signature.lowerBound, "the signature goes after the quote by default")
        }
    }

    @Test func cannedAnswersFillTheirVariables() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (account, ticket, _) = try await setUp(store)
            let canned = try await store.cannedAnswers.create(CannedAnswer(name: "Thanks", text: "Thank you {{ customer.name }}, ticket {{ ticket.number }}.",
                                                                           accountId: account.id))
            let message = try await ReplyComposer(store: store).compose(
                ticketId: ticket.id, request: ReplyRequest(cannedAnswerId: canned.id), author: Principal(userId: nil, name: "A", role: .agent))
            let raw = try #require(try await store.rawMail.blob(sha256: message.rawSha256))
            #expect(MessageSummary(MIMEMessage(parsing: raw)).text?.contains("Thank you Customer, ticket \(ticket.number).") == true)
            await #expect(throws: DomainError.self) {
                _ = try await ReplyComposer(store: store).compose(ticketId: ticket.id, request: ReplyRequest(cannedAnswerId: "nope"),
                                                                  author: Principal(userId: nil, name: "A", role: .agent))
            }
        }
    }

    @Test func aCannedAnswerRendersForTheEditorWithTheTicketsValues() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (account, ticket, _) = try await setUp(store)
            let agent = Principal(userId: nil, name: "Alice Agent", role: .agent)
            let text = try await store.cannedAnswers.create(CannedAnswer(
                name: "Thanks", text: "Thank you {{ customer.name }}, ticket {{ ticket.number }}. {{ agent.name }}", accountId: account.id))
            let rendered = try await ReplyComposer(store: store).renderCanned(ticketId: ticket.id, cannedAnswerId: text.id, author: agent)
            #expect(rendered.text == "Thank you Customer, ticket \(ticket.number). Alice Agent")
            // An HTML-only answer gives its plain text for the editor.
            let html = try await store.cannedAnswers.create(CannedAnswer(name: "Bold", html: "<p>Dear <b>{{ customer.name }}</b></p>"))
            let fromHTML = try await ReplyComposer(store: store).renderCanned(ticketId: ticket.id, cannedAnswerId: html.id, author: agent)
            #expect(fromHTML.text == "Dear Customer")
            #expect(fromHTML.html == "<p>Dear <b>Customer</b></p>")
            // Another account's answer is not offered on this ticket.
            let other = try await store.accounts.create(Account(key: "OTHER", name: "Other"))
            let foreign = try await store.cannedAnswers.create(CannedAnswer(name: "Theirs", text: "x", accountId: other.id))
            await #expect(throws: DomainError.self) {
                _ = try await ReplyComposer(store: store).renderCanned(ticketId: ticket.id, cannedAnswerId: foreign.id, author: agent)
            }
        }
    }

    @Test func theMappedOutgoingAccountSends() async throws {
        try await TestDatabase.sqlite.withStore { store in
            var sender = Account(key: "SEND", name: "Sender", fromAddress: "noreply-desk@example.com")
            sender.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(host: "smtp.example.com", auth: ServerAuth(method: .none)))
            let mapped = try await store.accounts.create(sender)
            let (_, ticket, _) = try await setUp(store) { $0.outgoingAccountId = mapped.id }
            let message = try await ReplyComposer(store: store).compose(ticketId: ticket.id, request: ReplyRequest(text: "Hi"),
                                                                        author: Principal(userId: nil, name: "A", role: .agent))
            #expect(message.from.first?.address == "noreply-desk@example.com")
            #expect(try await store.outbox.items().first?.accountId == mapped.id)
        }
    }

    @Test func badRequestsNameTheField() {
        #expect(ReplyRequest(mode: .forward, text: "fyi").validate().map(\.field) == ["to"])
        #expect(ReplyRequest(to: ["not an address"], text: "x").validate().map(\.field) == ["to[0]"])
        #expect(ReplyRequest().validate().map(\.field) == ["text"])
    }
}

@Suite struct AccountTemplateTests {
    @Test func theAccountsTemplateWrapsTheMessage() async throws {
        try await TestDatabase.sqlite.withStore { store in
            var account = Account(key: "T", name: "Styled", fromAddress: "desk@example.com")
            account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
            account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(host: "127.0.0.1", port: 2525, auth: ServerAuth(method: .none)))
            account.template = "<div style=\"font-family: Georgia\">{{{body}}}<p>{{ account.name }} &middot; ticket {{ ticket.number }}</p></div>"
            account.signature = Signature(html: "<p>{{ agent.name }} &lt;{{ customer.name }}&gt;</p>")
            let stored = try await store.accounts.create(account)
            let raw = Array(mailText(from: "o'brien@example.com", subject: "Hello", messageId: "t1@x").utf8)
            let ticketId = try #require(try await store.ingest.ingest(try InboundMailParser.parse(raw), raw: raw, account: stored, position: nil).ticketId)
            let message = try await ReplyComposer(store: store).compose(ticketId: ticketId, request: ReplyRequest(text: "Fine <thanks>"),
                                                                        author: Principal(userId: nil, name: "Bea & Co", role: .agent))
            let html = try #require(message.html)
            #expect(html.contains("font-family: Georgia"))
            #expect(html.contains("Styled &middot; ticket"))
            #expect(html.contains("Fine &lt;thanks&gt;"), "the agent's text is escaped in the HTML part")
            #expect(html.contains("Bea &amp; Co"), "variables are escaped in HTML")
            #expect(message.text?.contains("Bea & Co") == true, "and not in the text part")
        }
    }
}

@Suite struct ReplyAttachmentTests {
    @Test func uploadedFilesAndInlineImagesAreAttached() async throws {
        try await TestDatabase.sqlite.withStore { store in
            var account = Account(key: "A", name: "Attach", fromAddress: "desk@example.com")
            account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
            account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(host: "127.0.0.1", port: 2525, auth: ServerAuth(method: .none)))
            let stored = try await store.accounts.create(account)
            let raw = Array(mailText(subject: "Invoice please", messageId: "a1@x").utf8)
            let ticketId = try #require(try await store.ingest.ingest(try InboundMailParser.parse(raw), raw: raw, account: stored, position: nil).ticketId)
            let pdf = try await store.outbox.saveUpload(Array("%PDF-1.4 fake".utf8), filename: "invoice.pdf", contentType: "application/pdf",
                                                        contentId: nil, inline: false, uploadedBy: nil)
            let logo = try await store.outbox.saveUpload([0x89, 0x50, 0x4E, 0x47], filename: "logo.png", contentType: "image/png",
                                                         contentId: "logo@desk", inline: true, uploadedBy: nil)
            let message = try await ReplyComposer(store: store).compose(
                ticketId: ticketId, request: ReplyRequest(html: "<p>Attached.</p><img src=\"cid:logo@desk\">", attachmentIds: [pdf.id, logo.id]),
                author: Principal(userId: nil, name: "A", role: .agent))
            let invoice = try #require(message.attachments.first { $0.filename == "invoice.pdf" })
            #expect(invoice.contentType == "application/pdf")
            #expect(invoice.sha256 == pdf.sha256)
            let image = try #require(message.attachments.first { $0.filename == "logo.png" })
            #expect(image.inline)
            #expect(image.contentId == "logo@desk")
            await #expect(throws: DomainError.self) {
                _ = try await ReplyComposer(store: store).compose(ticketId: ticketId, request: ReplyRequest(text: "x", attachmentIds: ["missing"]),
                                                                  author: Principal(userId: nil, name: "A", role: .agent))
            }
        }
    }
}
