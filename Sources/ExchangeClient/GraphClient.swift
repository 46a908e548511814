import AsyncHTTPClient
import Foundation
import NIOHTTP1

/// Microsoft Graph's mail API for one mailbox (a user's or a shared one, by address): the folder's
/// delta query, raw MIME downloads, deletes and `sendMail` with MIME. Every request carries the
/// authorization the caller gives; a 401 asks for a fresh one once and tries again.
public struct GraphClient: Sendable {
    /// The value of the Authorization header (`Bearer …`); `refresh` asks for a new token because
    /// the last one was refused.
    public typealias Authorization = @Sendable (_ refresh: Bool) async throws -> String

    public let baseURL: String
    public let mailbox: String
    let authorization: Authorization
    let timeout: Duration
    let acceptAnyCertificate: Bool
    /// Entries per delta page (`Prefer: odata.maxpagesize`).
    public var pageSize: Int
    /// Throttling answers asking for at most this long are waited out here; longer ones are thrown.
    public var maxInlineWait: Duration

    public init(baseURL: String, mailbox: String, timeout: Duration = .seconds(30), acceptAnyCertificate: Bool = false,
                pageSize: Int = 200, maxInlineWait: Duration = .seconds(10), authorization: @escaping Authorization) {
        var base = baseURL.trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.mailbox = mailbox
        self.timeout = timeout
        self.acceptAnyCertificate = acceptAnyCertificate
        self.pageSize = pageSize
        self.maxInlineWait = maxInlineWait
        self.authorization = authorization
    }

    public static let defaultBaseURL = "https://graph.microsoft.com/v1.0"

    /// Graph's well-known folder names, usable in place of a folder id.
    public static let wellKnownFolders: Set<String> = [
        "inbox", "archive", "clutter", "conflicts", "conversationhistory", "deleteditems", "drafts", "junkemail",
        "localfailures", "msgfolderroot", "outbox", "recoverableitemsdeletions", "scheduled", "searchfolders",
        "sentitems", "serverfailures", "syncissues",
    ]

    var userURL: String { "\(baseURL)/users/\(Self.pathSegment(mailbox))" }

    static func pathSegment(_ text: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    // MARK: Requests

    /// One request with authorization; non-2xx answers are thrown as ``ExchangeError``.
    /// `freshToken` asks for a fresh token from the start (something inside an earlier batch was refused).
    func send(_ method: HTTPMethod, _ url: String, body: [UInt8]? = nil, contentType: String? = nil,
              extraHeaders: [(String, String)] = [], maxBodyBytes: Int = 16 << 20, freshToken: Bool = false) async throws -> SharedHTTP.Response {
        var refreshed = freshToken
        var throttled = 0
        while true {
            var headers = HTTPHeaders()
            headers.add(name: "Authorization", value: try await authorization(refreshed))
            headers.add(name: "Accept", value: "application/json")
            if let contentType { headers.add(name: "Content-Type", value: contentType) }
            for (name, value) in extraHeaders { headers.add(name: name, value: value) }
            let response = try await SharedHTTP.send(method: method, url: url, headers: headers, body: body, timeout: timeout,
                                                     acceptAnyCertificate: acceptAnyCertificate, maxBodyBytes: maxBodyBytes)
            if (200..<300).contains(response.status) { return response }
            let error = GraphErrors.error(status: response.status, body: response.body,
                                          retryAfter: response.headers.first(name: "Retry-After"))
            if error.kind == .unauthorized, !refreshed {
                refreshed = true
                continue
            }
            if error.kind == .rateLimited, throttled < 3, let wait = error.retryAfter, wait <= maxInlineWait {
                throttled += 1
                try await Task.sleep(for: wait)
                continue
            }
            throw error
        }
    }

    // MARK: Folders

    /// The folder's id for a Mailroom folder name: a well-known name (`INBOX` is `inbox`) as it
    /// is, otherwise the display name looked up level by level (`Orders/Europe`).
    public func folderId(_ name: String) async throws -> String {
        let lower = name.lowercased()
        if Self.wellKnownFolders.contains(lower) { return lower }
        var parentURL = "\(userURL)/mailFolders"
        var id: String?
        for part in name.split(separator: "/").map(String.init) {
            struct List: Decodable {
                struct Folder: Decodable { var id: String; var displayName: String? }
                var value: [Folder]
            }
            let body = try await send(.GET, "\(parentURL)?$top=250&$select=id,displayName").body
            guard let list = try? JSONDecoder().decode(List.self, from: Data(body)) else {
                throw ExchangeError(.malformedResponse, message: "Graph's folder list could not be read")
            }
            guard let found = list.value.first(where: { $0.displayName?.lowercased() == part.lowercased() }) else {
                throw ExchangeError(.mailboxNotFound, message: "the mailbox \(mailbox) has no folder '\(name)'")
            }
            id = found.id
            parentURL = "\(userURL)/mailFolders/\(Self.pathSegment(found.id))/childFolders"
        }
        guard let id else { throw ExchangeError(.mailboxNotFound, message: "the folder name is empty") }
        return id
    }

    // MARK: Fetching

    /// The folder's own delta query: created messages only, with their receive time; `since` narrows a first listing.
    public func initialDeltaURL(folderId: String, receivedSince since: Date?) -> String {
        var url = "\(userURL)/mailFolders/\(Self.pathSegment(folderId))/messages/delta?changeType=created&$select=receivedDateTime"
        if let since {
            url += "&$filter=" + "receivedDateTime ge \(GraphDate.format(since))"
                .addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "+&=")))!
        }
        return url
    }

    public struct DeltaResult: Sendable {
        /// Messages added since the saved link (all of the folder's, for a full listing).
        public var created: [GraphDeltaItem]
        public var deltaLink: String
        /// Whether this was a full listing of the folder (first round, or after a 410).
        public var fullListing: Bool
        public var resynchronised: Bool
    }

    /// One delta round from the saved link to the new one, through every page.
    public func deltaRound(folderId: String, savedDeltaLink: String?, receivedSince: Date?) async throws -> DeltaResult {
        var round = GraphDeltaRound(savedDeltaLink: savedDeltaLink, initialURL: initialDeltaURL(folderId: folderId, receivedSince: receivedSince))
        let fullListing = savedDeltaLink == nil
        var action = round.start()
        while true {
            switch action {
            case .get(let url):
                do {
                    let response = try await send(.GET, url, extraHeaders: [("Prefer", "odata.maxpagesize=\(pageSize)")])
                    action = try round.received(GraphDeltaPage.parse(response.body))
                } catch let error as ExchangeError where error.kind == .syncStateExpired {
                    action = try round.syncStateExpired()
                }
            case .done(let items, let deltaLink, let resynchronised):
                return DeltaResult(created: GraphDeltaRound.created(items), deltaLink: deltaLink,
                                   fullListing: fullListing || resynchronised, resynchronised: resynchronised)
            }
        }
    }

    /// The message's raw MIME (`/messages/{id}/$value`), at most `maxBytes`.
    public func mime(messageId: String, maxBytes: Int) async throws -> ExchangeDownload {
        do {
            let response = try await send(.GET, "\(userURL)/messages/\(Self.pathSegment(messageId))/$value", maxBodyBytes: maxBytes)
            return .message(response.body)
        } catch let error as ExchangeError where error.kind == .itemNotFound {
            return .vanished
        } catch let error as SharedHTTP.BodyTooLarge {
            return .tooLarge(size: error.announcedSize)
        }
    }

    /// Deletes a message (Graph moves it to Deleted Items); one already gone is fine.
    public func delete(messageId: String) async throws {
        do {
            _ = try await send(.DELETE, "\(userURL)/messages/\(Self.pathSegment(messageId))")
        } catch let error as ExchangeError where error.kind == .itemNotFound {
            return
        }
    }

    // MARK: Sending

    /// Sends a complete MIME message as it is (`sendMail` with a base64 body, `text/plain`, as Graph
    /// documents); Graph keeps a copy in Sent Items.
    public func sendMail(mime: [UInt8]) async throws {
        let body = Array(Data(mime).base64EncodedString().utf8)
        _ = try await send(.POST, "\(userURL)/sendMail", body: body, contentType: "text/plain")
    }
}

extension GraphClient {
    /// The mailbox's display name (`GET /users/{address}`): the address resolves and the token may read it.
    public func mailboxDisplayName() async throws -> String {
        struct User: Decodable { var displayName: String?; var mail: String? }
        let body = try await send(.GET, "\(userURL)?$select=displayName,mail").body
        let user = try? JSONDecoder().decode(User.self, from: Data(body))
        return user?.displayName ?? user?.mail ?? mailbox
    }

    /// The folder's display name and message count.
    public func folderSummary(_ folderId: String) async throws -> (name: String, count: Int?) {
        struct Folder: Decodable { var displayName: String?; var totalItemCount: Int? }
        let body = try await send(.GET, "\(userURL)/mailFolders/\(Self.pathSegment(folderId))").body
        guard let folder = try? JSONDecoder().decode(Folder.self, from: Data(body)) else {
            throw ExchangeError(.malformedResponse, message: "Graph's folder answer could not be read")
        }
        return (folder.displayName ?? folderId, folder.totalItemCount)
    }
}

extension GraphClient {
    public struct Subscription: Sendable, Equatable {
        public var id: String
        public var expiration: Date
    }

    private struct SubscriptionWire: Decodable {
        var id: String
        var expirationDateTime: String
    }

    /// A change-notification subscription on the folder's new messages. Graph checks the
    /// notification URL with its validation handshake before it answers.
    public func subscribe(folderId: String, notificationURL: String, clientState: String, expiration: Date) async throws -> Subscription {
        let resource = "users/\(mailbox)/mailFolders('\(folderId)')/messages"
        let body: [String: String] = [
            "changeType": "created", "notificationUrl": notificationURL, "lifecycleNotificationUrl": notificationURL,
            "resource": resource, "expirationDateTime": GraphDate.format(expiration), "clientState": clientState,
        ]
        let response = try await send(.POST, "\(baseURL)/subscriptions", body: Array(try JSONEncoder().encode(body)), contentType: "application/json")
        return try Self.subscription(response.body)
    }

    /// Moves a subscription's expiry (renewal, and the answer to `reauthorizationRequired`).
    public func renew(subscriptionId: String, expiration: Date) async throws -> Subscription {
        let body = Array(try JSONEncoder().encode(["expirationDateTime": GraphDate.format(expiration)]))
        let response = try await send(.PATCH, "\(baseURL)/subscriptions/\(Self.pathSegment(subscriptionId))", body: body,
                                      contentType: "application/json")
        return try Self.subscription(response.body)
    }

    public func unsubscribe(subscriptionId: String) async {
        _ = try? await send(.DELETE, "\(baseURL)/subscriptions/\(Self.pathSegment(subscriptionId))")
    }

    static func subscription(_ body: [UInt8]) throws -> Subscription {
        guard let wire = try? JSONDecoder().decode(SubscriptionWire.self, from: Data(body)),
              let expiration = GraphDate.parse(wire.expirationDateTime) else {
            throw ExchangeError(.malformedResponse, message: "Graph's subscription answer could not be read")
        }
        return Subscription(id: wire.id, expiration: expiration)
    }
}

extension GraphClient {
    /// A header section from the message's subject, sender and Message-ID (for one too large to download).
    public func summaryHeader(messageId: String) async throws -> [UInt8] {
        struct Message: Decodable {
            struct Recipient: Decodable {
                struct Address: Decodable { var name: String?; var address: String? }
                var emailAddress: Address?
            }
            var subject: String?
            var from: Recipient?
            var internetMessageId: String?
        }
        let body = try await send(.GET, "\(userURL)/messages/\(Self.pathSegment(messageId))?$select=subject,from,internetMessageId").body
        guard let message = try? JSONDecoder().decode(Message.self, from: Data(body)) else {
            throw ExchangeError(.malformedResponse, message: "Graph's message summary could not be read")
        }
        return SummaryHeader.make(subject: message.subject, fromName: message.from?.emailAddress?.name,
                                  fromAddress: message.from?.emailAddress?.address, messageId: message.internetMessageId)
    }
}
