import MailTransport
import NIOCore

/// A single-line POP3 status response.
///
/// RFC 1939 3: `+OK` / `-ERR` followed by text; RFC 2449 8: an optional response code
/// `"[" resp-code "]"` at the start of the text (`IN-USE`, `LOGIN-DELAY`, `AUTH`, `SYS/TEMP`, ...).
public struct POP3Response: Sendable, Hashable, CustomStringConvertible {
    public enum Status: Sendable, Hashable { case ok, err, continuation }
    public var status: Status
    public var code: String?
    public var text: String

    public var isOK: Bool { status == .ok }

    public var description: String {
        let s = status == .ok ? "+OK" : status == .err ? "-ERR" : "+"
        return s + (code.map { " [\($0)]" } ?? "") + (text.isEmpty ? "" : " \(text)")
    }

    /// ```
    /// single-line = status [SP text] CRLF
    /// status      = "+OK" / "-ERR"
    /// resp-code   = "[" resp-level *("/" resp-level) "]"   (RFC 2449)
    /// continue    = "+" SP base64 / "+"                    (RFC 5034 AUTH)
    /// ```
    public static func parse(_ line: ByteBuffer) throws -> POP3Response {
        let text = String(buffer: line)
        let status: Status
        var rest: Substring
        if text.hasPrefix("+OK") {
            status = .ok
            rest = text.dropFirst(3)
        } else if text.hasPrefix("-ERR") {
            status = .err
            rest = text.dropFirst(4)
        } else if text.hasPrefix("+") {
            status = .continuation
            rest = text.dropFirst(1)
        } else {
            throw MailTransportError.protocolError("not a POP3 status line: \(String(text.prefix(60)).debugDescription)")
        }
        if rest.first == " " { rest = rest.dropFirst() }
        var code: String?
        if status != .continuation, rest.first == "[", let close = rest.firstIndex(of: "]") {
            code = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if rest.first == " " { rest = rest.dropFirst() }
        }
        return POP3Response(status: status, code: code, text: String(rest))
    }

    func error(step: String) -> MailTransportError {
        .serverReply(step: step, code: nil, enhanced: nil, text: description)
    }
}

/// Undoes the byte-stuffing of a multi-line response and finds its end (RFC 1939 3):
/// a line starting with "." has it removed; a line that is only "." ends the response.
/// Works on chunks of any size, keeping CRLFs in the content.
public struct POP3DotDecoder: Sendable {
    private enum State: Sendable { case lineStart, dot, dotCR, middle }
    private var state = State.lineStart
    public private(set) var isFinished = false

    public init() {}

    /// Decodes from `input` (consuming what belongs to this response) into `output`.
    public mutating func decode(_ input: inout ByteBuffer, into output: inout ByteBuffer) {
        while !isFinished, input.readableBytes > 0 {
            switch state {
            case .lineStart:
                let b = input.getInteger(at: input.readerIndex, as: UInt8.self)!
                if b == UInt8(ascii: ".") {
                    input.moveReaderIndex(forwardBy: 1)
                    state = .dot
                } else {
                    state = .middle
                }
            case .dot:
                let b = input.readInteger(as: UInt8.self)!
                switch b {
                case 13: state = .dotCR
                case 10: isFinished = true
                default:
                    output.writeInteger(b)
                    state = .middle
                }
            case .dotCR:
                let b = input.getInteger(at: input.readerIndex, as: UInt8.self)!
                if b == 10 {
                    input.moveReaderIndex(forwardBy: 1)
                    isFinished = true
                } else {
                    output.writeInteger(UInt8(13))
                    state = .middle
                }
            case .middle:
                let view = input.readableBytesView
                if let lf = view.firstIndex(of: 10) {
                    let n = lf - view.startIndex + 1
                    var slice = input.readSlice(length: n)!
                    output.writeBuffer(&slice)
                    state = .lineStart
                } else {
                    output.writeBuffer(&input)
                }
            }
        }
    }
}

/// What CAPA announced (RFC 2449). Open-ended.
public struct POP3Capability: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var name: String
    public init(_ name: String) { self.name = name.uppercased() }
    public init(stringLiteral value: String) { self.init(value) }
    public var description: String { name }

    public static let top: Self = "TOP"
    public static let uidl: Self = "UIDL"
    public static let user: Self = "USER"
    public static let stls: Self = "STLS"
    public static let sasl: Self = "SASL"
    public static let pipelining: Self = "PIPELINING"
    public static let respCodes: Self = "RESP-CODES"
}

public struct POP3Capabilities: Sendable, Hashable {
    public var entries: [POP3Capability: [String]] = [:]
    public init() {}

    /// One capability per line: `capa-tag *(SP param)`.
    public init(lines: [String]) {
        for line in lines {
            let parts = line.split(separator: " ").map(String.init)
            guard let first = parts.first else { continue }
            entries[POP3Capability(first), default: []] += parts.dropFirst()
        }
    }

    public func supports(_ capability: POP3Capability) -> Bool { entries[capability] != nil }
    public var saslMechanisms: Set<String> { Set((entries[.sasl] ?? []).map { $0.uppercased() }) }
}
