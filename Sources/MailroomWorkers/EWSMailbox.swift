import ExchangeClient
import Foundation
import Logging
import MailroomCore

extension EWSClient {
    /// The account's EWS client for one direction: its endpoint, mailbox and credentials.
    init(account: Account, incoming: Bool, credentials: AccountCredentialSource) {
        let connection = incoming ? account.incoming.connection : account.outgoing.connection
        let auth = ExchangeAuthorization(login: LoginHolder(account), credentials: credentials, direction: incoming ? .incoming : .outgoing)
        self.init(url: connection.ewsURL, mailbox: account.exchangeMailbox(connection),
                  timeout: .seconds(max(connection.connectionTimeoutSeconds, 60)), acceptAnyCertificate: connection.acceptAnyCertificate,
                  impersonate: connection.auth.method == .oauth2) { refresh in try await auth.header(refresh: refresh) }
    }
}

/// EWS as a mailbox source: SyncFolderItems with the sync state as the high-water mark, GetItem
/// with MIME in batches, DeleteItem to Deleted Items.
public struct EWSMailboxSource: ExchangeMailboxSource {
    public let protocolName = "ews"
    let client: EWSClient
    let folderName: String
    /// How long each GetStreamingEvents stream is asked to stay open (1 to 30 minutes).
    let streamMinutes: Int

    public init(client: EWSClient, folder: String, streamMinutes: Int = 30) {
        self.client = client
        folderName = folder
        self.streamMinutes = streamMinutes
    }

    public init(account: Account, credentials: AccountCredentialSource) {
        self.init(client: EWSClient(account: account, incoming: true, credentials: credentials), folder: account.incoming.mailbox)
    }

    public func changes(savedState: String?, receivedSince: Date?) async throws -> ExchangeChanges {
        let folder = try await client.folder(folderName)
        let round = try await client.syncRound(folder, savedState: savedState)
        return ExchangeChanges(created: round.created.map { .init(id: $0, received: round.received[$0]) }, newState: round.state,
                               fullListing: round.fullListing, resynchronised: round.resynchronised)
    }

    public func download(_ itemIds: [String], maxBytes: Int) async throws -> [ExchangeDownload] {
        var downloads = try await client.mime(itemIds, maxBytes: maxBytes)
        for (index, download) in downloads.enumerated() {
            guard case .tooLarge(let size, _) = download else { continue }
            downloads[index] = .tooLarge(size: size, header: (try? await client.summaryHeader(itemIds[index])) ?? [])
        }
        return downloads
    }

    public func delete(_ itemIds: [String]) async throws { try await client.delete(itemIds) }
}

/// EWS CreateItem with the MIME message Mailroom built: SendAndSaveCopy into the account's sent
/// folder when it names one, SendOnly when it does not.
public struct EWSMailSender: ExchangeMailSender {
    let client: EWSClient
    let sentFolder: String?

    public init(client: EWSClient, sentFolder: String?) {
        self.client = client
        self.sentFolder = sentFolder
    }

    public init(account: Account, credentials: AccountCredentialSource) {
        self.init(client: EWSClient(account: account, incoming: false, credentials: credentials), sentFolder: account.outgoing.sentFolder)
    }

    public func send(_ raw: [UInt8]) async throws {
        var folder: EWSFolder?
        if let sentFolder { folder = try await client.folder(sentFolder) }
        try await client.send(mime: raw, savedCopyIn: folder)
    }
}

/// A mailbox source that tells when new mail arrives, so the fetcher need not wait for its interval.
public protocol ExchangeMailboxPush: Sendable {
    /// Runs until cancelled, calling `wake` whenever new mail may be in the folder.
    func push(wake: @escaping @Sendable () -> Void, logger: Logger, accountId: String) async
}

extension EWSMailboxSource: ExchangeMailboxPush {
    /// EWS streaming notifications: a subscription on the folder and one GetStreamingEvents stream
    /// after another (the server ends each after its timeout). A lost subscription is made again,
    /// with one wake-up for whatever came meanwhile; failures back off and leave the poll to it.
    public func push(wake: @escaping @Sendable () -> Void, logger: Logger, accountId: String) async {
        var failures = 0
        var lastResubscribe: ContinuousClock.Instant?
        while !Task.isCancelled {
            var subscription: String?
            do {
                let folder = try await client.folder(folderName)
                let id = try await client.subscribeStreaming(folder)
                subscription = id
                if failures > 0 || lastResubscribe != nil { wake() }
                failures = 0
                var quickCloses = 0
                while !Task.isCancelled {
                    let opened = ContinuousClock.now
                    try await client.streamEvents(id, minutes: streamMinutes, onEvent: wake)
                    // A stream the server ends at once, twice, belongs to a subscription it has given up on.
                    quickCloses = ContinuousClock.now - opened < .seconds(2) ? quickCloses + 1 : 0
                    if quickCloses >= 2 { throw Resubscribe() }
                }
            } catch is CancellationError {
                // Cancelled: the subscription lapses on the server by itself.
                return
            } catch let error where Self.needsNewSubscription(error) {
                if Task.isCancelled { return }
                if let subscription { await client.unsubscribe(subscription) }
                // Made again at once, unless that already happened a moment ago.
                if let last = lastResubscribe, ContinuousClock.now - last < .seconds(5) { try? await Task.sleep(for: .seconds(2)) }
                lastResubscribe = ContinuousClock.now
            } catch {
                if Task.isCancelled { return }
                failures += 1
                if let subscription { await client.unsubscribe(subscription) }
                logger.notice("EWS streaming notifications failed; polling meanwhile", metadata: [
                    "account": "\(accountId)", "error": "\(error)",
                ])
                try? await Task.sleep(for: .seconds(min(300, 2 << min(failures, 7))))
            }
        }
    }

    private struct Resubscribe: Error {}

    static func needsNewSubscription(_ error: any Error) -> Bool {
        if error is Resubscribe { return true }
        guard let error = error as? ExchangeError else { return false }
        return ["ErrorSubscriptionNotFound", "ErrorInvalidSubscription", "ErrorExpiredSubscription"].contains(error.code ?? "")
    }
}
