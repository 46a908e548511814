import Foundation

// The pure parts of the EWS client: SOAP requests as text, answers read from the parsed tree,
// ResponseCodes and faults sorted into kinds, and the SyncFolderItems paging.

/// Where an EWS request points: a distinguished folder (`inbox`, in the named mailbox) or a folder id.
public enum EWSFolder: Sendable, Equatable {
    case distinguished(String, mailbox: String?)
    case id(String)

    /// EWS's distinguished folder names (lower case), usable in place of an id.
    public static let distinguishedNames: Set<String> = [
        "inbox", "sentitems", "deleteditems", "drafts", "junkemail", "outbox", "msgfolderroot", "archiveinbox",
    ]

    var xml: String {
        switch self {
        case .distinguished(let name, let mailbox):
            guard let mailbox else { return "<t:DistinguishedFolderId Id=\"\(EWSXML.escape(name))\"/>" }
            return "<t:DistinguishedFolderId Id=\"\(EWSXML.escape(name))\"><t:Mailbox><t:EmailAddress>\(EWSXML.escape(mailbox))</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"
        case .id(let id):
            return "<t:FolderId Id=\"\(EWSXML.escape(id))\"/>"
        }
    }
}

public enum EWSRequests {
    static let messages = "http://schemas.microsoft.com/exchange/services/2006/messages"
    static let types = "http://schemas.microsoft.com/exchange/services/2006/types"

    /// The envelope; `impersonate` names the mailbox for a token without a user (application access).
    public static func envelope(_ body: String, impersonate: String? = nil) -> String {
        var header = "<t:RequestServerVersion Version=\"Exchange2016\"/>"
        if let impersonate {
            header += "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>\(EWSXML.escape(impersonate))</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"
        }
        return """
            <?xml version="1.0" encoding="utf-8"?>\
            <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="\(messages)" xmlns:t="\(types)">\
            <soap:Header>\(header)</soap:Header><soap:Body>\(body)</soap:Body></soap:Envelope>
            """
    }

    public static func syncFolderItems(_ folder: EWSFolder, syncState: String?, maxChanges: Int) -> String {
        var body = "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        body += "<t:FieldURI FieldURI=\"item:DateTimeReceived\"/></t:AdditionalProperties></m:ItemShape>"
        body += "<m:SyncFolderId>\(folder.xml)</m:SyncFolderId>"
        if let syncState { body += "<m:SyncState>\(EWSXML.escape(syncState))</m:SyncState>" }
        body += "<m:MaxChangesReturned>\(min(max(maxChanges, 1), 512))</m:MaxChangesReturned></m:SyncFolderItems>"
        return body
    }

    static func itemIds(_ ids: [String]) -> String {
        "<m:ItemIds>" + ids.map { "<t:ItemId Id=\"\(EWSXML.escape($0))\"/>" }.joined() + "</m:ItemIds>"
    }

    public static func getItemMIME(_ ids: [String]) -> String {
        "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape>"
            + itemIds(ids) + "</m:GetItem>"
    }

    public static func deleteItems(_ ids: [String]) -> String {
        "<m:DeleteItem DeleteType=\"MoveToDeletedItems\">" + itemIds(ids) + "</m:DeleteItem>"
    }

    /// Sends a MIME message; with `savedCopyIn` a copy is kept there (SendAndSaveCopy), else SendOnly.
    public static func createItemSend(mimeBase64: String, savedCopyIn folder: EWSFolder?) -> String {
        var body = "<m:CreateItem MessageDisposition=\"\(folder == nil ? "SendOnly" : "SendAndSaveCopy")\">"
        if let folder { body += "<m:SavedItemFolderId>\(folder.xml)</m:SavedItemFolderId>" }
        body += "<m:Items><t:Message><t:MimeContent CharacterSet=\"UTF-8\">\(mimeBase64)</t:MimeContent></t:Message></m:Items></m:CreateItem>"
        return body
    }

    public static func findFolders(under folder: EWSFolder) -> String {
        "<m:FindFolder Traversal=\"Shallow\"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
            + "<m:ParentFolderIds>\(folder.xml)</m:ParentFolderIds></m:FindFolder>"
    }

    public static func getFolder(_ folder: EWSFolder) -> String {
        "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>\(folder.xml)</m:FolderIds></m:GetFolder>"
    }
}

/// One ResponseMessage of an answer: its class and code, and the element itself for the payload.
public struct EWSResponseMessage: @unchecked Sendable {
    public var responseClass: String
    public var code: String
    public var text: String
    public var node: XMLNode
    public var backOff: Duration?

    public var isSuccess: Bool { responseClass == "Success" || responseClass == "Warning" && code == "NoError" }

    public var error: ExchangeError {
        EWSErrors.error(code: code, message: text.isEmpty ? code : text, backOff: backOff)
    }
}

public enum EWSResponses {
    /// The response messages of a 200 answer, or the fault it carries thrown as an ExchangeError.
    public static func messages(_ body: [UInt8], operation: String) throws -> [EWSResponseMessage] {
        let root = try EWSXML.parse(body)
        guard root.name == "Envelope", let soapBody = root.child("Body") else {
            throw ExchangeError(.malformedResponse, message: "the EWS answer is not a SOAP envelope")
        }
        if let fault = soapBody.child("Fault") { throw faultError(fault) }
        guard let response = soapBody.child("\(operation)Response"), let list = response.child("ResponseMessages") else {
            throw ExchangeError(.malformedResponse, message: "the EWS answer has no \(operation)Response")
        }
        return list.children.map { node in
            EWSResponseMessage(responseClass: node.attributes["ResponseClass"] ?? "Error", code: node.child("ResponseCode")?.trimmedText ?? "NoError",
                               text: node.child("MessageText")?.trimmedText ?? "", node: node, backOff: backOff(in: node))
        }
    }

    /// A SOAP fault (HTTP 500, or inside a 200) as an error: the ResponseCode in its detail decides the kind.
    public static func faultError(_ fault: XMLNode) -> ExchangeError {
        let code = fault.path("detail", "ResponseCode")?.trimmedText ?? fault.child("faultcode")?.trimmedText.split(separator: ":").last.map(String.init)
        let text = fault.path("detail", "Message")?.trimmedText ?? fault.child("faultstring")?.trimmedText ?? "SOAP fault"
        return EWSErrors.error(code: code ?? "SOAPFault", message: text, backOff: backOff(in: fault))
    }

    /// The fault in a non-200 answer's body, if it is one.
    public static func fault(in body: [UInt8]) -> ExchangeError? {
        guard let root = try? EWSXML.parse(body), let fault = root.child("Body")?.child("Fault") else { return nil }
        return faultError(fault)
    }

    static func backOff(in node: XMLNode) -> Duration? {
        for value in node.descendants("Value") where value.attributes["Name"] == "BackOffMilliseconds" {
            if let ms = Int(value.trimmedText), ms >= 0 { return .milliseconds(min(ms, 3_600_000)) }
        }
        return nil
    }

    public struct SyncPage: Sendable, Equatable {
        public var syncState: String
        public var includesLastItem: Bool
        public var created: [(id: String, received: Date?)]

        public static func == (a: SyncPage, b: SyncPage) -> Bool {
            a.syncState == b.syncState && a.includesLastItem == b.includesLastItem
                && a.created.map(\.id) == b.created.map(\.id) && a.created.map(\.received) == b.created.map(\.received)
        }
    }

    /// A SyncFolderItems answer's state, whether it was the last page, and the items created.
    public static func syncPage(_ message: EWSResponseMessage) throws -> SyncPage {
        guard message.isSuccess else { throw message.error }
        guard let state = message.node.child("SyncState")?.trimmedText, !state.isEmpty else {
            throw ExchangeError(.malformedResponse, message: "the SyncFolderItems answer has no SyncState")
        }
        var created: [(String, Date?)] = []
        for change in message.node.child("Changes")?.children(("Create")) ?? [] {
            guard let item = change.children.first, let id = item.child("ItemId")?.attributes["Id"], !id.isEmpty else { continue }
            created.append((id, item.child("DateTimeReceived").flatMap { GraphDate.parse($0.trimmedText) }))
        }
        let last = message.node.child("IncludesLastItemInRange")?.trimmedText.lowercased() != "false"
        return SyncPage(syncState: state, includesLastItem: last, created: created)
    }

    /// A GetItem message's MIME (base64 in MimeContent), vanished for ErrorItemNotFound.
    public static func mime(_ message: EWSResponseMessage) throws -> ExchangeDownload {
        if !message.isSuccess {
            if message.code == "ErrorItemNotFound" { return .vanished }
            throw message.error
        }
        guard let content = message.node.descendants("MimeContent").first,
              let data = Data(base64Encoded: content.trimmedText, options: .ignoreUnknownCharacters) else {
            throw ExchangeError(.malformedResponse, message: "the GetItem answer has no readable MimeContent")
        }
        return .message(Array(data))
    }
}

/// EWS ResponseCodes sorted into kinds (the table is in EXCHANGE.md).
public enum EWSErrors {
    static let codes: [String: ExchangeError.Kind] = [
        "ErrorServerBusy": .rateLimited, "ErrorTooManyObjectsOpened": .rateLimited,
        "ErrorInvalidSyncStateData": .syncStateExpired, "ErrorSyncFolderNotFound": .syncStateExpired,
        "ErrorItemNotFound": .itemNotFound,
        "ErrorNonExistentMailbox": .mailboxNotFound, "ErrorFolderNotFound": .mailboxNotFound, "ErrorMissingEmailAddress": .mailboxNotFound,
        "ErrorAccessDenied": .accessDenied, "ErrorImpersonateUserDenied": .accessDenied, "ErrorImpersonationDenied": .accessDenied,
        "ErrorSendAsDenied": .accessDenied, "ErrorInvalidLicense": .accessDenied,
        "ErrorInvalidRecipients": .invalidRecipient, "ErrorInvalidRecipient": .invalidRecipient,
        "ErrorMessageSizeExceeded": .tooLarge,
        "ErrorMimeContentInvalidBase64String": .invalidRequest, "ErrorMimeContentConversionFailed": .invalidRequest,
        "ErrorSchemaValidation": .invalidRequest, "ErrorInvalidRequest": .invalidRequest, "ErrorInvalidIdMalformed": .invalidRequest,
        "ErrorInvalidOperation": .invalidRequest, "ErrorQuotaExceeded": .invalidRequest,
        "ErrorInternalServerError": .serverError, "ErrorInternalServerTransientError": .serverError,
        "ErrorMailboxStoreUnavailable": .serverError, "ErrorConnectionFailed": .serverError, "ErrorTimeoutExpired": .serverError,
        "ErrorMailboxMoveInProgress": .serverError,
    ]

    public static func error(code: String, message: String, backOff: Duration?) -> ExchangeError {
        let kind = codes[code] ?? .other
        return ExchangeError(kind, code: code, message: message, retryAfter: kind == .rateLimited ? (backOff ?? .seconds(1)) : nil)
    }

    /// A non-200 answer: its SOAP fault when it has one, else the status.
    public static func httpError(status: Int, body: [UInt8], retryAfter: String?) -> ExchangeError {
        if var fault = EWSResponses.fault(in: body) {
            fault.status = status
            return fault
        }
        let wait = retryAfter.flatMap(GraphErrors.parseRetryAfter)
        switch status {
        case 401: return ExchangeError(.unauthorized, status: status, message: "EWS refused the credentials")
        case 403: return ExchangeError(.accessDenied, status: status, message: "EWS refused access")
        case 404: return ExchangeError(.mailboxNotFound, status: status, message: "there is no EWS endpoint at this URL")
        case 429, 503 where wait != nil:
            return ExchangeError(.rateLimited, status: status, message: "EWS is busy", retryAfter: wait ?? .seconds(1))
        case 500..<600: return ExchangeError(.serverError, status: status, message: "EWS answered HTTP \(status)")
        default: return ExchangeError(.other, status: status, message: "EWS answered HTTP \(status)")
        }
    }
}

/// One SyncFolderItems round: page after page (each answer's state asks for the next) until the
/// last item is included; an unknown state starts over from no state, once.
public struct EWSSyncRound: Sendable {
    public enum Action: Sendable, Equatable {
        case sync(state: String?)
        case done(created: [String], received: [String: Date], state: String, resynchronised: Bool)
    }

    let maxPages: Int
    private(set) var state: String?
    private(set) var started: String?
    private(set) var created: [String] = []
    private var seen: Set<String> = []
    private(set) var received: [String: Date] = [:]
    private(set) var resynchronised = false
    private(set) var pages = 0

    public init(savedState: String?, maxPages: Int = 100_000) {
        state = savedState
        started = savedState
        self.maxPages = maxPages
    }

    public func start() -> Action { .sync(state: state) }

    public mutating func received(_ page: EWSResponses.SyncPage) throws -> Action {
        pages += 1
        for item in page.created where seen.insert(item.id).inserted {
            created.append(item.id)
            if let date = item.received { received[item.id] = date }
        }
        state = page.syncState
        if page.includesLastItem {
            return .done(created: created, received: received, state: page.syncState, resynchronised: resynchronised)
        }
        guard pages < maxPages else {
            throw ExchangeError(.malformedResponse, message: "SyncFolderItems went on for more than \(maxPages) pages")
        }
        return .sync(state: page.syncState)
    }

    /// The state was refused (ErrorInvalidSyncStateData): list the folder from the start, once.
    public mutating func syncStateExpired() throws -> Action {
        if resynchronised || state == nil {
            throw ExchangeError(.syncStateExpired, code: "ErrorInvalidSyncStateData", message: "EWS refused a sync from the start")
        }
        resynchronised = true
        created = []
        seen = []
        received = [:]
        state = nil
        return .sync(state: nil)
    }

    public var isFullListing: Bool { started == nil || resynchronised }
}
