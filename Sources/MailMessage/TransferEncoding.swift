/// The `Content-Transfer-Encoding` of a part (RFC 2045 section 6). A struct so that unknown
/// tokens survive parsing (and are treated as 8bit) instead of failing.
public struct ContentTransferEncoding: Sendable, Hashable, CustomStringConvertible {
    /// Lowercase token, e.g. `base64`.
    public let name: String

    public init(_ name: some StringProtocol) {
        self.name = String(name).trimming(" \t\"").asciiLowercased
    }

    public static let sevenBit = ContentTransferEncoding("7bit")
    public static let eightBit = ContentTransferEncoding("8bit")
    public static let binary = ContentTransferEncoding("binary")
    public static let base64 = ContentTransferEncoding("base64")
    public static let quotedPrintable = ContentTransferEncoding("quoted-printable")

    public var description: String { name }

    /// Whether the body bytes are the content itself.
    public var isIdentity: Bool { self != .base64 && self != .quotedPrintable && !isUUEncode }
    public var isKnown: Bool {
        switch name {
        case "7bit", "8bit", "binary", "base64", "quoted-printable": return true
        default: return false
        }
    }
    var isUUEncode: Bool { name == "x-uuencode" || name == "uuencode" }
}

extension StringProtocol {
    /// The string without leading and trailing characters from `set` (a short list, such as
    /// blanks and brackets).
    func trimming(_ set: String) -> String {
        let scalars = set.unicodeScalars
        let view = Substring(self).unicodeScalars
        guard let first = view.firstIndex(where: { !scalars.contains($0) }),
              let last = view.lastIndex(where: { !scalars.contains($0) }) else { return "" }
        if first == view.startIndex && view.index(after: last) == view.endIndex { return String(self) }
        return String(view[first...last])
    }
}

/// A base64 decoder that accepts what mailers really send: any line length, missing or extra
/// padding, stray characters. It keeps state between chunks so large bodies stream.
struct Base64Decoder {
    private var accumulator: UInt32 = 0
    private var pending = 0
    private(set) var skippedBytes = 0

    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()

    mutating func decode(_ input: some Collection<UInt8>, into output: inout [UInt8]) {
        if let done: Void = input.withContiguousStorageIfAvailable({ decode($0, into: &output) }) { return done }
        Array(input).withUnsafeBufferPointer { decode($0, into: &output) }
    }

    /// Decodes straight into the output's spare capacity; base64 bodies are the bulk of
    /// mail bytes, so this loop avoids per-byte appends.
    mutating func decode(_ input: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        guard !input.isEmpty else { return }
        let start = output.count
        let capacity = Self.maxOutputCount(forInputCount: input.count)
        output.append(contentsOf: repeatElement(0, count: capacity))
        let written = output.withUnsafeMutableBufferPointer { buffer -> Int in
            guard let base = buffer.baseAddress else { return 0 }
            return decode(input, into: base + start)
        }
        output.removeLast(capacity - written)
    }

    /// Room `decode(_:into:)` needs for `count` input bytes. One spare byte: the fast path
    /// stores four bytes for every three it decodes.
    static func maxOutputCount(forInputCount count: Int) -> Int { count * 3 / 4 + 4 }

    /// Decodes into memory with room for `maxOutputCount(forInputCount:)` bytes and returns
    /// how many were written. Streaming callers reuse one such buffer for every chunk.
    mutating func decode(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutablePointer<UInt8>) -> Int {
        guard let inputBase = input.baseAddress, !input.isEmpty else { return 0 }
        var state = State(accumulator: accumulator, pending: pending, written: 0, skipped: 0)
        Base64Decoder.values.withUnsafeBufferPointer { table in
            Base64Decoder.quantumTables.withUnsafeBufferPointer { quantumTables in
                guard let table = table.baseAddress, let quantumTables = quantumTables.baseAddress else { return }
                state = Base64Decoder.run(inputBase, count: input.count, into: output, table: table,
                                          quantumTables: quantumTables, state: state)
            }
        }
        accumulator = state.accumulator
        pending = state.pending
        skippedBytes += state.skipped
        return state.written
    }

    struct State {
        var accumulator: UInt32
        var pending: Int
        var written: Int
        var skipped: Int
    }

    /// The decoding loop on plain pointers and locals, so the optimiser keeps everything in
    /// registers. The output must have room for count * 3 / 4 + 3 bytes.
    private static func run(_ input: UnsafePointer<UInt8>, count: Int, into out: UnsafeMutablePointer<UInt8>,
                            table: UnsafePointer<UInt8>, quantumTables: UnsafePointer<UInt32>, state initial: State) -> State {
        var accumulator = initial.accumulator
        var pending = initial.pending
        var written = 0
        var skipped = 0
        var index = 0
        while index < count {
            // Fast path: four alphabet characters at a quantum boundary.
            if pending == 0 {
                while index + 4 <= count {
                    let quantum = quantumTables[Int(input[index])] | quantumTables[256 + Int(input[index + 1])]
                        | quantumTables[512 + Int(input[index + 2])] | quantumTables[768 + Int(input[index + 3])]
                    guard quantum & 0xFF00_0000 == 0 else { break }
                    UnsafeMutableRawPointer(out + written).storeBytes(of: quantum.littleEndian, as: UInt32.self)
                    written += 3
                    index += 4
                }
                guard index < count else { break }
            }
            let byte = input[index]
            index += 1
            let value = table[Int(byte)]
            if value == 0xFF {
                if byte == ASCII.equals {
                    // Padding ends a quantum: what came before it is complete, whatever
                    // follows (a second concatenated base64 stream) starts afresh.
                    switch pending {
                    case 2:
                        out[written] = UInt8(truncatingIfNeeded: accumulator >> 4)
                        written += 1
                    case 3:
                        out[written] = UInt8(truncatingIfNeeded: accumulator >> 10)
                        out[written + 1] = UInt8(truncatingIfNeeded: accumulator >> 2)
                        written += 2
                    case 1:
                        skipped += 1
                    default:
                        break
                    }
                    accumulator = 0
                    pending = 0
                } else if !ASCII.isWhitespace(byte) {
                    skipped += 1
                }
                continue
            }
            accumulator = accumulator << 6 | UInt32(value)
            pending += 1
            if pending == 4 {
                out[written] = UInt8(truncatingIfNeeded: accumulator >> 16)
                out[written + 1] = UInt8(truncatingIfNeeded: accumulator >> 8)
                out[written + 2] = UInt8(truncatingIfNeeded: accumulator)
                written += 3
                accumulator = 0
                pending = 0
            }
        }
        return State(accumulator: accumulator, pending: pending, written: written, skipped: skipped)
    }

    private mutating func flushPartial(into output: inout [UInt8]) {
        switch pending {
        case 2:
            output.append(UInt8(truncatingIfNeeded: accumulator >> 4))
        case 3:
            output.append(UInt8(truncatingIfNeeded: accumulator >> 10))
            output.append(UInt8(truncatingIfNeeded: accumulator >> 2))
        case 1:
            skippedBytes += 1
        default:
            break
        }
        accumulator = 0
        pending = 0
    }

    /// Emits a final partial quantum (unpadded input).
    mutating func finish(into output: inout [UInt8]) {
        flushPartial(into: &output)
    }

    /// Four tables whose entries, ORed for four characters, give the three decoded bytes in
    /// little-endian order; an invalid character sets bit 24. One lookup per character and one
    /// test per quantum instead of shifts and four tests.
    private static let quantumTables: [UInt32] = {
        var tables = [UInt32](repeating: 0x01FF_FFFF, count: 1024)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            let value = UInt32(index)
            tables[Int(byte)] = value << 2
            tables[256 + Int(byte)] = (value >> 4) | ((value & 0x0F) << 12)
            tables[512 + Int(byte)] = ((value >> 2) << 8) | ((value & 0x03) << 22)
            tables[768 + Int(byte)] = value << 16
        }
        return tables
    }()

    static func decode(_ input: some Collection<UInt8>) -> [UInt8] {
        if let output = input.withContiguousStorageIfAvailable({ decodeAll($0) }) { return output }
        return Array(input).withUnsafeBufferPointer { decodeAll($0) }
    }

    private static func decodeAll(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var decoder = Base64Decoder()
        var output = [UInt8](unsafeUninitializedCapacity: maxOutputCount(forInputCount: input.count)) { buffer, count in
            count = buffer.baseAddress.map { decoder.decode(input, into: $0) } ?? 0
        }
        decoder.finish(into: &output)
        return output
    }
}

enum Base64Encoder {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Base64 with CRLF after every `lineLength` characters (0: one line).
    static func encode(_ input: some Collection<UInt8>, lineLength: Int = 76) -> [UInt8] {
        let bytes = Array(input)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 4 / 3 + bytes.count / 38 + 8)
        var column = 0
        var index = 0
        func emit(_ byte: UInt8) {
            if lineLength > 0 && column == lineLength {
                output.append(ASCII.cr)
                output.append(ASCII.lf)
                column = 0
            }
            output.append(byte)
            column += 1
        }
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            emit(alphabet[Int((triple >> 18) & 0x3F)])
            emit(alphabet[Int((triple >> 12) & 0x3F)])
            emit(index + 1 < bytes.count ? alphabet[Int((triple >> 6) & 0x3F)] : ASCII.equals)
            emit(index + 2 < bytes.count ? alphabet[Int(triple & 0x3F)] : ASCII.equals)
            index += 3
        }
        return output
    }
}

/// Quoted-printable (RFC 2045 section 6.7), decoded leniently: a bad `=XY` stays literal, soft
/// breaks may use bare LF or carry trailing blanks, lines may be any length.
enum QuotedPrintable {
    /// Decodes a whole body. Line ends become CRLF or stay as they were (`keepLineEnds`); text
    /// callers normalise them later anyway.
    static func decode(_ input: some Collection<UInt8>) -> [UInt8] {
        if let result = input.withContiguousStorageIfAvailable({ decode($0) }) { return result }
        return Array(input).withUnsafeBufferPointer { decode($0) }
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let count = bytes.count
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { output, initializedCount in
            var written = 0
            var index = 0
            while index < count {
                let byte = bytes[index]
                if byte == ASCII.equals {
                    // Soft line break: "=" then optional blanks then a line end (or the end).
                    var cursor = index + 1
                    while cursor < count, bytes[cursor] == ASCII.space || bytes[cursor] == ASCII.tab { cursor += 1 }
                    if cursor >= count {
                        index = cursor
                        continue
                    }
                    if bytes[cursor] == ASCII.cr || bytes[cursor] == ASCII.lf {
                        if bytes[cursor] == ASCII.cr, cursor + 1 < count, bytes[cursor + 1] == ASCII.lf { cursor += 1 }
                        index = cursor + 1
                        continue
                    }
                    if index + 2 < count, let high = ASCII.hexValue(bytes[index + 1]), let low = ASCII.hexValue(bytes[index + 2]) {
                        output[written] = high << 4 | low
                        written += 1
                        index += 3
                        continue
                    }
                    output[written] = byte
                    written += 1
                    index += 1
                } else if byte == ASCII.space || byte == ASCII.tab {
                    // Trailing blanks on a line were added in transport (RFC 2045 rule 3).
                    var cursor = index
                    while cursor < count, bytes[cursor] == ASCII.space || bytes[cursor] == ASCII.tab { cursor += 1 }
                    if cursor < count, bytes[cursor] == ASCII.cr || bytes[cursor] == ASCII.lf {
                        index = cursor
                    } else {
                        while index < cursor {
                            output[written] = bytes[index]
                            written += 1
                            index += 1
                        }
                    }
                } else {
                    output[written] = byte
                    written += 1
                    index += 1
                }
            }
            initializedCount = written
        }
    }

    /// Encodes text (or binary when `isText` is false) with CRLF line ends and soft breaks so
    /// no line exceeds 76 characters.
    static func encode(_ input: [UInt8], isText: Bool = true) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(input.count + input.count / 8)
        var column = 0
        let hex = Array("0123456789ABCDEF".utf8)
        var index = 0
        func softBreak() {
            output.append(contentsOf: [ASCII.equals, ASCII.cr, ASCII.lf])
            column = 0
        }
        while index < input.count {
            let byte = input[index]
            if isText && (byte == ASCII.lf || (byte == ASCII.cr && index + 1 < input.count && input[index + 1] == ASCII.lf)) {
                output.append(ASCII.cr)
                output.append(ASCII.lf)
                column = 0
                index += byte == ASCII.cr ? 2 : 1
                continue
            }
            let nextIsLineEnd = index + 1 >= input.count || input[index + 1] == ASCII.lf || input[index + 1] == ASCII.cr
            let literal = (byte >= 33 && byte <= 126 && byte != ASCII.equals)
                || ((byte == ASCII.space || byte == ASCII.tab) && !nextIsLineEnd)
            // A leading "." or "From " is harmless in MIME but mangled by some transports.
            let needsEscape = !literal || (column == 0 && byte == ASCII.dot)
            let width = needsEscape ? 3 : 1
            if column + width > 75 { softBreak() }
            if needsEscape {
                output.append(ASCII.equals)
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            } else {
                output.append(byte)
            }
            column += width
            index += 1
        }
        return output
    }
}
