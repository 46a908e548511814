/// An EHLO keyword. Servers add their own, so this is open.
public struct SMTPExtension: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var keyword: String
    public init(_ keyword: String) { self.keyword = keyword.uppercased() }
    public init(stringLiteral value: String) { self.init(value) }
    public var description: String { keyword }

    public static let pipelining: Self = "PIPELINING"
    public static let size: Self = "SIZE"
    public static let eightBitMIME: Self = "8BITMIME"
    public static let smtpUTF8: Self = "SMTPUTF8"
    public static let enhancedStatusCodes: Self = "ENHANCEDSTATUSCODES"
    public static let startTLS: Self = "STARTTLS"
    public static let auth: Self = "AUTH"
    public static let chunking: Self = "CHUNKING"
    public static let dsn: Self = "DSN"
}

/// What the server announced in its EHLO reply.
public struct SMTPCapabilities: Sendable, Hashable, Codable {
    /// Keyword to its parameters.
    public var extensions: [SMTPExtension: [String]]
    /// True when the server only answered HELO.
    public var isESMTP: Bool

    public init(extensions: [SMTPExtension: [String]] = [:], isESMTP: Bool = true) {
        self.extensions = extensions
        self.isESMTP = isESMTP
    }

    /// From an EHLO reply: the first line is the greeting, each later line `keyword *(SP param)`.
    /// ```
    /// ehlo-ok-rsp = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
    ///             / ( "250-" Domain [ SP ehlo-greet ] CRLF
    ///                 *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF )
    /// ehlo-line   = ehlo-keyword *( SP ehlo-param )
    /// ```
    public init(ehloReply: SMTPReply) {
        var extensions: [SMTPExtension: [String]] = [:]
        for line in ehloReply.lines.dropFirst() {
            // Old servers write "AUTH=PLAIN LOGIN"; treat "=" like a space after the keyword.
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "=" }).map(String.init)
            guard let keyword = parts.first, !keyword.isEmpty else { continue }
            let ext = SMTPExtension(keyword)
            extensions[ext, default: []] += parts.dropFirst()
        }
        self.init(extensions: extensions, isESMTP: true)
    }

    public func supports(_ ext: SMTPExtension) -> Bool { extensions[ext] != nil }

    /// SIZE limit in bytes; nil when absent or 0 (no fixed limit).
    public var maximumMessageSize: Int? {
        guard let param = extensions[.size]?.first, let value = Int(param), value > 0 else { return nil }
        return value
    }

    public var authMechanisms: Set<String> {
        Set((extensions[.auth] ?? []).map { $0.uppercased() })
    }
}
