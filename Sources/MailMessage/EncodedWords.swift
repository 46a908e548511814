import Foundation

/// RFC 2047 encoded words, decoded the way real mail needs:
///
///     encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
///     charset      = token    ; RFC 2231 adds an optional "*" language suffix
///     encoding     = "B" / "Q"
///
/// Beyond the RFC: words glued to text without spaces, multibyte characters split across
/// adjacent words (bytes of neighbouring words in one charset are joined before decoding),
/// spaces inside Q text, and raw 8-bit bytes outside words (RFC 6532 UTF-8, else Windows-1252).
public enum EncodedWords {
    /// Decodes an unstructured header value.
    public static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        var warnings: [ParseWarning] = []
        return decode(bytes, warnings: &warnings)
    }

    public static func decode(_ string: String) -> String { decode(Array(string.utf8)[...]) }

    static func decode(_ bytes: ArraySlice<UInt8>, warnings: inout [ParseWarning]) -> String {
        let hasEncodedWord = bytes.count >= 8 && bytes.indices.dropLast().contains { bytes[$0] == ASCII.equals && bytes[$0 + 1] == ASCII.question }
        if !hasEncodedWord {
            return decodeLiteral(bytes, warnings: &warnings)
        }
        var result = ""
        var pendingCharset: String?
        var pendingBytes: [UInt8] = []
        var literalStart = bytes.startIndex
        var index = bytes.startIndex

        func flushPending() {
            guard let label = pendingCharset else { return }
            result += TextDecoding.decode(pendingBytes, declaredLabel: label, isHTML: false).text
            pendingCharset = nil
            pendingBytes.removeAll(keepingCapacity: true)
        }

        while index < bytes.endIndex {
            if bytes[index] == ASCII.equals, index + 1 < bytes.endIndex, bytes[index + 1] == ASCII.question,
               let word = parseWord(bytes, at: index) {
                let literal = bytes[literalStart..<index]
                let onlyWhitespace = literal.allSatisfy { ASCII.isWhitespace($0) }
                if !(pendingCharset != nil && onlyWhitespace) {
                    flushPending()
                    result += decodeLiteral(literal, warnings: &warnings)
                }
                if pendingCharset != word.charset { flushPending() }
                pendingCharset = word.charset
                if word.isBase64 {
                    pendingBytes.append(contentsOf: Base64Decoder.decode(bytes[word.text]))
                } else {
                    decodeQ(bytes[word.text], into: &pendingBytes)
                }
                index = word.end
                literalStart = index
                continue
            }
            index += 1
        }
        flushPending()
        result += decodeLiteral(bytes[literalStart..<bytes.endIndex], warnings: &warnings)
        return result
    }

    struct Word {
        var charset: String
        var isBase64: Bool
        var text: Range<Int>
        var end: Int
    }

    /// Parses one encoded word starting at "=?"; nil when the bytes there are not one.
    static func parseWord(_ bytes: ArraySlice<UInt8>, at start: Int) -> Word? {
        var cursor = start + 2
        let charsetStart = cursor
        while cursor < bytes.endIndex, bytes[cursor] != ASCII.question {
            let byte = bytes[cursor]
            guard byte > ASCII.space, byte < 0x7F, cursor - charsetStart < 64 else { return nil }
            cursor += 1
        }
        guard cursor > charsetStart, cursor + 2 < bytes.endIndex, bytes[cursor + 2] == ASCII.question else { return nil }
        let charset = String(decoding: bytes[charsetStart..<cursor].map(ASCII.lowercased), as: UTF8.self)
        let encoding = ASCII.lowercased(bytes[cursor + 1])
        guard encoding == UInt8(ascii: "b") || encoding == UInt8(ascii: "q") else { return nil }
        let textStart = cursor + 3
        // Bounded search: a hostile header full of "=?" must stay linear-ish.
        let searchEnd = min(bytes.endIndex - 1, textStart + 4096)
        var end = textStart
        while end < searchEnd {
            if bytes[end] == ASCII.question, bytes[end + 1] == ASCII.equals { break }
            end += 1
        }
        guard end < searchEnd else { return nil }
        return Word(charset: charset, isBase64: encoding == UInt8(ascii: "b"), text: textStart..<end, end: end + 2)
    }

    /// The Q encoding (RFC 2047 section 4.2): "_" is a space, "=XY" a byte.
    static func decodeQ(_ text: ArraySlice<UInt8>, into output: inout [UInt8]) {
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == ASCII.underscore {
                output.append(ASCII.space)
            } else if byte == ASCII.equals, index + 2 < text.endIndex,
                      let high = ASCII.hexValue(text[index + 1]), let low = ASCII.hexValue(text[index + 2]) {
                output.append(high << 4 | low)
                index += 3
                continue
            } else {
                output.append(byte)
            }
            index += 1
        }
    }

    static func decodeLiteral(_ bytes: ArraySlice<UInt8>, warnings: inout [ParseWarning]) -> String {
        if bytes.isEmpty { return "" }
        if bytes.isASCII { return String(decoding: bytes, as: UTF8.self) }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        warnings.append(ParseWarning(.rawEightBitHeader, "a header holds raw 8-bit bytes that are not UTF-8; read as windows-1252"))
        return Charset.windows1252.decode(bytes) ?? ""
    }

    // MARK: Encoding

    /// Encodes text for an unstructured header as UTF-8 "B" encoded words of at most 75
    /// characters, never splitting a character, joined by folding whitespace. ASCII text that
    /// could not be mistaken for an encoded word is returned as it is.
    public static func encode(_ text: String, wordPayload: Int = 45) -> String {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) && !text.contains("=?") { return text }
        let prefix = "=?UTF-8?B?"
        // 45 bytes make a 75-character word, the RFC maximum; builders pass less so the
        // first word fits after the field name.
        let maxPayload = max(3, min(wordPayload, 45))
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text.unicodeScalars {
            let encoded = Array(String(character).utf8)
            if chunk.count + encoded.count > maxPayload, !chunk.isEmpty {
                words.append(prefix + String(decoding: Base64Encoder.encode(chunk, lineLength: 0), as: UTF8.self) + "?=")
                chunk.removeAll()
            }
            chunk.append(contentsOf: encoded)
        }
        if !chunk.isEmpty {
            words.append(prefix + String(decoding: Base64Encoder.encode(chunk, lineLength: 0), as: UTF8.self) + "?=")
        }
        return words.joined(separator: "\r\n ")
    }
}
