import Foundation

/// Turns body bytes into text without ever failing: the declared charset first, then an HTML
/// `<meta charset>`, then UTF-8, then Windows-1252, with a warning for every guess.
enum TextDecoding {
    struct Result {
        var text: String
        var charset: Charset
        var warnings: [ParseWarning]
    }

    static func decode(_ bytes: [UInt8], declaredLabel: String?, isHTML: Bool) -> Result {
        var warnings: [ParseWarning] = []
        var declared: Charset?
        if let declaredLabel, !declaredLabel.isEmpty {
            declared = Charset(label: declaredLabel)
            if declared == nil {
                warnings.append(ParseWarning(.unknownCharset, "unknown charset \"\(declaredLabel.prefix(40))\"; guessed from the content"))
            }
        }
        if let declared {
            if let text = declared.decode(bytes) {
                // Latin labels on UTF-8 bytes are the commonest mislabel: the bytes decode in
                // both, but only UTF-8 gives the intended text.
                if declared.isLatinSingleByte, !isASCII(bytes), let utf8 = String(validating: bytes, as: UTF8.self) {
                    warnings.append(ParseWarning(.charsetMismatch, "text labelled \(declared.name) is valid UTF-8; decoded as UTF-8"))
                    return Result(text: utf8, charset: .utf8, warnings: warnings)
                }
                return Result(text: text, charset: declared, warnings: warnings)
            }
        }
        if isHTML, let metaLabel = metaCharset(in: bytes), let meta = Charset(label: metaLabel), meta != declared,
           let text = meta.decode(bytes) {
            if declared != nil {
                warnings.append(ParseWarning(.charsetMismatch, "text is not valid \(declared?.name ?? ""); decoded with the HTML meta charset \(meta.name)"))
            }
            return Result(text: text, charset: meta, warnings: warnings)
        }
        if declared != .utf8, let text = String(validating: bytes, as: UTF8.self) {
            if let declared {
                warnings.append(ParseWarning(.charsetMismatch, "text is not valid \(declared.name); decoded as UTF-8"))
            }
            return Result(text: text, charset: .utf8, warnings: warnings)
        }
        if let declared, declared.isMultibyte, let salvaged = salvageByLine(bytes, charset: declared) {
            warnings.append(ParseWarning(.charsetMismatch, "some lines are not valid \(declared.name); they were decoded as UTF-8 with replacement characters"))
            return Result(text: salvaged, charset: declared, warnings: warnings)
        }
        if let declared {
            warnings.append(ParseWarning(.charsetMismatch, "text labelled \(declared.name) is not valid in it nor in UTF-8; decoded as windows-1252"))
        } else if !isASCII(bytes) {
            warnings.append(ParseWarning(.charsetMismatch, "8-bit text without a usable charset is not UTF-8; decoded as windows-1252"))
        }
        let fallback = Charset.windows1252
        return Result(text: fallback.decode(bytes) ?? "", charset: fallback, warnings: warnings)
    }

    static func isASCII(_ bytes: [UInt8]) -> Bool { !bytes.contains { $0 >= 0x80 } }

    /// A multibyte body damaged in a few places (a truncated character, a stray byte) keeps
    /// its good lines instead of becoming Windows-1252 mojibake throughout.
    private static func salvageByLine(_ bytes: [UInt8], charset: Charset) -> String? {
        var lines: [String] = []
        var failures = 0
        let rawLines = bytes.split(separator: ASCII.lf, omittingEmptySubsequences: false)
        for line in rawLines {
            if let text = charset.decode(line) {
                lines.append(text)
            } else {
                failures += 1
                lines.append(String(decoding: line, as: UTF8.self))
            }
        }
        guard failures * 2 <= rawLines.count else { return nil }
        return lines.joined(separator: "\n")
    }

    /// The label of `<meta charset="x">` or `<meta http-equiv content="...; charset=x">` in the
    /// first few kilobytes, as browsers look for it.
    static func metaCharset(in bytes: [UInt8]) -> String? {
        let window = bytes.prefix(4096)
        let needle = Array("charset".utf8)
        var index = window.startIndex
        while index + needle.count < window.endIndex {
            if ASCII.lowercased(window[index]) == needle[0],
               window[index..<(index + needle.count)].equalsIgnoringCase("charset") {
                var cursor = index + needle.count
                while cursor < window.endIndex, ASCII.isWhitespace(window[cursor]) { cursor += 1 }
                guard cursor < window.endIndex, window[cursor] == ASCII.equals else { index += 1; continue }
                cursor += 1
                while cursor < window.endIndex, ASCII.isWhitespace(window[cursor]) || window[cursor] == ASCII.quote || window[cursor] == ASCII.apostrophe { cursor += 1 }
                let start = cursor
                while cursor < window.endIndex, ASCII.isLetter(window[cursor]) || ASCII.isDigit(window[cursor]) || window[cursor] == ASCII.minus || window[cursor] == ASCII.underscore || window[cursor] == ASCII.dot || window[cursor] == 0x3A {
                    cursor += 1
                }
                if cursor > start { return String(asciiBytes: window[start..<cursor]) }
            }
            index += 1
        }
        return nil
    }
}

extension Charset {
    var isLatinSingleByte: Bool {
        self == .iso8859_1 || self == .windows1252 || self == .iso8859_15 || self == .usASCII
    }
}
