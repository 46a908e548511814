/// What went wrong talking to Microsoft Graph or EWS, in kinds that decide what happens next
/// (wait and retry, refresh the token once, start the sync over, give up on one item). The
/// description never carries a token, a password or message content: only the server's error code
/// and its message, cut short.
public struct ExchangeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// 429/503 with Retry-After, or EWS ErrorServerBusy with BackOffMilliseconds.
        case rateLimited
        /// The token or password was refused (401, or a 403 that says so).
        case unauthorized
        /// The mailbox exists but this identity may not open it.
        case accessDenied
        /// The mailbox (user) or folder is not there.
        case mailboxNotFound
        /// The item is gone (deleted or moved between the sync and the fetch).
        case itemNotFound
        /// The delta token or sync state is no longer known: synchronise again from the start.
        case syncStateExpired
        /// The server refused what was sent (bad MIME, bad recipient, bad request).
        case invalidRequest
        /// A recipient was refused.
        case invalidRecipient
        /// The message is too large for the server.
        case tooLarge
        /// The server failed (5xx, a SOAP fault of its own).
        case serverError
        /// The answer could not be read (malformed JSON or XML, cut off).
        case malformedResponse
        /// No connection, or it broke, or no answer in time.
        case connection
        /// The host name does not resolve.
        case unknownHost
        /// Anything else the server said.
        case other
    }

    public var kind: Kind
    /// The server's own error code (Graph `error.code`, EWS `ResponseCode` or fault code), if any.
    public var code: String?
    /// HTTP status, when there was one.
    public var status: Int?
    /// A sentence for an administrator.
    public var message: String
    /// How long the server asked to wait (Retry-After, BackOffMilliseconds).
    public var retryAfter: Duration?
    /// For `connection` errors: what happened to the connection, when known.
    public var transport: Transport?

    public enum Transport: String, Sendable, Equatable {
        case refused, timedOut, closed, tls
    }

    public init(_ kind: Kind, code: String? = nil, status: Int? = nil, message: String, retryAfter: Duration? = nil) {
        self.kind = kind
        self.code = code
        self.status = status
        self.message = String(message.prefix(400))
        self.retryAfter = retryAfter
    }

    public var description: String {
        var parts: [String] = []
        if let status { parts.append("HTTP \(status)") }
        if let code { parts.append(code) }
        let head = parts.isEmpty ? "" : "(\(parts.joined(separator: " "))) "
        var text = "\(head)\(message)"
        if let retryAfter { text += " (retry after \(retryAfter.components.seconds) s)" }
        return text
    }
}

/// One message's raw MIME as downloaded, or why there is none.
public enum ExchangeDownload: Sendable, Equatable {
    case message([UInt8])
    /// Gone between the sync and the download.
    case vanished
    /// Larger than the limit (its size when the server said), with a header section made from
    /// its summary (subject, sender, Message-ID) when one could be read, for the quarantine's list.
    case tooLarge(size: Int?, header: [UInt8] = [])
}

/// A header section standing in for a message too large to download: enough for a person to
/// recognise it in the quarantine. Line breaks in the values are dropped (no header injection).
public enum SummaryHeader {
    public static func make(subject: String?, fromName: String?, fromAddress: String?, messageId: String?) -> [UInt8] {
        func clean(_ text: String) -> String {
            String(text.unicodeScalars.filter { $0 != "\r" && $0 != "\n" && $0 != "\0" }.prefix(998))
        }
        var lines: [String] = []
        if let fromAddress, !fromAddress.isEmpty {
            let name = fromName.map(clean).flatMap { $0.isEmpty || $0 == fromAddress ? nil : $0 }
            lines.append("From: " + (name.map { "\"\($0.replacingOccurrences(of: "\"", with: ""))\" <\(clean(fromAddress))>" } ?? clean(fromAddress)))
        }
        if let subject { lines.append("Subject: \(clean(subject))") }
        if let messageId, !messageId.isEmpty { lines.append("Message-ID: \(clean(messageId))") }
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }
}
