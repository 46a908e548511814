import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// The account's template and signature go on every message sent from it (issue 24): agents'
/// replies, rules' auto-replies and notices; every placeholder the signature editor offers renders.
@Suite struct MessageDecorationTests {
    func styledAccount(_ store: SQLStore) async throws -> (Account, Ticket) {
        var account = Account(key: "ST", name: "Styled", fromAddress: "desk@example.com", fromName: "Example Desk")
        account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
        account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(host: "127.0.0.1", port: 2525, auth: ServerAuth(method: .none)))
        account.template = "<div class=\"brand\">{{{body}}}</div>"
        account.signature = Signature(html: "<p>Alias: {{ agent.alias }} | Customer: {{ customer.name }}</p>", beforeQuote: true)
        let stored = try await store.accounts.create(account)
        // A sender without a display name: {{ customer.name }} falls back to the address.
        let raw = Array(mailText(subject: "Hello", messageId: "d1@x").replacingOccurrences(of: "From: Customer <ann@example.com>",
                                                                                         with: "From: nobody-named@example.com").utf8)
        let ticketId = try #require(try await store.ingest.ingest(try InboundMailParser.parse(raw), raw: raw, account: stored, position: nil).ticketId)
        return (stored, try #require(try await store.tickets.ticket(id: ticketId)))
    }

    @Test func anAgentsAliasAndTheCustomersNameRender() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (_, ticket) = try await styledAccount(store)
            let user = try await store.users.create(User(name: "Beatrice Agent", email: "bea@example.com", role: .agent, alias: "Bea"),
                                                passwordHash: nil)
            let message = try await ReplyComposer(store: store).compose(
                ticketId: ticket.id, request: ReplyRequest(text: "On its way."), author: Principal(userId: user.id, name: user.name, role: .agent))
            #expect(message.text?.contains("Alias: Bea |") == true, "\(message.text ?? "")")
            #expect(message.text?.contains("Customer: nobody-named@example.com") == true)
            let plain = try await store.users.create(User(name: "Carl Agent", email: "carl@example.com", role: .agent), passwordHash: nil)
            let second = try await ReplyComposer(store: store).compose(
                ticketId: ticket.id, request: ReplyRequest(text: "More."), author: Principal(userId: plain.id, name: plain.name, role: .agent))
            #expect(second.text?.contains("Alias: Carl Agent |") == true, "an agent without an alias is called by name")
        }
    }

    @Test func autoRepliesAndNoticesCarryTheTemplateAndTheSignature() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (account, ticket) = try await styledAccount(store)
            let template = MessageTemplate(key: "ack", kind: .autoReply, subject: "We got it", text: "Thank you, we will answer soon.")
            let message = try await ReplyComposer(store: store).composeAutoReply(ticket: ticket, template: template, recipients: [ticket.customer],
                                                                                 account: account, headers: [])
            let html = try #require(message.html, "the template makes an HTML part of a text-only auto-reply")
            #expect(html.contains("<div class=\"brand\">"))
            #expect(html.contains("Thank you, we will answer soon."))
            #expect(html.contains("mailroom-signature"))
            let text = try #require(message.text)
            #expect(text.hasPrefix("Thank you, we will answer soon."))
            #expect(text.contains("-- \nAlias: Example Desk |"), "the signature follows, signed by the account: \(text)")

            let htmlOnly = MessageTemplate(key: "moved", kind: .notification, subject: "Moved", html: "<p>Your ticket moved.</p>")
            let notice = try await ReplyComposer(store: store).composeAutoReply(ticket: ticket, template: htmlOnly, recipients: [ticket.customer],
                                                                                account: account, headers: [])
            #expect(notice.html?.contains("<div class=\"brand\"><div><p>Your ticket moved.</p>") == true, "\(notice.html ?? "")")
            #expect(notice.text?.contains("Your ticket moved.") == true, "an HTML-only notice gets a text part too")
        }
    }

    @Test func theLogoAndSignatureImagesGoInsideTheMessageAsInlineParts() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (plain, ticket) = try await styledAccount(store)
            let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 7, count: 64)
            let logo = try await store.outbox.saveUpload(png, filename: "logo.png", contentType: "image/png", contentId: "logo", inline: true,
                                                         uploadedBy: nil)
            let unused = try await store.outbox.saveUpload(png + [1], filename: "other.png", contentType: "image/png", contentId: "other",
                                                           inline: true, uploadedBy: nil)
            var account = plain
            account.inlineImages = [InlineImage(contentId: "logo", uploadId: logo.id, filename: "logo.png"),
                                    InlineImage(contentId: "other", uploadId: unused.id, filename: "other.png")]
            account.template = "<div class=\"brand\"><img src=\"cid:logo\" alt=\"Example\">{{{body}}}</div>"
            account = try await store.accounts.update(account)
            let message = try await ReplyComposer(store: store).compose(
                ticketId: ticket.id, request: ReplyRequest(text: "With our logo."), author: Principal(userId: nil, name: "Desk", role: .agent))
            let raw = String(decoding: try #require(try await store.rawMail.blob(sha256: message.rawSha256)), as: UTF8.self)
            #expect(raw.contains("Content-ID: <logo>"), "the logo is an inline part")
            #expect(!raw.contains("Content-ID: <other>"), "an image the message does not show is not sent")
            #expect(raw.contains("cid:logo"))
            let parsed = MIMEMessage(parsing: Array(raw.utf8))
            let summary = MessageSummary(parsed)
            #expect(summary.attachments.contains { $0.contentId == "logo" && $0.inline })

            let template = MessageTemplate(key: "ack", kind: .autoReply, subject: "We got it", text: "Thanks.")
            let auto = try await ReplyComposer(store: store).composeAutoReply(ticket: ticket, template: template, recipients: [ticket.customer],
                                                                              account: account, headers: [])
            let autoRaw = String(decoding: try #require(try await store.rawMail.blob(sha256: auto.rawSha256)), as: UTF8.self)
            #expect(autoRaw.contains("Content-ID: <logo>"), "auto-replies carry the logo too")
        }
    }

    @Test func imageNamesAreCheckedAndFoundInTheHTML() throws {
        let images = [InlineImage(contentId: "logo", uploadId: "u1"), InlineImage(contentId: "sig.photo", uploadId: "u2"),
                      InlineImage(contentId: "log", uploadId: "u3")]
        #expect(InlineImage.referenced(by: "<img src=\"cid:logo\"><img src='CID:sig.photo'>", in: images).map(\.contentId) == ["logo", "sig.photo"])
        #expect(InlineImage.referenced(by: "no images", in: images).isEmpty)
        var account = Account(key: "I", name: "Images")
        account.inlineImages = [InlineImage(contentId: "bad name", uploadId: "u1"), InlineImage(contentId: "ok", uploadId: ""),
                                InlineImage(contentId: "ok", uploadId: "u2")]
        let fields = AccountValidator.validate(account).map(\.field)
        #expect(fields.contains("inlineImages[0].contentId"))
        #expect(fields.contains("inlineImages[1].uploadId"))
        #expect(fields.contains("inlineImages[2].contentId"))
    }

    /// The template's font and size go on every HTML mail of the account as inline CSS: replies,
    /// auto-replies and notices (a text-only auto-reply gets an HTML part for it).
    @Test func theTemplatesFontAndSizeGoOnEveryMail() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (styled, ticket) = try await styledAccount(store)
            var account = styled
            account.template = nil
            account.font = MessageFont(family: .georgia, size: 15)
            account = try await store.accounts.update(account)
            let reply = try await ReplyComposer(store: store).compose(
                ticketId: ticket.id, request: ReplyRequest(text: "In Georgia."), author: Principal(userId: nil, name: "Desk", role: .agent))
            let replyHTML = try #require(reply.html)
            #expect(replyHTML.contains("font-family: Georgia") && replyHTML.contains("font-size: 15px"), "\(replyHTML)")
            let template = MessageTemplate(key: "ack", kind: .autoReply, subject: "We got it", text: "Thanks.")
            let auto = try await ReplyComposer(store: store).composeAutoReply(ticket: ticket, template: template, recipients: [ticket.customer],
                                                                              account: account, headers: [])
            let autoHTML = try #require(auto.html, "the font makes an HTML part of a text-only auto-reply")
            #expect(autoHTML.hasPrefix("<div style=\"font-family: Georgia") && autoHTML.contains("font-size: 15px"), "\(autoHTML)")
            account.font = nil
            account = try await store.accounts.update(account)
            let plain = try await ReplyComposer(store: store).compose(
                ticketId: ticket.id, request: ReplyRequest(text: "Unstyled."), author: Principal(userId: nil, name: "Desk", role: .agent))
            #expect(plain.html?.contains("font-family") != true)
        }
    }

    /// Every placeholder the signature editor offers renders a value, for an agent with and
    /// without an alias.
    @Test(arguments: Signature.placeholders)
    func everyOfferedPlaceholderRendersAValue(name: String) async throws {
        try await TestDatabase.sqlite.withStore { store in
            let (account, ticket) = try await styledAccount(store)
            for alias in ["Bea", nil] as [String?] {
                let context = TemplateRenderer.context(ticket: ticket, account: account, agentName: "Beatrice Agent", agentAlias: alias)
                let rendered = TemplateRenderer.render("[{{ \(name) }}]", context: context, asText: true)
                #expect(rendered != "[]" && !rendered.contains("{{"), "{{ \(name) }} rendered \(rendered)")
            }
        }
    }
}
