import Foundation
import Hummingbird
import MailroomCore

/// What supervisors watch: the outbox and its attempts, quarantined mail and each account's fetching.
extension WebSite {
    func outboxList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let state = request.uri.queryParameters["state"].flatMap { DeliveryState(rawValue: String($0)) }
        let items = try await store.outbox.items(state: state)
        let keys = Dictionary(try await store.accounts.list(includeDeleted: true).map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        let pageNumber = max(1, Int(request.uri.queryParameters["page"] ?? "1") ?? 1)
        let slice = items.dropFirst((pageNumber - 1) * 50).prefix(50)
        // Every attempt, the one that delivered included (the row's own count is of failures, for the retry policy).
        let attemptCounts = try await store.outbox.attemptCounts(outboxIds: slice.map(\.id))
        return try render(page(session, title: "Outbox", section: "outbox", OutboxListView(
            states: Self.options(DeliveryState.self, selected: state),
            items: slice.map { item in
                OutboxListView.Row(
                    id: item.id, ticketId: item.ticketId, state: item.state.rawValue, attempts: attemptCounts[item.id] ?? 0,
                    recipients: item.recipients.joined(separator: ", "), account: keys[item.accountId] ?? "?",
                    created: Self.displayTime(item.createdAt), next: item.nextAttemptAt.map(Self.displayTime) ?? "—",
                    lastError: item.lastError ?? "", held: item.heldReason, canResend: item.state == .failed || item.state == .bounced)
            },
            empty: slice.isEmpty,
            nextPage: items.count > pageNumber * 50 ? "/admin/outbox?page=\(pageNumber + 1)" + (state.map { "&state=\($0.rawValue)" } ?? "") : nil)))
    }

    func outboxItem(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let id = try request.parameter("id", context: context)
        guard let item = try await store.outbox.item(id: id) else { throw PageError.notFound("Outbox entry \(id)") }
        let attempts = try await store.outbox.attempts(outboxId: id)
        return try render(page(session, title: "Delivery \(id)", section: "outbox", OutboxItemView(
            item: OutboxItemView.Item(
                id: item.id, ticketId: item.ticketId, state: item.state.rawValue, attempts: attempts.count,
                recipients: item.recipients.joined(separator: ", "), envelopeFrom: item.envelopeFrom,
                lastError: item.lastError ?? "", held: item.heldReason, next: item.nextAttemptAt.map(Self.displayTime) ?? "—",
                sent: item.sentAt.map(Self.displayTime) ?? "—", systemPurpose: item.purpose),
            canResend: item.state == .failed || item.state == .bounced,
            attemptRows: attempts.map { attempt in
                OutboxItemView.Attempt(
                    time: Self.displayTime(attempt.attemptedAt), outcome: attempt.outcome.rawValue,
                    code: attempt.replyCode.map(String.init) ?? "", enhanced: attempt.enhancedStatus ?? "", text: attempt.text,
                    errorClass: attempt.errorClass?.rawValue ?? "", policy: attempt.policy?.rawValue ?? "",
                    next: attempt.nextAttemptAt.map(Self.displayTime) ?? "")
            })))
    }

    func quarantineList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let includeReplayed = request.uri.queryParameters["includeReplayed"] == "true"
        let entries = try await store.quarantine.quarantined(accountId: nil, includeReplayed: includeReplayed)
        let keys = Dictionary(try await store.accounts.list(includeDeleted: true).map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        return try render(page(session, title: "Quarantine", section: "quarantine", QuarantineView(
            includeReplayed: includeReplayed,
            entries: entries.prefix(200).map { entry in
                QuarantineView.Entry(
                    id: entry.id, account: keys[entry.accountId] ?? "?", reason: entry.reason.label, detail: entry.detail,
                    from: entry.from ?? "", subject: entry.subject ?? "", size: Self.byteCount(entry.size),
                    time: Self.displayTime(entry.createdAt), replayed: entry.replayedAt != nil, hasRaw: entry.rawSha256 != nil,
                    leftOnServer: entry.leftOnServer)
            },
            empty: entries.isEmpty)))
    }

    func quarantineEntry(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let id = try request.parameter("id", context: context)
        guard let entry = try await store.quarantine.quarantined(id: id) else { throw PageError.notFound("Quarantine entry \(id)") }
        let account = try await store.accounts.find(id: entry.accountId)
        var raw: [UInt8]?
        if let sha = entry.rawSha256 { raw = try await store.rawMail.blob(sha256: sha) }
        let shown = raw.map { $0.prefix(QuarantineEntryView.rawShownLimit) }
        return try render(page(session, title: "Quarantined message", section: "quarantine", QuarantineEntryView(
            entry: QuarantineView.Entry(
                id: entry.id, account: account?.key ?? "?", reason: entry.reason.label, detail: entry.detail,
                from: entry.from ?? "", subject: entry.subject ?? "", size: Self.byteCount(entry.size),
                time: Self.displayTime(entry.createdAt), replayed: entry.replayedAt != nil, hasRaw: raw != nil,
                leftOnServer: entry.leftOnServer),
            reasonDetail: entry.detail,
            // Shown as text: the template escapes it, so markup in a message is never markup on the page.
            rawText: shown.map { String(decoding: $0, as: UTF8.self) } ?? "",
            rawCut: (raw?.count ?? 0) > QuarantineEntryView.rawShownLimit)))
    }

    func statusPage(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let accounts = try await store.accounts.list(includeDeleted: false)
        var rows: [StatusView.Row] = []
        let now = Date()
        for account in accounts {
            let status = dependencies.status.status(of: account.id) ?? AccountFetchStatus(accountId: account.id)
            let lag = status.lastSuccessfulFetchAt.map { Int(now.timeIntervalSince($0)) }
            let token = try await OAuth2Controller.tokenStatus(accountId: account.id, accounts: store.accounts, grants: store.oauth2, now: now)
            rows.append(StatusView.Row(
                key: account.key, name: account.name, id: account.id, active: account.active,
                fetching: status.fetching, connected: status.connected, idle: status.idle,
                lastFetch: status.lastSuccessfulFetchAt.map(Self.displayTime) ?? "never",
                lag: lag.map { "\($0) s" } ?? "—",
                lastError: status.lastError ?? "", lastErrorAt: status.lastErrorAt.map(Self.displayTime) ?? "",
                health: status.health.summary(formatTime: Self.displayTime), failing: status.health.state == .failing,
                ingested: try await store.tickets.messageCount(accountId: account.id),
                quarantined: try await store.quarantine.quarantineCount(accountId: account.id),
                token: token.map {
                    StatusView.Token(state: $0.state.rawValue, stateLabel: Self.stateLabel($0.state), message: $0.message,
                                     needsSignIn: $0.state != .valid)
                }))
        }
        var view = StatusView(accounts: rows, empty: rows.isEmpty)
        view.storageProblem = dependencies.storageHealth.problems.first.map {
            StatusView.StorageProblem(status: $0.reason.rawValue, message: $0.message)
        }
        return try render(page(session, title: "Account status", section: "status", view))
    }
}
