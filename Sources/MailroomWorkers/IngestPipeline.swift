import Foundation
import Logging
import MailroomCore
import MailroomStore
import Metrics

/// The steps every inbound message takes, fetched or imported: size check, parse, header
/// filters, then one store transaction. A message that cannot go through is quarantined, raw,
/// with its reason, and the mailbox moves on: one bad message never blocks the ones after it.
public struct IngestPipeline: Sendable {
    let tickets: SQLTicketStore
    /// Where the failure-mail senders are configured (nil: only delivery-status reports count as bounces).
    let settings: (any SettingsRepository)?
    let logger: Logger
    /// A parse that takes longer than this is abandoned and the message quarantined.
    let parseTimeout: Duration
    /// Called after each commit (routing and live events hook in here).
    let afterCommit: @Sendable (IngestOutcome, Account) async -> Void

    public init(tickets: SQLTicketStore, settings: (any SettingsRepository)? = nil, logger: Logger, parseTimeout: Duration = .seconds(30),
                afterCommit: @escaping @Sendable (IngestOutcome, Account) async -> Void = { _, _ in }) {
        self.tickets = tickets
        self.settings = settings
        self.logger = logger
        self.parseTimeout = parseTimeout
        self.afterCommit = afterCommit
    }

    /// Ingests one message. Throws only when the store itself is unavailable: then nothing was
    /// committed and the same message must be tried again later (the fetch position did not move).
    public func process(_ raw: [UInt8], account: Account, position: MailboxPosition?, source: String,
                        now: Date = Date()) async throws -> IngestOutcome {
        let limit = account.incoming.maxMessageBytes
        if raw.count > limit {
            return try await quarantine(raw, account: account, position: position, source: source, reason: .tooLarge,
                                        detail: "the message has \(raw.count) bytes, more than the account's maximum of \(limit); raise incoming.maxMessageBytes and replay it to ingest it")
        }
        var mail: InboundMail
        do {
            mail = try await parseWithinTimeout(raw)
        } catch let refusal as InboundMailParser.Refusal {
            return try await quarantine(raw, account: account, position: position, source: source, reason: .unparseable,
                                        detail: refusal.description)
        } catch is ParseTimedOut {
            return try await quarantine(raw, account: account, position: position, source: source, reason: .timedOut,
                                        detail: "parsing took longer than \(parseTimeout); the message may be built to exhaust parsers")
        }

        let verpIds = (mail.to + mail.cc).compactMap { VERPAddress.outboxId(in: $0.address) }
            + mail.headers.filter { ["delivered-to", "x-original-to"].contains($0.name.lowercased()) }.compactMap { VERPAddress.outboxId(in: $0.value) }
        if mail.bounce == nil, !verpIds.isEmpty {
            mail.bounce = InboundMailParser.plainBounce(mail)
        } else if mail.bounce == nil, let sender = mail.sender, let settings, try await settings.globalSettings().isFailureMailSender(sender.address) {
            mail.bounce = InboundMailParser.plainBounce(mail)
        }
        if !verpIds.isEmpty { mail.bounce?.verpOutboxIds = verpIds }

        var tags: [String] = []
        switch HeaderFilterEvaluation.evaluate(account.incoming.headerFilters, headers: mail.headers) {
        case .skip(let filter):
            if let position { try await tickets.recordPosition(position, accountId: account.id, now: now) }
            logger.info("header filter skipped a message", metadata: ["account": "\(account.id)", "header": "\(filter.header)", "source": "\(source)"])
            return .skipped(reason: "header filter on \(filter.header)")
        case .quarantine(let filter):
            return try await quarantine(raw, account: account, position: position, source: source, reason: .headerFilter,
                                        detail: "the header filter on \(filter.header) (\(filter.match.rawValue) '\(filter.value)') quarantines it",
                                        mail: mail)
        case .accept(let filterTags):
            tags = filterTags
        }

        let outcome: IngestOutcome
        do {
            outcome = try await tickets.ingest(mail, raw: raw, account: account, position: position, tags: tags, now: now)
        } catch let error as DomainError {
            return try await quarantine(raw, account: account, position: position, source: source, reason: .storeFailed,
                                        detail: "the message could not be stored: \(error)", mail: mail)
        }
        Counter(label: "mailroom_ingested_messages_total", dimensions: [("result", outcome.name)]).increment()
        await afterCommit(outcome, account)
        return outcome
    }

    private struct ParseTimedOut: Error {}

    private func parseWithinTimeout(_ raw: [UInt8]) async throws -> InboundMail {
        let timeout = parseTimeout
        return try await withThrowingTaskGroup(of: InboundMail?.self) { group in
            group.addTask { try InboundMailParser.parse(raw) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let mail = first else { throw ParseTimedOut() }
            return mail
        }
    }

    private func quarantine(_ raw: [UInt8], account: Account, position: MailboxPosition?, source: String,
                            reason: QuarantineReason, detail: String, mail: InboundMail? = nil) async throws -> IngestOutcome {
        let peeked: (from: String?, subject: String?) = mail == nil ? InboundMailParser.peekHeaders(raw) : (nil, nil)
        let entry = QuarantinedMessage(
            accountId: account.id, reason: reason, detail: detail, rawSha256: mail?.rawSha256 ?? InboundMailParser.sha256Hex(raw), size: raw.count,
            source: source, from: mail?.sender?.address ?? peeked.from,
            subject: mail.map { String($0.subject.prefix(300)) } ?? peeked.subject, createdAt: Date())
        let id = try await tickets.quarantine(entry, raw: raw, position: position)
        logger.warning("message quarantined", metadata: [
            "account": "\(account.id)", "reason": "\(reason.rawValue)", "source": "\(source)", "quarantine": "\(id)",
        ])
        Counter(label: "mailroom_quarantined_messages_total", dimensions: [("reason", reason.rawValue)]).increment()
        let outcome = IngestOutcome.quarantined(id: id)
        await afterCommit(outcome, account)
        return outcome
    }
}
