import Foundation
import Logging
import MailMessage
import MailroomCore
import Metrics

/// The steps every inbound message takes, fetched or imported: size check, parse, header
/// filters, then the store's transaction. A message that cannot go through is quarantined, raw,
/// with its reason, and the mailbox moves on: one bad message never blocks the ones after it.
///
/// Messages go through in batches: the batch's messages are parsed in parallel, and the whole
/// batch is committed in one transaction with its fetch positions (a crash before the commit
/// leaves none of it; after, all of it). The steps after the commit run next to the database.
public struct IngestPipeline: Sendable {
    let store: any IngestRepository
    /// Where the failure-mail senders are configured (nil: only delivery-status reports count as bounces).
    let settings: (any SettingsRepository)?
    let logger: Logger
    /// A parse that takes longer than this is abandoned and the message quarantined.
    let parseTimeout: Duration
    /// Called after each commit with its committed messages, in order (routing and live events hook in here).
    let afterCommit: @Sendable ([CommittedMessage]) async -> Void
    /// While it reports the disk full, batches are refused before anything is written (the mail stays on its server).
    public var health: StorageHealth?

    public init(store: any IngestRepository, settings: (any SettingsRepository)? = nil, logger: Logger, parseTimeout: Duration = .seconds(30),
                afterCommit: @escaping @Sendable (IngestOutcome, Account) async -> Void = { _, _ in }) {
        self.init(store: store, settings: settings, logger: logger, parseTimeout: parseTimeout,
                  onCommit: { committed in await afterCommit(committed.outcome, committed.account) })
    }

    /// Like the other initializer; `onCommit` also gets the parsed message, so a step after the
    /// commit (routing) need not read the raw message again and parse it a second time.
    public init(store: any IngestRepository, settings: (any SettingsRepository)? = nil, logger: Logger, parseTimeout: Duration = .seconds(30),
                onCommit: @escaping @Sendable (CommittedMessage) async -> Void) {
        self.init(store: store, settings: settings, logger: logger, parseTimeout: parseTimeout,
                  onBatchCommit: { batch in for committed in batch { await onCommit(committed) } })
    }

    /// Like the others; `onBatchCommit` gets a batch's committed messages at once, so a step after
    /// the commit can read what all of them need (an account's rules) once per batch.
    public init(store: any IngestRepository, settings: (any SettingsRepository)? = nil, logger: Logger, parseTimeout: Duration = .seconds(30),
                onBatchCommit: @escaping @Sendable ([CommittedMessage]) async -> Void) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.parseTimeout = parseTimeout
        self.afterCommit = onBatchCommit
    }

    /// One message as it came from the mailbox.
    public struct Inbound: Sendable {
        public var raw: [UInt8]
        public var position: MailboxPosition?
        public var source: String
        /// Set for a message too large to fetch: `raw` holds at most its header section, and the
        /// message is listed in the quarantine and left on the server.
        public var tooLargeToFetch: TooLargeToFetch?

        public init(raw: [UInt8], position: MailboxPosition?, source: String, tooLargeToFetch: TooLargeToFetch? = nil) {
            self.raw = raw
            self.position = position
            self.source = source
            self.tooLargeToFetch = tooLargeToFetch
        }
    }

    /// A message's size, and the most a fetcher takes into memory at once.
    public struct TooLargeToFetch: Sendable {
        public var size: Int
        public var fetchLimit: Int

        public init(size: Int, fetchLimit: Int) {
            self.size = size
            self.fetchLimit = fetchLimit
        }
    }

    /// Ingests one message. Throws only when the store itself is unavailable: then nothing was
    /// committed and the same message must be tried again later (the fetch position did not move).
    public func process(_ raw: [UInt8], account: Account, position: MailboxPosition?, source: String,
                        now: Date? = nil) async throws -> IngestOutcome {
        let result = try await processBatch([Inbound(raw: raw, position: position, source: source)], account: account, now: now)
        if let failure = result.failure { throw failure }
        return result.outcomes.first ?? .skipped(reason: "nothing to commit")
    }

    /// Ingests messages in order, in one transaction. The result has an outcome for each committed
    /// message; with `failure` set the store failed at the next one, and it and those after it were
    /// not committed (their positions did not move: fetch them again later). Throws, committing
    /// nothing, when the store cannot be reached at all.
    public func processBatch(_ messages: [Inbound], account: Account, now: Date? = nil) async throws -> IngestBatchResult {
        try await commit(prepare(messages, account: account), now: now)
    }

    /// A batch whose messages are being parsed (in parallel, on the global pool).
    public struct PreparedBatch: Sendable {
        let account: Account
        fileprivate let parts: [Part]
        var messages: [Inbound] { parts.flatMap(\.messages) }

        /// Messages prepared together: parsed by one set of workers, their raw bytes written in one go.
        fileprivate struct Part: Sendable {
            let messages: [Inbound]
            let parses: ParallelParse<ParsedMail>
            /// The raw messages written to the store ahead of the transaction (see ``IngestRepository/stageRaw(_:)``).
            let staged: Task<[(any StagedRawMail)?], any Error>
        }

        /// This batch and then `more` (prepared for the same account), to be committed in one
        /// transaction: a fetcher prepares each part as it arrives, while it fetches the next.
        public func followed(by more: PreparedBatch) -> PreparedBatch {
            PreparedBatch(account: account, parts: parts + more.parts)
        }
    }

    /// Starts parsing a batch, and writing its raw messages, at once, so that both overlap with the commit of the batch before.
    public func prepare(_ messages: [Inbound], account: Account) -> PreparedBatch {
        let limit = account.incoming.maxMessageBytes
        let store = self.store
        let raws = messages.map { $0.raw.isEmpty || $0.tooLargeToFetch != nil ? nil : $0.raw }
        let parses = ParallelParse.start(messages.map { $0.raw.count > limit || $0.raw.isEmpty || $0.tooLargeToFetch != nil ? nil : $0.raw },
                                         timeout: parseTimeout) { raw in ParsedMail(try InboundMailParser.parse(raw), account: account, store: store) }
        let filters = account.incoming.headerFilters
        let staged: Task<[(any StagedRawMail)?], any Error>
        if filters.contains(where: { $0.action == .skip }) {
            // Mail a filter skips is never stored, so its raw bytes are not written either: this
            // part's raw mail waits for its parse, which carries the filters' verdict that the
            // commit acts on too. An antispam account would otherwise keep every spam message on disk.
            staged = Task {
                let results = await parses.allResults()
                return try await store.stageRaw(raws.indices.map { index in
                    if index < results.count, case .parsed(let parsed)? = results[index], case .skip = parsed.filtering { return nil }
                    return raws[index]
                })
            }
        } else {
            staged = Task { try await store.stageRaw(raws) }
        }
        return PreparedBatch(account: account, parts: [PreparedBatch.Part(messages: messages, parses: parses, staged: staged)])
    }

    /// A parsed message with what the store's transaction needs of it worked out already, on the
    /// parse workers: a batch's commit runs one message after the other, these run side by side.
    struct ParsedMail: Sendable {
        let mail: InboundMail
        let resolverInput: ResolverInput
        let row: (any PreparedMessageRow)?
        /// Outbox ids in the VERP addresses the message was delivered to: a bounce of our own mail.
        let verpOutboxIds: [String]
        /// The account's header filters on this message, decided once (regular expressions
        /// included) for both the raw mail's staging and the commit.
        let filtering: HeaderFilterOutcome

        init(_ mail: InboundMail, account: Account, store: (any IngestRepository)? = nil) {
            self.mail = mail
            filtering = HeaderFilterEvaluation.evaluate(account.incoming.headerFilters, headers: mail.headers)
            resolverInput = ResolverInput(mail: mail, account: account)
            row = store?.prepareRow(for: mail)
            verpOutboxIds = (mail.to + mail.cc).compactMap { VERPAddress.outboxId(in: $0.address) }
                + mail.headers.filter(Self.namesADeliveryAddress).compactMap { VERPAddress.outboxId(in: $0.value) }
        }

        /// Delivered-To or X-Original-To, in any case (compared without lowercasing every field's name).
        static func namesADeliveryAddress(_ field: MailroomCore.HeaderField) -> Bool {
            field.name.utf8.equalsIgnoringCase("delivered-to") || field.name.utf8.equalsIgnoringCase("x-original-to")
        }
    }

    /// Decides each message of a prepared batch (quarantine, skip or ingest) and commits them all
    /// (see ``processBatch(_:account:now:)``).
    public func commit(_ batch: PreparedBatch, now: Date? = nil) async throws -> IngestBatchResult {
        let messages = batch.messages
        let account = batch.account
        defer { for part in batch.parts { part.parses.finish() } }
        guard !messages.isEmpty else { return IngestBatchResult(outcomes: []) }
        if let refusal = health?.writeRefusal { throw refusal }
        let limit = account.incoming.maxMessageBytes
        // All of each part at once (one wake-up, not one per message): the transaction needs every message anyway.
        var results: [ParallelParse<ParsedMail>.Result?] = []
        results.reserveCapacity(messages.count)
        for part in batch.parts { results += await part.parses.allResults() }
        var failureSenders: GlobalSettings?
        var items: [IngestItem] = []
        var parsed: [InboundMail?] = []
        items.reserveCapacity(messages.count)
        for (index, message) in messages.enumerated() {
            let raw = message.raw
            func quarantine(_ reason: QuarantineReason, _ detail: String, mail: InboundMail? = nil) -> IngestItem {
                let peeked: (from: String?, subject: String?) = mail == nil ? InboundMailParser.peekHeaders(raw) : (nil, nil)
                let entry = QuarantinedMessage(
                    accountId: account.id, reason: reason, detail: detail, rawSha256: mail?.rawSha256 ?? InboundMailParser.sha256Hex(raw),
                    size: raw.count, source: message.source, from: mail?.sender?.address ?? peeked.from,
                    subject: mail.map { String($0.subject.prefix(300)) } ?? peeked.subject, createdAt: now ?? Date())
                return IngestItem(action: .quarantine(entry), raw: raw, position: message.position, source: message.source)
            }
            // Step a (the others are IngestTriage's verdict, below).
            if let tooLarge = message.tooLargeToFetch {
                let peeked = InboundMailParser.peekHeaders(raw)
                let entry = QuarantinedMessage(
                    accountId: account.id, reason: .tooLarge,
                    detail: IngestTriage.tooLargeToFetchDetail(size: tooLarge.size, fetchLimit: tooLarge.fetchLimit),
                    rawSha256: nil, size: tooLarge.size, source: message.source, from: peeked.from, subject: peeked.subject,
                    createdAt: now ?? Date(), leftOnServer: true)
                items.append(IngestItem(action: .quarantine(entry), raw: [], position: message.position, source: message.source))
                parsed.append(nil)
                continue
            }
            let parse: IngestTriage.Parse
            var parsedMail: ParsedMail?
            let result: ParallelParse<ParsedMail>.Result = raw.isEmpty ? .failed(InboundMailParser.Refusal.empty)
                : results[index] ?? .failed(InboundMailParser.Refusal.empty)
            switch result {
            case .parsed(let result):
                parsedMail = result
                parse = .parsed(filtering: result.filtering)
            case .failed(let error):
                parse = .refused((error as? InboundMailParser.Refusal)?.description ?? "\(error)")
            case .timedOut:
                parse = .timedOut(after: parseTimeout)
            }
            var mail = parsedMail?.mail
            if var recognised = mail, let prepared = parsedMail, raw.count <= limit {
                // Step d: read once per batch, the settings do not change between its messages.
                let evidence = try await IngestTriage.bounceEvidence(recognised, verpOutboxIds: prepared.verpOutboxIds) { sender in
                    guard let settings else { return false }
                    if failureSenders == nil { failureSenders = try await settings.globalSettings() }
                    return failureSenders?.isFailureMailSender(sender) == true
                }
                if let evidence {
                    if recognised.bounce == nil { recognised.bounce = InboundMailParser.plainBounce(recognised) }
                    if case .verp(let ids) = evidence { recognised.bounce?.verpOutboxIds = ids }
                }
                mail = recognised
            }
            switch IngestTriage.verdict(rawSize: raw.count, maxMessageBytes: limit, parse: parse) {
            case .quarantine(let reason, let detail):
                items.append(quarantine(reason, detail, mail: reason == .headerFilter ? mail : nil))
                parsed.append(reason == .headerFilter ? mail : nil)
            case .skip(let reason):
                logger.info("header filter skipped a message", metadata: ["account": "\(account.id)", "reason": "\(reason)", "source": "\(message.source)"])
                items.append(IngestItem(action: .skip(reason: reason), raw: raw, position: message.position, source: message.source))
                parsed.append(mail)
            case .ingest(let tags):
                guard let mail, let prepared = parsedMail else { continue }
                var item = IngestItem(action: .ingest(mail, tags: tags), raw: raw, position: message.position, source: message.source,
                                      resolverInput: prepared.resolverInput)
                item.preparedRow = prepared.row
                items.append(item)
                parsed.append(mail)
            }
        }

        var locations: [(any StagedRawMail)?] = []
        for part in batch.parts {
            do {
                let staged = try await part.staged.value
                locations += staged.count == part.messages.count ? staged : Array(repeating: nil, count: part.messages.count)
            } catch {
                // The transaction writes them itself then (and fails the same way if the disk does).
                logger.warning("could not write a batch's raw messages ahead of its commit", metadata: ["account": "\(account.id)", "error": "\(error)"])
                locations += Array(repeating: nil, count: part.messages.count)
            }
        }
        for index in items.indices where index < locations.count { items[index].stagedRaw = locations[index] }
        let result = try await store.ingestBatch(items, account: account, now: now)
        // The steps after the commit read and write the database: run them on its executor.
        await withTaskExecutorPreference(store.preferredExecutor) {
            var committed: [CommittedMessage] = []
            committed.reserveCapacity(result.outcomes.count)
            for (index, outcome) in result.outcomes.enumerated() {
                if case .quarantined(let id) = outcome {
                    // Kept aside by the pipeline's decision, or because the store refused the message.
                    var reason = QuarantineReason.storeFailed
                    if case .quarantine(let entry) = items[index].action { reason = entry.reason }
                    logger.warning("message quarantined", metadata: [
                        "account": "\(account.id)", "reason": "\(reason.rawValue)", "source": "\(items[index].source)", "quarantine": "\(id)",
                    ])
                    Counter(label: "mailroom_quarantined_messages_total", dimensions: [("reason", reason.rawValue)]).increment()
                } else {
                    Counter(label: "mailroom_ingested_messages_total", dimensions: [("result", outcome.name)]).increment()
                }
                var createdTicket: Ticket?
                if case .created(let ticketId, _) = outcome { createdTicket = result.createdTickets[ticketId] }
                committed.append(CommittedMessage(outcome: outcome, account: account, mail: parsed[index], createdTicket: createdTicket))
            }
            await afterCommit(committed)
        }
        return result
    }
}
