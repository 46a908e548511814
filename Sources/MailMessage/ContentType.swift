import Foundation

/// A MIME media type, lowercased (`text/plain`).
public struct MediaType: Sendable, Hashable, CustomStringConvertible {
    public let type: String
    public let subtype: String

    public init(type: String, subtype: String) {
        self.type = type.asciiLowercased
        self.subtype = subtype.asciiLowercased
    }

    public var description: String { "\(type)/\(subtype)" }

    public var isMultipart: Bool { type == "multipart" }
    public var isText: Bool { type == "text" }
    /// An embedded message whose header and body we parse (RFC 2046 section 5.2.1, RFC 6532).
    public var isEmbeddedMessage: Bool { type == "message" && (subtype == "rfc822" || subtype == "global") }

    public static let textPlain = MediaType(type: "text", subtype: "plain")
    public static let textHTML = MediaType(type: "text", subtype: "html")
    public static let messageRFC822 = MediaType(type: "message", subtype: "rfc822")
    public static let octetStream = MediaType(type: "application", subtype: "octet-stream")
}

/// A `Content-Type` field (RFC 2045 section 5.1) with its parameters.
public struct ContentType: Sendable, Hashable {
    public var mediaType: MediaType
    /// Parameter values by lowercase name, RFC 2231 continuations joined and charsets decoded.
    public var parameters: [String: String]

    public init(mediaType: MediaType, parameters: [String: String] = [:]) {
        self.mediaType = mediaType
        self.parameters = parameters
    }

    public var charset: String? { parameters["charset"] }
    public var boundary: String? { parameters["boundary"] }
    public var name: String? { parameters["name"] }

    ///     content   = "Content-Type" ":" type "/" subtype *(";" parameter)
    ///     parameter = attribute "=" value
    ///     value     = token / quoted-string
    ///
    /// A missing or unreadable type is `text/plain` (RFC 2045 section 5.2); a type without a
    /// subtype is completed the way mailers mean it.
    public static func parse(_ raw: ArraySlice<UInt8>, default fallback: MediaType = .textPlain) -> ContentType {
        let parsed = ParameterizedValue.parse(raw)
        let head = parsed.head
        guard let slashOffset = head.utf8.firstIndex(of: ASCII.slash), let slash = slashOffset.samePosition(in: head) else {
            let lower = head.asciiLowercased
            switch lower {
            case "text": return ContentType(mediaType: .textPlain, parameters: parsed.parameters)
            case "html": return ContentType(mediaType: .textHTML, parameters: parsed.parameters)
            case "multipart": return ContentType(mediaType: MediaType(type: "multipart", subtype: "mixed"), parameters: parsed.parameters)
            default: return ContentType(mediaType: fallback, parameters: parsed.parameters)
            }
        }
        let type = head[..<slash].trimming(" \t")
        let subtype = head[head.index(after: slash)...].trimming(" \t")
        guard !type.isEmpty, !subtype.isEmpty, isToken(type), isToken(subtype) else {
            return ContentType(mediaType: fallback, parameters: parsed.parameters)
        }
        return ContentType(mediaType: MediaType(type: type, subtype: subtype), parameters: parsed.parameters)
    }

    private static func isToken(_ text: String) -> Bool {
        text.utf8.allSatisfy { byte in
            guard byte > ASCII.space, byte < 0x7F else { return false }
            switch byte {
            case 0x28, 0x29, 0x3C, 0x3E, 0x40, 0x2C, 0x3B, 0x3A, 0x5C, 0x22, 0x2F, 0x5B, 0x5D, 0x3F, 0x3D: return false // ()<>@,;:\"/[]?=
            default: return true
            }
        }
    }
}

/// A `Content-Disposition` field (RFC 2183).
public struct ContentDisposition: Sendable, Hashable {
    /// Lowercase disposition type: `inline`, `attachment` or another token.
    public var kind: String
    public var parameters: [String: String]

    public var isAttachment: Bool { kind == "attachment" }
    public var isInline: Bool { kind == "inline" }
    public var filename: String? { parameters["filename"] }

    public static func parse(_ raw: ArraySlice<UInt8>) -> ContentDisposition {
        let parsed = ParameterizedValue.parse(raw)
        return ContentDisposition(kind: parsed.head.asciiLowercased, parameters: parsed.parameters)
    }
}

/// The shared shape of Content-Type and Content-Disposition: a head value, then parameters,
/// including RFC 2231 extended values and continuations:
///
///     extended-parameter   = (extended-initial-name "=" extended-initial-value) /
///                            (extended-other-names "=" extended-other-values)
///     extended-initial-value = [charset] "'" [language] "'" extended-other-values
///     extended-other-values  = *(ext-octet / attribute-char)
///     ext-octet            = "%" 2(DIGIT / "A" / "B" / "C" / "D" / "E" / "F")
///
/// Tolerated: unquoted values with spaces, missing closing quotes, RFC 2047 words inside
/// quoted values (Outlook's filenames), raw UTF-8, comments, stray semicolons.
enum ParameterizedValue {
    struct Result {
        var head: String
        var parameters: [String: String]
    }

    private struct Segment {
        var index: Int
        var bytes: [UInt8]
        var isExtended: Bool
    }

    static func parse(_ raw: ArraySlice<UInt8>) -> Result {
        var index = raw.startIndex
        let end = raw.endIndex
        while index < end, raw[index] != ASCII.semicolon { index += 1 }
        let head = String(decoding: stripComments(raw[raw.startIndex..<index]).trimmingWhitespace(), as: UTF8.self)
        var plain: [String: [UInt8]] = [:]
        var segments: [String: [Segment]] = [:]
        var parameterCount = 0

        while index < end, parameterCount < 256 {
            // Skip separators and whitespace before the attribute.
            while index < end, raw[index] == ASCII.semicolon || ASCII.isWhitespace(raw[index]) { index += 1 }
            if index < end, raw[index] == ASCII.openParen {
                index = skipComment(raw, from: index)
                continue
            }
            let nameStart = index
            while index < end, raw[index] != ASCII.equals, raw[index] != ASCII.semicolon { index += 1 }
            let attribute = String(decoding: raw[nameStart..<index].trimmingWhitespace().map(ASCII.lowercased), as: UTF8.self)
            guard index < end, raw[index] == ASCII.equals else { continue }
            index += 1
            while index < end, raw[index] == ASCII.space || raw[index] == ASCII.tab { index += 1 }
            var value: [UInt8] = []
            if index < end, raw[index] == ASCII.quote {
                index += 1
                while index < end, raw[index] != ASCII.quote {
                    if raw[index] == ASCII.backslash, index + 1 < end {
                        // Windows paths in filenames arrive with single backslashes; keep them
                        // unless they escape a quote or backslash as RFC 5322 intends.
                        let next = raw[index + 1]
                        if next == ASCII.quote || next == ASCII.backslash {
                            value.append(next)
                            index += 2
                            continue
                        }
                    }
                    value.append(raw[index])
                    index += 1
                }
                if index < end { index += 1 }
                while index < end, raw[index] != ASCII.semicolon { index += 1 }
            } else {
                let valueStart = index
                while index < end, raw[index] != ASCII.semicolon { index += 1 }
                value = Array(stripComments(raw[valueStart..<index]).trimmingWhitespace())
            }
            guard !attribute.isEmpty else { continue }
            parameterCount += 1
            if let starOffset = attribute.utf8.firstIndex(of: ASCII.asterisk), let star = starOffset.samePosition(in: attribute) {
                let base = String(attribute[..<star])
                let rest = attribute[attribute.index(after: star)...]
                let isExtended = rest.hasSuffix("*") || rest.isEmpty
                let number = rest.hasSuffix("*") ? rest.dropLast() : rest
                let segmentIndex = number.isEmpty ? 0 : (Int(number) ?? -1)
                guard segmentIndex >= 0, segmentIndex < 1000 else { continue }
                segments[base, default: []].append(Segment(index: segmentIndex, bytes: value, isExtended: isExtended))
            } else if plain[attribute] == nil {
                plain[attribute] = value
            }
        }

        var parameters: [String: String] = [:]
        for (name, value) in plain {
            parameters[name] = name == "boundary" ? String(decoding: value, as: UTF8.self) : EncodedWords.decode(value[...])
        }
        for (name, parts) in segments {
            if let joined = joinContinuations(parts.sorted { $0.index < $1.index }) { parameters[name] = joined }
        }
        return Result(head: head, parameters: parameters)
    }

    private static func joinContinuations(_ parts: [Segment]) -> String? {
        guard let first = parts.first else { return nil }
        var charset: String?
        var bytes: [UInt8] = []
        var seen = Set<Int>()
        for part in parts where seen.insert(part.index).inserted {
            var value = part.bytes[...]
            if part.isExtended && part.index == first.index {
                // charset'language'text; a value without the two quotes is taken as text.
                if let firstQuote = value.firstIndex(of: ASCII.apostrophe),
                   let secondQuote = value[(firstQuote + 1)...].firstIndex(of: ASCII.apostrophe) {
                    charset = String(decoding: value[value.startIndex..<firstQuote], as: UTF8.self)
                    value = value[(secondQuote + 1)...]
                }
            }
            if part.isExtended {
                percentDecode(value, into: &bytes)
            } else {
                bytes.append(contentsOf: value)
            }
        }
        if let charset, !charset.isEmpty {
            return TextDecoding.decode(bytes, declaredLabel: charset, isHTML: false).text
        }
        return EncodedWords.decode(bytes[...])
    }

    private static func percentDecode(_ value: ArraySlice<UInt8>, into output: inout [UInt8]) {
        var index = value.startIndex
        while index < value.endIndex {
            if value[index] == 0x25, index + 2 < value.endIndex,
               let high = ASCII.hexValue(value[index + 1]), let low = ASCII.hexValue(value[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(value[index])
                index += 1
            }
        }
    }

    private static func stripComments(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard bytes.contains(ASCII.openParen) else { return bytes }
        var output: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == ASCII.openParen {
                index = skipComment(bytes, from: index)
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return output[...]
    }

    /// Skips a (possibly nested) comment starting at "(", returning the index after it.
    static func skipComment(_ bytes: ArraySlice<UInt8>, from start: Int) -> Int {
        var depth = 0
        var index = start
        while index < bytes.endIndex {
            switch bytes[index] {
            case ASCII.backslash: index += 1
            case ASCII.openParen: depth += 1
            case ASCII.closeParen:
                depth -= 1
                if depth == 0 { return index + 1 }
            default: break
            }
            index += 1
        }
        return bytes.endIndex
    }
}
