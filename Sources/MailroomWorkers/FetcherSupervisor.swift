import Foundation
import Logging
import MailroomCore
import Metrics
import ServiceLifecycle
import Synchronization

/// Keeps one fetcher running for each account that should fetch on this node, and only those:
/// an account changed, deactivated or deleted is noticed within `reconcileInterval` (or at once
/// after `wake()`), without a restart.
public actor FetcherSupervisor: Service {
    private let store: Repositories
    private let pipeline: IngestPipeline
    private let status: AccountStatusBoard
    private let logger: Logger
    private let nodeName: String
    private let reconcileInterval: Duration
    private var running: [String: (fingerprint: String, fetcher: RunningFetcher)] = [:]
    private let rounds: PeriodicWork<ContinuousClock>
    /// Fetchers to start, taken by ``run()``, which runs each as a child task: fetchers live inside the service group.
    private let starts: AsyncStream<RunningFetcher>
    private let startContinuation: AsyncStream<RunningFetcher>.Continuation

    /// Where Graph change notifications arrive (nil: Graph accounts poll only).
    private let exchangeNotifications: ExchangeNotificationInbox?
    /// The settings' publicBaseURL as of the last full round: Graph subscriptions point there.
    private var publicBaseURL: String?

    public init(store: some RepositoryProvider, pipeline: IngestPipeline, status: AccountStatusBoard, logger: Logger,
                nodeName: String = ProcessInfo.processInfo.hostName, reconcileInterval: Duration = .seconds(2),
                exchangeNotifications: ExchangeNotificationInbox? = nil) {
        self.exchangeNotifications = exchangeNotifications
        self.store = store.repositories
        self.pipeline = pipeline
        self.status = status
        self.logger = logger
        self.nodeName = nodeName
        self.reconcileInterval = reconcileInterval
        rounds = PeriodicWork(every: reconcileInterval)
        (starts, startContinuation) = AsyncStream.makeStream()
    }

    /// Looks at the accounts again now (after the API changed one).
    public nonisolated func wake() {
        wakeRequested.withLock { $0 = true }
        rounds.wake()
    }

    /// Set by ``wake()`` from any thread; the next round reads all accounts.
    private let wakeRequested = Mutex(false)

    /// The accounts table's change marker at the last full round (nil: none yet).
    private var seenMarker: String?
    /// Set by ``wake()``, by a lease this node could not take (another node may let it lapse), and
    /// every `fullRoundEvery` rounds; otherwise a round whose marker is unchanged only renews leases.
    private var fullRoundDue = true
    private var roundsSinceFull = 0
    private let fullRoundEvery = 30

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                await self.rounds.run { await self.reconcile() }
                await self.stopAll()
                self.startContinuation.finish()
            }
            for await fetcher in starts { group.addTask { await fetcher.run() } }
        }
    }

    /// The accounts whose fetchers run now.
    public var runningAccounts: [String] { Array(running.keys).sorted() }

    public func reconcile() async {
        if wakeRequested.withLock({ requested in defer { requested = false }; return requested }) { fullRoundDue = true }
        roundsSinceFull += 1
        let marker = try? await store.fetchState.accountsChangeMarker()
        if !fullRoundDue, roundsSinceFull < fullRoundEvery, marker != nil, marker == seenMarker {
            await renewLeasesIfDue()
            if roundsSinceFull % 5 == 0 { await recordGauges() }
            return
        }
        fullRoundDue = false
        roundsSinceFull = 0
        seenMarker = marker
        if exchangeNotifications != nil { publicBaseURL = try? await store.settings.globalSettings().publicBaseURL }
        let accounts: [Account]
        do {
            accounts = try await store.accounts.list(includeDeleted: false)
        } catch {
            logger.error("cannot read the accounts to fetch", metadata: ["error": "\(error)"])
            fullRoundDue = true
            return
        }
        var desired: [String: Account] = [:]
        for account in accounts where account.fetches && [.imap, .pop3, .graph, .ews].contains(account.incoming.protocol) {
            if let hostname = account.hostname, hostname != nodeName { continue }
            // Running fetchers keep their lease through the batch renewal below; a new one must win it first
            // (another node holding a live lease fetches this account, and this node waits for it to lapse).
            if running[account.id] != nil {
                desired[account.id] = account
                continue
            }
            let leased = (try? await store.fetchState.acquireFetchLease(accountId: account.id, node: nodeName, duration: leaseSeconds)) ?? false
            if leased { desired[account.id] = account } else { fullRoundDue = true }
        }
        await renewLeasesIfDue()
        for (id, entry) in running where desired[id] == nil || desired[id].map(Self.fingerprint) != entry.fingerprint {
            await entry.fetcher.stop()
            running[id] = nil
            try? await store.fetchState.releaseFetchLease(accountId: id, node: nodeName)
            logger.info("stopped fetching", metadata: ["account": "\(id)"])
        }
        for (id, account) in desired where running[id] == nil {
            let fetcher: RunningFetcher
            if account.incoming.protocol.isExchange {
                let credentials = AccountCredentialSource(store)  // with the sign-in grants: a provider's account needs them
                var push: GraphPush?
                if let base = publicBaseURL, let inbox = exchangeNotifications { push = GraphPush(publicBaseURL: base, inbox: inbox) }
                let source: any ExchangeMailboxSource = account.incoming.protocol == .graph
                    ? GraphMailboxSource(account: account, credentials: credentials, push: push)
                    : EWSMailboxSource(account: account, credentials: credentials)
                let exchange = ExchangeFetcher(account: account, source: source, pipeline: pipeline, fetchState: store.fetchState,
                                               quarantine: store.quarantine, status: status, logger: logger)
                fetcher = RunningFetcher { await exchange.run() }
            } else if account.incoming.protocol == .pop3 {
                let pop3 = POP3Fetcher(account: account, pipeline: pipeline, fetchState: store.fetchState, quarantine: store.quarantine,
                                       status: status, logger: logger, credentials: AccountCredentialSource(store))
                fetcher = RunningFetcher { await pop3.run() }
            } else {
                let imap = IMAPFetcher(account: account, pipeline: pipeline, fetchState: store.fetchState, quarantine: store.quarantine,
                                       status: status, logger: logger, credentials: AccountCredentialSource(store))
                fetcher = RunningFetcher { await imap.run() }
            }
            startContinuation.yield(fetcher)
            running[id] = (Self.fingerprint(account), fetcher)
            logger.info("started fetching", metadata: ["account": "\(id)", "key": "\(account.key)"])
        }
        await recordGauges()
    }

    /// Fetch lag (seconds since each running fetcher last completed a fetch) and the quarantine's size.
    private func recordGauges() async {
        let now = Date()
        for id in running.keys {
            guard let status = status.status(of: id), let last = status.lastSuccessfulFetchAt else { continue }
            Gauge(label: "mailroom_fetch_lag_seconds", dimensions: [("account", id)]).record(now.timeIntervalSince(last))
        }
        if let size = try? await store.quarantine.quarantineCount() {
            Gauge(label: "mailroom_quarantine_size").record(size)
        }
        Gauge(label: "mailroom_fetchers_running").record(running.count)
    }

    private func stopAll() async {
        for (_, entry) in running { entry.fetcher.requestStop() }
        for (id, entry) in running {
            await entry.fetcher.stop()
            try? await store.fetchState.releaseFetchLease(accountId: id, node: nodeName)
        }
        running.removeAll()
    }

    private var lastRenewal: ContinuousClock.Instant?

    /// One statement renews every running fetcher's lease, every third of the lease's length, instead of
    /// a transaction per account per round (which for a thousand accounts would be hundreds a second).
    private func renewLeasesIfDue() async {
        let now = ContinuousClock.now
        if let last = lastRenewal, now - last < .seconds(leaseSeconds / 3) { return }
        do {
            try await store.fetchState.renewFetchLeases(accountIds: Array(running.keys), node: nodeName, duration: leaseSeconds)
            lastRenewal = now
        } catch {
            logger.error("cannot renew fetch leases", metadata: ["error": "\(error)"])
        }
    }

    /// A lease outlives several reconcile rounds, so a busy node keeps it; a dead node's lapses in half a minute.
    private var leaseSeconds: TimeInterval { 30 }

    /// Everything that affects fetching, credentials included (only compared in memory, never stored).
    /// OAuth2 access tokens are left out: a fetcher refreshes and stores them itself, and must not be
    /// restarted for that.
    static func fingerprint(_ account: Account) -> String {
        var account = account
        for keyPath in [\Account.incoming.connection.auth.oauth2, \Account.outgoing.connection.auth.oauth2] where account[keyPath: keyPath] != nil {
            account[keyPath: keyPath]?.accessToken = nil
            account[keyPath: keyPath]?.accessTokenExpiresAt = nil
        }
        let settings = (try? JSONCoding.encoder.encode(account)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let secrets = (try? JSONCoding.encoder.encode(AccountSecrets(of: account))).map { InboundMailParser.sha256Hex($0) } ?? ""
        return InboundMailParser.sha256Hex(Array((settings + secrets).utf8))
    }
}

/// One account's fetcher, run as a child task of the supervisor's ``FetcherSupervisor/run()``
/// and stopped on request: ``stop()`` cancels its work and returns once it has ended.
final class RunningFetcher: Sendable {
    private let work: @Sendable () async -> Void
    private let stopRequests: AsyncStream<Void>
    private let stopContinuation: AsyncStream<Void>.Continuation
    private let ended: AsyncStream<Void>
    private let endedContinuation: AsyncStream<Void>.Continuation

    init(_ work: @escaping @Sendable () async -> Void) {
        self.work = work
        (stopRequests, stopContinuation) = AsyncStream.makeStream()
        (ended, endedContinuation) = AsyncStream.makeStream()
    }

    /// Runs the work until it ends or a stop is requested (then it is cancelled).
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.work() }
            group.addTask { for await _ in self.stopRequests {} }
            await group.next()
            group.cancelAll()
        }
        endedContinuation.finish()
    }

    func requestStop() { stopContinuation.finish() }

    /// Requests a stop and waits until the work has ended.
    func stop() async {
        requestStop()
        for await _ in ended {}
    }
}
