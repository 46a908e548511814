import Foundation
import Logging
import MailMessage
import MailTransport
import MailroomCore
import Metrics
import POP3Client

/// Reads one account's POP3 maildrop by UIDL: every poll is one session (POP3 shows new mail
/// only to a new session), messages whose UIDL is not yet committed are retrieved and ingested,
/// and with deleteOnFetch they are marked DELE after their commit and removed by QUIT.
public struct POP3Fetcher: Sendable {
    public let account: Account
    let pipeline: IngestPipeline
    let fetchState: any FetchStateRepository
    let quarantine: any QuarantineRepository
    let status: AccountStatusBoard
    let logger: Logger
    let batchPlan: FetchBatchPlan
    let credentials: AccountCredentialSource
    /// Holds OAuth2 access tokens refreshed while the fetcher runs.
    private let login: LoginHolder

    public init(account: Account, pipeline: IngestPipeline, fetchState: any FetchStateRepository,
                quarantine: any QuarantineRepository, status: AccountStatusBoard, logger: Logger,
                batchPlan: FetchBatchPlan = FetchBatchPlan(), credentials: AccountCredentialSource = AccountCredentialSource(accounts: nil)) {
        self.batchPlan = batchPlan
        self.credentials = credentials
        self.login = LoginHolder(account)
        self.account = account
        self.pipeline = pipeline
        self.fetchState = fetchState
        self.quarantine = quarantine
        self.status = status
        self.logger = logger
    }

    public func run() async {
        var failures = 0
        status.update(account.id) { $0.fetching = true }
        defer { status.remove(account.id) }
        while !Task.isCancelled {
            var wait = account.incoming.fetchIntervalSeconds
            do {
                try await poll()
                failures = 0
                status.recordSuccess(account.id)
                status.update(account.id) {
                    $0.lastSuccessfulFetchAt = Date()
                    $0.connected = false
                    $0.nextFetchAt = Date().addingTimeInterval(Double(wait))
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                failures += 1
                wait = min(300, account.incoming.fetchIntervalSeconds * (1 << min(failures - 1, 5)))
                let text = FetchFailureText.of(error, protocolName: "pop3")
                logger.warning("fetching failed", metadata: ["account": "\(account.id)", "error": "\(error)"])
                Counter(label: "mailroom_fetch_errors_total", dimensions: [("protocol", "pop3")]).increment()
                status.recordFailure(account.id, kind: FetchFailureText.kind(of: error), message: text, retryIn: wait)
            }
            try? await Task.sleep(for: .seconds(wait))
        }
    }

    /// One session: list, retrieve what is new, delete what is committed, QUIT.
    public func poll() async throws {
        var login = self.login.account
        let pop3: POP3Connection
        do {
            pop3 = try await POP3Connection.connect(to: account.incomingEndpoint, credentials: try await credentials.credentials(&login, .incoming),
                                                    logger: logger)
        } catch let error as MailTransportError where error.kind == .authenticationFailed && login.incoming.connection.auth.method == .oauth2 {
            pop3 = try await POP3Connection.connect(to: account.incomingEndpoint,
                                                    credentials: try await credentials.credentials(&login, .incoming, forceRefresh: true),
                                                    logger: logger)
        }
        self.login.account = login
        status.update(account.id) { $0.connected = true }
        do {
            let listing = try await pop3.uidl()
            let seen = try await fetchState.seenPOP3UIDLs(accountId: account.id)
            // Only committed mail is deleted: not what is too large to fetch (while the quarantine
            // lists it), nor what was skipped as older than fetchLastDays.
            let kept = account.incoming.deleteOnFetch
                ? try await quarantine.leftOnServer(accountId: account.id)
                    .union(try await fetchState.pop3UIDLsLeftOnServer(accountId: account.id).compactMap { MailboxPosition.pop3(uidl: $0).serverKey })
                : []
            let messageLimit = batchPlan.messageLimit(maxMessageBytes: account.incoming.maxMessageBytes)
            var sizes: [Int: Int] = [:]
            if listing.contains(where: { !seen.contains($0.uid) }) {
                for (number, size) in try await pop3.list() { sizes[number] = size }
            }
            var deleted = Set<String>()
            for entry in listing where seen.contains(entry.uid) && account.incoming.deleteOnFetch
                && !kept.contains(MailboxPosition.pop3(uidl: entry.uid).serverKey ?? "") {
                // Committed before a crash or a lost connection, but not yet removed from the server.
                try await pop3.delete(entry.number)
                deleted.insert(entry.uid)
            }
            let cutoff = account.incoming.fetchLastDays.map { Date().addingTimeInterval(-Double($0) * 86_400) }
            var batch: [(entry: (number: Int, uid: String), inbound: IngestPipeline.Inbound)] = []
            var batchBytes = 0
            var firstBatch = true
            // Retrieved messages are committed in batches (one transaction each); DELE follows each commit.
            func commit() async throws {
                guard !batch.isEmpty else { return }
                let result = try await pipeline.processBatch(batch.map(\.inbound), account: account)
                for (index, outcome) in result.outcomes.enumerated() {
                    status.record(outcome, for: account.id)
                    if account.incoming.deleteOnFetch && batch[index].inbound.tooLargeToFetch == nil {
                        try await pop3.delete(batch[index].entry.number)
                        deleted.insert(batch[index].entry.uid)
                    }
                }
                batch.removeAll()
                batchBytes = 0
                firstBatch = false
                if let failure = result.failure { throw failure }
            }
            for entry in listing where !seen.contains(entry.uid) {
                if Task.isCancelled { break }
                if let cutoff, try await isOlder(than: cutoff, number: entry.number, pop3: pop3) {
                    // Outside the window: remembered as seen, so it is not looked at again, and left on the server.
                    try await fetchState.recordPOP3LeftOnServer(uidl: entry.uid, accountId: account.id)
                    continue
                }
                let source = "pop3 message \(entry.number) uidl \(entry.uid)"
                let inbound: IngestPipeline.Inbound
                if let size = sizes[entry.number], size > messageLimit {
                    // Only (the start of) its header, for the quarantine's list; the message stays on the server.
                    inbound = IngestPipeline.Inbound(raw: try await Self.header(entry.number, pop3: pop3), position: .pop3(uidl: entry.uid),
                                                     source: source, tooLargeToFetch: .init(size: size, fetchLimit: messageLimit))
                } else {
                    inbound = IngestPipeline.Inbound(raw: try await pop3.retrieve(entry.number, maxBytes: messageLimit),
                                                     position: .pop3(uidl: entry.uid), source: source)
                }
                batch.append((entry, inbound))
                batchBytes += inbound.raw.count
                if batchPlan.nextStep(first: firstBatch, count: batch.count, bytes: batchBytes) == 0 { try await commit() }
            }
            try await commit()
            // Deletions take effect only now (RFC 1939 UPDATE state).
            try await pop3.quit()
            try await fetchState.forgetPOP3UIDLs(accountId: account.id, keeping: Set(listing.map(\.uid)).subtracting(deleted))
        } catch {
            // No QUIT: the server forgets the DELE marks, so nothing uncommitted is ever removed.
            await pop3.close()
            throw error
        }
    }

    private func isOlder(than cutoff: Date, number: Int, pop3: POP3Connection) async throws -> Bool {
        guard let date = MIMEMessage(parsing: try await Self.header(number, pop3: pop3)).date else { return false }
        return date < cutoff
    }

    /// The first megabyte of a message's header section: enough for its date, sender and subject,
    /// and a message without a blank line (all header) cannot fail the session.
    static func header(_ number: Int, pop3: POP3Connection) async throws -> [UInt8] {
        try await pop3.top(number, lines: 0, maxBytes: 1 << 20, truncating: true)
    }
}
