import Foundation

/// Builds the entity tree of a message in one pass over a single buffer.
struct MIMEParser {
    let options: ParseOptions
    private(set) var parts: [MIMEPart] = []
    private(set) var warnings: [ParseWarning] = []
    /// Decoded bodies of encoded message/rfc822 parts; entities inside them have `buffer` =
    /// position + 1.
    private(set) var decodedBuffers: [[UInt8]] = []
    private var decodedBytes = 0
    private var partLimitWarned = false
    private var depthLimitWarned = false
    private var decodeLimitWarned = false

    init(options: ParseOptions) { self.options = options }

    mutating func parse(_ buffer: UnsafeBufferPointer<UInt8>) {
        if buffer.isEmpty { warnings.append(ParseWarning(.emptyMessage, "the message is empty")) }
        _ = parseEntity(buffer, range: 0..<buffer.count, depth: 0, parent: nil, defaultType: .textPlain, bufferIndex: 0)
    }

    /// Parses one entity and, within the limits, its children. Returns its index.
    private mutating func parseEntity(_ buffer: UnsafeBufferPointer<UInt8>, range: Range<Int>, depth: Int, parent: Int?, defaultType: MediaType,
                                      bufferIndex: Int) -> Int {
        let header = HeaderSectionParser.parse(buffer, from: range.lowerBound, to: range.upperBound, options: options)
        warnings.append(contentsOf: header.warnings)
        let headers = header.fields
        var contentType = headers.first(named: "content-type").map { ContentType.parse($0.rawValue[...], default: defaultType) }
            ?? ContentType(mediaType: defaultType)
        var transferEncoding = headers.first(named: "content-transfer-encoding").map { ContentTransferEncoding(String(decoding: $0.rawValue, as: UTF8.self)) } ?? .sevenBit
        if !transferEncoding.isKnown && !transferEncoding.isUUEncode {
            warnings.append(ParseWarning(.unknownTransferEncoding, "unknown Content-Transfer-Encoding \"\(transferEncoding.name.prefix(40))\"; the body was taken as it is"))
            transferEncoding = .eightBit
        }
        let disposition = headers.first(named: "content-disposition").map { ContentDisposition.parse($0.rawValue[...]) }
        let contentID = headers.first(named: "content-id").flatMap { MessageIDParser.parseFirst($0.rawValue[...]) ?? nonEmpty(String(decoding: $0.rawValue, as: UTF8.self)) }
        let bodyRange = min(header.bodyStart, range.upperBound)..<range.upperBound

        var boundaryLines: MultipartSplitter.Result?
        if contentType.mediaType.isMultipart {
            var boundary = contentType.boundary
            if boundary == nil || boundary?.isEmpty == true, let inferred = MultipartSplitter.inferBoundary(buffer, range: bodyRange) {
                warnings.append(ParseWarning(.missingBoundary, "a \(contentType.mediaType) part has no boundary parameter; used \"\(inferred.prefix(70))\" found in its body"))
                boundary = inferred
            }
            if let boundary, !boundary.isEmpty, boundary.utf8.count <= 200 {
                let split = MultipartSplitter.split(buffer, range: bodyRange, boundary: Array(boundary.utf8), maxParts: options.maxPartCount)
                if split.parts.isEmpty {
                    warnings.append(ParseWarning(.boundaryNotFound, "the boundary of a \(contentType.mediaType) part never occurs; its body was read as plain text"))
                    contentType = ContentType(mediaType: .textPlain, parameters: contentType.parameters)
                } else {
                    boundaryLines = split
                    if !split.sawClose {
                        warnings.append(ParseWarning(.truncatedMultipart, "a \(contentType.mediaType) part has no closing boundary; the message may be truncated"))
                    }
                }
            } else {
                warnings.append(ParseWarning(.missingBoundary, "a \(contentType.mediaType) part has no usable boundary parameter; its body was read as plain text"))
                contentType = ContentType(mediaType: .textPlain, parameters: contentType.parameters)
            }
        }

        let index = parts.count
        parts.append(MIMEPart(index: index, parentIndex: parent, childIndices: [], depth: depth, headers: headers,
                              contentType: contentType, transferEncoding: transferEncoding, disposition: disposition,
                              contentID: contentID, buffer: bufferIndex, entityRange: range, bodyRange: bodyRange, hasParsedChildren: false))

        // RFC 2046 section 5.2.1 allows only identity encodings for message/rfc822, but
        // mailers do base64- or quoted-printable-encode forwarded messages; those are decoded
        // and descended into like the others.
        let encodedMessage = contentType.mediaType.isEmbeddedMessage && (transferEncoding == .base64 || transferEncoding == .quotedPrintable)
        let wantsChildren = boundaryLines != nil || (contentType.mediaType.isEmbeddedMessage && transferEncoding.isIdentity) || encodedMessage
        guard wantsChildren else { return index }
        guard depth + 1 <= options.maxNestingDepth else {
            if !depthLimitWarned {
                depthLimitWarned = true
                warnings.append(ParseWarning(.nestingTooDeep, "parts nested deeper than \(options.maxNestingDepth) levels were kept unparsed"))
            }
            return index
        }
        var children: [Int] = []
        if let split = boundaryLines {
            let childDefault: MediaType = contentType.mediaType.subtype == "digest" ? .messageRFC822 : .textPlain
            for childRange in split.parts {
                guard reservePart() else { break }
                children.append(parseEntity(buffer, range: childRange, depth: depth + 1, parent: index, defaultType: childDefault, bufferIndex: bufferIndex))
            }
        } else if encodedMessage {
            if let child = parseEncodedMessage(buffer, bodyRange: bodyRange, encoding: transferEncoding, depth: depth + 1, parent: index) {
                children.append(child)
            }
        } else if reservePart() {
            children.append(parseEntity(buffer, range: bodyRange, depth: depth + 1, parent: index, defaultType: .textPlain, bufferIndex: bufferIndex))
        }
        parts[index].childIndices = children
        parts[index].hasParsedChildren = !children.isEmpty
        return index
    }

    /// Decodes the body of an encoded message/rfc822 part into a buffer of its own and parses
    /// the message in it, within `maxEmbeddedDecodedBytes` for all such parts together.
    private mutating func parseEncodedMessage(_ buffer: UnsafeBufferPointer<UInt8>, bodyRange: Range<Int>, encoding: ContentTransferEncoding,
                                              depth: Int, parent: Int) -> Int? {
        let encoded = UnsafeBufferPointer(rebasing: buffer[bodyRange])
        // Decoding never grows the body, so the encoded size bounds the decoded one before
        // any work is done.
        let estimate = encoding == .base64 ? encoded.count / 4 * 3 + 3 : encoded.count
        guard estimate <= options.maxEmbeddedDecodedBytes - decodedBytes else {
            if !decodeLimitWarned {
                decodeLimitWarned = true
                warnings.append(ParseWarning(.embeddedMessageTooLarge, "encoded message/rfc822 parts beyond \(options.maxEmbeddedDecodedBytes) decoded bytes were kept unparsed"))
            }
            return nil
        }
        guard reservePart() else { return nil }
        let decoded = encoding == .base64 ? Base64Decoder.decode(encoded) : QuotedPrintable.decode(encoded)
        decodedBytes += decoded.count
        decodedBuffers.append(decoded)
        let bufferIndex = decodedBuffers.count
        return decoded.withUnsafeBufferPointer { inner in
            parseEntity(inner, range: 0..<inner.count, depth: depth, parent: parent, defaultType: .textPlain, bufferIndex: bufferIndex)
        }
    }

    private mutating func reservePart() -> Bool {
        if parts.count < options.maxPartCount { return true }
        if !partLimitWarned {
            partLimitWarned = true
            warnings.append(ParseWarning(.tooManyParts, "more than \(options.maxPartCount) parts; the rest were not parsed"))
        }
        return false
    }

    private func nonEmpty(_ text: String) -> String? {
        let trimmed = text.trimming(" \t<>")
        return trimmed.isEmpty ? nil : trimmed
    }
}

/// Finds the parts of a multipart body (RFC 2046 section 5.1.1):
///
///     multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF body-part
///                       *encapsulation close-delimiter transport-padding [CRLF epilogue]
///     dash-boundary  := "--" boundary
///     delimiter      := CRLF dash-boundary
///     close-delimiter := delimiter "--"
///
/// A delimiter must fill its line (only "--" and blanks may follow), so a boundary that is a
/// prefix of a nested one, or boundary text inside a body line, does not split the body.
enum MultipartSplitter {
    struct Result {
        var parts: [Range<Int>] = []
        var sawClose = false
    }

    static func split(_ buffer: UnsafeBufferPointer<UInt8>, range: Range<Int>, boundary: [UInt8], maxParts: Int) -> Result {
        var result = Result()
        var partStart: Int?
        let end = range.upperBound
        let boundaryCount = boundary.count
        // Delimiters start a line: the body's first line, or one found by findDelimiterLine.
        var candidate: Int? = range.lowerBound
        var searchFrom = range.lowerBound
        if !(range.count >= boundaryCount + 2 && buffer[range.lowerBound] == ASCII.minus && buffer[range.lowerBound + 1] == ASCII.minus
             && matches(buffer, at: range.lowerBound + 2, boundary)) {
            candidate = nil
        }
        while true {
            if candidate == nil {
                guard let found = findDelimiterLine(boundary, in: buffer, from: searchFrom, to: end) else { break }
                candidate = found
            }
            guard let lineStart = candidate else { break }
            candidate = nil
            let lineEnd = indexOfByte(ASCII.lf, in: buffer, from: lineStart, to: end) ?? end
            searchFrom = lineEnd
            var cursor = lineStart + 2 + boundaryCount
            var isClose = false
            if cursor + 1 < lineEnd, buffer[cursor] == ASCII.minus, buffer[cursor + 1] == ASCII.minus {
                isClose = true
                cursor += 2
            }
            var onlyPadding = true
            while cursor < lineEnd {
                let byte = buffer[cursor]
                if byte != ASCII.space && byte != ASCII.tab && byte != ASCII.cr { onlyPadding = false; break }
                cursor += 1
            }
            guard onlyPadding else { continue }
            if let start = partStart {
                // The line break before a delimiter belongs to the delimiter.
                var partEnd = lineStart
                if partEnd > start, buffer[partEnd - 1] == ASCII.lf { partEnd -= 1 }
                if partEnd > start, buffer[partEnd - 1] == ASCII.cr { partEnd -= 1 }
                result.parts.append(start..<max(start, partEnd))
                if result.parts.count >= maxParts { return result }
            }
            if isClose {
                result.sawClose = true
                return result
            }
            partStart = lineEnd < end ? lineEnd + 1 : end
        }
        if let start = partStart { result.parts.append(start..<end) }
        return result
    }

    /// The next line start holding "--" + boundary. Scans for "-" rather than line ends:
    /// base64 bodies (the bulk of mail) contain no "-" at all, so one `memchr` skips them.
    private static func findDelimiterLine(_ boundary: [UInt8], in buffer: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int? {
        var position = start
        while let dash = indexOfByte(ASCII.minus, in: buffer, from: position, to: end) {
            if dash + 2 + boundary.count <= end, dash > 0, buffer[dash - 1] == ASCII.lf, buffer[dash + 1] == ASCII.minus,
               matches(buffer, at: dash + 2, boundary) {
                return dash
            }
            position = dash + 1
        }
        return nil
    }

    /// A multipart without its boundary parameter: the first line starting with "--" in the
    /// first lines of the body usually is the first delimiter.
    static func inferBoundary(_ buffer: UnsafeBufferPointer<UInt8>, range: Range<Int>) -> String? {
        var lineStart = range.lowerBound
        var lines = 0
        while lineStart < range.upperBound, lines < 50 {
            let lineEnd = indexOfByte(ASCII.lf, in: buffer, from: lineStart, to: range.upperBound) ?? range.upperBound
            var contentEnd = lineEnd
            while contentEnd > lineStart, ASCII.isWhitespace(buffer[contentEnd - 1]) { contentEnd -= 1 }
            if contentEnd - lineStart > 2, contentEnd - lineStart <= 72, buffer[lineStart] == ASCII.minus, buffer[lineStart + 1] == ASCII.minus {
                let candidate = UnsafeBufferPointer(rebasing: buffer[(lineStart + 2)..<contentEnd])
                if candidate.allSatisfy({ $0 > ASCII.space && $0 < 0x7F }) { return String(decoding: candidate, as: UTF8.self) }
            }
            lineStart = lineEnd + 1
            lines += 1
        }
        return nil
    }

    @inline(__always)
    private static func matches(_ buffer: UnsafeBufferPointer<UInt8>, at start: Int, _ boundary: [UInt8]) -> Bool {
        guard start + boundary.count <= buffer.count, let base = buffer.baseAddress else { return false }
        return boundary.withUnsafeBufferPointer { needle in
            guard let needleBase = needle.baseAddress else { return true }
            return memcmp(base + start, needleBase, needle.count) == 0
        }
    }
}
