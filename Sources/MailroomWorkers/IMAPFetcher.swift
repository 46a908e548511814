import Foundation
import IMAPClient
import Logging
import MailTransport
import MailroomCore
import MailroomStore
import Metrics

extension Account {
    /// Where the incoming server is, with the account's timeouts.
    public var incomingEndpoint: MailEndpoint {
        endpoint(incoming.connection, port: incoming.effectivePort ?? 0)
    }

    public var outgoingEndpoint: MailEndpoint {
        endpoint(outgoing.connection, port: outgoing.effectivePort ?? 0)
    }

    private func endpoint(_ connection: ServerConnection, port: Int) -> MailEndpoint {
        MailEndpoint(host: connection.host, port: port, security: MailSecurity(rawValue: connection.security.rawValue) ?? .tls,
                     acceptAnyCertificate: connection.acceptAnyCertificate,
                     connectionTimeout: .seconds(connection.connectionTimeoutSeconds),
                     authTimeout: .seconds(connection.authTimeoutSeconds))
    }

    public var incomingCredentials: MailCredentials? { Self.credentials(incoming.connection.auth) }
    public var outgoingCredentials: MailCredentials? { Self.credentials(outgoing.connection.auth) }

    static func credentials(_ auth: ServerAuth) -> MailCredentials? {
        switch auth.method {
        case .none:
            return nil
        case .password:
            return .password(auth.username, auth.password?.revealed ?? "")
        case .oauth2:
            // The access token is used as stored; refreshing it needs the provider's token endpoint.
            return .oauth2(auth.username, accessToken: auth.oauth2?.accessToken?.revealed ?? "")
        }
    }
}

/// Reads one account's IMAP folder for as long as it runs: new UIDs above the committed
/// high-water mark are fetched with BODY.PEEK[] in batches and ingested one by one; IDLE
/// wakes it for new mail, and the fetch interval is the fallback and the safety sweep.
public struct IMAPFetcher: Sendable {
    public let account: Account
    let pipeline: IngestPipeline
    let tickets: SQLTicketStore
    let status: AccountStatusBoard
    let logger: Logger
    let batchSize: Int

    public init(account: Account, pipeline: IngestPipeline, tickets: SQLTicketStore, status: AccountStatusBoard, logger: Logger,
                batchSize: Int = 100) {
        self.account = account
        self.pipeline = pipeline
        self.tickets = tickets
        self.status = status
        self.logger = logger
        self.batchSize = batchSize
    }

    var folder: String { account.incoming.mailbox }
    var interval: Duration { .seconds(account.incoming.fetchIntervalSeconds) }

    /// Runs until cancelled; connection failures are reported and retried with growing waits.
    public func run() async {
        var failures = 0
        status.update(account.id) { $0.fetching = true }
        defer { status.remove(account.id) }
        while !Task.isCancelled {
            do {
                try await session()
                failures = 0
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                failures += 1
                let wait = min(300, account.incoming.fetchIntervalSeconds * (1 << min(failures - 1, 5)))
                report(error, retryIn: wait)
                try? await Task.sleep(for: .seconds(wait))
            }
        }
    }

    private func report(_ error: any Error, retryIn seconds: Int) {
        let text = (error as? MailTransportError)?.description ?? "\(error)"
        logger.warning("fetching failed", metadata: ["account": "\(account.id)", "error": "\(text)", "retryInSeconds": "\(seconds)"])
        Counter(label: "mailroom_fetch_errors_total", dimensions: [("protocol", "imap")]).increment()
        status.update(account.id) {
            $0.connected = false
            $0.idle = false
            $0.lastError = text
            $0.lastErrorAt = Date()
            $0.nextFetchAt = Date().addingTimeInterval(Double(seconds))
        }
    }

    /// One connection: log in, then fetch, wait, fetch… until the connection fails or the task is cancelled.
    func session() async throws {
        let imap = try await IMAPConnection.connect(to: account.incomingEndpoint, credentials: account.incomingCredentials,
                                                    logger: logger)
        // Running on the connection's event loop saves a thread hop on every server round trip.
        try await withTaskExecutorPreference(imap.connection.taskExecutor) {
            try await loop(imap)
        }
    }

    private func loop(_ imap: IMAPConnection) async throws {
        do {
            let selected = try await imap.select(folder)
            status.update(account.id) { $0.connected = true; $0.lastError = nil }
            let useIdle = await imap.capabilities.contains(.idle)
            var uidValidity = selected.uidValidity ?? 0
            while !Task.isCancelled {
                uidValidity = try await fetchNew(imap, uidValidity: uidValidity)
                status.update(account.id) {
                    $0.lastSuccessfulFetchAt = Date()
                    $0.idle = useIdle
                    $0.nextFetchAt = Date().addingTimeInterval(Double(account.incoming.fetchIntervalSeconds))
                }
                if useIdle {
                    try await waitWithIdle(imap)
                } else {
                    try await Task.sleep(for: interval)
                    try await imap.noop()
                }
            }
            await imap.logout()
        } catch {
            await imap.close()
            throw error
        }
    }

    /// Waits until the server reports new mail or the fetch interval passes (the safety sweep).
    func waitWithIdle(_ imap: IMAPConnection) async throws {
        let interval = self.interval
        let newMail = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for try await event in imap.idle() {
                    switch event {
                    case .exists, .recent: return true
                    case .bye: throw MailTransportError.connectionClosed(step: "IDLE")
                    default: continue
                    }
                }
                throw MailTransportError.connectionClosed(step: "IDLE")
            }
            group.addTask {
                try await Task.sleep(for: interval)
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        _ = newMail
        // Cancelling the wait leaves IDLE running on the server; DONE ends it before the next command.
        try await imap.endIdle()
    }

    /// Fetches and ingests every message above the high-water mark; returns the folder's UIDVALIDITY.
    /// UIDVALIDITY cannot change while the folder stays selected (a server that renumbers ends the
    /// session), so the value from this session's SELECT holds and the sweep costs one UID SEARCH.
    func fetchNew(_ imap: IMAPConnection, uidValidity: UInt32) async throws -> UInt32 {
        var highWater: UInt32 = 0
        if let position = try await tickets.imapPosition(accountId: account.id, folder: folder) {
            if position.uidValidity == uidValidity {
                highWater = position.highWater
            } else {
                // The server renumbered the folder: look at everything again; content hashes drop what we have.
                logger.notice("UIDVALIDITY changed; resynchronising the folder", metadata: [
                    "account": "\(account.id)", "old": "\(position.uidValidity)", "new": "\(uidValidity)",
                ])
                try await tickets.resetIMAPPosition(accountId: account.id, folder: folder, uidValidity: uidValidity)
            }
        }
        if account.incoming.deleteOnFetch && highWater > 0 {
            // Left over from a crash between commit and delete: everything at or below the mark is committed
            // (ingested, or kept raw in the quarantine), so it goes now.
            let leftovers = try await imap.uidSearch(.uid(.range(1, highWater))).filter { $0 <= highWater }
            if !leftovers.isEmpty { try await delete(leftovers, imap: imap) }
        }
        var key: IMAPSearchKey = .uid(.from(highWater &+ 1))
        if let days = account.incoming.fetchLastDays {
            let since = Date().addingTimeInterval(-Double(days) * 86_400)
            key = .and([key, .since(IMAPDate(secondsSince1970: Int64(since.timeIntervalSince1970)))])
        }
        // "UID n:*" always includes the highest UID, even below n: keep only what is new.
        let uids = try await imap.uidSearch(key).filter { $0 > highWater }.sorted()
        guard !uids.isEmpty else { return uidValidity }

        var toDelete: [IMAPUID] = []
        for batch in stride(from: 0, to: uids.count, by: batchSize).map({ Array(uids[$0..<min($0 + batchSize, uids.count)]) }) {
            let fetched = try await imap.uidFetchMessages(IMAPUIDSet(batch), items: .bodyPeek,
                                                          maxMessageBytes: max(account.incoming.maxMessageBytes * 2, 64 << 20))
            for message in fetched.sorted(by: { $0.uid < $1.uid }) {
                let outcome = try await pipeline.process(
                    message.bytes, account: account,
                    position: .imap(folder: folder, uidValidity: uidValidity, uid: message.uid),
                    source: "\(folder) uid \(message.uid)")
                status.record(outcome, for: account.id)
                // Deleted only after the commit; quarantined mail is kept raw in the quarantine, so it goes too.
                if account.incoming.deleteOnFetch { toDelete.append(message.uid) }
            }
            if !toDelete.isEmpty {
                try await delete(toDelete, imap: imap)
                toDelete.removeAll()
            }
        }
        return uidValidity
    }

    /// Deletes committed messages in one batch: \Deleted, then UID EXPUNGE where the server has UIDPLUS.
    private func delete(_ uids: [IMAPUID], imap: IMAPConnection) async throws {
        let set = IMAPUIDSet(uids)
        try await imap.uidStore(set, .add, flags: [.deleted])
        if await imap.capabilities.contains(.uidPlus) {
            try await imap.uidExpunge(set)
        } else {
            try await imap.expunge()
        }
    }
}
