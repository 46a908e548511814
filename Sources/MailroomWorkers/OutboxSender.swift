import Foundation
import Logging
import MailTransport
import MailroomCore
import MailroomStore
import Metrics
import ServiceLifecycle
import IMAPClient
import SMTPClient

/// Sends what the outbox holds: claims due rows under a lease, sends them over the account's
/// SMTP server (several messages on one connection), logs every attempt, and applies the
/// account's retry policy to failures. Settings are read at each claim, so changes apply at once.
public actor OutboxSender: Service {
    private let store: SQLStore
    private let logger: Logger
    private let owner: String
    private let batchSize: Int
    private let idleWait: Duration
    /// SMTP connections opened at once to one account's server (several messages go over each).
    private let connectionsPerAccount: Int
    private var wakeUp: AsyncStream<Void>.Continuation?

    /// - Parameter owner: this node's name; a restarted node takes back the rows its previous process held.
    public init(store: SQLStore, logger: Logger, owner: String = ProcessInfo.processInfo.hostName,
                batchSize: Int = 50, idleWait: Duration = .seconds(1), connectionsPerAccount: Int = 2) {
        self.store = store
        self.connectionsPerAccount = max(1, connectionsPerAccount)
        self.logger = logger
        self.owner = owner
        self.batchSize = batchSize
        self.idleWait = idleWait
    }

    /// Looks for due rows now (a reply was just queued).
    public nonisolated func wake() {
        Task { await self.signal() }
    }

    private func signal() { wakeUp?.yield() }

    public func run() async throws {
        do {
            let released = try await store.outbox.releaseLeases(owner: owner)
            if released > 0 { logger.notice("took back outbox rows left mid-send by this node's previous run", metadata: ["rows": "\(released)"]) }
        } catch {
            logger.error("cannot release this node's old outbox leases", metadata: ["error": "\(error)"])
        }
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
                while await self.sendDue() > 0, !Task.isCancelled {}
            }
        }
        ticker.cancel()
        continuation.finish()
    }

    /// Claims and sends one batch; returns how many rows it took.
    @discardableResult
    public func sendDue(now: Date = Date()) async -> Int {
        let items: [OutboxItem]
        do {
            items = try await store.outbox.claimDue(owner: owner, limit: batchSize, leaseSeconds: 300, now: now)
        } catch {
            logger.error("cannot claim outbox rows", metadata: ["error": "\(error)"])
            return 0
        }
        guard !items.isEmpty else { return 0 }
        let byAccount = Dictionary(grouping: items, by: \.accountId)
        await withTaskGroup(of: Void.self) { group in
            for (accountId, accountItems) in byAccount {
                // Round-robin over the connections, so each carries a share of the batch in order.
                let lanes = min(connectionsPerAccount, accountItems.count)
                for lane in 0..<lanes {
                    let share = stride(from: lane, to: accountItems.count, by: lanes).map { accountItems[$0] }
                    group.addTask { await self.send(share, accountId: accountId) }
                }
            }
        }
        return items.count
    }

    private func send(_ items: [OutboxItem], accountId: String) async {
        let account: Account
        do {
            guard let found = try await store.accounts.find(id: accountId), found.sends, found.outgoing.protocol == .smtp else {
                for item in items {
                    await fail(item, failure: DeliveryFailure(kind: .noSuchProvider,
                        text: "the sending account is deleted or has no SMTP server; set its outgoing server, then resend"),
                               settings: RetrySettings())
                }
                return
            }
            account = found
        } catch {
            logger.error("cannot read the sending account", metadata: ["account": "\(accountId)", "error": "\(error)"])
            return
        }
        let heloName = account.fromAddress.split(separator: "@").last.map(String.init) ?? "localhost"
        var smtp: SMTPConnection?
        for item in items {
            do {
                if smtp == nil {
                    smtp = try await SMTPConnection.connect(to: account.outgoingEndpoint, credentials: account.outgoingCredentials,
                                                            heloName: heloName, logger: logger)
                }
                guard let connection = smtp else { continue }
                guard let raw = try await store.tickets.blob(sha256: item.rawSha256) else {
                    await fail(item, failure: DeliveryFailure(kind: .internal, text: "the message's stored copy is missing"), settings: account.retry)
                    continue
                }
                let result = try await withTaskExecutorPreference(connection.connection.taskExecutor) {
                    try await connection.send(from: item.envelopeFrom, to: item.recipients, message: raw)
                }
                let recipients = result.recipients.map {
                    OutboxAttempt.RecipientResult(address: $0.address, accepted: $0.accepted, replyCode: $0.reply.code, text: $0.reply.text)
                }
                let attempt = OutboxAttempt(outboxId: item.id, attemptedAt: Date(), outcome: .sent, replyCode: result.dataReply.code,
                                            enhancedStatus: result.dataReply.enhancedStatus?.description, text: result.dataReply.text,
                                            errorClass: nil, policy: nil, nextAttemptAt: nil, recipients: recipients)
                try await store.outbox.record(attempt, item: item, state: .sent, owner: owner)
                Counter(label: "mailroom_sent_messages_total").increment()
                await copyToSentFolder(raw, account: account)
            } catch {
                let failure = Self.failure(from: error)
                await fail(item, failure: failure, settings: account.retry)
                // After a transport failure the connection is not trusted for the next message.
                if failure.kind != .serverReply, let connection = smtp {
                    await connection.close()
                    smtp = nil
                }
            }
        }
        await smtp?.quit()
    }

    /// A copy in the account's Sent folder, for people who also look at the mailbox in a mail program.
    /// Best effort: the message is sent either way, and a failure here is logged, not retried.
    private func copyToSentFolder(_ raw: [UInt8], account: Account) async {
        guard let folder = account.outgoing.sentFolder, account.incoming.protocol == .imap else { return }
        do {
            let imap = try await IMAPConnection.connect(to: account.incomingEndpoint, credentials: account.incomingCredentials, logger: logger)
            _ = try await imap.append(to: folder, message: raw, flags: [.seen])
            await imap.logout()
        } catch {
            logger.warning("cannot copy a sent message to the Sent folder", metadata: [
                "account": "\(account.id)", "folder": "\(folder)", "error": "\((error as? MailTransportError)?.description ?? "\(error)")",
            ])
        }
    }

    private func fail(_ item: OutboxItem, failure: DeliveryFailure, settings: RetrySettings) async {
        let (state, attempt) = OutboxTransition.afterFailure(failure, item: item, settings: settings, now: Date())
        do {
            try await store.outbox.record(attempt, item: item, state: state, owner: owner)
        } catch {
            logger.error("cannot record a send attempt", metadata: ["outbox": "\(item.id)", "error": "\(error)"])
        }
        Counter(label: "mailroom_send_failures_total", dimensions: [("class", attempt.errorClass?.rawValue ?? "unknown")]).increment()
        logger.warning("sending failed", metadata: [
            "outbox": "\(item.id)", "class": "\(attempt.errorClass?.rawValue ?? "?")", "state": "\(state.rawValue)",
        ])
    }

    /// What the SMTP client's error says, in the classifier's terms.
    static func failure(from error: any Error) -> DeliveryFailure {
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
