import Foundation
import Logging
import MailTransport
import MailroomCore
import Metrics
import ServiceLifecycle
import SMTPClient
import Synchronization

// The parts of one run of the outbox sender: its batches, the lanes that send over one SMTP
// connection each, the connection pool, and the recorder that commits outcomes in groups.

final class SendRun: Sendable {
    let recorder: OutcomeRecorder
    let pool = SMTPConnectionPool()
    let sentCounter = Counter(label: "mailroom_sent_messages_total")

    /// A group is written when half a connection's window waits, so the connection rarely stalls on the write.
    init(window: Int) { recorder = OutcomeRecorder(groupSize: max(1, window / 2)) }

}

/// A claimed batch: its rows by account, the stored copies read for it, and when its lease needs renewing.
final class Batch: Sendable {
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
final class Lane: Sendable {
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
final class WorkQueue: Sendable {
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
