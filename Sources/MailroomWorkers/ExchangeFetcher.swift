import ExchangeClient
import Foundation
import Logging
import MailroomCore
import Metrics

/// Reads one account's Graph or EWS folder for as long as it runs. Each round asks for what was
/// added since the committed sync state (Graph's delta link, EWS's sync state), skips the items
/// already taken (each is recorded with its message, in the ingest transaction), downloads the
/// rest's raw MIME in batches and commits each batch through the ingest pipeline; the new sync
/// state is committed with the round's last message (or after the deletes, with deleteOnFetch).
/// A crash anywhere replays the round from the old state: taken items are skipped, and with
/// deleteOnFetch deleted then, so nothing is lost, duplicated or left behind.
public struct ExchangeFetcher: Sendable {
    public let account: Account
    let source: any ExchangeMailboxSource
    let pipeline: IngestPipeline
    let fetchState: any FetchStateRepository
    let quarantine: any QuarantineRepository
    let status: AccountStatusBoard
    let logger: Logger
    /// Messages downloaded, then committed, together.
    let batchSize: Int
    /// Wakes the wait between rounds early (push notifications); nil: the fetch interval only.
    let wakeups: ExchangeWakeups?

    public init(account: Account, source: any ExchangeMailboxSource, pipeline: IngestPipeline, fetchState: any FetchStateRepository,
                quarantine: any QuarantineRepository, status: AccountStatusBoard, logger: Logger, batchSize: Int = 50,
                wakeups: ExchangeWakeups? = nil) {
        self.account = account
        self.source = source
        self.pipeline = pipeline
        self.fetchState = fetchState
        self.quarantine = quarantine
        self.status = status
        self.logger = logger
        self.batchSize = max(1, batchSize)
        self.wakeups = wakeups
    }

    var folder: String { account.incoming.mailbox }

    /// Runs until cancelled; failures are reported and retried with growing waits (a throttling
    /// answer's own wait when it gave one). Where the source pushes (EWS streaming notifications),
    /// new mail starts a round at once; the fetch interval stays the fallback and the safety sweep.
    public func run() async {
        status.update(account.id) { $0.fetching = true }
        defer { status.remove(account.id) }
        guard let pushing = source as? any ExchangeMailboxPush else {
            await loop(wakeups: wakeups)
            return
        }
        let wakeups = self.wakeups ?? ExchangeWakeups()
        let (logger, accountId) = (self.logger, account.id)
        await withTaskGroup(of: Void.self) { group in
            // Push that ends (none configured, or given up) leaves the poll running.
            group.addTask { await pushing.push(wake: { wakeups.wake() }, logger: logger, accountId: accountId) }
            await self.loop(wakeups: wakeups)
            group.cancelAll()
        }
    }

    private func loop(wakeups: ExchangeWakeups?) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                try await round()
                failures = 0
                let interval = account.incoming.fetchIntervalSeconds
                status.recordSuccess(account.id)
                status.update(account.id) {
                    $0.connected = true
                    $0.lastSuccessfulFetchAt = Date()
                    $0.idle = wakeups != nil
                    $0.nextFetchAt = Date().addingTimeInterval(Double(interval))
                }
                if let wakeups {
                    await wakeups.wait(upTo: .seconds(interval))
                } else {
                    try await Task.sleep(for: .seconds(interval))
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                failures += 1
                var wait = min(300, account.incoming.fetchIntervalSeconds * (1 << min(failures - 1, 5)))
                if let exchange = error as? ExchangeError, exchange.kind == .rateLimited, let after = exchange.retryAfter {
                    wait = max(1, Int(after.components.seconds))
                    Counter(label: "mailroom_exchange_throttled_total", dimensions: [("protocol", source.protocolName)]).increment()
                }
                report(error, retryIn: wait)
                try? await Task.sleep(for: .seconds(wait))
            }
        }
    }

    private func report(_ error: any Error, retryIn seconds: Int) {
        let text = FetchFailureText.of(error)
        logger.warning("fetching failed", metadata: ["account": "\(account.id)", "protocol": "\(source.protocolName)",
                                                     "error": "\(error)", "retryInSeconds": "\(seconds)"])
        Counter(label: "mailroom_fetch_errors_total", dimensions: [("protocol", source.protocolName)]).increment()
        status.recordFailure(account.id, kind: FetchFailureText.kind(of: error), message: text, retryIn: seconds)
    }

    /// The first moment fetchLastDays takes in, or nil without a window.
    func windowStart(now: Date = Date()) -> Date? {
        account.incoming.fetchLastDays.map { now.addingTimeInterval(-Double($0) * 86_400) }
    }

    /// One round: changes since the committed state, new items ingested, the new state committed.
    /// Returns how many messages were committed.
    @discardableResult
    public func round(now: Date = Date()) async throws -> Int {
        let saved = try await fetchState.exchangeSyncState(accountId: account.id, folder: folder)
        let since = windowStart(now: now)
        let changes = try await source.changes(savedState: saved, receivedSince: since)
        if changes.resynchronised {
            logger.notice("the sync state expired; the folder was listed again", metadata: ["account": "\(account.id)"])
        }
        var taken = try await fetchState.exchangeItemsTaken(accountId: account.id)
        if changes.fullListing, since == nil {
            // The folder as it is now: taken items it no longer has need not be remembered.
            let present = Set(changes.created.map(\.id))
            try await fetchState.forgetExchangeItems(accountId: account.id, keeping: present)
            taken.formIntersection(present)
        }
        let deleteOnFetch = account.incoming.deleteOnFetch
        let kept = deleteOnFetch ? try await quarantine.leftOnServer(accountId: account.id) : []
        let folderName = folder
        func leftOnServer(_ id: String) -> Bool {
            kept.contains(MailboxPosition.exchange(folder: folderName, itemId: id, syncState: nil).serverKey ?? "")
        }
        if deleteOnFetch {
            // Taken before a crash that came between the commit and the delete.
            try await source.delete(changes.created.filter { taken.contains($0.id) && !leftOnServer($0.id) }.map(\.id))
        }
        let new = changes.created.filter { item in
            !taken.contains(item.id) && (since == nil || (item.received.map { $0 >= since! } ?? true))
        }
        let batches = stride(from: 0, to: new.count, by: batchSize).map { Array(new[$0..<min($0 + batchSize, new.count)]) }
        let maxBytes = account.incoming.maxMessageBytes
        let (source, folder, protocolName) = (self.source, self.folder, source.protocolName)
        /// Downloads a batch into pipeline input; the last item of the last batch carries the new
        /// state when nothing is to be deleted after the commit.
        @Sendable func download(_ index: Int) -> Task<[IngestPipeline.Inbound], any Error> {
            let batch = batches[index]
            let stateOnLast = !deleteOnFetch && index == batches.count - 1 ? changes.newState : nil
            return Task {
                let downloads = try await source.download(batch.map(\.id), maxBytes: maxBytes)
                var inbound: [IngestPipeline.Inbound] = []
                for (offset, (item, download)) in zip(batch, downloads).enumerated() {
                    let state = offset == batch.count - 1 ? stateOnLast : nil
                    let position = MailboxPosition.exchange(folder: folder, itemId: item.id, syncState: state)
                    let source = "\(protocolName) \(folder) item \(item.id.suffix(24))"
                    switch download {
                    case .message(let raw):
                        inbound.append(.init(raw: raw, position: position, source: source))
                    case .tooLarge(let size, let header):
                        inbound.append(.init(raw: header, position: position, source: source,
                                             tooLargeToFetch: .init(size: size ?? maxBytes + 1, fetchLimit: maxBytes)))
                    case .vanished:
                        // Gone between the listing and the download: nothing to take. The state still moves.
                        if let state { inbound.append(.init(raw: [], position: .exchange(folder: folder, itemId: nil, syncState: state), source: source)) }
                    }
                }
                return inbound
            }
        }
        var committedCount = 0
        var next = batches.isEmpty ? nil : download(0)
        var stateCommitted = false
        for index in batches.indices {
            guard let current = next else { break }
            let inbound: [IngestPipeline.Inbound]
            do {
                inbound = try await current.value
            } catch {
                throw error
            }
            next = index + 1 < batches.count ? download(index + 1) : nil
            let messages = inbound.filter { if case .exchange(_, nil, _)? = $0.position { return false } else { return true } }
            let result: IngestBatchResult
            do {
                result = try await pipeline.processBatch(messages, account: account)
            } catch {
                next?.cancel()
                throw error
            }
            for outcome in result.outcomes { status.record(outcome, for: account.id) }
            committedCount += result.outcomes.count
            if !result.outcomes.isEmpty {
                Counter(label: "mailroom_exchange_fetched_messages_total", dimensions: [("protocol", protocolName)]).increment(by: result.outcomes.count)
            }
            if let failure = result.failure {
                next?.cancel()
                throw failure
            }
            if messages.count < inbound.count, let last = inbound.last?.position {
                // The batch's last item vanished: its state goes alone.
                try await pipeline.store.recordPosition(last, accountId: account.id)
            }
            if !deleteOnFetch && index == batches.count - 1 { stateCommitted = true }
            if deleteOnFetch {
                let ids = messages.compactMap { message -> String? in
                    guard message.tooLargeToFetch == nil, case .exchange(_, let id?, _)? = message.position else { return nil }
                    return id
                }
                try await source.delete(ids)
            }
        }
        if !stateCommitted && changes.newState != saved {
            try await pipeline.store.recordPosition(.exchange(folder: folder, itemId: nil, syncState: changes.newState), accountId: account.id)
        }
        return committedCount
    }
}

/// Wakes a fetcher's wait between rounds (a push notification arrived), or lets it sleep out the interval.
public final class ExchangeWakeups: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func wake() { continuation.yield() }

    /// Returns at the first wake-up, or when `limit` has passed.
    func wait(upTo limit: Duration) async {
        let stream = self.stream
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in stream { return }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }
}
