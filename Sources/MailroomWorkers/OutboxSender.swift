import Foundation
import Logging
import MailTransport
import MailroomCore
import Metrics
import ServiceLifecycle
import SMTPClient
import Synchronization

/// Sends what the outbox holds: claims due rows under a lease, sends them over the account's
/// SMTP server (several connections, many messages on each), logs every attempt, and applies the
/// account's retry policy to failures. Settings are read at each claim, so changes apply at once.
///
/// Outcomes are recorded by group commit: a connection hands in each message's outcome and goes on
/// with the next message while one writer records everything handed in so far in one transaction.
/// A connection never runs more than `unrecordedPerConnection` outcomes ahead of the database, so a
/// crash can duplicate at most that many answered-but-unrecorded messages per connection, plus the
/// one whose DATA was being answered.
public actor OutboxSender: Service {
    let store: Repositories
    let logger: Logger
    private let owner: String
    private let batchSize: Int
    /// A round every idle wait, and one whenever a reply is queued.
    private let rounds: PeriodicWork<ContinuousClock>
    /// SMTP connections opened at once to one account's server (several messages go over each).
    let connectionsPerAccount: Int
    private let unrecordedPerConnection: Int
    let leaseSeconds: TimeInterval
    /// Where a final failure is announced, so the agent's screen shows it at once.
    private let events: any LiveEventPublisher
    /// No round while it reports the disk full: a message sent whose outcome cannot be recorded would go out twice.
    private let health: StorageHealth?

    /// - Parameters:
    ///   - owner: this node's name; a restarted node takes back the rows its previous process held.
    ///   - unrecordedPerConnection: how many sent messages a connection may have waiting to be
    ///     recorded while it sends the next one (the duplicate window after a crash).
    public init(store: some RepositoryProvider, logger: Logger, owner: String = ProcessInfo.processInfo.hostName,
                batchSize: Int = 100, idleWait: Duration = .seconds(1), connectionsPerAccount: Int = 2,
                unrecordedPerConnection: Int = 32, leaseSeconds: TimeInterval = 300,
                events: any LiveEventPublisher = NoLiveEvents(), health: StorageHealth? = nil) {
        self.store = store.repositories
        self.health = health
        self.events = events
        self.connectionsPerAccount = max(1, connectionsPerAccount)
        self.unrecordedPerConnection = max(0, unrecordedPerConnection)
        self.logger = logger
        self.owner = owner
        self.batchSize = max(1, batchSize)
        rounds = PeriodicWork(every: idleWait)
        self.leaseSeconds = max(10, leaseSeconds)
    }

    /// Looks for due rows now (a reply was just queued).
    public nonisolated func wake() { rounds.wake() }

    public func run() async throws {
        await releaseOwnLeases(reason: "took back outbox rows left mid-send by this node's previous run")
        await rounds.run { await self.sendAllDue() }
        // Rows claimed but not sent when shutdown stopped the connections are due again at once.
        await Task { await self.releaseOwnLeases(reason: "released outbox rows claimed but not sent before shutdown") }.value
    }

    private func releaseOwnLeases(reason: String) async {
        do {
            let released = try await store.outbox.releaseLeases(owner: owner)
            if released > 0 { logger.notice("\(reason)", metadata: ["rows": "\(released)"]) }
        } catch {
            logger.error("cannot release this node's outbox leases", metadata: ["error": "\(error)"])
        }
    }

    /// Claims and sends one batch, and returns when every outcome is recorded; returns how many rows it took.
    @discardableResult
    public func sendDue(now: Date = Date()) async -> Int {
        if health?.writeRefusal != nil { return 0 }
        let run = SendRun(window: unrecordedPerConnection)
        let writer = startWriter(run)
        let batch = await prepareBatch(now: now)
        if let batch { await send(batch, run: run) }
        run.recorder.finish()
        await writer.value
        await run.pool.closeAll()
        return batch?.items.count ?? 0
    }

    /// Claims and sends batch after batch until nothing is due, over connections kept open from one
    /// batch to the next; returns how many rows it took. Every outcome is recorded when it returns.
    @discardableResult
    public func sendAllDue() async -> Int {
        if health?.writeRefusal != nil { return 0 }
        let run = SendRun(window: unrecordedPerConnection)
        let writer = startWriter(run)
        var total = 0
        var next = await prepareBatch(now: Date())
        while let batch = next, !Task.isCancelled {
            // The next batch is claimed and read while this one is sent, so the connections do not
            // wait for the database between batches.
            async let following = prepareBatch(now: Date())
            await send(batch, run: run)
            total += batch.items.count
            next = await following
        }
        run.recorder.finish()
        await writer.value
        await run.pool.closeAll()
        return total
    }

    /// The group-commit writer. Unstructured, so a shutdown that cancels the sending still lets it
    /// record what was sent.
    private func startWriter(_ run: SendRun) -> Task<Void, Never> {
        let (store, owner, logger, events) = (store, owner, logger, events)
        return Task.detached {
            await run.recorder.run { group in
                await Self.write(group, store: store, owner: owner, logger: logger, events: events)
            }
        }
    }

    private static func write(_ group: [OutboxOutcome], store: Repositories, owner: String, logger: Logger,
                              events: any LiveEventPublisher) async {
        do {
            let recorded = try await recordWhenReachable(group, store: store, owner: owner, logger: logger)
            let failed = group.filter { $0.state == .failed && recorded.contains($0.item.id) }
            if !failed.isEmpty { await announceFailures(failed, store: store, events: events) }
            if recorded.count < group.count {
                logger.warning("outbox rows whose lease lapsed while sending were not recorded", metadata: [
                    "rows": "\(group.map(\.item.id).filter { !recorded.contains($0) })",
                ])
            }
        } catch where group.count > 1 {
            // One row must not keep the others from being recorded.
            for outcome in group { await write([outcome], store: store, owner: owner, logger: logger, events: events) }
        } catch {
            // The row stays leased and is sent again once the lease lapses: the one duplicate possible.
            logger.error("cannot record a send attempt", metadata: ["outbox": "\(group.first?.item.id ?? "")", "error": "\(error)"])
        }
    }

    /// How long an outcome is kept and tried again while the database does not answer (a restart):
    /// well within the lease, so the row is recorded as sent instead of going out again once the
    /// lease lapses.
    static let recordRetryLimit: Duration = .seconds(60)

    /// Records a group, trying again while the database is unreachable (the outcomes wait in
    /// memory; the connections wait for them, so no more is sent meanwhile).
    private static func recordWhenReachable(_ group: [OutboxOutcome], store: Repositories, owner: String,
                                            logger: Logger) async throws -> Set<String> {
        let deadline = ContinuousClock.now + recordRetryLimit
        var pause = Duration.milliseconds(100)
        while true {
            do {
                return try await store.outbox.record(group, owner: owner)
            } catch let error as StoreUnavailable where error.reason == .databaseUnreachable && ContinuousClock.now < deadline {
                if pause == .milliseconds(100) {
                    logger.warning("the database is not reachable; keeping send outcomes until it answers",
                                   metadata: ["rows": "\(group.count)", "detail": "\(error.detail)"])
                }
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }

    /// A reply that will never arrive: the agents who see its ticket are told at once (the ticket is
    /// escalated and unread in the store already), with the reason from the last attempt.
    private static func announceFailures(_ failed: [OutboxOutcome], store: Repositories, events: any LiveEventPublisher) async {
        for outcome in failed {
            guard let ticket = try? await store.tickets.ticket(id: outcome.item.ticketId) else { continue }
            var event = RoutingEvents.message(ticket: ticket, messageId: outcome.item.messageId, direction: .outbound, at: Date())
            if case .object(var data) = event.data {
                data["deliveryState"] = .string(DeliveryState.failed.rawValue)
                data["error"] = .string(outcome.attempt.text)
                event.data = .object(data)
            }
            events.publish(event)
            for update in RoutingEvents.ticket(ticket, at: Date()) { events.publish(update) }
        }
    }

    /// Claims one batch and reads what sending it needs: the stored copies of its small messages
    /// and its accounts' settings (so changed settings apply from the next claim on). Nil: nothing is due.
    private nonisolated func prepareBatch(now: Date) async -> Batch? {
        let items: [OutboxItem]
        do {
            items = try await store.outbox.claimDue(owner: owner, limit: batchSize, leaseSeconds: leaseSeconds, now: now)
        } catch {
            logger.error("cannot claim outbox rows", metadata: ["error": "\(error)"])
            return nil
        }
        guard !items.isEmpty else { return nil }
        let claimedAt = ContinuousClock.now
        let raws: [String: [UInt8]]
        do {
            // Small messages of the whole batch in one query; a large one is read when its turn comes.
            raws = try await store.outbox.rawMessages(sha256: items.map(\.rawSha256), upToBytes: Self.prefetchLimit)
        } catch {
            logger.error("cannot read the batch's stored messages", metadata: ["error": "\(error)"])
            raws = [:]
        }
        var byAccount: [String: [OutboxItem]] = [:]
        var order: [String] = []
        for item in items {
            if byAccount[item.accountId] == nil { order.append(item.accountId) }
            byAccount[item.accountId, default: []].append(item)
        }
        var shares: [Batch.Share] = []
        for accountId in order {
            let accountItems = byAccount[accountId] ?? []
            do {
                let found = try await store.accounts.find(id: accountId)
                shares.append(Batch.Share(account: found.flatMap { $0.sends && Self.sendsHere($0.outgoing.protocol) ? $0 : nil }, items: accountItems))
            } catch {
                // Left leased: the rows go out once the lease lapses and the database answers again.
                logger.error("cannot read the sending account", metadata: ["account": "\(accountId)", "error": "\(error)"])
            }
        }
        return Batch(items: items, raws: raws, shares: shares, claimedAt: claimedAt)
    }

    /// Sends a batch over up to `connectionsPerAccount` connections per account; returns when every
    /// message of it is sent or failed (their outcomes may still be on their way to the database).
    private nonisolated func send(_ batch: Batch, run: SendRun) async {
        // A batch claimed ahead waited for the one before it; its lease is made fresh before its first message.
        await renewLeaseIfDue(batch: batch, after: .seconds(leaseSeconds / 4))
        await withTaskGroup(of: Void.self) { group in
            for share in batch.shares {
                guard let account = share.account else {
                    let failure = DeliveryFailure(kind: .noSuchProvider,
                        text: "the sending account is deleted or has no outgoing server; set its outgoing server, then resend")
                    for item in share.items { submitFailure(failure, item: item, settings: RetrySettings(), run: run) }
                    continue
                }
                // The connections share one queue, so none idles while another still has a backlog.
                let queue = WorkQueue(share.items)
                if account.outgoing.protocol.isExchange {
                    for _ in 0..<min(Self.exchangeRequestsPerAccount, share.items.count) {
                        group.addTask { await self.exchangeLane(queue: queue, account: account, batch: batch, run: run) }
                    }
                    continue
                }
                for _ in 0..<min(connectionsPerAccount, share.items.count) {
                    group.addTask { await self.lane(queue: queue, account: account, batch: batch, run: run) }
                }
            }
        }
    }

    /// One connection working through an account's share of a batch. Messages go out as a stream
    /// (`SMTPConnection.sendAll`: each envelope pipelined with the previous message's content); the
    /// stream pauses, and the lane does what has to wait, when the lease is due for renewal, a
    /// stored copy must be read, copies go to the Sent folder, or the connection is a full window
    /// of outcomes ahead of the database.
    private nonisolated func lane(queue: WorkQueue, account: Account, batch: Batch, run: SendRun) async {
        var connection = run.pool.take(for: account)
        let copier = SentFolderCopier(account: account, credentials: AccountCredentialSource(store), logger: logger)
        let lane = Lane(queue: queue, batch: batch, recorder: run.recorder, window: unrecordedPerConnection,
                        renewalInterval: .seconds(leaseSeconds / 2), keepsCopies: copier != nil)
        let heloName = account.fromAddress.split(separator: "@").last.map(String.init) ?? "localhost"
        while true {
            await renewLeaseIfDue(batch: batch, after: .seconds(leaseSeconds / 2))
            if let copier {
                for raw in lane.takeCopies() { await copier.copy(raw) }
            }
            if let oldest = lane.oldestBeyondWindow() {
                await run.recorder.waitUntilRecorded(oldest)
                continue
            }
            guard let (item, prefetched) = lane.takeNext() else { break }
            let raw: [UInt8]
            do {
                if let prefetched {
                    raw = prefetched
                } else if let read = try await store.outbox.rawMessages(sha256: [item.rawSha256], upToBytes: nil)[item.rawSha256] {
                    raw = read
                } else {
                    let failure = DeliveryFailure(kind: .internal, text: "the message's stored copy is missing")
                    lane.outcomeOutsideStream(submitFailure(failure, item: item, settings: account.retry, run: run))
                    continue
                }
            } catch {
                if Task.isCancelled { break }
                let failure = DeliveryFailure(kind: .internal, text: "cannot read the message's stored copy: \(error)")
                lane.outcomeOutsideStream(submitFailure(failure, item: item, settings: account.retry, run: run))
                continue
            }
            if connection == nil {
                do {
                    // OAuth2 accounts get a fresh access token when theirs is missing or about to expire.
                    var current = account
                    let source = AccountCredentialSource(store)
                    let credentials = try await source.credentials(&current, .outgoing)
                    do {
                        connection = try await SMTPConnection.connect(to: account.outgoingEndpoint, credentials: credentials,
                                                                      heloName: heloName, logger: logger)
                    } catch let error as MailTransportError where error.kind == .authenticationFailed && credentials?.isOAuth2 == true {
                        // The server refused the access token (revoked, or expired early): one more try with a fresh one.
                        connection = try await SMTPConnection.connect(
                            to: account.outgoingEndpoint, credentials: try await source.credentials(&current, .outgoing, forceRefresh: true),
                            heloName: heloName, logger: logger)
                    }
                } catch {
                    if Task.isCancelled { break }
                    lane.outcomeOutsideStream(submitFailure(Self.failure(from: error), item: item, settings: account.retry, run: run))
                    continue
                }
            }
            guard let smtp = connection else { continue }
            lane.carry(item, raw: raw)
            // The messages go out from the connection's event loop: no thread hop per SMTP round trip.
            let usable = await withTaskExecutorPreference(smtp.connection.taskExecutor) {
                await smtp.sendAll(next: { lane.nextReady() }, outcome: { sending, outcome in
                    self.handle(outcome, of: sending, account: account, lane: lane, run: run)
                })
            }
            if !usable {
                // After a transport failure the connection is not trusted for the next message.
                await smtp.close()
                connection = nil
            }
        }
        if let connection { run.pool.give(connection, for: account) }
        await copier?.finish()
        run.recorder.flush()
    }

    /// One message's outcome, as its last reply arrives (on the connection's executor: nothing here waits).
    private nonisolated func handle(_ outcome: SMTPPipelineStateMachine.Outcome, of sending: Lane.Sending, account: Account,
                                    lane: Lane, run: SendRun) {
        let item = sending.item
        switch outcome {
        case .sent(let result):
            let recipients = result.recipients.map {
                OutboxAttempt.RecipientResult(address: $0.address, accepted: $0.accepted, replyCode: $0.reply.code, text: $0.reply.text)
            }
            let attempt = OutboxAttempt(outboxId: item.id, attemptedAt: Date(), outcome: .sent, replyCode: result.dataReply.code,
                                        enhancedStatus: result.dataReply.enhancedStatus?.description, text: result.dataReply.text,
                                        errorClass: nil, policy: nil, nextAttemptAt: nil, recipients: recipients)
            let number = run.recorder.submit(OutboxOutcome(item: item, attempt: attempt, state: .sent))
            run.sentCounter.increment()
            lane.answered(number, copy: sending.raw)
        case .failed(let error):
            // Stopped by shutdown: nothing is known about this message, so nothing is recorded; its
            // lease is released when the service stops and it goes out again.
            if Task.isCancelled {
                lane.dropped()
                return
            }
            lane.answered(submitFailure(Self.failure(from: error), item: item, settings: account.retry, run: run), copy: nil)
        case .notSent:
            // Only its envelope went out before the connection failed: it goes first over the next one.
            lane.carryBack(item, raw: sending.raw)
        }
    }

    /// A batch to a slow server can outlast its lease; before it does, the rows still held get a new
    /// one. A row another sender took meanwhile (its lease lapsed) is not sent by this one.
    nonisolated func renewLeaseIfDue(batch: Batch, after interval: Duration) async {
        guard batch.renewalDue(after: interval) else { return }
        do {
            let ids = batch.items.map(\.id)
            let renewed = try await store.outbox.renewLeases(ids: ids, owner: owner, leaseSeconds: leaseSeconds)
            batch.markLost(ids.filter { !renewed.contains($0) })
        } catch {
            logger.error("cannot renew outbox leases", metadata: ["error": "\(error)"])
        }
    }

    @discardableResult
    nonisolated func submitFailure(_ failure: DeliveryFailure, item: OutboxItem, settings: RetrySettings, run: SendRun) -> Int {
        let (state, attempt) = OutboxTransition.afterFailure(failure, item: item, settings: settings, now: Date())
        Counter(label: "mailroom_send_failures_total", dimensions: [("class", attempt.errorClass?.rawValue ?? "unknown")]).increment()
        logger.warning("sending failed", metadata: [
            "outbox": "\(item.id)", "class": "\(attempt.errorClass?.rawValue ?? "?")", "state": "\(state.rawValue)",
        ])
        return run.recorder.submit(OutboxOutcome(item: item, attempt: attempt, state: state))
    }

    /// Messages up to this size are read for a whole batch at once; larger ones one at a time, so
    /// a batch of big attachments does not sit in memory together.
    static let prefetchLimit = 256 * 1024

    /// What the SMTP client's error says, in the classifier's terms.
    static func failure(from error: any Error) -> DeliveryFailure {
        if let error = error as? OAuth2Error {
            // No token, no login: the same class as a server refusing the credentials.
            return DeliveryFailure(kind: .authenticationFailed, text: error.description)
        }
        guard let error = error as? MailTransportError else {
            return DeliveryFailure(kind: .internal, text: ErrorWords.describe(error))
        }
        let kind: DeliveryFailure.Kind
        switch error.kind {
        case .unknownHost: kind = .unknownHost
        case .connectionRefused: kind = .connectionRefused
        case .connectionFailed: kind = .connectionFailed
        case .timeout: kind = .timeout
        case .tls: kind = .tls
        case .authenticationFailed: kind = .authenticationFailed
        case .protocolError, .limitExceeded, .unsupported: kind = .protocolError
        case .serverReply: kind = .serverReply
        case .connectionClosed: kind = .connectionClosed
        }
        return DeliveryFailure(kind: kind, replyCode: error.replyCode, enhancedStatus: error.enhancedStatus?.description,
                               text: error.description)
    }
}

/// What one `sendDue`/`sendAllDue` shares among its connections.
