import MailTransport
import NIOCore

/// Turns the server's byte stream into ``IMAPResponseEvent``s.
///
/// FETCH responses are not assembled whole: their attributes come one by one and message
/// literals (`BODY[...] {n}`) are handed out as byte chunks as they arrive, so a 50 MB message
/// never sits in memory. `next()` returns nil when it needs more bytes and throws
/// ``MailTransportError`` (`.protocolError` / `.limitExceeded`) for invalid input.
public struct IMAPResponseDecoder: Sendable {
    public var options: IMAPParserOptions

    private enum State: Sendable {
        case response
        case fetch(first: Bool)
        case section(remaining: Int)
    }

    private var buffer = ByteBuffer()
    private var state = State.response
    private var pending: [IMAPResponseEvent] = []
    private var window = 1024

    public init(options: IMAPParserOptions = IMAPParserOptions()) {
        self.options = options
    }

    public var bufferedByteCount: Int { buffer.readableBytes }

    public mutating func append(_ bytes: ByteBuffer) {
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }
    }

    /// True between `fetchStart` and `fetchEnd`.
    public var isInsideFetch: Bool {
        if case .response = state { return false }
        return true
    }

    public mutating func next() throws -> IMAPResponseEvent? {
        if !pending.isEmpty { return pending.removeFirst() }
        switch state {
        case .section(let remaining):
            if remaining == 0 {
                state = .fetch(first: false)
                return .sectionEnd
            }
            guard buffer.readableBytes > 0 else { return nil }
            let n = min(remaining, buffer.readableBytes)
            let slice = buffer.readSlice(length: n)!
            state = .section(remaining: remaining - n)
            if buffer.readableBytes == 0 { buffer.clear() }
            return .sectionBytes(slice)
        case .response:
            return try attempt { c in try Self.responseOrFetchStart(&c) }.map { result in
                switch result {
                case .response(let r): return .response(r)
                case .fetchStart(let seq):
                    state = .fetch(first: true)
                    return .fetchStart(sequence: seq)
                }
            }
        case .fetch(let first):
            let options = self.options
            guard let step = try attempt({ c in try Self.fetchStep(&c, first: first, options: options) }) else { return nil }
            switch step {
            case .end:
                state = .response
                return .fetchEnd
            case .attribute(let a):
                state = .fetch(first: false)
                return .fetchAttribute(a)
            case .literalSection(let section, let size):
                state = .section(remaining: size)
                return .sectionStart(section: section, size: size)
            case .inlineSection(let section, let bytes):
                state = .fetch(first: false)
                if let bytes {
                    if !bytes.isEmpty { pending.append(.sectionBytes(ByteBuffer(bytes: bytes))) }
                    pending.append(.sectionEnd)
                    return .sectionStart(section: section, size: bytes.count)
                }
                pending.append(.sectionEnd)
                return .sectionStart(section: section, size: nil)
            }
        }
    }

    /// Runs a grammar function on a growing window of the buffer; consumes what it parsed.
    private mutating func attempt<T>(_ body: (inout IMAPCursor) throws -> T) throws -> T? {
        while true {
            let readable = buffer.readableBytes
            guard readable > 0 else { return nil }
            let n = min(window, readable)
            var cursor = IMAPCursor(buffer.getBytes(at: buffer.readerIndex, length: n)!, options: options)
            do {
                let value = try body(&cursor)
                buffer.moveReaderIndex(forwardBy: cursor.index)
                if buffer.readableBytes == 0 { buffer.clear() }
                window = 1024
                return value
            } catch IMAPParseError.incomplete {
                if n >= options.maxLineLength + options.maxInlineLiteralSize {
                    throw MailTransportError.limitExceeded("IMAP response longer than \(options.maxLineLength) bytes")
                }
                if n < readable {
                    window = min(window * 2, options.maxLineLength + options.maxInlineLiteralSize)
                    continue
                }
                return nil
            } catch IMAPParseError.invalid(let message) {
                let preview = String(decoding: buffer.readableBytesView.prefix(80), as: UTF8.self)
                throw MailTransportError.protocolError("\(message) in \(preview.debugDescription)")
            } catch IMAPParseError.limit(let message) {
                throw MailTransportError.limitExceeded(message)
            }
        }
    }

    private enum ResponseOrFetch {
        case response(IMAPResponse)
        case fetchStart(UInt32)
    }

    // message-data = nz-number SP "FETCH" SP msg-att   (only its start: "* " n " FETCH (")
    private static func responseOrFetchStart(_ c: inout IMAPCursor) throws -> ResponseOrFetch {
        if try c.peek() == UInt8(ascii: "*") {
            var probe = c
            probe.index += 1
            if try probe.peek() == UInt8(ascii: " ") {
                probe.index += 1
                let d = try probe.peek()
                if d >= 48, d <= 57 {
                    let seq = try IMAPGrammar.number32(&probe)
                    try probe.expect(UInt8(ascii: " "))
                    if try probe.tryKeyword("FETCH") {
                        try probe.expect(UInt8(ascii: " "))
                        try probe.expect(UInt8(ascii: "("))
                        c = probe
                        return .fetchStart(seq)
                    }
                }
            }
        }
        return .response(try IMAPGrammar.response(&c))
    }

    private enum FetchStep {
        case end
        case attribute(IMAPFetchAttribute)
        case literalSection(String, Int)
        case inlineSection(String, [UInt8]?)
    }

    // msg-att         = "(" (msg-att-dynamic / msg-att-static) *(SP (msg-att-dynamic / msg-att-static)) ")"
    // msg-att-dynamic = "FLAGS" SP "(" [flag-fetch *(SP flag-fetch)] ")"
    // msg-att-static  = "ENVELOPE" SP envelope / "INTERNALDATE" SP date-time /
    //                   "RFC822" [".HEADER" / ".TEXT"] SP nstring / "RFC822.SIZE" SP number /
    //                   "BODY" ["STRUCTURE"] SP body / "BODY" section ["<" number ">"] SP nstring /
    //                   "UID" SP uniqueid
    // (RFC 3516) "BINARY" section-binary SP (nstring / literal8)   (RFC 7162) "MODSEQ" SP "(" mod-sequence-value ")"
    private static func fetchStep(_ c: inout IMAPCursor, first: Bool, options: IMAPParserOptions) throws -> FetchStep {
        try c.skipSpaces()
        if try c.peek() == UInt8(ascii: ")") {
            c.index += 1
            try c.crlf()
            return .end
        }
        let start = c.index
        while true {
            let b = try c.peek()
            if b == UInt8(ascii: " ") || b == UInt8(ascii: "[") || b == UInt8(ascii: ")") || b == 13 || b == 10 { break }
            c.index += 1
            if c.index - start > 64 { throw IMAPParseError.invalid("FETCH attribute name too long") }
        }
        guard c.index > start else { throw IMAPParseError.invalid("expected a FETCH attribute") }
        let name = c.string(start..<c.index).uppercased()
        switch name {
        case "UID":
            try c.expect(UInt8(ascii: " "))
            return .attribute(.uid(try IMAPGrammar.nzNumber(&c)))
        case "FLAGS":
            try c.expect(UInt8(ascii: " "))
            return .attribute(.flags(try IMAPGrammar.flagList(&c)))
        case "RFC822.SIZE":
            try c.expect(UInt8(ascii: " "))
            return .attribute(.rfc822Size(try IMAPGrammar.number(&c)))
        case "INTERNALDATE":
            try c.expect(UInt8(ascii: " "))
            return .attribute(.internalDate(String(decoding: try IMAPGrammar.quoted(&c), as: UTF8.self)))
        case "MODSEQ":
            try c.expect(UInt8(ascii: " "))
            try c.expect(UInt8(ascii: "("))
            let n = try IMAPGrammar.number(&c)
            try c.expect(UInt8(ascii: ")"))
            return .attribute(.modSeq(n))
        case "X-GM-MSGID":
            try c.expect(UInt8(ascii: " "))
            return .attribute(.gmailMessageID(try IMAPGrammar.number(&c)))
        case "X-GM-THRID":
            try c.expect(UInt8(ascii: " "))
            return .attribute(.gmailThreadID(try IMAPGrammar.number(&c)))
        case "RFC822", "RFC822.HEADER", "RFC822.TEXT":
            try c.expect(UInt8(ascii: " "))
            return try sectionValue(&c, section: name, options: options)
        case "BODY", "BINARY":
            if try c.peek() == UInt8(ascii: "[") {
                // section = "[" [section-spec] "]"  ["<" number ">"]
                let sectionStart = c.index
                c.index += 1
                while try c.peek() != UInt8(ascii: "]") {
                    c.index += 1
                    if c.index - sectionStart > 4096 { throw IMAPParseError.invalid("section too long") }
                }
                c.index += 1
                if try c.peek() == UInt8(ascii: "<") {
                    while try c.peek() != UInt8(ascii: ">") { c.index += 1 }
                    c.index += 1
                }
                let section = name + c.string(sectionStart..<c.index)
                try c.expect(UInt8(ascii: " "))
                return try sectionValue(&c, section: section, options: options)
            }
            fallthrough
        default:
            try c.expect(UInt8(ascii: " "))
            return .attribute(.other(name, try IMAPGrammar.genericValue(&c)))
        }
    }

    private static func sectionValue(_ c: inout IMAPCursor, section: String, options: IMAPParserOptions) throws -> FetchStep {
        let b = try c.peek()
        if b == UInt8(ascii: "{") || b == UInt8(ascii: "~") {
            let size = try IMAPGrammar.literalHeader(&c)
            guard size <= options.maxStreamedLiteralSize else {
                throw IMAPParseError.limit("message literal of \(size) bytes exceeds \(options.maxStreamedLiteralSize)")
            }
            return .literalSection(section, size)
        }
        return .inlineSection(section, try IMAPGrammar.nstring(&c))
    }
}
