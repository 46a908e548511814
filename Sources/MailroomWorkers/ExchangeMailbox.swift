import ExchangeClient
import Foundation
import MailroomCore
import MailTransport

/// A Graph or EWS mailbox folder as ``ExchangeFetcher`` reads it: what was added since a saved
/// sync state, the raw MIME of items, and deleting them.
public protocol ExchangeMailboxSource: Sendable {
    /// `graph` or `ews`, for metrics and status text.
    var protocolName: String { get }
    /// The changes since `savedState` (nil: the folder's full listing, within `receivedSince`).
    func changes(savedState: String?, receivedSince: Date?) async throws -> ExchangeChanges
    /// The raw MIME of each item, in the same order.
    func download(_ itemIds: [String], maxBytes: Int) async throws -> [ExchangeDownload]
    /// Deletes items (one already gone is fine).
    func delete(_ itemIds: [String]) async throws
}

public struct ExchangeChanges: Sendable {
    public struct Item: Sendable, Equatable {
        public var id: String
        public var received: Date?
        public init(id: String, received: Date?) {
            self.id = id
            self.received = received
        }
    }

    /// Items added to the folder, oldest first where the server says.
    public var created: [Item]
    /// The state to save once the round is committed.
    public var newState: String
    /// A full listing of the folder (first round, or after the saved state expired).
    public var fullListing: Bool
    /// The saved state had expired and the folder was listed again.
    public var resynchronised: Bool

    public init(created: [Item], newState: String, fullListing: Bool, resynchronised: Bool) {
        self.created = created
        self.newState = newState
        self.fullListing = fullListing
        self.resynchronised = resynchronised
    }
}

extension Account {
    /// The Exchange mailbox an account reads or sends from: the shared mailbox it names, or its own address.
    func exchangeMailbox(_ connection: ServerConnection) -> String {
        connection.mailboxAddress ?? (fromAddress.isEmpty ? connection.auth.username : fromAddress)
    }
}

/// The Authorization header for an account's Graph or EWS requests: a bearer token (refreshed
/// through the account's OAuth2 settings when refused) or Basic with the password.
struct ExchangeAuthorization: Sendable {
    let login: LoginHolder
    let credentials: AccountCredentialSource
    let direction: AccountCredentialSource.Direction

    func header(refresh: Bool) async throws -> String {
        var account = login.account
        let found = try await credentials.credentials(&account, direction, forceRefresh: refresh)
        login.account = account
        return try Self.header(found)
    }

    static func header(_ credentials: MailCredentials?) throws -> String {
        switch credentials?.secret {
        case .oauth2AccessToken(let token)?:
            return "Bearer \(token)"
        case .password(let password)?:
            let pair = "\(credentials?.username ?? ""):\(password)"
            return "Basic \(Data(pair.utf8).base64EncodedString())"
        case nil:
            throw ExchangeError(.unauthorized, message: "the account has no credentials for Exchange: set a password or sign in")
        }
    }
}

/// Microsoft Graph as a mailbox source: the folder's delta query, `$value` downloads and deletes
/// (to Deleted Items) in `$batch` requests of 20, one batch at a time.
public struct GraphMailboxSource: ExchangeMailboxSource {
    public let protocolName = "graph"
    let client: GraphClient
    let folder: String
    /// Downloads at once without batching: Graph allows 4 concurrent requests per mailbox per app.
    let concurrency: Int
    /// `$batch` for downloads and deletes (20 a request); false: one request each, `concurrency` at
    /// a time (kept for the benchmark's before and after).
    let batching: Bool
    /// Change notifications, when the installation has a public address; nil: the poll alone.
    let push: GraphPush?

    public init(client: GraphClient, folder: String, concurrency: Int = 4, batching: Bool = true, push: GraphPush? = nil) {
        self.client = client
        self.folder = folder
        self.concurrency = concurrency
        self.batching = batching
        self.push = push
    }

    public init(account: Account, credentials: AccountCredentialSource, batching: Bool = true, push: GraphPush? = nil) {
        let connection = account.incoming.connection
        let auth = ExchangeAuthorization(login: LoginHolder(account), credentials: credentials, direction: .incoming)
        let client = GraphClient(baseURL: connection.graphBaseURL, mailbox: account.exchangeMailbox(connection),
                                 timeout: .seconds(max(connection.connectionTimeoutSeconds, 30)),
                                 acceptAnyCertificate: connection.acceptAnyCertificate) { refresh in
            try await auth.header(refresh: refresh)
        }
        self.init(client: client, folder: account.incoming.mailbox, batching: batching, push: push)
    }

    public func changes(savedState: String?, receivedSince: Date?) async throws -> ExchangeChanges {
        let folderId = try await client.folderId(folder)
        let round = try await client.deltaRound(folderId: folderId, savedDeltaLink: savedState, receivedSince: receivedSince)
        return ExchangeChanges(created: round.created.map { .init(id: $0.id, received: $0.receivedDateTime) },
                               newState: round.deltaLink, fullListing: round.fullListing, resynchronised: round.resynchronised)
    }

    public func download(_ itemIds: [String], maxBytes: Int) async throws -> [ExchangeDownload] {
        let client = self.client
        var downloads = batching
            ? try await client.mimeBatched(itemIds, maxBytes: maxBytes)
            : try await concurrentMap(itemIds, limit: concurrency) { id in try await client.mime(messageId: id, maxBytes: maxBytes) }
        for (index, download) in downloads.enumerated() {
            guard case .tooLarge(let size, _) = download else { continue }
            downloads[index] = .tooLarge(size: size, header: (try? await client.summaryHeader(messageId: itemIds[index])) ?? [])
        }
        return downloads
    }

    public func delete(_ itemIds: [String]) async throws {
        if batching { return try await client.deleteBatched(itemIds) }
        _ = try await concurrentMap(itemIds, limit: concurrency) { [client] id in try await client.delete(messageId: id) }
    }
}

/// `transform` over `items` with at most `limit` running at once; results in the order of `items`.
func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ transform: @escaping @Sendable (T) async throws -> R) async throws -> [R] {
    guard !items.isEmpty else { return [] }
    return try await withThrowingTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        for _ in 0..<min(limit, items.count) {
            let index = next
            group.addTask { (index, try await transform(items[index])) }
            next += 1
        }
        while let (index, result) = try await group.next() {
            results[index] = result
            if next < items.count {
                let index = next
                group.addTask { (index, try await transform(items[index])) }
                next += 1
            }
        }
        return results.map { $0! }
    }
}
