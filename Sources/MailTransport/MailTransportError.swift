/// RFC 3463 enhanced status code: `class.subject.detail`, e.g. `5.1.1`.
public struct EnhancedStatusCode: Sendable, Hashable, Codable, CustomStringConvertible {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    public var statusClass: Int
    public var subject: Int
    public var detail: Int

    public init(statusClass: Int, subject: Int, detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// Parses `class "." subject "." detail` at the start of `text`
    /// (RFC 3463: class = "2"/"4"/"5", subject = 1*3digit, detail = 1*3digit),
    /// returning the code and the text after it (one following space removed).
    public static func parse(prefixOf text: Substring) -> (EnhancedStatusCode, Substring)? {
        let utf8 = Array(text.utf8)
        var i = 0
        func number(max: Int) -> Int? {
            var value = 0
            var digits = 0
            while i < utf8.count, utf8[i] >= 0x30, utf8[i] <= 0x39, digits < max {
                value = value * 10 + Int(utf8[i] - 0x30)
                digits += 1
                i += 1
            }
            return digits == 0 ? nil : value
        }
        guard let cls = number(max: 1), [2, 4, 5].contains(cls), i < utf8.count, utf8[i] == UInt8(ascii: ".") else { return nil }
        i += 1
        guard let subject = number(max: 3), i < utf8.count, utf8[i] == UInt8(ascii: ".") else { return nil }
        i += 1
        guard let detail = number(max: 3) else { return nil }
        if i < utf8.count, utf8[i] != UInt8(ascii: " ") { return nil }
        if i < utf8.count { i += 1 }
        let rest = text.utf8.index(text.startIndex, offsetBy: i)
        return (EnhancedStatusCode(statusClass: cls, subject: subject, detail: detail), text[rest...])
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }

    public var isPermanent: Bool { statusClass == 5 }
    public var isTransient: Bool { statusClass == 4 }
}

/// Why a TLS handshake failed, as far as it can be told.
public struct TLSFailureReason: Sendable, Hashable, Codable, CustomStringConvertible {
    public var code: String
    public var message: String

    public static let expired = TLSFailureReason(code: "expired", message: "the server's certificate has expired")
    public static let notYetValid = TLSFailureReason(code: "notYetValid", message: "the server's certificate is not valid yet")
    public static let selfSigned = TLSFailureReason(code: "selfSigned", message: "the server's certificate is self-signed (turn on \"accept any certificate\" only if you trust this server)")
    public static let untrustedIssuer = TLSFailureReason(code: "untrustedIssuer", message: "the server's certificate is not issued by a trusted authority")
    public static let wrongHost = TLSFailureReason(code: "wrongHost", message: "the server's certificate is for another host name")
    public static func handshake(_ detail: String) -> TLSFailureReason {
        TLSFailureReason(code: "handshake", message: "TLS handshake failed: \(detail)")
    }

    public var description: String { message }
}

/// An error from connecting to or talking with a mail server. Descriptions name the host, the
/// step and the server's text, never credentials or message bodies.
public struct MailTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case unknownHost
        case connectionRefused
        case connectionFailed
        case timeout
        case tls
        case authenticationFailed
        case protocolError
        case serverReply
        case connectionClosed
        case limitExceeded
        case unsupported
    }

    public var kind: Kind
    /// The step that failed, e.g. "connect", "TLS handshake", "AUTH PLAIN", "UID FETCH".
    public var step: String?
    /// Human-readable detail (the server's text for replies and authentication failures).
    public var message: String
    /// SMTP/POP3/IMAP reply code where there is one (SMTP: 3 digits).
    public var replyCode: Int?
    public var enhancedStatus: EnhancedStatusCode?
    public var tlsReason: TLSFailureReason?

    public init(kind: Kind, step: String? = nil, message: String, replyCode: Int? = nil, enhancedStatus: EnhancedStatusCode? = nil, tlsReason: TLSFailureReason? = nil) {
        self.kind = kind
        self.step = step
        self.message = message
        self.replyCode = replyCode
        self.enhancedStatus = enhancedStatus
        self.tlsReason = tlsReason
    }

    public static func unknownHost(_ host: String) -> Self {
        Self(kind: .unknownHost, step: "resolve", message: "unknown host \(host)")
    }
    public static func connectionRefused(_ host: String, _ port: Int) -> Self {
        Self(kind: .connectionRefused, step: "connect", message: "connection refused by \(host):\(port)")
    }
    public static func connectionFailed(_ host: String, _ port: Int, _ detail: String) -> Self {
        Self(kind: .connectionFailed, step: "connect", message: "cannot connect to \(host):\(port): \(detail)")
    }
    public static func timeout(step: String, after: Duration) -> Self {
        Self(kind: .timeout, step: step, message: "no answer within \(after) during \(step)")
    }
    public static func tls(_ reason: TLSFailureReason) -> Self {
        Self(kind: .tls, step: "TLS handshake", message: reason.message, tlsReason: reason)
    }
    public static func authenticationFailed(step: String, serverText: String) -> Self {
        Self(kind: .authenticationFailed, step: step, message: "authentication failed: \(serverText)")
    }
    public static func protocolError(_ detail: String, step: String? = nil) -> Self {
        Self(kind: .protocolError, step: step, message: "protocol error: \(detail)")
    }
    public static func serverReply(step: String, code: Int?, enhanced: EnhancedStatusCode?, text: String) -> Self {
        Self(kind: .serverReply, step: step, message: text, replyCode: code, enhancedStatus: enhanced)
    }
    public static func connectionClosed(step: String?) -> Self {
        Self(kind: .connectionClosed, step: step, message: "the server closed the connection" + (step.map { " during \($0)" } ?? ""))
    }
    public static func limitExceeded(_ detail: String) -> Self {
        Self(kind: .limitExceeded, message: "limit exceeded: \(detail)")
    }
    public static func unsupported(_ detail: String, step: String? = nil) -> Self {
        Self(kind: .unsupported, step: step, message: detail)
    }

    public var description: String {
        var parts = ["MailTransportError.\(kind.rawValue)"]
        if let step { parts.append("step: \(step)") }
        if let replyCode { parts.append("code: \(replyCode)") }
        if let enhancedStatus { parts.append("status: \(enhancedStatus)") }
        parts.append(message)
        return parts.joined(separator: ", ")
    }
}
