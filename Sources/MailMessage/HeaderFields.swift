import Foundation

/// One header field: its name as written and its value unfolded (line breaks before
/// whitespace removed) but otherwise raw, because structured fields (addresses, parameters)
/// must be tokenised before encoded words are decoded.
public struct HeaderField: Sendable, Hashable {
    public let name: String
    /// The unfolded value bytes, leading and trailing whitespace removed.
    public let rawValue: [UInt8]
    /// Lookups compare this, computed once, instead of folding case on every comparison.
    let lowercasedName: String

    public init(name: String, rawValue: [UInt8]) {
        self.name = name
        self.rawValue = rawValue
        self.lowercasedName = name.asciiLowercased
    }

    init(nameBytes: UnsafeBufferPointer<UInt8>, rawValue: [UInt8]) {
        self.name = String(decoding: nameBytes, as: UTF8.self)
        self.lowercasedName = nameBytes.contains(where: { $0 >= 0x41 && $0 <= 0x5A })
            ? String(unsafeUninitializedCapacity: nameBytes.count) { output in
                for (index, byte) in nameBytes.enumerated() { output[index] = ASCII.lowercased(byte) }
                return nameBytes.count
            }
            : self.name
        self.rawValue = rawValue
    }

    /// The value as unstructured text: encoded words decoded, raw 8-bit read as UTF-8 (or
    /// Windows-1252 when it is not UTF-8).
    public var value: String { EncodedWords.decode(rawValue[...]) }

    @inline(__always) func hasName(_ lowercaseName: String) -> Bool { lowercasedName == lowercaseName }
}

/// The header section of a message or part, in order; lookups ignore case.
public struct HeaderFields: Sendable, Hashable, RandomAccessCollection {
    public private(set) var fields: [HeaderField]

    public init(_ fields: [HeaderField] = []) { self.fields = fields }

    public var startIndex: Int { fields.startIndex }
    public var endIndex: Int { fields.endIndex }
    public subscript(position: Int) -> HeaderField { fields[position] }

    /// The first field with this name (any case).
    public func first(named name: String) -> HeaderField? {
        let lowercaseName = name.asciiLowercased
        for field in fields where field.lowercasedName == lowercaseName { return field }
        return nil
    }

    public func all(named name: String) -> [HeaderField] {
        let lowercaseName = name.asciiLowercased
        return fields.filter { $0.hasName(lowercaseName) }
    }

    /// The decoded value of the first field with this name.
    public subscript(name: String) -> String? { first(named: name)?.value }

    mutating func append(_ field: HeaderField) { fields.append(field) }
}

/// Reads a header section (RFC 5322 section 2.2 and 3.2.2).
///
///     fields        = *field
///     field         = field-name ":" unstructured CRLF
///     field-name    = 1*ftext
///     ftext         = %d33-57 / %d59-126
///     obs-optional  = field-name *WSP ":" unstructured CRLF
///
/// Unfolding removes the CRLF before whitespace. Bare LF line ends are accepted; a line
/// with no colon ends the header section early (what mailers sent as body without a blank
/// line), with a warning.
enum HeaderSectionParser {
    struct Result {
        var fields: HeaderFields
        /// Offset of the first body byte (after the blank line), or `end` when there is none.
        var bodyStart: Int
        var warnings: [ParseWarning]
    }

    static func parse(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, options: ParseOptions) -> Result {
        var fields = HeaderFields()
        var warnings: [ParseWarning] = []
        var position = start
        var currentName: UnsafeBufferPointer<UInt8>?
        var currentValue: [UInt8] = []
        var storedBytes = 0
        var countLimitHit = false
        var sizeLimitHit = false
        var bodyStart = end

        func flush() {
            guard let name = currentName else { return }
            currentName = nil
            var lower = 0
            var upper = currentValue.count
            while lower < upper, ASCII.isWhitespace(currentValue[lower]) { lower += 1 }
            while upper > lower, ASCII.isWhitespace(currentValue[upper - 1]) { upper -= 1 }
            if fields.count >= options.maxHeaderCount {
                if !countLimitHit {
                    countLimitHit = true
                    warnings.append(ParseWarning(.tooManyHeaders, "more than \(options.maxHeaderCount) header fields; the rest were ignored"))
                }
                return
            }
            fields.append(HeaderField(nameBytes: name, rawValue: Array(currentValue[lower..<upper])))
        }

        var isFirstLine = true
        while position < end {
            let lineEnd = indexOfByte(ASCII.lf, in: buffer, from: position, to: end) ?? end
            var contentEnd = lineEnd
            if contentEnd > position, buffer[contentEnd - 1] == ASCII.cr { contentEnd -= 1 }
            let next = lineEnd < end ? lineEnd + 1 : end
            defer { isFirstLine = false }
            if contentEnd == position {
                bodyStart = next
                position = next
                flush()
                return Result(fields: fields, bodyStart: bodyStart, warnings: warnings)
            }
            var lineLength = contentEnd - position
            if lineLength > options.maxLineLength {
                warnings.append(ParseWarning(.lineTooLong, "a header line of \(lineLength) bytes was cut to \(options.maxLineLength)"))
                lineLength = options.maxLineLength
            }
            storedBytes += lineLength
            if storedBytes > options.maxHeaderSectionBytes {
                if !sizeLimitHit {
                    sizeLimitHit = true
                    warnings.append(ParseWarning(.headerSectionTooLarge, "header section larger than \(options.maxHeaderSectionBytes) bytes; the rest was ignored"))
                    flush()
                }
                position = next
                continue
            }
            let first = buffer[position]
            if first == ASCII.space || first == ASCII.tab {
                if currentName != nil {
                    currentValue.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[position..<(position + lineLength)]))
                } else if isFirstLine {
                    warnings.append(ParseWarning(.malformedHeader, "the message starts with a continuation line; it was ignored"))
                }
                position = next
                continue
            }
            // An mbox "From " separator line sometimes stays at the top of exported files.
            if isFirstLine, lineLength >= 5, UnsafeBufferPointer(rebasing: buffer[position..<(position + 5)]).elementsEqual("From ".utf8) {
                position = next
                continue
            }
            let line = UnsafeBufferPointer(rebasing: buffer[position..<(position + lineLength)])
            guard let colon = line.firstIndex(of: ASCII.colon) else {
                flush()
                warnings.append(ParseWarning(.malformedHeader, "a header line without a colon; the body was taken to start there"))
                return Result(fields: fields, bodyStart: position, warnings: warnings)
            }
            var nameEnd = colon
            while nameEnd > 0, line[nameEnd - 1] == ASCII.space || line[nameEnd - 1] == ASCII.tab { nameEnd -= 1 }
            let nameBytes = line[0..<nameEnd]
            if nameBytes.isEmpty || nameBytes.contains(where: { $0 <= ASCII.space || $0 >= 0x7F }) {
                flush()
                warnings.append(ParseWarning(.malformedHeader, "a header line with an invalid field name; the body was taken to start there"))
                return Result(fields: fields, bodyStart: position, warnings: warnings)
            }
            flush()
            currentName = UnsafeBufferPointer(rebasing: nameBytes)
            currentValue.removeAll(keepingCapacity: true)
            currentValue.append(contentsOf: line[(colon + 1)...])
            position = next
        }
        flush()
        return Result(fields: fields, bodyStart: end, warnings: warnings)
    }
}
