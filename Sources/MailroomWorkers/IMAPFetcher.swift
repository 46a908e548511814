import Foundation
import IMAPClient
import Logging
import MailTransport
import MailroomCore
import Metrics
import Synchronization

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
/// high-water mark are fetched with BODY.PEEK[] in batches, each batch committed in one
/// transaction while the next is fetched; IDLE
/// wakes it for new mail, and the fetch interval is the fallback and the safety sweep.
public struct IMAPFetcher: Sendable {
    public let account: Account
    let pipeline: IngestPipeline
    let fetchState: any FetchStateRepository
    let quarantine: any QuarantineRepository
    let status: AccountStatusBoard
    let logger: Logger
    let batchPlan: FetchBatchPlan
    let credentials: AccountCredentialSource

    public init(account: Account, pipeline: IngestPipeline, fetchState: any FetchStateRepository,
                quarantine: any QuarantineRepository, status: AccountStatusBoard, logger: Logger,
                batchPlan: FetchBatchPlan = FetchBatchPlan(), credentials: AccountCredentialSource = AccountCredentialSource(accounts: nil)) {
        self.credentials = credentials
        self.account = account
        self.pipeline = pipeline
        self.fetchState = fetchState
        self.quarantine = quarantine
        self.status = status
        self.logger = logger
        self.batchPlan = batchPlan
    }

    var folder: String { account.incoming.mailbox }
    var interval: Duration { .seconds(account.incoming.fetchIntervalSeconds) }

    /// Runs until cancelled; connection failures are reported and retried with growing waits.
    public func run() async {
        var failures = 0
        // Holds OAuth2 access tokens refreshed during this run.
        var login = account
        status.update(account.id) { $0.fetching = true }
        defer { status.remove(account.id) }
        while !Task.isCancelled {
            do {
                try await session(login: &login)
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
        let text = FetchFailureText.of(error, protocolName: "imap")
        logger.warning("fetching failed", metadata: ["account": "\(account.id)", "error": "\(error)", "retryInSeconds": "\(seconds)"])
        Counter(label: "mailroom_fetch_errors_total", dimensions: [("protocol", "imap")]).increment()
        status.recordFailure(account.id, kind: FetchFailureText.kind(of: error), message: text, retryIn: seconds)
    }

    /// One connection: log in, then fetch, wait, fetch… until the connection fails or the task is cancelled.
    func session(login: inout Account) async throws {
        let imap: IMAPConnection
        do {
            imap = try await IMAPConnection.connect(to: account.incomingEndpoint, credentials: try await credentials.credentials(&login, .incoming),
                                                    logger: logger)
        } catch let error as MailTransportError where error.kind == .authenticationFailed && login.incoming.connection.auth.method == .oauth2 {
            // The server refused the access token (revoked, or expired early): one more try with a fresh one.
            imap = try await IMAPConnection.connect(to: account.incomingEndpoint,
                                                    credentials: try await credentials.credentials(&login, .incoming, forceRefresh: true),
                                                    logger: logger)
        }
        // Running on the connection's event loop saves a thread hop on every server round trip.
        try await withTaskExecutorPreference(imap.connection.taskExecutor) {
            try await loop(imap)
        }
    }

    private func loop(_ imap: IMAPConnection) async throws {
        do {
            let selected = try await imap.select(folder)
            status.recordSuccess(account.id)
            status.update(account.id) { $0.connected = true }
            let useIdle = await imap.capabilities.contains(.idle)
            let uidValidity = selected.uidValidity ?? 0
            // This fetcher alone moves the account's position (it holds the fetch lease), so after the
            // first round the committed mark is known without reading it back.
            var known: IMAPPosition?
            while !Task.isCancelled {
                known = try await fetchNew(imap, uidValidity: uidValidity, known: known)
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

    /// Fetches and ingests every message above the high-water mark; returns the committed position.
    /// UIDVALIDITY cannot change while the folder stays selected (a server that renumbers ends the
    /// session), so the value from this session's SELECT holds; with the position `known` from the
    /// previous round of the same session, a sweep costs one UID SEARCH and nothing else.
    func fetchNew(_ imap: IMAPConnection, uidValidity: UInt32, known: IMAPPosition? = nil) async throws
        -> IMAPPosition {
        if let known, known.uidValidity == uidValidity {
            return try await fetch(above: known.highWater, imap: imap, uidValidity: uidValidity)
        }
        var highWater: UInt32 = 0
        if let position = try await fetchState.imapPosition(accountId: account.id, folder: folder) {
            if position.uidValidity == uidValidity {
                highWater = position.highWater
            } else {
                // The server renumbered the folder: look at everything again; content hashes drop what we have.
                logger.notice("UIDVALIDITY changed; resynchronising the folder", metadata: [
                    "account": "\(account.id)", "old": "\(position.uidValidity)", "new": "\(uidValidity)",
                ])
                try await fetchState.resetIMAPPosition(accountId: account.id, folder: folder, uidValidity: uidValidity)
            }
        }
        if account.incoming.deleteOnFetch && highWater > 0 {
            // Left over from a crash between commit and delete: everything at or below the mark is committed
            // (ingested, or kept raw in the quarantine), so it goes now; except what the quarantine lists
            // as left on the server (too large to fetch) until its entry is discarded.
            // With fetchLastDays, mail below the mark but older than the window was never fetched;
            // the same window, taken now, only narrows what any fetch took (a message's date does not move).
            let kept = try await quarantine.leftOnServer(accountId: account.id)
            var committedRange: IMAPSearchKey = .uid(.range(1, highWater))
            if let window = fetchWindowStart() { committedRange = .and([committedRange, .since(window)]) }
            let leftovers = try await imap.uidSearch(committedRange).filter { uid in
                uid <= highWater && !kept.contains(MailboxPosition.imap(folder: folder, uidValidity: uidValidity, uid: uid).serverKey ?? "")
            }
            try await delete(leftovers, imap: imap)
        }
        return try await fetch(above: highWater, imap: imap, uidValidity: uidValidity)
    }

    private func fetch(above highWater: UInt32, imap: IMAPConnection, uidValidity: UInt32) async throws -> IMAPPosition {
        var committed = highWater
        var key: IMAPSearchKey = .uid(.from(highWater &+ 1))
        if let window = fetchWindowStart() { key = .and([key, .since(window)]) }
        // "UID n:*" always includes the highest UID, even below n: keep only what is new.
        let uids = try await imap.uidSearch(key).filter { $0 > highWater }.sorted()
        guard !uids.isEmpty else { return IMAPPosition(uidValidity: uidValidity, highWater: highWater) }

        // A pipeline: while batch k is committed (on the database's thread), batches k+1 and k+2 are
        // fetched on the connection, one after the other, and parsed (on the global pool) as they arrive.
        let maxBytes = batchPlan.messageLimit(maxMessageBytes: account.incoming.maxMessageBytes)
        let (pipeline, account, folder, plan) = (self.pipeline, self.account, self.folder, self.batchPlan)
        /// `leftOnServer`: fetched UIDs too large to fetch, listed in the quarantine and not to be deleted.
        typealias Fetched = (uids: [IMAPUID], leftOnServer: Set<IMAPUID>, end: Int, batch: IngestPipeline.PreparedBatch)
        // Committed messages to delete on the server: the next fetch deletes them first, while it has the connection.
        let committedToDelete = CommittedUIDs()
        /// The next batch's fetch, begun when the fetch before it (`previous`) is done: the connection
        /// runs one command at a time. Nil when nothing is left.
        func fetch(after previous: Task<Fetched?, any Error>?) -> Task<Fetched?, any Error> {
            // The actor runs each fetch on its connection's event loop; one hop per command, not per message.
            Task {
                var start = 0
                if let previous {
                    guard let before = try await previous.value, before.end < uids.count else { return nil }
                    start = before.end
                }
                try await delete(committedToDelete.take(), imap: imap)
                var fetchedUIDs: [IMAPUID] = []
                var leftOnServer: Set<IMAPUID> = []
                var batch: IngestPipeline.PreparedBatch?
                var end = start
                var bytes = 0
                // Commands of `stepCount` UIDs until the batch is full: how many messages a batch
                // takes follows from the sizes seen, so memory stays bounded without asking for sizes
                // first. Each command's messages are parsed while the next command is answered.
                var step = plan.nextStep(first: previous == nil, count: 0, bytes: 0)
                while step > 0, end < uids.count {
                    let chunk = uids[end..<min(end + step, uids.count)]
                    let messages = try await imap.uidFetchMessages(IMAPUIDSet(chunk), items: .wholeMessagePeek, maxMessageBytes: maxBytes,
                                                                   omittingLarger: true)
                        .sorted { $0.uid < $1.uid }
                    // Too large to take into memory: only the header, for the quarantine's list.
                    let omitted = messages.filter { $0.omittedSize != nil }.map(\.uid)
                    var headers: [IMAPUID: [UInt8]] = [:]
                    if !omitted.isEmpty {
                        for header in try await imap.uidFetchMessages(IMAPUIDSet(omitted), items: IMAPFetchItems("UID BODY.PEEK[HEADER]"),
                                                                      maxMessageBytes: 1 << 20, omittingLarger: true) {
                            headers[header.uid] = header.bytes
                        }
                        leftOnServer.formUnion(omitted)
                    }
                    let part = pipeline.prepare(messages.map { message in
                        IngestPipeline.Inbound(raw: message.omittedSize == nil ? message.bytes : headers[message.uid] ?? [],
                                               position: .imap(folder: folder, uidValidity: uidValidity, uid: message.uid),
                                               source: "\(folder) uid \(message.uid)",
                                               tooLargeToFetch: message.omittedSize.map { .init(size: $0, fetchLimit: maxBytes) })
                    }, account: account)
                    batch = batch.map { $0.followed(by: part) } ?? part
                    fetchedUIDs += messages.map(\.uid)
                    bytes += messages.reduce(0) { $0 + $1.bytes.count }
                    end = chunk.endIndex
                    step = plan.nextStep(first: previous == nil, count: end - start, bytes: bytes)
                }
                return (fetchedUIDs, leftOnServer, end, batch ?? pipeline.prepare([], account: account))
            }
        }
        let first = fetch(after: nil)
        var inFlight = [first, fetch(after: first)]
        /// Every fetch still running must end before the connection is used again or closed.
        func settle() async {
            for task in inFlight { _ = try? await task.value }
            inFlight.removeAll()
        }
        while !inFlight.isEmpty {
            let fetched: Fetched?
            do {
                fetched = try await inFlight.removeFirst().value
            } catch {
                await settle()
                throw error
            }
            guard let fetched else { break }
            if let last = inFlight.last { inFlight.append(fetch(after: last)) }
            let result: IngestBatchResult
            do {
                result = try await pipeline.commit(fetched.batch)
            } catch {
                // Nothing of this batch was committed.
                await settle()
                throw error
            }
            for outcome in result.outcomes { status.record(outcome, for: account.id) }
            let committedUIDs = fetched.uids.prefix(result.outcomes.count)
            if let last = committedUIDs.last { committed = max(committed, last) }
            // Deleted only after the commit; quarantined mail is kept raw in the quarantine, so it goes too.
            if account.incoming.deleteOnFetch { committedToDelete.add(committedUIDs.filter { !fetched.leftOnServer.contains($0) }) }
            if let failure = result.failure {
                await settle()
                try await delete(committedToDelete.take(), imap: imap)
                throw failure
            }
        }
        await settle()
        // What the last fetches had no chance to delete.
        try await delete(committedToDelete.take(), imap: imap)
        return IMAPPosition(uidValidity: uidValidity, highWater: committed)
    }

    /// The first day fetchLastDays takes in (IMAP SINCE), or nil without a window.
    private func fetchWindowStart(now: Date = Date()) -> IMAPDate? {
        guard let days = account.incoming.fetchLastDays else { return nil }
        return IMAPDate(secondsSince1970: Int64(now.addingTimeInterval(-Double(days) * 86_400).timeIntervalSince1970))
    }

    /// Deletes committed messages in one batch: \Deleted, then UID EXPUNGE where the server has UIDPLUS.
    /// No UIDs, no commands.
    private func delete(_ uids: [IMAPUID], imap: IMAPConnection) async throws {
        guard !uids.isEmpty else { return }
        let set = IMAPUIDSet(uids)
        try await imap.uidStore(set, .add, flags: [.deleted])
        if await imap.capabilities.contains(.uidPlus) {
            try await imap.uidExpunge(set)
        } else {
            try await imap.expunge()
        }
    }
}

/// UIDs committed in a fetch round and not yet deleted on the server.
private final class CommittedUIDs: Sendable {
    private let uids = Mutex<[IMAPUID]>([])

    func add(_ more: some Sequence<IMAPUID>) { uids.withLock { $0 += more } }

    /// All of them, leaving none.
    func take() -> [IMAPUID] {
        uids.withLock { list in
            defer { list.removeAll() }
            return list
        }
    }
}
