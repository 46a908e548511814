import Foundation
import MailMessage
import MailroomCore

/// Turns an agent's reply into an outgoing message on its ticket and in the outbox: recipients,
/// subject, From and Reply-To from the sending account (Ameyo's incoming-to-outgoing mapping),
/// the signature before or after the quoted original, and the threading headers from which
/// `caseId` finds the ticket again when the customer answers.
public struct ReplyComposer: Sendable {
    let store: Repositories

    public init(store: some RepositoryProvider) { self.store = store.repositories }

    /// The queued message, and warnings for the agent (recipients that bounced permanently before).
    public func composeWithWarnings(ticketId: String, request: ReplyRequest, author: Principal,
                                    now: Date = Date()) async throws -> (message: TicketMessage, warnings: [String]) {
        let message = try await compose(ticketId: ticketId, request: request, author: author, now: now)
        let bounced = try await store.outbox.permanentlyBounced((message.to + message.cc).map(\.address))
        let warnings = bounced.map { entry in
            "mail to \(entry.address) bounced before" + (entry.status.map { " (status \($0))" } ?? "")
                + (entry.diagnostic.map { ": \($0)" } ?? "") + "; check the address"
        }
        return (message, warnings)
    }

    /// A canned answer as it reads on this ticket, for the reply editor: the agent sees (and may
    /// change) every word before it is sent. The text of an HTML-only answer is its plain text.
    public func renderCanned(ticketId: String, cannedAnswerId: String, author: Principal) async throws -> CannedAnswerRendering {
        guard let ticket = try await store.tickets.ticket(id: ticketId) else { throw DomainError.notFound("ticket \(ticketId)") }
        guard let account = try await store.accounts.find(id: ticket.accountId) else { throw DomainError.notFound("account \(ticket.accountId)") }
        var sender = account
        if let mapped = account.outgoingAccountId, let target = try await store.accounts.find(id: mapped), target.sends { sender = target }
        let canned = try await availableCanned(cannedAnswerId, account: account)
        let variables = TemplateRenderer.context(ticket: ticket, account: sender, agentName: author.name)
        let html = canned.html.map { TemplateRenderer.render($0, context: variables) }
        let text = canned.text.map { TemplateRenderer.render($0, context: variables, asText: true) }
            ?? html.map { HTMLText.plainText($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        return CannedAnswerRendering(cannedAnswerId: canned.id, text: text, html: html)
    }

    private func availableCanned(_ id: String, account: Account) async throws -> CannedAnswer {
        guard let canned = try await store.cannedAnswers.find(id: id), canned.active,
              canned.accountId == nil || canned.accountId == account.id else {
            throw DomainError.invalid([FieldError("cannedAnswerId", "names no canned answer available on this account")])
        }
        return canned
    }

    public func compose(ticketId: String, request: ReplyRequest, author: Principal, now: Date = Date()) async throws -> TicketMessage {
        let errors = request.validate()
        guard errors.isEmpty else { throw DomainError.invalid(errors) }
        guard let ticket = try await store.tickets.ticket(id: ticketId) else { throw DomainError.notFound("ticket \(ticketId)") }
        guard let account = try await store.accounts.find(id: ticket.accountId) else { throw DomainError.notFound("account \(ticket.accountId)") }
        var sender = account
        if let mapped = account.outgoingAccountId, let target = try await store.accounts.find(id: mapped), target.sends {
            sender = target
        }
        guard sender.sends, OutboxSender.sendsHere(sender.outgoing.protocol) else {
            throw DomainError.conflict(FieldError("accountId", "account '\(sender.key)' has no outgoing server to send from"))
        }

        let messages = try await store.tickets.messages(ticketId: ticketId)
        let original = try await lastInbound(messages, customer: ticket.customer)
        let ownAddresses = Set([account.fromAddress, sender.fromAddress].map { $0.lowercased() })

        var to: [Mailbox]
        var cc: [Mailbox] = []
        switch request.mode {
        case .reply, .replyAll:
            to = original.map { $0.replyTo.isEmpty ? $0.from : $0.replyTo } ?? []
            if to.isEmpty { to = [Mailbox(name: ticket.customer.name, address: ticket.customer.address)] }
            if request.mode == .replyAll, let original {
                cc = (original.to + original.cc).filter { !ownAddresses.contains($0.address.lowercased()) && !to.contains($0) }
            }
        case .forward:
            to = []
        case .new:
            to = [Mailbox(name: ticket.customer.name, address: ticket.customer.address)]
        }
        if let explicit = request.to { to = explicit.map { Mailbox(address: $0) } }
        if let explicit = request.cc { cc = explicit.map { Mailbox(address: $0) } }
        let bcc = (request.bcc ?? []).map { Mailbox(address: $0) }
        guard !to.isEmpty else { throw DomainError.invalid([FieldError("to", "is required: the ticket has no customer address to answer")]) }

        var builder = MessageBuilder(from: Mailbox(name: sender.fromName.isEmpty ? nil : sender.fromName, address: sender.fromAddress))
        builder.to = to
        builder.cc = cc
        builder.bcc = bcc
        if let replyTo = sender.replyTo { builder.replyTo = [Mailbox(address: replyTo)] }
        builder.subject = subject(for: request, ticket: ticket, account: sender)
        builder.date = now
        let domain = sender.fromAddress.split(separator: "@").last.map(String.init) ?? "mailroom.invalid"
        builder.messageID = "mailroom.\(ticket.number).\(Identifier.make(at: now))@\(domain)"
        if let original, request.mode != .new {
            let ids = ReplyQuoting.threadingIDs(for: original)
            builder.inReplyTo = ids.inReplyTo
            builder.references = ids.references
        }

        // The agent's words, the canned answer, the signature, and the quoted original, in that order
        // (or with the signature after the quote when the account says so).
        var text = request.text ?? ""
        var html = request.html
        var alias: String?
        if let userId = author.userId { alias = try await store.users.find(id: userId)?.alias }
        let variables = TemplateRenderer.context(ticket: ticket, account: sender, agentName: author.name, agentAlias: alias)
        if let cannedId = request.cannedAnswerId {
            let canned = try await availableCanned(cannedId, account: account)
            if let cannedText = canned.text {
                text = [text, TemplateRenderer.render(cannedText, context: variables, asText: true)].filter { !$0.isEmpty }.joined(separator: "\n\n")
            }
            if let cannedHTML = canned.html {
                html = [html ?? "", TemplateRenderer.render(cannedHTML, context: variables)].filter { !$0.isEmpty }.joined(separator: "\n")
            }
        }
        // The quote's inline images go with it as the same Content-ID parts (or leave the quote cleanly).
        let quotedWithImages = (original != nil && request.mode != .new) ? original.map { ReplyQuoting.quotedOriginalWithImages(of: $0) } : nil
        let quoted = quotedWithImages?.quoted
        let body = MessageDecoration.decorate(text: text, html: html, quoted: quoted.map { ($0.text, $0.html) }, account: sender,
                                              variables: variables)
        builder.text = body.text
        builder.html = body.html
        builder.attachments += try await accountImages(sender, html: body.html)
        if let body = body.html {
            // Only images the sent HTML still shows (an account template may leave the quote out).
            let shown = Set(ReplyQuoting.contentIDReferences(in: body).map { $0.lowercased() })
            let own = Set(builder.attachments.compactMap { $0.contentID?.lowercased() })
            builder.attachments += (quotedWithImages?.images ?? []).filter {
                guard let id = $0.contentID?.lowercased() else { return false }
                return shown.contains(id) && !own.contains(id)
            }
        }

        if let ids = request.attachmentIds, !ids.isEmpty {
            let uploads = try await store.outbox.uploads(ids: ids)
            if uploads.count != Set(ids).count {
                let missing = Set(ids).subtracting(uploads.map(\.id)).sorted()
                throw DomainError.invalid([FieldError("attachmentIds", "names no uploaded attachment: \(missing.joined(separator: ", "))")])
            }
            for upload in uploads {
                guard let data = try await store.rawMail.blob(sha256: upload.sha256) else {
                    throw DomainError.invalid([FieldError("attachmentIds", "the file \(upload.filename) is no longer stored; upload it again")])
                }
                builder.attachments.append(OutgoingAttachment(filename: upload.filename, mediaType: Self.mediaType(upload.contentType),
                                                              data: data, contentID: upload.contentId, isInline: upload.inline))
            }
        }
        let raw = builder.build()
        let mail = try InboundMailParser.parse(raw)
        let recipients = (to + cc + bcc).map(\.address)
        let (message, _) = try await store.outbox.enqueue(mail, raw: raw, ticketId: ticketId, sendingAccountId: sender.id,
                                                          envelopeFrom: sender.fromAddress, recipients: recipients, verp: sender.outgoing.verp,
                                                          by: author.userId, now: now)
        return message
    }

    /// The account's logo and signature images that the message's HTML shows, as inline parts.
    /// An image whose upload is gone is left out (the HTML then shows nothing there), not a reason
    /// to hold the reply back.
    func accountImages(_ account: Account, html: String?) async throws -> [OutgoingAttachment] {
        let images = InlineImage.referenced(by: html, in: account.inlineImages)
        guard !images.isEmpty else { return [] }
        let uploads = Dictionary(try await store.outbox.uploads(ids: images.map(\.uploadId)).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var parts: [OutgoingAttachment] = []
        for image in images {
            guard let upload = uploads[image.uploadId], let data = try await store.rawMail.blob(sha256: upload.sha256) else { continue }
            parts.append(OutgoingAttachment(filename: image.filename.isEmpty ? upload.filename : image.filename,
                                            mediaType: Self.mediaType(upload.contentType), data: data, contentID: image.contentId, isInline: true))
        }
        return parts
    }

    static func mediaType(_ text: String) -> MediaType {
        let parts = text.split(separator: ";")[0].split(separator: "/", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return MediaType(type: "application", subtype: "octet-stream") }
        return MediaType(type: parts[0], subtype: parts[1])
    }

    /// An automatic answer from a template (a rule's auto-reply action), with the RFC 3834 headers
    /// that stop other responders from answering it; queued like any reply.
    public func composeAutoReply(ticket: Ticket, template: MessageTemplate, recipients: [EmailAddress], account: Account,
                                 headers: [MailroomCore.HeaderField], now: Date = Date()) async throws -> TicketMessage {
        var sender = account
        if let mapped = account.outgoingAccountId, let target = try await store.accounts.find(id: mapped), target.sends { sender = target }
        guard sender.sends, OutboxSender.sendsHere(sender.outgoing.protocol) else {
            throw DomainError.conflict(FieldError("accountId", "account '\(sender.key)' has no outgoing server to send from"))
        }
        let variables = TemplateRenderer.context(ticket: ticket, account: sender, agentName: sender.fromName.isEmpty ? sender.name : sender.fromName)
        var builder = MessageBuilder(from: Mailbox(name: sender.fromName.isEmpty ? nil : sender.fromName, address: sender.fromAddress))
        builder.to = recipients.map { Mailbox(name: $0.name, address: $0.address) }
        if let replyTo = sender.replyTo { builder.replyTo = [Mailbox(address: replyTo)] }
        let fallback = "Re: \(SubjectPrefixes.stripped(ticket.subject)) \(SubjectNormalizer.tag(for: ticket.number))"
        builder.subject = template.subject.map { TemplateRenderer.render($0, context: variables, asText: true) } ?? fallback
        // Auto-replies and notices carry the account's signature and template as replies do.
        let body = MessageDecoration.decorate(text: template.text.map { TemplateRenderer.render($0, context: variables, asText: true) },
                                              html: template.html.map { TemplateRenderer.render($0, context: variables) },
                                              quoted: nil, account: sender, variables: variables)
        builder.text = body.text
        builder.html = body.html
        builder.attachments += try await accountImages(sender, html: body.html)
        builder.date = now
        let domain = sender.fromAddress.split(separator: "@").last.map(String.init) ?? "mailroom.invalid"
        builder.messageID = "mailroom.\(ticket.number).auto.\(Identifier.make(at: now))@\(domain)"
        if let original = try await lastInbound(try await store.tickets.messages(ticketId: ticket.id), customer: ticket.customer) {
            let ids = ReplyQuoting.threadingIDs(for: original)
            builder.inReplyTo = ids.inReplyTo
            builder.references = ids.references
        }
        builder.extraHeaders = headers.map { OutgoingHeader($0.name, $0.value) }
        let raw = builder.build()
        let mail = try InboundMailParser.parse(raw)
        let (message, _) = try await store.outbox.enqueue(mail, raw: raw, ticketId: ticket.id, sendingAccountId: sender.id,
                                                          envelopeFrom: sender.fromAddress, recipients: recipients.map(\.address),
                                                          verp: sender.outgoing.verp, now: now)
        return message
    }

    private func subject(for request: ReplyRequest, ticket: Ticket, account: Account) -> String {
        ReplySubject.chosen(request.subject, mode: request.mode, ticketSubject: ticket.subject, ticketNumber: ticket.number,
                            prefix: account.subjectPrefix)
    }

    /// The newest message from the customer (not a bounce or an observer), parsed from its stored copy.
    func lastInbound(_ messages: [TicketMessage], customer: EmailAddress) async throws -> MIMEMessage? {
        let inbound = messages.filter { $0.direction == .inbound }
        guard let last = inbound.last(where: { $0.from.contains { $0.key == customer.key } }) ?? inbound.last,
              let raw = try await store.rawMail.blob(sha256: last.rawSha256) else { return nil }
        return MIMEMessage(parsing: raw)
    }
}
