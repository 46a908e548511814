import ExchangeClient
import Foundation
import MailTransport
import MailroomCore
import Metrics

/// Sends one complete MIME message over an account's Graph or EWS outgoing server.
public protocol ExchangeMailSender: Sendable {
    func send(_ raw: [UInt8]) async throws
}

/// Graph `sendMail` with the MIME message Mailroom built, so templates, signatures, threading
/// headers and VERP stay as they are. Graph keeps the copy in Sent Items (MIME sends always do);
/// the account's sent folder decides whether it stays, is deleted or moved (``GraphSentCopies``).
public struct GraphMailSender: ExchangeMailSender {
    let client: GraphClient
    let sentCopy: GraphSentCopyPolicy

    public init(client: GraphClient, sentCopy: GraphSentCopyPolicy = .keep) {
        self.client = client
        self.sentCopy = sentCopy
    }

    public init(account: Account, credentials: AccountCredentialSource) {
        let connection = account.outgoing.connection
        let auth = ExchangeAuthorization(login: LoginHolder(account), credentials: credentials, direction: .outgoing)
        client = GraphClient(baseURL: connection.graphBaseURL, mailbox: account.exchangeMailbox(connection),
                             timeout: .seconds(max(connection.connectionTimeoutSeconds, 60)),
                             acceptAnyCertificate: connection.acceptAnyCertificate) { refresh in try await auth.header(refresh: refresh) }
        sentCopy = GraphSentCopyPolicy(sentFolder: account.outgoing.sentFolder)
    }

    public func send(_ raw: [UInt8]) async throws {
        try await client.sendMail(mime: raw)
        if sentCopy != .keep { await GraphSentCopies.shared.handle(raw: raw, client: client, policy: sentCopy) }
    }
}

extension OutboxSender {
    /// Requests in flight at once per account: Graph throttles above four per mailbox and app.
    static let exchangeRequestsPerAccount = 4

    static func sendsHere(_ outgoing: OutgoingProtocol) -> Bool {
        switch outgoing {
        case .smtp, .graph, .ews: true
        case .none: false
        }
    }

    static func exchangeSender(for account: Account, credentials: AccountCredentialSource) -> (any ExchangeMailSender)? {
        switch account.outgoing.protocol {
        case .graph: GraphMailSender(account: account, credentials: credentials)
        case .ews: EWSMailSender(account: account, credentials: credentials)
        case .smtp, .none: nil
        }
    }

    /// One request at a time through an account's share of a batch, over Graph or EWS: each message
    /// is one HTTP request whose answer is its outcome, recorded through the same group commit.
    nonisolated func exchangeLane(queue: WorkQueue, account: Account, batch: Batch, run: SendRun) async {
        guard let sender = Self.exchangeSender(for: account, credentials: AccountCredentialSource(store)) else { return }
        while let item = queue.next() {
            await renewLeaseIfDue(batch: batch, after: .seconds(leaseSeconds / 2))
            if batch.isLost(item.id) { continue }
            let raw: [UInt8]
            do {
                if let prefetched = batch.raws[item.rawSha256] {
                    raw = prefetched
                } else if let read = try await store.outbox.rawMessages(sha256: [item.rawSha256], upToBytes: nil)[item.rawSha256] {
                    raw = read
                } else {
                    submitFailure(DeliveryFailure(kind: .internal, text: "the message's stored copy is missing"), item: item,
                                  settings: account.retry, run: run)
                    continue
                }
            } catch {
                if Task.isCancelled { break }
                submitFailure(DeliveryFailure(kind: .internal, text: "cannot read the message's stored copy: \(error)"), item: item,
                              settings: account.retry, run: run)
                continue
            }
            do {
                try await sender.send(raw)
            } catch {
                // Stopped by shutdown: nothing is known, nothing recorded; the lease is released and it goes again.
                if Task.isCancelled { break }
                submitFailure(Self.exchangeFailure(error), item: item, settings: account.retry, run: run)
                continue
            }
            let attempt = OutboxAttempt(outboxId: item.id, attemptedAt: Date(), outcome: .sent, replyCode: nil, enhancedStatus: nil,
                                        text: "accepted by \(account.outgoing.protocol.rawValue == "graph" ? "Microsoft Graph (sendMail)" : "Exchange (CreateItem)")",
                                        errorClass: nil, policy: nil, nextAttemptAt: nil, recipients: [])
            _ = run.recorder.submit(OutboxOutcome(item: item, attempt: attempt, state: .sent))
            run.sentCounter.increment()
            Counter(label: "mailroom_exchange_sent_messages_total", dimensions: [("protocol", account.outgoing.protocol.rawValue)]).increment()
        }
        run.recorder.flush()
    }

    /// A Graph or EWS failure in the classifier's terms: the class follows from the error's kind (EXCHANGE.md).
    static func exchangeFailure(_ error: any Error) -> DeliveryFailure {
        if let error = error as? OAuth2Error {
            return DeliveryFailure(kind: .authenticationFailed, text: error.description)
        }
        guard let error = error as? ExchangeError else { return DeliveryFailure(kind: .internal, text: ErrorWords.describe(error)) }
        let kind: DeliveryFailure.Kind = switch error.kind {
        case .connection: .connectionFailed
        case .unknownHost: .unknownHost
        case .unauthorized: .authenticationFailed
        default: .serverReply
        }
        return DeliveryFailure(kind: kind, text: ExchangeErrorClasses.advice(error), errorClass: ExchangeErrorClasses.deliveryClass(error.kind))
    }
}
