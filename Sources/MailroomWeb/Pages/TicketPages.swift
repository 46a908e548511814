import Foundation
import HTTPTypes
import Hummingbird
import MailMessage
import MailroomCore

extension WebSite {
    var routing: RoutingViews { RoutingViews(store: store) }

    func addTicketRoutes(to pages: RouterGroup<MailroomRequestContext>) {
        pages.get("tickets") { request, context in try await self.ticketList(request, context) }
        pages.get("tickets/fragment") { request, context in try await self.ticketList(request, context, fragment: true) }
        pages.get("tickets/:id") { request, context in try await self.ticketPage(request, context) }
        addTicketPartRoutes(to: pages)
        pages.get("web/messages/:id/body") { request, context in try await self.messageBody(request, context) }
        pages.get("web/messages/:id/attachments/:index") { request, context in try await self.attachment(request, context) }
    }

    // MARK: List

    static let pageSize = 25

    /// The filters of Motion's interactions list, read from the query (invalid values are ignored
    /// and shown as not applied, rather than failing the page).
    struct ListQuery {
        var view = "mine"
        var queueId: String?
        var accountId: String?
        var campaignId: String?
        var status: TicketStatus?
        var unread: Bool?
        var agentId: String?
        var tag: String?
        var since: String?
        var until: String?
        var cursor: String?

        init(_ request: Request) {
            let query = request.uri.queryParameters
            func value(_ name: String) -> String? {
                guard let text = query[name[...]].map(String.init)?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
                return text
            }
            view = value("view") ?? "mine"
            queueId = value("queueId")
            accountId = value("accountId")
            campaignId = value("campaignId")
            status = value("status").flatMap(TicketStatus.init(rawValue:))
            unread = value("unread").map { $0 == "true" }
            agentId = value("agentId")
            tag = value("tag")
            since = value("since")
            until = value("until")
            cursor = value("cursor")
        }

        /// The query string of these filters (without the cursor), for links.
        func queryString(cursor: String? = nil) -> String {
            var items: [URLQueryItem] = [URLQueryItem(name: "view", value: view)]
            func add(_ name: String, _ value: String?) { if let value { items.append(URLQueryItem(name: name, value: value)) } }
            add("queueId", queueId)
            add("accountId", accountId)
            add("campaignId", campaignId)
            add("status", status?.rawValue)
            add("unread", unread.map { $0 ? "true" : "false" })
            add("agentId", agentId)
            add("tag", tag)
            add("since", since)
            add("until", until)
            add("cursor", cursor)
            var components = URLComponents()
            components.queryItems = items
            return components.percentEncodedQuery ?? ""
        }
    }

    static func day(_ text: String?) -> Date? {
        guard let text else { return nil }
        return ISO8601.parse(text.count == 10 ? text + "T00:00:00Z" : text)
    }

    func ticketList(_ request: Request, _ context: MailroomRequestContext, fragment: Bool = false) async throws -> Response {
        let session = try self.session(request, context)
        let me = session.user
        var query = ListQuery(request)
        let memberQueues = try await routing.memberQueues(me.id)
        let memberOf = Set(memberQueues.map(\.id))
        let linkedAccounts = !memberQueues.allSatisfy { $0.accountIds.isEmpty }
        let seesEveryTicket = TicketVisibility.seesEveryTicket(me.role)
        var filter = TicketFilter(limit: Self.pageSize)
        // Agents list only what the API would show them, whatever the view (the same rule as opening one).
        filter.visibility = try await TicketVisibility.of(userId: me.id, role: me.role, memberOf: { _ in memberQueues },
                                                          campaignAccounts: { try await store.routing.campaignAccountIds(userId: $0) })
        switch query.view {
        case "queue":
            guard let queueId = query.queueId, seesEveryTicket || memberOf.contains(queueId) else {
                throw PageError.notFound("That queue")
            }
            filter.queueId = queueId
        case "unassigned" where seesEveryTicket || linkedAccounts || !memberQueues.isEmpty:
            filter.unassigned = true
        case "all" where seesEveryTicket:
            break
        default:
            query.view = "mine"
            filter.agentId = me.id
        }
        if seesEveryTicket || query.view != "mine" { filter.agentId = query.agentId ?? filter.agentId }
        filter.accountIds = query.accountId.map { [$0] }
        let campaigns = try await store.routing.campaigns()
        if let campaignId = query.campaignId, let campaign = campaigns.first(where: { $0.id == campaignId }) {
            // A campaign's tickets are those of its accounts.
            filter.accountIds = filter.accountIds.map { $0.filter(campaign.accountIds.contains) } ?? campaign.accountIds
        }
        filter.status = query.status
        filter.unread = query.unread
        filter.tag = query.tag
        filter.since = Self.day(query.since)
        filter.until = Self.day(query.until).map { query.until?.count == 10 ? $0.addingTimeInterval(86_400) : $0 }
        filter.cursor = query.cursor
        let found: (items: [Ticket], nextCursor: String?)
        do {
            found = try await store.tickets.tickets(filter)
        } catch is DomainError {
            query.cursor = nil
            filter.cursor = nil
            found = try await store.tickets.tickets(filter)
        }
        let accounts = try await store.accounts.list(includeDeleted: true)
        let users = try await store.users.list()
        let queues = try await routing.queues()
        let accountKeys = Dictionary(accounts.map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        let userNames = Dictionary(users.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let visibleQueues = queues.filter { seesEveryTicket || memberOf.contains($0.id) }
        var views = [TicketListView.ViewChoice(value: "mine", label: "My tickets", selected: query.view == "mine")]
        if seesEveryTicket {
            views.append(.init(value: "all", label: "All tickets", selected: query.view == "all"))
            views.append(.init(value: "unassigned", label: "Unassigned", selected: query.view == "unassigned"))
        } else if linkedAccounts || !memberQueues.isEmpty {
            // No agent yet, whatever the queue: the tickets of their queues waiting to be taken.
            views.append(.init(value: "unassigned", label: "Unassigned", selected: query.view == "unassigned"))
        }
        if !visibleQueues.isEmpty { views.append(.init(value: "queue", label: "Queue…", selected: query.view == "queue")) }
        let rows = TicketRowsView(
            tickets: found.items.map { ticketRow($0, accountKeys: accountKeys, userNames: userNames) },
            empty: found.items.isEmpty,
            firstPage: query.cursor != nil ? "/tickets?" + query.queryString() : nil,
            nextPage: found.nextCursor.map { "/tickets?" + query.queryString(cursor: $0) })
        if fragment { return try render(rows) }
        let list = TicketListView(
            views: views,
            queues: visibleQueues.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == query.queueId) },
            hasQueues: !visibleQueues.isEmpty,
            accounts: accounts.filter { $0.deletedAt == nil }.map {
                ChoiceView(id: $0.id, label: "\($0.key) · \($0.name)", selected: $0.id == query.accountId)
            },
            campaigns: campaigns.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == query.campaignId) },
            hasCampaigns: !campaigns.isEmpty,
            agents: users.filter(\.active).map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == query.agentId) },
            statuses: Self.options(TicketStatus.self, selected: query.status),
            unreadAny: query.unread == nil, unreadYes: query.unread == true, unreadNo: query.unread == false,
            tag: query.tag ?? "", since: query.since ?? "", until: query.until ?? "",
            fragmentSource: "/tickets/fragment?" + query.queryString(cursor: query.cursor),
            showAgentFilter: seesEveryTicket || query.view != "mine",
            rows: rows)
        return try render(page(session, title: "Tickets", section: "tickets", live: true, list))
    }

    func ticketRow(_ ticket: Ticket, accountKeys: [String: String], userNames: [String: String]) -> TicketRowView {
        TicketRowView(
            id: ticket.id, number: ticket.number, subject: ticket.subject.isEmpty ? "(no subject)" : ticket.subject,
            contact: ticket.customer.name.map { "\($0) <\(ticket.customer.address)>" } ?? ticket.customer.address,
            started: Self.displayTime(ticket.createdAt), startedISO: ISO8601.format(ticket.createdAt),
            lastMessage: Self.displayTime(ticket.lastMessageAt), lastMessageISO: ISO8601.format(ticket.lastMessageAt),
            direction: ticket.lastMessageDirection == .outbound ? "out" : "in",
            directionLabel: ticket.lastMessageDirection == .outbound ? "sent" : "received",
            status: ticket.status.rawValue, unread: ticket.unread, escalated: ticket.escalated,
            agent: ticket.agentId.flatMap { userNames[$0] } ?? "—",
            account: accountKeys[ticket.accountId] ?? "?",
            tags: ticket.tags.joined(separator: ", "))
    }

    /// In the signed-in person's time zone (`PageTime`).
    static func displayTime(_ date: Date) -> String {
        PageTime.format(date)
    }

    // MARK: One ticket

    /// The ticket if the signed-in person may see it; otherwise "not found" (never "forbidden").
    func visibleTicket(_ id: String, session: SessionInfo) async throws -> Ticket {
        let access = TicketAccess(tickets: store.tickets, routing: store.routing)
        guard let ticket = try await access.visibleTicket(id, to: session.principal) else { throw PageError.notFound("Ticket \(id)") }
        return ticket
    }

    func ticketPage(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context)
        let id = try request.parameter("id", context: context)
        let ticket = try await visibleTicket(id, session: session)
        let messages = try await store.tickets.messages(ticketId: ticket.id)
        let account = try await store.accounts.find(id: ticket.accountId)
        let showImagesFor = request.uri.queryParameters["images"].map(String.init)
        let users = try await store.users.list()
        let userNames = Dictionary(users.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let canned = try await store.cannedAnswers.list(accountId: ticket.accountId).filter(\.active)
        let dispositions = try await store.dispositions.list(accountId: ticket.accountId).filter(\.active)
        let queues = try await routing.queues()
        let agents = users.filter { $0.active && $0.id != session.user.id }
        let lastInbound = messages.last { $0.direction == .inbound }
        let presence = try await routing.presence(session.user.id)
        // Replies go from the mapped outgoing account when there is one, with its subject prefix.
        var replySender = account
        if let mapped = account?.outgoingAccountId, let found = try await store.accounts.find(id: mapped) { replySender = found }
        let view = TicketPageView(
            ticket: ticketRow(ticket, accountKeys: [ticket.accountId: account?.key ?? "?"], userNames: userNames),
            ticketId: ticket.id,
            agentId: ticket.agentId ?? "",
            priority: ticket.priority.rawValue,
            summary: try await summaryView(ticket, session: session),
            thread: TicketThreadView(ticketId: ticket.id, messages: messages.map { messageView($0, ticket: ticket, showImagesFor: showImagesFor) }),
            history: try await historyView(ticket),
            accountName: account?.name ?? "(deleted account)",
            canned: canned.map { TicketPageView.CannedView(id: $0.id, name: $0.name) },
            hasCanned: !canned.isEmpty,
            dispositions: dispositions.map { NamedView(id: $0.id, name: $0.name) },
            dispositionRequired: account?.mandatoryDisposition.enabled ?? false,
            transferEnabled: account?.transfer.enabled ?? false,
            transferToQueue: account?.transfer.toQueue ?? false,
            transferToAgent: account?.transfer.toAgent ?? false,
            transferTimeout: account?.transfer.timeoutSeconds ?? TransferSettings.defaultTimeoutSeconds,
            replySubject: ReplySubject.make(mode: .reply, ticketSubject: ticket.subject, ticketNumber: ticket.number,
                                            prefix: replySender?.subjectPrefix ?? ""),
            queues: queues.map { NamedView(id: $0.id, name: $0.name) },
            agents: agents.map { NamedView(id: $0.id, name: $0.name) },
            signatureBefore: account?.signature.beforeQuote ?? false,
            hasSignature: !(account?.signature.html.isEmpty ?? true),
            replyTo: lastInbound.map { Self.addresses($0.replyToOrFrom) } ?? ticket.customer.address,
            isClosed: ticket.status == .closed,
            unread: ticket.unread,
            markReadOnOpen: ticket.unread && ticket.agentId == session.user.id,
            tagsText: ticket.tags.joined(separator: ", "),
            priorities: Self.options(TicketPriority.self, selected: ticket.priority),
            escalated: ticket.escalated,
            pauseStatus: account?.mandatoryDisposition.pauseStatus ?? "",
            presenceSummary: Self.presenceView(state: presence?.state ?? "offline", reason: presence?.reason).summary)
        return try render(page(session, title: "Ticket \(ticket.number)", section: "tickets", live: true, view))
    }

    static func addresses(_ list: [EmailAddress]) -> String {
        list.map { address in address.name.map { "\($0) <\(address.address)>" } ?? address.address }.joined(separator: ", ")
    }

    static func byteCount(_ bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        if bytes < 1024 * 1024 { return "\((bytes + 1023) / 1024) KB" }
        return String(format: "%.1f MB", Double(bytes) / 1_048_576)
    }

    // MARK: Message HTML and attachments

    func visibleMessage(_ request: Request, _ context: MailroomRequestContext) async throws -> TicketMessage {
        let session = try self.session(request, context)
        let id = try request.parameter("id", context: context)
        guard let message = try await store.tickets.message(id: id) else { throw PageError.notFound("Message \(id)") }
        _ = try await visibleTicket(message.ticketId, session: session)
        return message
    }

    /// The message's HTML, sanitized, for the sandboxed frame of the ticket page. Its own policy
    /// forbids scripts and every load but inline styles and this server's images (and remote images
    /// when the agent asked to see them); `sandbox` applies even if the URL is opened on its own.
    func messageBody(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let message = try await visibleMessage(request, context)
        let showImages = request.uri.queryParameters["images"] == "1"
        let parts = message.attachments.enumerated().reduce(into: [String: String]()) { map, item in
            if let contentID = item.element.contentId {
                map[contentID.trimmingCharacters(in: CharacterSet(charactersIn: "<> ")).lowercased()] =
                    "/web/messages/\(message.id)/attachments/\(item.offset)"
            }
        }
        let result = HTMLSanitizer.sanitize(message.html ?? "", options: .init(showRemoteImages: showImages, resolveContentID: { id in
            parts[id.lowercased()]
        }))
        let document = """
            <!doctype html><html><head><meta charset="utf-8"><base target="_blank"><style>\(Self.frameStyle)</style></head>\
            <body>\(result.html)</body></html>
            """
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "private, no-store",
            .contentSecurityPolicy: Self.messagePolicy(showImages: showImages),
        ]
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("X-Frame-Options")!] = "SAMEORIGIN"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    static func messagePolicy(showImages: Bool) -> String {
        // Images only from this server (the message's own parts) and data: URIs, unless asked.
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:\(showImages ? " https: http:" : ""); "
            + "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; "
            + "sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    }

    static let frameStyle = "body{font:14px/1.45 system-ui,sans-serif;color:#1d232b;margin:8px;overflow-wrap:anywhere}"
        + "img{max-width:100%;height:auto}.mr-remote-image,.mr-missing-image{display:inline-block;border:1px dashed #aab3bf;"
        + "padding:2px 6px;color:#5b6573;font-size:12px}blockquote{border-left:3px solid #d7dce2;margin:0 0 0 4px;padding-left:8px}"

    /// Raster images in these formats are shown inline; everything else downloads.
    static let inlineImageTypes: Set<String> = ["image/png", "image/jpeg", "image/gif", "image/webp"]

    func attachment(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let message = try await visibleMessage(request, context)
        guard let index = Int(try request.parameter("index", context: context)), message.attachments.indices.contains(index) else {
            throw PageError.notFound("Attachment")
        }
        let attachment = message.attachments[index]
        // An outgoing message's attachments are uploads, kept whole; a received message's only inside it.
        var bytes = try await store.rawMail.blob(sha256: attachment.sha256)
        if bytes == nil, let raw = try await store.rawMail.blob(sha256: message.rawSha256) {
            bytes = MIMEMessage(parsing: raw).attachmentContent(index: index, sha256: attachment.sha256)
        }
        guard let bytes else { throw PageError.notFound("Attachment") }
        let type = attachment.contentType.lowercased().split(separator: ";")[0].trimmingCharacters(in: .whitespaces)
        let inline = Self.inlineImageTypes.contains(type) && request.uri.queryParameters["download"] == nil
        let name = attachment.filename ?? "attachment-\(index + 1)"
        var headers: HTTPFields = [
            .contentType: inline ? type : "application/octet-stream",
            .contentDisposition: Self.contentDisposition(inline: inline, filename: name),
            .cacheControl: "private, max-age=3600",
            .contentSecurityPolicy: "default-src 'none'; sandbox",
        ]
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `attachment; filename="safe ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
    static func contentDisposition(inline: Bool, filename: String) -> String {
        let ascii = String(filename.unicodeScalars.map { scalar -> Character in
            (scalar.value >= 0x20 && scalar.value < 0x7F && scalar != "\"" && scalar != "\\") ? Character(scalar) : "_"
        })
        let encoded = filename.addingPercentEncoding(withAllowedCharacters: PercentEncoding.unreserved) ?? ascii
        return "\(inline ? "inline" : "attachment"); filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}

extension TicketMessage {
    /// Where a reply goes: Reply-To is not stored separately, so the sender.
    var replyToOrFrom: [EmailAddress] { from }
}
