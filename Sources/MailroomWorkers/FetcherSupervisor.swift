import Foundation
import Logging
import MailroomCore
import MailroomStore
import ServiceLifecycle

/// Keeps one fetcher running for each account that should fetch on this node, and only those:
/// an account changed, deactivated or deleted is noticed within `reconcileInterval` (or at once
/// after `wake()`), without a restart.
public actor FetcherSupervisor: Service {
    private let store: SQLStore
    private let pipeline: IngestPipeline
    private let status: AccountStatusBoard
    private let logger: Logger
    private let nodeName: String
    private let reconcileInterval: Duration
    private var running: [String: (fingerprint: String, task: Task<Void, Never>)] = [:]
    private var wakeUp: AsyncStream<Void>.Continuation?

    public init(store: SQLStore, pipeline: IngestPipeline, status: AccountStatusBoard, logger: Logger,
                nodeName: String = ProcessInfo.processInfo.hostName, reconcileInterval: Duration = .seconds(2)) {
        self.store = store
        self.pipeline = pipeline
        self.status = status
        self.logger = logger
        self.nodeName = nodeName
        self.reconcileInterval = reconcileInterval
    }

    /// Looks at the accounts again now (after the API changed one).
    public nonisolated func wake() {
        Task { await self.signal() }
    }

    private func signal() { wakeUp?.yield() }

    public func run() async throws {
        let (wakes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wakeUp = continuation
        let interval = reconcileInterval
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                continuation.yield()
            }
        }
        await cancelWhenGracefulShutdown {
            await self.reconcile()
            for await _ in wakes {
                if Task.isCancelled { break }
                await self.reconcile()
            }
        }
        ticker.cancel()
        continuation.finish()
        await stopAll()
    }

    /// The accounts whose fetchers run now.
    public var runningAccounts: [String] { Array(running.keys).sorted() }

    public func reconcile() async {
        let accounts: [Account]
        do {
            accounts = try await store.accounts.list(includeDeleted: false)
        } catch {
            logger.error("cannot read the accounts to fetch", metadata: ["error": "\(error)"])
            return
        }
        var desired: [String: Account] = [:]
        for account in accounts where account.fetches && [.imap].contains(account.incoming.protocol) {
            if let hostname = account.hostname, hostname != nodeName { continue }
            desired[account.id] = account
        }
        for (id, entry) in running where desired[id] == nil || desired[id].map(Self.fingerprint) != entry.fingerprint {
            entry.task.cancel()
            await entry.task.value
            running[id] = nil
            logger.info("stopped fetching", metadata: ["account": "\(id)"])
        }
        for (id, account) in desired where running[id] == nil {
            let fetcher = IMAPFetcher(account: account, pipeline: pipeline, tickets: store.tickets, status: status, logger: logger)
            running[id] = (Self.fingerprint(account), Task { await fetcher.run() })
            logger.info("started fetching", metadata: ["account": "\(id)", "key": "\(account.key)"])
        }
    }

    private func stopAll() async {
        for (_, entry) in running { entry.task.cancel() }
        for (_, entry) in running { await entry.task.value }
        running.removeAll()
    }

    /// Everything that affects fetching, credentials included (only compared in memory, never stored).
    static func fingerprint(_ account: Account) -> String {
        let settings = (try? JSONCoding.encoder.encode(account)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let secrets = (try? JSONCoding.encoder.encode(AccountSecrets(of: account))).map { InboundMailParser.sha256Hex($0) } ?? ""
        return InboundMailParser.sha256Hex(Array((settings + secrets).utf8))
    }
}
