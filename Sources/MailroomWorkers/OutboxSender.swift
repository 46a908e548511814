import Foundation
import Logging
import MailTransport
import MailroomCore
import MailroomStore
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
    private let store: SQLStore
    private let logger: Logger
    private let owner: String
    private let batchSize: Int
    private let idleWait: Duration
    /// SMTP connections opened at once to one account's server (several messages go over each).
    private let connectionsPerAccount: Int
    private let unrecordedPerConnection: Int
    private let leaseSeconds: TimeInterval
    /// Where a final failure is announced, so the agent's screen shows it at once.
    private let events: any LiveEventPublisher
    private var wakeUp: AsyncStream<Void>.Continuation?

    /// - Parameters:
    ///   - owner: this node's name; a restarted node takes back the rows its previous process held.
    ///   - unrecordedPerConnection: how many sent messages a connection may have waiting to be
    ///     recorded while it sends the next one (the duplicate window after a crash).
    public init(store: SQLStore, logger: Logger, owner: String = ProcessInfo.processInfo.hostName,
                batchSize: Int = 100, idleWait: Duration = .seconds(1), connectionsPerAccount: Int = 2,
                unrecordedPerConnection: Int = 32, leaseSeconds: TimeInterval = 300,
                events: any LiveEventPublisher = NoLiveEvents()) {
        self.store = store
        self.events = events
        self.connectionsPerAccount = max(1, connectionsPerAccount)
        self.unrecordedPerConnection = max(0, unrecordedPerConnection)
        self.logger = logger
        self.owner = owner
        self.batchSize = max(1, batchSize)
        self.idleWait = idleWait
        self.leaseSeconds = max(10, leaseSeconds)
    }

    /// Looks for due rows now (a reply was just queued).
    public nonisolated func wake() {
        Task { await self.signal() }
    }

    private func signal() { wakeUp?.yield() }

    public func run() async throws {
        await releaseOwnLeases(reason: "took back outbox rows left mid-send by this node's previous run")
        let (wakes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wakeUp = continuation
        let wait = idleWait
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: wait)
                continuation.yield()
            }
        }
        await cancelWhenGracefulShutdown {
            for await _ in wakes {
                if Task.isCancelled { break }
                await self.sendAllDue()
            }
        }
        ticker.cancel()
        continuation.finish()
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

    private static func write(_ group: [OutboxOutcome], store: SQLStore, owner: String, logger: Logger,
                              events: any LiveEventPublisher) async {
        do {
            let recorded = try await store.outbox.record(group, owner: owner)
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

    /// A reply that will never arrive: the agents who see its ticket are told at once (the ticket is
    /// escalated and unread in the store already), with the reason from the last attempt.
    private static func announceFailures(_ failed: [OutboxOutcome], store: SQLStore, events: any LiveEventPublisher) async {
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
                shares.append(Batch.Share(account: found.flatMap { $0.sends && $0.outgoing.protocol == .smtp ? $0 : nil }, items: accountItems))
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
                        text: "the sending account is deleted or has no SMTP server; set its outgoing server, then resend")
                    for item in share.items { submitFailure(failure, item: item, settings: RetrySettings(), run: run) }
                    continue
                }
                // The connections share one queue, so none idles while another still has a backlog.
                let queue = WorkQueue(share.items)
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
        let copier = SentFolderCopier(account: account, credentials: AccountCredentialSource(accounts: store.accounts), logger: logger)
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
                    let source = AccountCredentialSource(accounts: store.accounts)
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
    private nonisolated func renewLeaseIfDue(batch: Batch, after interval: Duration) async {
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
    private nonisolated func submitFailure(_ failure: DeliveryFailure, item: OutboxItem, settings: RetrySettings, run: SendRun) -> Int {
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
            return DeliveryFailure(kind: .internal, text: "\(error)")
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
private final class SendRun: Sendable {
    let recorder: OutcomeRecorder
    let pool = SMTPConnectionPool()
    let sentCounter = Counter(label: "mailroom_sent_messages_total")

    /// A group is written when half a connection's window waits, so the connection rarely stalls on the write.
    init(window: Int) { recorder = OutcomeRecorder(groupSize: max(1, window / 2)) }

}

/// A claimed batch: its rows by account, the stored copies read for it, and when its lease needs renewing.
private final class Batch: Sendable {
    struct Share: Sendable {
        /// Nil when the account is deleted or does not send over SMTP.
        var account: Account?
        var items: [OutboxItem]
    }

    let items: [OutboxItem]
    let raws: [String: [UInt8]]
    let shares: [Share]
    private let lastRenewal: Mutex<ContinuousClock.Instant>
    /// Rows (recorded already, or) taken by another sender after their lease lapsed.
    private let lost = Mutex<Set<String>>([])

    init(items: [OutboxItem], raws: [String: [UInt8]], shares: [Share], claimedAt: ContinuousClock.Instant) {
        self.items = items
        self.raws = raws
        self.shares = shares
        self.lastRenewal = Mutex(claimedAt)
    }

    func markLost(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        lost.withLock { $0.formUnion(ids) }
    }

    func isLost(_ id: String) -> Bool { lost.withLock { $0.contains(id) } }

    /// Whether `interval` has passed since the claim or the last renewal (without claiming the renewal).
    func isRenewalDue(after interval: Duration) -> Bool {
        let now = ContinuousClock.now
        return lastRenewal.withLock { now - $0 >= interval }
    }

    /// True for exactly one caller once `interval` has passed since the claim or the last renewal.
    func renewalDue(after interval: Duration) -> Bool {
        let now = ContinuousClock.now
        return lastRenewal.withLock { last in
            guard now - last >= interval else { return false }
            last = now
            return true
        }
    }
}

/// What one connection's stream of messages shares between the sender's lane and the connection's
/// callbacks: messages carried over (the first of a stream, or one the last connection did not
/// send), the outcomes this connection handed in and not yet seen recorded, and copies for the
/// Sent folder. Touched from one task at a time; the lock only makes that checkable.
private final class Lane: Sendable {
    struct Sending: Sendable {
        var item: OutboxItem
        var raw: [UInt8]
    }

    private struct State {
        var carried: [(item: OutboxItem, raw: [UInt8]?)] = []
        /// Numbers of this connection's outcomes handed to the recorder, oldest first, until seen recorded.
        var unrecorded: [Int] = []
        var unrecordedHead = 0
        /// Messages handed to the connection whose outcome has not come back.
        var inFlight = 0
        var copies: [[UInt8]] = []

        var unrecordedCount: Int { unrecorded.count - unrecordedHead }

        mutating func forgetRecorded(through recorded: Int) {
            while unrecordedHead < unrecorded.count, unrecorded[unrecordedHead] <= recorded { unrecordedHead += 1 }
            if unrecordedHead > 64, unrecordedHead * 2 > unrecorded.count {
                unrecorded.removeFirst(unrecordedHead)
                unrecordedHead = 0
            }
        }
    }

    private let state = Mutex(State())
    private let queue: WorkQueue
    private let batch: Batch
    private let recorder: OutcomeRecorder
    private let window: Int
    private let renewalInterval: Duration
    private let keepsCopies: Bool

    init(queue: WorkQueue, batch: Batch, recorder: OutcomeRecorder, window: Int, renewalInterval: Duration, keepsCopies: Bool) {
        self.queue = queue
        self.batch = batch
        self.recorder = recorder
        self.window = window
        self.renewalInterval = renewalInterval
        self.keepsCopies = keepsCopies
    }

    /// The next row for this connection (one carried over first), with its stored copy when the batch read it.
    /// Nil when the sending is cancelled (the rows stay leased and are released at shutdown).
    func takeNext() -> (item: OutboxItem, raw: [UInt8]?)? {
        if Task.isCancelled { return nil }
        while let carried = state.withLock({ $0.carried.isEmpty ? nil : $0.carried.removeFirst() }) {
            if !batch.isLost(carried.item.id) { return carried }
        }
        while let item = queue.next() {
            if batch.isLost(item.id) { continue }
            return (item, batch.raws[item.rawSha256])
        }
        return nil
    }

    /// Puts a row first in line for the next stream.
    func carry(_ item: OutboxItem, raw: [UInt8]?) {
        state.withLock { $0.carried.insert((item, raw), at: 0) }
    }

    /// The stream's next message, or nil to pause it: a window of outcomes not yet recorded
    /// (counting the ones in flight), copies to make, a lease to renew, a stored copy to read,
    /// or no more rows. Runs on the connection's executor and does not wait.
    func nextReady() -> (item: Sending, message: SMTPOutgoingMessage)? {
        if Task.isCancelled { return nil }
        let recorded = recorder.recordedThrough
        return state.withLock { state -> (item: Sending, message: SMTPOutgoingMessage)? in
            state.forgetRecorded(through: recorded)
            // Counting the messages in flight, a connection is at most `window` outcomes ahead of the
            // database once they are answered: the bound of sending one message at a time.
            guard state.unrecordedCount + state.inFlight <= window else { return nil }
            guard state.copies.isEmpty, !batch.isRenewalDue(after: renewalInterval) else { return nil }
            var next: (item: OutboxItem, raw: [UInt8])?
            while next == nil, let first = state.carried.first {
                guard let raw = first.raw else { return nil }
                state.carried.removeFirst()
                if !batch.isLost(first.item.id) { next = (first.item, raw) }
            }
            if next == nil {
                while let item = queue.next() {
                    if batch.isLost(item.id) { continue }
                    guard let raw = batch.raws[item.rawSha256] else {
                        // Read outside the stream (a large message, not read with the batch).
                        state.carried.append((item, nil))
                        return nil
                    }
                    next = (item, raw)
                    break
                }
            }
            guard let next else { return nil }
            state.inFlight += 1
            return (Sending(item: next.item, raw: next.raw),
                    SMTPOutgoingMessage(sender: next.item.envelopeFrom, recipients: next.item.recipients, content: next.raw))
        }
    }

    /// An in-flight message's outcome went to the recorder as `number`.
    func answered(_ number: Int, copy raw: [UInt8]?) {
        state.withLock { state in
            state.inFlight -= 1
            state.unrecorded.append(number)
            if keepsCopies, let raw { state.copies.append(raw) }
        }
    }

    /// An outcome decided without sending (no connection, no stored copy) went to the recorder as `number`.
    func outcomeOutsideStream(_ number: Int) {
        state.withLock { $0.unrecorded.append(number) }
    }

    /// An in-flight message ended without an outcome (shutdown).
    func dropped() {
        state.withLock { $0.inFlight -= 1 }
    }

    /// An in-flight message did not go out (only its envelope did, then the connection failed): it goes first next time.
    func carryBack(_ item: OutboxItem, raw: [UInt8]) {
        state.withLock { state in
            state.inFlight -= 1
            state.carried.insert((item, raw), at: 0)
        }
    }

    func takeCopies() -> [[UInt8]] {
        state.withLock { state in
            defer { state.copies = [] }
            return state.copies
        }
    }

    /// The oldest outcome to wait for before the next message, when this connection is more than a
    /// window ahead of the database.
    func oldestBeyondWindow() -> Int? {
        let recorded = recorder.recordedThrough
        return state.withLock { state in
            state.forgetRecorded(through: recorded)
            return state.unrecordedCount > window ? state.unrecorded[state.unrecordedHead] : nil
        }
    }
}

/// An account's share of a batch, taken one row at a time by its connections.
private final class WorkQueue: Sendable {
    private let state: Mutex<(items: [OutboxItem], next: Int)>

    init(_ items: [OutboxItem]) { state = Mutex((items, 0)) }

    /// The next row, or nil when all are taken or the sending is cancelled (the rest stay leased and are released at shutdown).
    func next() -> OutboxItem? {
        if Task.isCancelled { return nil }
        return state.withLock { state in
            guard state.next < state.items.count else { return nil }
            defer { state.next += 1 }
            return state.items[state.next]
        }
    }
}

/// Open SMTP connections kept from one batch to the next while there is work, per account. A
/// connection is reused only while the account's outgoing settings are those it was opened with.
final class SMTPConnectionPool: Sendable {
    private let idle = Mutex<[String: [(settings: OutgoingServer, fromAddress: String, connection: SMTPConnection)]]>([:])

    func take(for account: Account) -> SMTPConnection? {
        idle.withLock { idle -> SMTPConnection? in
            guard var list = idle[account.id] else { return nil }
            defer { idle[account.id] = list.isEmpty ? nil : list }
            while let entry = list.popLast() {
                if entry.settings == account.outgoing && entry.fromAddress == account.fromAddress { return entry.connection }
                Task { await entry.connection.quit() }
            }
            return nil
        }
    }

    func give(_ connection: SMTPConnection, for account: Account) {
        idle.withLock { $0[account.id, default: []].append((account.outgoing, account.fromAddress, connection)) }
    }

    func closeAll() async {
        let all = idle.withLock { idle in
            defer { idle = [:] }
            return idle.values.flatMap { $0.map(\.connection) }
        }
        await withTaskGroup(of: Void.self) { group in
            for connection in all { group.addTask { await connection.quit() } }
        }
    }
}

/// Group commit for send outcomes. Connections hand in outcomes (numbered in order) without
/// waiting; one writer records them in groups, each in one transaction. A group is written once
/// `groupSize` outcomes wait, or someone waits for one of them, or a connection has run out of
/// work, or the oldest has waited `maxDelay`, or no more will come.
final class OutcomeRecorder: Sendable {
    private enum WriterWait {
        case none
        /// Nothing to write: any outcome wakes the writer.
        case idle(CheckedContinuation<Void, Never>)
        /// Some outcomes wait, fewer than a group: only a reason to write now wakes it.
        case filling(CheckedContinuation<Void, Never>)
    }

    private struct State {
        var pending: [OutboxOutcome] = []
        var submitted = 0
        /// Every outcome numbered up to this one is written (or its write failed and was logged).
        var recorded = 0
        var waiters: [(number: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var writer = WriterWait.none
        var flushRequested = false
        var finished = false

        /// The writer's continuation, taken out so it is resumed once.
        mutating func takeWriter(ifFilling: Bool = true) -> CheckedContinuation<Void, Never>? {
            switch writer {
            case .none: return nil
            case .idle(let continuation):
                writer = .none
                return continuation
            case .filling(let continuation):
                guard ifFilling else { return nil }
                writer = .none
                return continuation
            }
        }
    }

    private let state = Mutex(State())
    let groupSize: Int
    let maxDelay: Duration
    /// Outcomes per transaction at most.
    let maxGroup: Int

    init(groupSize: Int = 16, maxDelay: Duration = .milliseconds(5), maxGroup: Int = 500) {
        self.groupSize = max(1, groupSize)
        self.maxDelay = maxDelay
        self.maxGroup = max(1, maxGroup)
    }

    /// Every outcome numbered up to this one is recorded (or its write failed and was logged).
    var recordedThrough: Int { state.withLock { $0.recorded } }

    /// Hands in an outcome and returns its number.
    func submit(_ outcome: OutboxOutcome) -> Int {
        let (number, writer) = state.withLock { state in
            state.pending.append(outcome)
            state.submitted += 1
            return (state.submitted, state.takeWriter(ifFilling: state.pending.count >= groupSize))
        }
        writer?.resume()
        return number
    }

    /// Returns once the outcome numbered `number` is recorded; asks for a write now if it is not.
    func waitUntilRecorded(_ number: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (done, writer) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                if state.recorded >= number { return (true, nil) }
                state.waiters.append((number, continuation))
                return (false, state.pending.isEmpty ? nil : state.takeWriter())
            }
            writer?.resume()
            if done { continuation.resume() }
        }
    }

    /// A connection ran out of work: what waits is written now rather than after more arrives.
    func flush() {
        let writer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.pending.isEmpty else { return nil }
            state.flushRequested = true
            return state.takeWriter()
        }
        writer?.resume()
    }

    /// No more outcomes will come; the writer returns once it has recorded the rest.
    func finish() {
        let writer = state.withLock { state in
            state.finished = true
            return state.takeWriter()
        }
        writer?.resume()
    }

    /// The writer's loop: records group after group until `finish()` and nothing is left.
    func run(write: ([OutboxOutcome]) async -> Void) async {
        while let next = await nextGroup() {
            let (group, last) = next
            await write(group)
            let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.recorded = last
                let ready = state.waiters.filter { $0.number <= last }.map(\.continuation)
                state.waiters.removeAll { $0.number <= last }
                return ready
            }
            for continuation in ready { continuation.resume() }
        }
    }

    private enum Next {
        case group([OutboxOutcome], last: Int)
        case waitForAny
        case waitForMore
        case done
    }

    private func nextGroup() async -> ([OutboxOutcome], Int)? {
        var writeNow = false
        while true {
            let next = state.withLock { state -> Next in
                if state.pending.isEmpty { return state.finished ? .done : .waitForAny }
                guard writeNow || state.pending.count >= groupSize || state.flushRequested || state.finished || !state.waiters.isEmpty else {
                    return .waitForMore
                }
                let count = min(state.pending.count, maxGroup)
                let group = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                if state.pending.isEmpty { state.flushRequested = false }
                return .group(group, last: state.submitted - state.pending.count)
            }
            switch next {
            case .group(let group, let last): return (group, last)
            case .done: return nil
            case .waitForAny:
                await waitForWriterWakeUp(filling: false)
            case .waitForMore:
                // Whatever ends this wait (a full group, a waiter, a flush, the end, the delay) means: write now.
                let delay = maxDelay
                let timer = Task { [weak self] in
                    do { try await Task.sleep(for: delay) } catch { return }
                    self?.delayElapsed()
                }
                await waitForWriterWakeUp(filling: true)
                timer.cancel()
                writeNow = true
            }
        }
    }

    private func waitForWriterWakeUp(filling: Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                // Re-checked under the lock: whatever arrived since the last look counts.
                if state.finished || (!filling && !state.pending.isEmpty) { return true }
                if filling && (state.pending.count >= groupSize || state.flushRequested || !state.waiters.isEmpty) { return true }
                state.writer = filling ? .filling(continuation) : .idle(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    private func delayElapsed() {
        let writer = state.withLock { $0.takeWriter() }
        writer?.resume()
    }
}
