import Foundation

// The pure parts of the Graph mail client: reading answers, sorting errors, and the delta round's
// paging, all without a socket, so each is tested with plain values.

/// One entry of a delta page: a message created (or changed) in the folder, or one removed from it.
public struct GraphDeltaItem: Sendable, Equatable {
    public var id: String
    public var receivedDateTime: Date?
    public var removed: Bool

    public init(id: String, receivedDateTime: Date? = nil, removed: Bool = false) {
        self.id = id
        self.receivedDateTime = receivedDateTime
        self.removed = removed
    }
}

/// A page of `GET …/messages/delta`: its entries and either the next page's link or the delta link.
public struct GraphDeltaPage: Sendable, Equatable {
    public var items: [GraphDeltaItem]
    public var nextLink: String?
    public var deltaLink: String?

    public init(items: [GraphDeltaItem], nextLink: String? = nil, deltaLink: String? = nil) {
        self.items = items
        self.nextLink = nextLink
        self.deltaLink = deltaLink
    }

    private struct Wire: Decodable {
        struct Entry: Decodable {
            struct Removed: Decodable { var reason: String? }
            var id: String?
            var receivedDateTime: String?
            var removed: Removed?
            enum CodingKeys: String, CodingKey { case id, receivedDateTime, removed = "@removed" }
        }
        var value: [Entry]?
        var nextLink: String?
        var deltaLink: String?
        enum CodingKeys: String, CodingKey { case value, nextLink = "@odata.nextLink", deltaLink = "@odata.deltaLink" }
    }

    /// Reads a page; a page that is not JSON, or has neither link, or an entry without an id, is malformed.
    public static func parse(_ body: [UInt8]) throws -> GraphDeltaPage {
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(body))
        } catch {
            throw ExchangeError(.malformedResponse, message: "Graph answered the delta query with something that is not a delta page (\(body.count) bytes)")
        }
        guard wire.nextLink != nil || wire.deltaLink != nil else {
            throw ExchangeError(.malformedResponse, message: "Graph's delta page has neither @odata.nextLink nor @odata.deltaLink")
        }
        var items: [GraphDeltaItem] = []
        for entry in wire.value ?? [] {
            guard let id = entry.id, !id.isEmpty else {
                throw ExchangeError(.malformedResponse, message: "Graph's delta page lists a message without an id")
            }
            items.append(GraphDeltaItem(id: id, receivedDateTime: entry.receivedDateTime.flatMap(GraphDate.parse), removed: entry.removed != nil))
        }
        return GraphDeltaPage(items: items, nextLink: wire.nextLink, deltaLink: wire.deltaLink)
    }
}

/// Graph's timestamps: ISO 8601 in UTC, with or without fractions of a second.
public enum GraphDate {
    public static func parse(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }

    public static func format(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}

/// One delta round, page by page: from the saved delta link (or the folder's delta query when there
/// is none) through `@odata.nextLink` pages to the new `@odata.deltaLink`. A 410 (the token is no
/// longer known) starts the round over from the folder's delta query, once; the caller's record of
/// the messages it took keeps the full listing that follows from ingesting anything twice.
public struct GraphDeltaRound: Sendable {
    public enum Action: Sendable, Equatable {
        /// GET this URL next.
        case get(String)
        /// The round is over: these entries (in order, later ones winning) and the link to save.
        case done(items: [GraphDeltaItem], deltaLink: String, resynchronised: Bool)
    }

    let initialURL: String
    let maxPages: Int
    private(set) var items: [GraphDeltaItem] = []
    private(set) var resynchronised = false
    private(set) var pages = 0
    private var current: String

    /// - Parameters:
    ///   - savedDeltaLink: the delta link committed by the last round, nil for a first round.
    ///   - initialURL: the folder's delta query, for a first round and after a 410.
    public init(savedDeltaLink: String?, initialURL: String, maxPages: Int = 100_000) {
        self.initialURL = initialURL
        self.maxPages = maxPages
        current = savedDeltaLink ?? initialURL
        resynchronised = false
    }

    /// Whether this round started from the folder's delta query (a full listing of the folder).
    public var isFullListing: Bool { resynchronised || pages == 0 && current == initialURL }

    /// The first request.
    public func start() -> Action { .get(current) }

    /// A page arrived for the last request.
    public mutating func received(_ page: GraphDeltaPage) throws -> Action {
        pages += 1
        items += page.items
        if let next = page.nextLink {
            guard pages < maxPages else {
                throw ExchangeError(.malformedResponse, message: "Graph's delta query went on for more than \(maxPages) pages")
            }
            guard next != current else {
                throw ExchangeError(.malformedResponse, message: "Graph's delta page links to itself")
            }
            current = next
            return .get(next)
        }
        // parse() makes sure one of the two links is there.
        return .done(items: items, deltaLink: page.deltaLink ?? current, resynchronised: resynchronised)
    }

    /// The last request answered 410 `syncStateNotFound`: start again from the folder's delta query.
    /// A 410 on the folder's own query means the server cannot synchronise at all: that is thrown.
    public mutating func syncStateExpired() throws -> Action {
        if resynchronised || current == initialURL {
            throw ExchangeError(.syncStateExpired, status: 410, message: "Graph refused the folder's own delta query as expired")
        }
        resynchronised = true
        items = []
        current = initialURL
        return .get(initialURL)
    }

    /// What was collected: the last entry for each id wins, removed ones dropped, order of first appearance kept.
    public static func created(_ items: [GraphDeltaItem]) -> [GraphDeltaItem] {
        var last: [String: GraphDeltaItem] = [:]
        var order: [String] = []
        for item in items {
            if last[item.id] == nil { order.append(item.id) }
            last[item.id] = item
        }
        return order.compactMap { last[$0] }.filter { !$0.removed }
    }
}

/// Graph's error answers (`{"error": {"code", "message"}}`) sorted into ``ExchangeError/Kind``;
/// the table is in EXCHANGE.md.
public enum GraphErrors {
    /// Codes whose kind does not follow from the status alone.
    static let codes: [String: ExchangeError.Kind] = [
        "InvalidAuthenticationToken": .unauthorized, "AuthenticationError": .unauthorized, "ErrorInvalidToken": .unauthorized,
        "ErrorAccessDenied": .accessDenied, "Authorization_RequestDenied": .accessDenied, "AccessDenied": .accessDenied,
        "ErrorSendAsDenied": .accessDenied, "MailboxNotEnabledForRESTAPI": .mailboxNotFound,
        "ErrorInvalidUser": .mailboxNotFound, "ResourceNotFound": .mailboxNotFound, "ErrorNonExistentMailbox": .mailboxNotFound,
        "ErrorItemNotFound": .itemNotFound,
        "syncStateNotFound": .syncStateExpired, "SyncStateNotFound": .syncStateExpired, "resyncRequired": .syncStateExpired,
        "SyncStateInvalid": .syncStateExpired,
        "TooManyRequests": .rateLimited, "ApplicationThrottled": .rateLimited, "MailboxConcurrency": .rateLimited,
        "ErrorServerBusy": .rateLimited,
        "ErrorInvalidRecipients": .invalidRecipient, "ErrorInvalidRecipient": .invalidRecipient,
        "ErrorMessageSizeExceeded": .tooLarge, "RequestEntityTooLarge": .tooLarge,
        "ErrorQuotaExceeded": .invalidRequest,
        "ErrorMimeContentInvalidBase64String": .invalidRequest, "ErrorMimeContentInvalid": .invalidRequest,
        "ErrorInvalidIdMalformed": .invalidRequest, "ErrorInvalidRequest": .invalidRequest, "BadRequest": .invalidRequest,
        "ErrorInvalidUrlQuery": .invalidRequest,
        "generalException": .serverError, "UnknownError": .serverError, "serviceNotAvailable": .serverError,
    ]

    private struct Wire: Decodable {
        struct Body: Decodable { var code: String?; var message: String? }
        var error: Body?
    }

    /// The error for a non-2xx answer. `retryAfter` is the Retry-After header's value, if any.
    public static func error(status: Int, body: [UInt8], retryAfter: String?) -> ExchangeError {
        let wire = try? JSONDecoder().decode(Wire.self, from: Data(body.prefix(65_536)))
        let code = wire?.error?.code
        let message = wire?.error?.message ?? "Graph answered HTTP \(status)"
        let wait = retryAfter.flatMap(parseRetryAfter)
        var kind: ExchangeError.Kind
        switch status {
        case 401: kind = .unauthorized
        case 403: kind = .accessDenied
        case 404: kind = .itemNotFound
        case 410: kind = .syncStateExpired
        case 413: kind = .tooLarge
        case 429: kind = .rateLimited
        case 503, 509: kind = wait != nil ? .rateLimited : .serverError
        case 400..<500: kind = .invalidRequest
        case 500..<600: kind = .serverError
        default: kind = .other
        }
        // The status decides first where it is unambiguous; within 4xx/5xx the code says more.
        if let code, let mapped = codes[code], ![401, 429, 410].contains(status) {
            if !(mapped == .serverError && kind == .rateLimited) { kind = mapped }
        }
        return ExchangeError(kind, code: code, status: status, message: message, retryAfter: kind == .rateLimited ? (wait ?? .seconds(1)) : wait)
    }

    /// Retry-After in seconds (an HTTP date is read as "a minute", rather than trusting clocks).
    public static func parseRetryAfter(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return .seconds(min(seconds, 3_600)) }
        return trimmed.isEmpty ? nil : .seconds(60)
    }
}
