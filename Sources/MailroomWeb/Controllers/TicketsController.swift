import Foundation
import Hummingbird
import MailroomCore

/// Tickets and their messages, the quarantine, and each account's fetch status.
struct TicketsController {
    let tickets: any TicketRepository
    let quarantineStore: any QuarantineRepository
    let rawMail: any RawMailRepository
    let accounts: any AccountRepository
    let grants: any OAuth2GrantRepository
    let status: AccountStatusBoard
    let replay: @Sendable (QuarantinedMessage, [UInt8], Account) async throws -> IngestOutcome
    /// Who may see which ticket (agents: their own, their queues', and their accounts' unassigned ones).
    let access: TicketAccess
    let routing: (any RoutingOperations)?
    let events: any LiveEventPublisher
    /// Names of the people in tickets' histories.
    let users: any UserRepository

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("tickets", use: list)
        api.get("tickets/:id", use: show)
        api.patch("tickets/:id", use: patch)
        api.get("tickets/:id/messages", use: messages)
        api.post("tickets/:id/transfer", use: transfer)
        api.post("tickets/:id/close", use: close)
        api.post("tickets/:id/read", use: markRead)
        api.post("tickets/:id/unread", use: markUnread)
        api.get("messages/:id/raw", use: rawMessage)
        api.get("quarantine", use: quarantine)
        api.get("quarantine/:id", use: quarantined)
        api.get("quarantine/:id/raw", use: quarantinedRaw)
        api.post("quarantine/:id/replay", use: replayQuarantined)
        api.delete("quarantine/:id", use: deleteQuarantined)
        api.get("accounts/:id/status", use: accountStatus)
        addDeskRoutes(to: api)
    }

    /// `GET /api/v1/tickets` with DESIGN.md's filters.
    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<Ticket>> {
        try context.require(.agent)
        let query = request.uri.queryParameters
        var filter = TicketFilter()
        if let accountId = query["accountId"] { filter.accountIds = [String(accountId)] }
        if let campaignId = query["campaignId"] {
            // A campaign's tickets are those of its accounts (media profiles).
            guard let campaign = try await access.routing.campaign(id: String(campaignId)) else {
                throw APIError.invalid([FieldError("campaignId", "names no campaign")])
            }
            filter.accountIds = filter.accountIds.map { $0.filter(campaign.accountIds.contains) } ?? campaign.accountIds
        }
        filter.queueId = query["queueId"].map(String.init)
        filter.agentId = query["agentId"].map(String.init)
        if let status = query["status"] {
            guard let value = TicketStatus(rawValue: String(status)) else {
                throw APIError.invalid([FieldError("status", "must be one of \(TicketStatus.allowedNames)")])
            }
            filter.status = value
        }
        filter.unread = try query["unread"].map { try Self.bool(String($0), field: "unread") }
        filter.unassigned = try query["unassigned"].map { try Self.bool(String($0), field: "unassigned") }
        filter.tag = query["tag"].map(String.init)
        filter.since = try query["since"].map { try Self.date(String($0), field: "since") }
        filter.until = try query["until"].map { try Self.date(String($0), field: "until") }
        if let limit = query["limit"] {
            guard let value = Int(limit), (1...500).contains(value) else {
                throw APIError.invalid([FieldError("limit", "must be a number from 1 to 500")])
            }
            filter.limit = value
        }
        filter.cursor = query["cursor"].map(String.init)
        filter.visibility = try await access.visibility(for: try context.caller())
        let page = try await tickets.tickets(filter)
        return JSONResponse(ItemList(page.items, nextCursor: page.nextCursor))
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Ticket> {
        try context.require(.agent)
        return JSONResponse(try await findTicket(request, context: context))
    }

    @Sendable func messages(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<TicketMessage>> {
        try context.require(.agent)
        let ticket = try await findTicket(request, context: context)
        return JSONResponse(ItemList(try await tickets.messages(ticketId: ticket.id)))
    }

    /// The message as it arrived (or was sent), for download as .eml.
    @Sendable func rawMessage(_ request: Request, context: MailroomRequestContext) async throws -> Response {
        try context.require(.agent)
        let id = try request.parameter("id", context: context)
        guard let message = try await tickets.message(id: id), let raw = try await rawMail.blob(sha256: message.rawSha256),
              try await access.visibleTicket(message.ticketId, to: try context.caller()) != nil else {
            throw APIError.notFound("message \(id)")
        }
        return Self.eml(raw, name: "message-\(id).eml")
    }

    /// The ticket, or 404 also when the caller may not see it (so its existence does not leak).
    private func findTicket(_ request: Request, context: MailroomRequestContext) async throws -> Ticket {
        let id = try request.parameter("id", context: context)
        guard let ticket = try await access.visibleTicket(id, to: try context.caller()) else { throw APIError.notFound("ticket \(id)") }
        return ticket
    }

    // MARK: Ticket actions

    struct TransferInput: Decodable {
        var queueId: String?
        var userId: String?
        var accountId: String?
        /// Account transfers: a template (id or key) for a notice to the customer.
        var noticeTemplateId: String?
    }

    /// Moves the ticket to a queue, an agent (within the account's transfer settings) or another account.
    @Sendable func transfer(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Ticket> {
        let principal = try context.require(.agent)
        let ticket = try await findTicket(request, context: context)
        let input = try await JSONBody.decode(TransferInput.self, request, context: context)
        let given = [input.queueId.map { ("queueId", $0) }, input.userId.map { ("userId", $0) }, input.accountId.map { ("accountId", $0) }]
            .compactMap { $0 }
        guard given.count == 1, let (field, value) = given.first else {
            throw APIError.invalid([FieldError(given.first?.0 ?? "queueId", "give exactly one of queueId, userId or accountId")])
        }
        try requireHolderOrSupervisor(ticket, principal)
        let destination: TransferDestination = switch field {
        case "queueId": .queue(value)
        case "userId": .agent(value)
        default: .account(value, noticeTemplateId: input.noticeTemplateId)
        }
        if case .account = destination, !principal.has(atLeast: .supervisor), ticket.agentId != principal.userId {
            throw APIError.forbidden("only the agent holding the ticket, supervisors and administrators may move it to another account")
        }
        return JSONResponse(try await service().transfer(ticketId: ticket.id, to: destination, by: principal.userId))
    }

    struct CloseInput: Decodable {
        var dispositionId: String?
    }

    /// Closes with a disposition; when the account requires one and none is given, 422 names
    /// `dispositionId` and the agent is paused with the account's pause status while they choose.
    @Sendable func close(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Ticket> {
        let principal = try context.require(.agent)
        let ticket = try await findTicket(request, context: context)
        var input = CloseInput()
        if request.headers[.contentLength].map({ $0 != "0" }) ?? true, request.headers[.contentType] != nil {
            input = try await JSONBody.decode(CloseInput.self, request, context: context)
        }
        try requireHolderOrSupervisor(ticket, principal)
        return JSONResponse(try await service().close(ticketId: ticket.id, dispositionId: input.dispositionId, by: principal.userId))
    }

    @Sendable func markRead(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Ticket> {
        try await setUnread(false, request, context: context)
    }

    @Sendable func markUnread(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Ticket> {
        try await setUnread(true, request, context: context)
    }

    private func setUnread(_ unread: Bool, _ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Ticket> {
        try context.require(.agent)
        let ticket = try await findTicket(request, context: context)
        guard let updated = try await tickets.setUnread(ticketId: ticket.id, unread: unread) else { throw APIError.notFound("ticket \(ticket.id)") }
        publish(updated)
        return JSONResponse(updated)
    }

    struct TicketPatch: Decodable {
        var tags: [String]?
        var priority: TicketPriority?
        var escalated: Bool?
    }

    /// Tags (the whole list), priority and the escalation flag.
    @Sendable func patch(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Ticket> {
        try context.require(.agent)
        let ticket = try await findTicket(request, context: context)
        let input = try await JSONBody.decode(TicketPatch.self, request, context: context)
        var tags: [String]?
        if let given = input.tags {
            var errors: [FieldError] = []
            var cleaned: [String] = []
            for (index, tag) in given.enumerated() {
                let trimmed = tag.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { errors.append(FieldError("tags[\(index)]", "must not be empty")) }
                if trimmed.count > 100 { errors.append(FieldError("tags[\(index)]", "must be at most 100 characters")) }
                if !trimmed.isEmpty && !cleaned.contains(trimmed) { cleaned.append(trimmed) }
            }
            if given.count > 100 { errors.append(FieldError("tags", "must have at most 100 tags")) }
            guard errors.isEmpty else { throw APIError.invalid(errors) }
            tags = cleaned
        }
        guard let updated = try await tickets.updateAttributes(ticketId: ticket.id, tags: tags, priority: input.priority,
                                                               escalated: input.escalated, by: try context.caller().userId) else { throw APIError.notFound("ticket \(ticket.id)") }
        publish(updated)
        return JSONResponse(updated)
    }

    private func publish(_ ticket: Ticket) {
        for event in RoutingEvents.ticket(ticket, at: Date()) { events.publish(event) }
    }

    /// Agents act on tickets they hold or that wait in their queues (their visibility); moving a
    /// ticket someone else holds is a supervisor's.
    private func requireHolderOrSupervisor(_ ticket: Ticket, _ principal: Principal) throws {
        if principal.has(atLeast: .supervisor) { return }
        if let agentId = ticket.agentId, agentId != principal.userId {
            throw APIError.forbidden("the ticket is held by another agent; ask a supervisor")
        }
    }

    private func service() throws -> any RoutingOperations {
        guard let routing else { throw APIError(.serviceUnavailable, code: "unavailable", message: "this server does not route tickets") }
        return routing
    }

    // MARK: Quarantine

    @Sendable func quarantine(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<QuarantinedMessage>> {
        try context.require(.supervisor)
        let query = request.uri.queryParameters
        let includeReplayed = try query["includeReplayed"].map { try Self.bool(String($0), field: "includeReplayed") } ?? false
        return JSONResponse(ItemList(try await quarantineStore.quarantined(accountId: query["accountId"].map(String.init),
                                                                   includeReplayed: includeReplayed)))
    }

    @Sendable func quarantined(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<QuarantinedMessage> {
        try context.require(.supervisor)
        return JSONResponse(try await findQuarantined(request, context: context))
    }

    @Sendable func quarantinedRaw(_ request: Request, context: MailroomRequestContext) async throws -> Response {
        try context.require(.supervisor)
        let entry = try await findQuarantined(request, context: context)
        guard let sha = entry.rawSha256, let raw = try await rawMail.blob(sha256: sha) else {
            throw APIError.notFound("the raw message of quarantine entry \(entry.id)")
        }
        return Self.eml(raw, name: "quarantine-\(entry.id).eml")
    }

    struct ReplayResult: Encodable, Sendable {
        let result: String
        let ticketId: String?
        let quarantineId: String?
        /// What happened, in words ("Stored on ticket #1042.", "Still cannot be ingested: …").
        let message: String
    }

    /// Runs a quarantined message through the pipeline again (after the cause was fixed: a larger
    /// size limit, a changed filter, a parser update). A replay that fails again adds no entry:
    /// the entry stays, and the answer says why it still failed.
    @Sendable func replayQuarantined(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ReplayResult> {
        try context.require(.supervisor)
        let entry = try await findQuarantined(request, context: context)
        guard entry.replayedAt == nil else {
            throw APIError.conflict(FieldError("id", "was already replayed"))
        }
        guard let sha = entry.rawSha256, let raw = try await rawMail.blob(sha256: sha) else {
            throw APIError.conflict(FieldError("id", "has no raw message to replay"))
        }
        guard let account = try await accounts.find(id: entry.accountId), account.deletedAt == nil else {
            throw APIError.conflict(FieldError("accountId", "belongs to an account that no longer exists"))
        }
        let outcome = try await replay(entry, raw, account)
        if case .quarantined(let newId) = outcome {
            let again = try await quarantineStore.quarantined(id: newId)
            // The pipeline kept the message aside again: one entry for it is enough (the raw bytes stay, the old entry holds them).
            if newId != entry.id { try await quarantineStore.deleteQuarantined(id: newId) }
            let why = again.map { "\($0.reason.rawValue)" + ($0.detail.isEmpty ? "" : ": \($0.detail)") } ?? "it was quarantined again"
            return JSONResponse(ReplayResult(result: outcome.name, ticketId: nil, quarantineId: entry.id,
                                             message: "Still cannot be ingested (\(why)); the entry stays in quarantine."))
        }
        try await quarantineStore.markReplayed(quarantineId: entry.id)
        var number: Int64?
        if let ticketId = outcome.ticketId { number = try await tickets.ticket(id: ticketId)?.number }
        let onTicket = number.map { "ticket #\($0)" } ?? "its ticket"
        let message = switch outcome {
        case .created: "Stored as a new ticket, \(onTicket)."
        case .appended: "Stored on \(onTicket)."
        case .bounce: "Stored as a delivery report on \(onTicket)."
        case .duplicate: "Already stored\(number.map { " on ticket #\($0)" } ?? ""): nothing was added."
        case .skipped(let reason): "Not ingested: \(reason)."
        case .quarantined: "Still cannot be ingested."
        }
        return JSONResponse(ReplayResult(result: outcome.name, ticketId: outcome.ticketId, quarantineId: nil, message: message))
    }

    @Sendable func deleteQuarantined(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.supervisor)
        let entry = try await findQuarantined(request, context: context)
        try await quarantineStore.deleteQuarantined(id: entry.id)
        return .noContent
    }

    private func findQuarantined(_ request: Request, context: MailroomRequestContext) async throws -> QuarantinedMessage {
        let id = try request.parameter("id", context: context)
        guard let entry = try await quarantineStore.quarantined(id: id) else { throw APIError.notFound("quarantine entry \(id)") }
        return entry
    }

    // MARK: Account status

    @Sendable func accountStatus(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<AccountFetchStatus> {
        try context.require(.supervisor)
        let id = try request.parameter("id", context: context)
        guard try await accounts.find(id: id) != nil else { throw APIError.notFound("account \(id)") }
        var status = status.status(of: id) ?? AccountFetchStatus(accountId: id)
        // Counts come from the store so they survive restarts and cover every node.
        status.messagesIngested = try await tickets.messageCount(accountId: id)
        status.messagesQuarantined = try await quarantineStore.quarantineCount(accountId: id)
        status.token = try await OAuth2Controller.tokenStatus(accountId: id, accounts: accounts, grants: grants)
        return JSONResponse(status)
    }

    // MARK: Helpers

    static func eml(_ raw: [UInt8], name: String) -> Response {
        Response(status: .ok, headers: [.contentType: "message/rfc822", .contentDisposition: "attachment; filename=\"\(name)\""],
                 body: .init(byteBuffer: ByteBuffer(bytes: raw)))
    }

    static func bool(_ text: String, field: String) throws -> Bool {
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw APIError.invalid([FieldError(field, "must be true or false")])
        }
    }

    static func date(_ text: String, field: String) throws -> Date {
        guard let date = ISO8601.parse(text) else {
            throw APIError.invalid([FieldError(field, "must be an ISO 8601 time such as 2026-11-22T10:00:00Z")])
        }
        return date
    }
}

/// Agent visibility for every ticket endpoint (the rule is `TicketVisibility`'s). A ticket the
/// caller may not see answers 404, as if it did not exist.
struct TicketAccess: Sendable {
    let tickets: any TicketRepository
    let routing: any RoutingRepository

    /// nil: the caller sees every ticket.
    func visibility(for principal: Principal) async throws -> TicketVisibility? {
        try await TicketVisibility.of(userId: principal.userId, role: principal.role, memberOf: { try await routing.queues(memberId: $0) },
                                      campaignAccounts: { try await routing.campaignAccountIds(userId: $0) })
    }

    func visibleTicket(_ id: String, to principal: Principal) async throws -> Ticket? {
        guard let ticket = try await tickets.ticket(id: id) else { return nil }
        guard let visibility = try await visibility(for: principal) else { return ticket }
        return visibility.admits(ticket) ? ticket : nil
    }
}
