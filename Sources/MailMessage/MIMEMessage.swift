import Foundation

/// A parsed message: the raw bytes kept once, the entity tree as ranges into them, and typed
/// accessors for the fields a help desk needs. Parsing never fails; what had to be repaired or
/// skipped is listed in `warnings`.
public struct MIMEMessage: Sendable {
    /// The message exactly as received.
    public let raw: [UInt8]
    /// Decoded bodies of message/rfc822 parts that were sent base64 or quoted-printable
    /// encoded; the entities inside such a part index these (`MIMEPart.buffer`). Empty for
    /// almost all mail.
    public let decodedBuffers: [[UInt8]]
    /// All entities in pre-order; `parts[0]` is the message itself and always exists.
    public let parts: [MIMEPart]
    /// Repairs made while parsing the structure (header-level and charset warnings are added
    /// by the accessors that decode them, see `MessageSummary`).
    public let warnings: [ParseWarning]
    public let options: ParseOptions

    public init(parsing bytes: [UInt8], options: ParseOptions = .default) {
        var parser = MIMEParser(options: options)
        bytes.withUnsafeBufferPointer { parser.parse($0) }
        self.raw = bytes
        self.decodedBuffers = parser.decodedBuffers
        self.parts = parser.parts
        self.warnings = parser.warnings
        self.options = options
    }

    public init(parsing text: String, options: ParseOptions = .default) {
        self.init(parsing: Array(text.utf8), options: options)
    }

    /// Reads and parses a file (`-` is not special here; see `MessageFile`).
    public init(contentsOfFile path: String, options: ParseOptions = .default) throws {
        self.init(parsing: try MessageFile.read(path: path), options: options)
    }

    public var root: MIMEPart { parts[0] }
    public var headers: HeaderFields { root.headers }

    public func part(_ index: Int) throws -> MIMEPart {
        guard parts.indices.contains(index) else { throw MailMessageError.notAPart(index) }
        return parts[index]
    }

    // MARK: Typed header fields of the top-level message

    public var subject: String? { headers["subject"] }
    public var from: [Mailbox] { mailboxes("from") }
    public var sender: [Mailbox] { mailboxes("sender") }
    public var replyTo: [Mailbox] { mailboxes("reply-to") }
    public var to: [Mailbox] { mailboxes("to") }
    public var cc: [Mailbox] { mailboxes("cc") }
    public var bcc: [Mailbox] { mailboxes("bcc") }
    public var messageID: String? { headers.first(named: "message-id").flatMap { MessageIDParser.parseFirst($0.rawValue[...]) } }
    public var inReplyTo: [String] { headers.first(named: "in-reply-to").map { MessageIDParser.parseList($0.rawValue[...]) } ?? [] }
    public var references: [String] { headers.first(named: "references").map { MessageIDParser.parseList($0.rawValue[...]) } ?? [] }
    public var date: Date? { headers.first(named: "date").flatMap { DateParser.parse($0.rawValue[...]) } }
    public var autoReplySignals: AutoReplySignals { AutoReplySignals(headers: headers) }

    /// Every mailbox of every field with this name (some mailers repeat To and Cc).
    public func mailboxes(_ fieldName: String) -> [Mailbox] {
        let name = fieldName.asciiLowercased
        var result: [Mailbox] = []
        for index in headers.fields.indices where headers.fields[index].lowercasedName == name {
            result += AddressParser.mailboxes(headers.fields[index].rawValue[...])
        }
        return result
    }

    // MARK: Bodies

    /// The buffer a part's ranges index: `raw`, or a decoded embedded message.
    public func bytes(of part: MIMEPart) -> [UInt8] {
        part.buffer == 0 || !decodedBuffers.indices.contains(part.buffer - 1) ? raw : decodedBuffers[part.buffer - 1]
    }

    /// The decoded (transfer encoding removed) body of a part, in memory. For large
    /// attachments prefer `decodeBody(of:into:)`.
    public func decodedBody(of part: MIMEPart) -> [UInt8] {
        let encoded = bytes(of: part)[part.bodyRange]
        switch part.transferEncoding {
        case .base64: return Base64Decoder.decode(encoded)
        case .quotedPrintable: return QuotedPrintable.decode(encoded)
        default:
            if part.transferEncoding.isUUEncode { return UUDecoder.decode(encoded) }
            return Array(encoded)
        }
    }

    /// A text part's content as a string: transfer encoding removed, charset decoded with the
    /// fallbacks of `TextDecoding`, line ends normalised to LF.
    public func text(of part: MIMEPart) -> String {
        textWithWarnings(of: part).text
    }

    func textWithWarnings(of part: MIMEPart) -> (text: String, warnings: [ParseWarning]) {
        var bytes = decodedBody(of: part)
        let label = part.contentType.charset
        let charset = label.flatMap { Charset(label: $0) }
        if charset?.isASCIICompatible ?? true { bytes = Self.normalizingLineEnds(bytes) }
        let result = TextDecoding.decode(bytes, declaredLabel: label, isHTML: part.mediaType.subtype == "html")
        if result.charset.isASCIICompatible { return (result.text, result.warnings) }
        return (result.text.replacingOccurrences(of: "\r\n", with: "\n"), result.warnings)
    }

    /// CRLF and lone CR become LF, so text bodies read the same whatever the transport did.
    static func normalizingLineEnds(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(ASCII.cr) else { return bytes }
        return bytes.withUnsafeBufferPointer { input in
            [UInt8](unsafeUninitializedCapacity: input.count) { output, initializedCount in
                guard let source = input.baseAddress, let target = output.baseAddress else { return }
                var written = 0
                var index = 0
                let count = input.count
                // Copy runs between CRs in bulk; only the CRs need looking at.
                while index < count {
                    let runEnd = indexOfByte(ASCII.cr, in: input, from: index, to: count) ?? count
                    if runEnd > index {
                        (target + written).initialize(from: source + index, count: runEnd - index)
                        written += runEnd - index
                    }
                    guard runEnd < count else { break }
                    target[written] = ASCII.lf
                    written += 1
                    index = runEnd + 1
                    if index < count, source[index] == ASCII.lf { index += 1 }
                }
                initializedCount = written
            }
        }
    }

    /// The message inside a message/rfc822 part, as its own `MIMEMessage` (a copy of that
    /// range), or nil if the part is not a parsed embedded message.
    public func embeddedMessage(in part: MIMEPart) -> MIMEMessage? {
        guard part.mediaType.isEmbeddedMessage, let child = part.childIndices.first, parts.indices.contains(child) else { return nil }
        return MIMEMessage(parsing: Array(bytes(of: parts[child])[parts[child].entityRange]), options: options)
    }
}

/// Reading whole messages from files and standard input into one buffer.
public enum MessageFile {
    public static func read(path: String, limit: Int = Int.max) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw MailMessageError.unreadableFile(path, reason: "it is a directory")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied or not a regular file" : "no such file"
            throw MailMessageError.unreadableFile(path, reason: reason)
        }
        defer { try? handle.close() }
        return try read(handle, name: path, limit: limit)
    }

    public static func readStandardInput(limit: Int = Int.max) throws -> [UInt8] {
        try read(FileHandle.standardInput, name: "standard input", limit: limit)
    }

    private static func read(_ handle: FileHandle, name: String, limit: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            let chunk: Data?
            do {
                chunk = try handle.read(upToCount: 1 << 20)
            } catch {
                throw MailMessageError.unreadableFile(name, reason: "\(error.localizedDescription)")
            }
            guard let chunk, !chunk.isEmpty else { break }
            bytes.append(contentsOf: chunk)
            if bytes.count > limit { throw MailMessageError.fileTooLarge(name, limit: limit) }
        }
        return bytes
    }
}

/// uuencode survives in some old mailers' attachments (`Content-Transfer-Encoding:
/// x-uuencode`); lines between `begin` and `end` carry a length character and 4-to-3 groups.
enum UUDecoder {
    static func decode(_ input: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        for line in input.split(separator: ASCII.lf) {
            let trimmed = line.last == ASCII.cr ? line.dropLast() : line
            guard let first = trimmed.first else { continue }
            if trimmed.hasPrefixIgnoringCase("begin ") || trimmed.equalsIgnoringCase("end") { continue }
            let length = Int((first &- 0x20) & 0x3F)
            if length == 0 { continue }
            var group: [UInt8] = []
            var produced = 0
            for byte in trimmed.dropFirst() {
                group.append((byte &- 0x20) & 0x3F)
                if group.count == 4 {
                    for value in [group[0] << 2 | group[1] >> 4, group[1] << 4 | group[2] >> 2, group[2] << 6 | group[3]] where produced < length {
                        output.append(value)
                        produced += 1
                    }
                    group.removeAll(keepingCapacity: true)
                }
            }
        }
        return output
    }
}
