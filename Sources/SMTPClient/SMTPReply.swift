import MailTransport
import NIOCore

/// One SMTP reply: code, optional RFC 3463 enhanced status code, and text lines.
public struct SMTPReply: Sendable, Hashable, Codable, CustomStringConvertible {
    public var code: Int
    public var enhancedStatus: EnhancedStatusCode?
    /// Text of each line, with the enhanced status code removed.
    public var lines: [String]

    public init(code: Int, enhancedStatus: EnhancedStatusCode? = nil, lines: [String]) {
        self.code = code
        self.enhancedStatus = enhancedStatus
        self.lines = lines
    }

    public var text: String { lines.joined(separator: " ") }
    public var isPositiveCompletion: Bool { (200..<300).contains(code) }
    public var isPositiveIntermediate: Bool { (300..<400).contains(code) }
    public var isTransientFailure: Bool { (400..<500).contains(code) }
    public var isPermanentFailure: Bool { (500..<600).contains(code) }

    public var description: String {
        "\(code)" + (enhancedStatus.map { " \($0)" } ?? "") + (lines.isEmpty ? "" : " \(text)")
    }

    func error(step: String) -> MailTransportError {
        .serverReply(step: step, code: code, enhanced: enhancedStatus, text: description)
    }
}

/// Assembles replies from lines.
///
/// RFC 5321 4.2:
/// ```
/// Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
///                  Reply-code [ SP textstring ] CRLF
/// Reply-code     = %x32-35 %x30-35 %x30-39
/// textstring     = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII
/// ```
/// Servers send UTF-8 and over-long text in practice; both are accepted within the limits.
public struct SMTPReplyParser: Sendable {
    public var maxLinesPerReply: Int
    private var pendingCode: Int?
    private var pendingLines: [String] = []

    public init(maxLinesPerReply: Int = 200) {
        self.maxLinesPerReply = maxLinesPerReply
    }

    /// Feeds one line (without CRLF). Returns a reply when this line completes one.
    public mutating func parse(line: ByteBuffer) throws -> SMTPReply? {
        let bytes = line.readableBytesView
        guard bytes.count >= 3 else { throw MailTransportError.protocolError("short SMTP reply line") }
        var code = 0
        for b in bytes.prefix(3) {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else {
                throw MailTransportError.protocolError("SMTP reply without a code: \(String(decoding: bytes.prefix(40), as: UTF8.self))")
            }
            code = code * 10 + Int(b - UInt8(ascii: "0"))
        }
        guard (200..<600).contains(code) else { throw MailTransportError.protocolError("SMTP reply code \(code) out of range") }
        var isLast = true
        var textStart = bytes.startIndex + 3
        if bytes.count > 3 {
            switch bytes[textStart] {
            case UInt8(ascii: "-"): isLast = false
            case UInt8(ascii: " "): break
            default: throw MailTransportError.protocolError("SMTP reply code not followed by space or hyphen")
            }
            textStart += 1
        }
        if let pendingCode, pendingCode != code {
            throw MailTransportError.protocolError("SMTP multi-line reply changed code from \(pendingCode) to \(code)")
        }
        pendingCode = code
        pendingLines.append(String(decoding: bytes[textStart...], as: UTF8.self))
        if pendingLines.count > maxLinesPerReply { throw MailTransportError.limitExceeded("SMTP reply longer than \(maxLinesPerReply) lines") }
        guard isLast else { return nil }
        defer {
            self.pendingCode = nil
            self.pendingLines = []
        }
        return Self.makeReply(code: code, lines: pendingLines)
    }

    static func makeReply(code: Int, lines: [String]) -> SMTPReply {
        // The enhanced code, when present, starts every line (RFC 2034); take it from the first
        // and strip it from every line that carries it.
        var enhanced: EnhancedStatusCode?
        var texts: [String] = []
        for line in lines {
            if let (status, rest) = EnhancedStatusCode.parse(prefixOf: Substring(line)),
               status.statusClass == code / 100 {
                if enhanced == nil { enhanced = status }
                texts.append(String(rest))
            } else {
                texts.append(line)
            }
        }
        return SMTPReply(code: code, enhancedStatus: enhanced, lines: texts)
    }
}
