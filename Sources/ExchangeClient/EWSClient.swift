import AsyncHTTPClient
import Foundation
import NIOHTTP1

/// Exchange Web Services for one mailbox at one endpoint: SyncFolderItems, GetItem with MIME,
/// DeleteItem, CreateItem with MIME. SOAP over HTTPS through the shared HTTP client; Basic over
/// TLS or an OAuth2 bearer token (with a token, the mailbox is named by ExchangeImpersonation, as
/// application access needs).
public struct EWSClient: Sendable {
    public typealias Authorization = GraphClient.Authorization

    /// The EWS endpoint; empty: found by Autodiscover from the mailbox address (``endpoint()``).
    public let url: String
    public let mailbox: String
    let authorization: Authorization
    let timeout: Duration
    let acceptAnyCertificate: Bool
    /// Name the mailbox in the ExchangeImpersonation header (bearer tokens).
    let impersonate: Bool
    public var maxChanges: Int
    /// Items per GetItem or DeleteItem.
    public var batchSize: Int
    /// ErrorServerBusy back-offs up to this long are waited out here; longer ones are thrown.
    public var maxInlineWait: Duration

    public init(url: String, mailbox: String, timeout: Duration = .seconds(60), acceptAnyCertificate: Bool = false, impersonate: Bool = false,
                maxChanges: Int = 512, batchSize: Int = 25, maxInlineWait: Duration = .seconds(10), authorization: @escaping Authorization) {
        self.url = url
        self.mailbox = mailbox
        self.timeout = timeout
        self.acceptAnyCertificate = acceptAnyCertificate
        self.impersonate = impersonate
        self.maxChanges = maxChanges
        self.batchSize = max(1, batchSize)
        self.maxInlineWait = maxInlineWait
        self.authorization = authorization
    }

    /// One operation; request-wide failures (HTTP errors, SOAP faults) are thrown, per-item ones returned.
    func call(_ operation: String, _ body: String, maxBodyBytes: Int = 16 << 20) async throws -> [EWSResponseMessage] {
        let envelope = Array(EWSRequests.envelope(body, impersonate: impersonate ? mailbox : nil).utf8)
        var refreshed = false
        var throttled = 0
        while true {
            var headers = HTTPHeaders()
            headers.add(name: "Authorization", value: try await authorization(refreshed))
            headers.add(name: "Content-Type", value: "text/xml; charset=utf-8")
            headers.add(name: "SOAPAction", value: "\"http://schemas.microsoft.com/exchange/services/2006/messages/\(operation)\"")
            if impersonate { headers.add(name: "X-AnchorMailbox", value: mailbox) }
            let endpoint = try await self.endpoint()
            let response: SharedHTTP.Response
            do {
                response = try await SharedHTTP.send(method: .POST, url: endpoint, headers: headers, body: envelope, timeout: timeout,
                                                     acceptAnyCertificate: acceptAnyCertificate, maxBodyBytes: maxBodyBytes)
            } catch {
                await endpointFailed(error)
                throw error
            }
            if response.status == 404 { await endpointFailed(ExchangeError(.mailboxNotFound, status: 404, message: "")) }
            let error: ExchangeError
            if response.status == 200 {
                do {
                    return try EWSResponses.messages(response.body, operation: operation)
                } catch let thrown as ExchangeError where thrown.kind == .rateLimited {
                    error = thrown
                }
            } else {
                error = EWSErrors.httpError(status: response.status, body: response.body, retryAfter: response.headers.first(name: "Retry-After"))
            }
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

    /// The one response message of a single-item operation, thrown when it failed.
    func single(_ operation: String, _ body: String) async throws -> EWSResponseMessage {
        guard let message = try await call(operation, body).first else {
            throw ExchangeError(.malformedResponse, message: "the \(operation) answer has no response message")
        }
        if message.isSuccess { return message }
        throw message.error
    }

    // MARK: Folders

    /// A Mailroom folder name as EWS names it: a distinguished folder (`INBOX` is `inbox`) in this
    /// mailbox, or a display name found level by level under the mailbox's root.
    public func folder(_ name: String) async throws -> EWSFolder {
        let lower = name.lowercased()
        if EWSFolder.distinguishedNames.contains(lower) { return .distinguished(lower, mailbox: mailbox) }
        if lower == "sent items" || lower == "sent" { return .distinguished("sentitems", mailbox: mailbox) }
        var parent = EWSFolder.distinguished("msgfolderroot", mailbox: mailbox)
        for part in name.split(separator: "/").map(String.init) {
            let message = try await single("FindFolder", EWSRequests.findFolders(under: parent))
            let found = message.node.descendants("Folders").first?.children.first { folder in
                folder.child("DisplayName")?.trimmedText.lowercased() == part.lowercased()
            }
            guard let id = found?.child("FolderId")?.attributes["Id"] else {
                throw ExchangeError(.mailboxNotFound, message: "the mailbox \(mailbox) has no folder '\(name)'")
            }
            parent = .id(id)
        }
        return parent
    }

    /// The folder's display name and item count.
    public func folderSummary(_ folder: EWSFolder) async throws -> (name: String, count: Int?) {
        let message = try await single("GetFolder", EWSRequests.getFolder(folder))
        let node = message.node.descendants("Folders").first?.children.first
        return (node?.child("DisplayName")?.trimmedText ?? "folder", node?.child("TotalCount").flatMap { Int($0.trimmedText) })
    }

    // MARK: Fetching

    public struct SyncResult: Sendable {
        public var created: [String]
        public var received: [String: Date]
        public var state: String
        public var fullListing: Bool
        public var resynchronised: Bool
    }

    /// SyncFolderItems from the saved state through every page; an unknown state lists the folder again.
    public func syncRound(_ folder: EWSFolder, savedState: String?) async throws -> SyncResult {
        var round = EWSSyncRound(savedState: savedState)
        var action = round.start()
        while true {
            switch action {
            case .sync(let state):
                let messages = try await call("SyncFolderItems", EWSRequests.syncFolderItems(folder, syncState: state, maxChanges: maxChanges))
                guard let message = messages.first else {
                    throw ExchangeError(.malformedResponse, message: "the SyncFolderItems answer has no response message")
                }
                if !message.isSuccess, message.error.kind == .syncStateExpired {
                    action = try round.syncStateExpired()
                } else {
                    action = try round.received(EWSResponses.syncPage(message))
                }
            case .done(let created, let received, let state, let resynchronised):
                return SyncResult(created: created, received: received, state: state,
                                  fullListing: round.isFullListing, resynchronised: resynchronised)
            }
        }
    }

    /// The raw MIME of items, `batchSize` per GetItem; an answer larger than the batch may be is cut
    /// and the batch fetched one by one, so one huge message is reported as too large, not the batch.
    public func mime(_ ids: [String], maxBytes: Int) async throws -> [ExchangeDownload] {
        var results: [ExchangeDownload] = []
        for start in stride(from: 0, to: ids.count, by: batchSize) {
            let chunk = Array(ids[start..<min(start + batchSize, ids.count)])
            results += try await mimeBatch(chunk, maxBytes: maxBytes)
        }
        return results
    }

    private func mimeBatch(_ ids: [String], maxBytes: Int) async throws -> [ExchangeDownload] {
        // Base64 takes 4 bytes for 3; the envelope around each item is small.
        let limit = ids.count * (maxBytes / 3 * 4 + 8_192) + 65_536
        let messages: [EWSResponseMessage]
        do {
            messages = try await call("GetItem", EWSRequests.getItemMIME(ids), maxBodyBytes: limit)
        } catch let error as SharedHTTP.BodyTooLarge {
            guard ids.count > 1 else { return [.tooLarge(size: error.announcedSize.map { $0 / 4 * 3 })] }
            var one: [ExchangeDownload] = []
            for id in ids { one += try await mimeBatch([id], maxBytes: maxBytes) }
            return one
        }
        guard messages.count == ids.count else {
            throw ExchangeError(.malformedResponse, message: "GetItem answered \(messages.count) messages for \(ids.count) items")
        }
        return try messages.map { message in
            let download = try EWSResponses.mime(message)
            if case .message(let bytes) = download, bytes.count > maxBytes { return .tooLarge(size: bytes.count) }
            return download
        }
    }

    /// Moves items to Deleted Items; items already gone are fine.
    public func delete(_ ids: [String]) async throws {
        for start in stride(from: 0, to: ids.count, by: batchSize * 4) {
            let chunk = Array(ids[start..<min(start + batchSize * 4, ids.count)])
            for message in try await call("DeleteItem", EWSRequests.deleteItems(chunk)) where !message.isSuccess {
                if message.code == "ErrorItemNotFound" { continue }
                throw message.error
            }
        }
    }

    // MARK: Sending

    /// Sends a complete MIME message; with `savedCopyIn`, SendAndSaveCopy keeps a copy there.
    public func send(mime: [UInt8], savedCopyIn folder: EWSFolder?) async throws {
        _ = try await single("CreateItem", EWSRequests.createItemSend(mimeBase64: Data(mime).base64EncodedString(), savedCopyIn: folder))
    }

    /// A header section from the item's subject, sender and Message-ID (for one too large to download).
    public func summaryHeader(_ id: String) async throws -> [UInt8] {
        let body = "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
            + "<t:FieldURI FieldURI=\"item:Subject\"/><t:FieldURI FieldURI=\"message:From\"/>"
            + "<t:FieldURI FieldURI=\"message:InternetMessageId\"/></t:AdditionalProperties></m:ItemShape>"
            + EWSRequests.itemIds([id]) + "</m:GetItem>"
        let message = try await single("GetItem", body)
        let item = message.node.child("Items")?.children.first
        let mailbox = item?.path("From", "Mailbox")
        return SummaryHeader.make(subject: item?.child("Subject")?.trimmedText, fromName: mailbox?.child("Name")?.trimmedText,
                                  fromAddress: mailbox?.child("EmailAddress")?.trimmedText,
                                  messageId: item?.child("InternetMessageId")?.trimmedText)
    }
}
