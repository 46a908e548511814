import Foundation

/// Compares subjects the way people mean them: "Re: Re: AW: [Support] Invoice [Ticket#12]" is "invoice".
public enum SubjectNormalizer {
    /// Reply and forward prefixes in common languages, compared case-insensitively before a colon
    /// (optionally with a count, "Re[2]:" or "RE(3):").
    static let prefixes: Set<String> = [
        "re", "fwd", "fw", "aw", "wg", "sv", "vs", "rif", "r", "i", "tr", "rv", "antw", "odp", "doorst", "enc", "res",
        "fs", "vb", "ynt", "ilt", "pd", "przek", "ref", "réf", "wtr", "vl", "vá", "továbbítás",
        "ответ", "отв", "нв", "пересл", "fwd.", "回复", "回覆", "答复", "转发", "轉寄", "轉發", "返信", "転送",
        "απ", "σχετ", "πρθ", "رد", "השב", "הועבר", "trả lời", "tl", "chuyển tiếp",
    ]

    /// The Mailroom tag put on outgoing subjects, from which a reply's ticket is found again.
    public static func tag(for number: Int64) -> String { "[Ticket#\(number)]" }

    /// The ticket number in a subject's Mailroom tag, if there is one.
    public static func ticketNumber(in subject: String) -> Int64? {
        guard let range = tagStart(in: subject) else { return nil }
        let digits = subject[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 18,
              subject[range.upperBound...].dropFirst(digits.count).first == "]" else { return nil }
        return Int64(digits)
    }

    /// The subject with reply/forward prefixes, the account's subject prefix and Mailroom's tag removed,
    /// white space folded, and case folded: the form resolvers compare.
    public static func normalise(_ subject: String, accountPrefix: String = "") -> String {
        var text = removingTags(subject)
        let prefix = trimmed(accountPrefix)
        var changed = true
        var rounds = 0
        // Prefixes interleave ("Re: [Support] Fwd: AW:"), so strip until nothing changes; bounded for hostile input.
        while changed && rounds < 100 {
            changed = false
            rounds += 1
            text = trimmed(text)
            if !prefix.isEmpty, text.lowercased().hasPrefix(prefix.lowercased()) {
                text = String(text.dropFirst(prefix.count))
                changed = true
                continue
            }
            if let stripped = strippingReplyPrefix(text) {
                text = stripped
                changed = true
            }
        }
        // Runs of white space become one space.
        var folded = String.UnicodeScalarView()
        var spaceBefore = false
        for scalar in text.unicodeScalars {
            if isSpace(scalar) {
                spaceBefore = !folded.isEmpty
                continue
            }
            if spaceBefore { folded.append(" ") }
            spaceBefore = false
            folded.append(scalar)
        }
        return String(folded).lowercased()
    }

    /// White space is looked for scalar by scalar, not by Character: grapheme breaking cost more
    /// than the rest of the normalisation on non-Latin subjects, and runs for every ingested message.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII ? scalar == " " || (0x09...0x0d).contains(scalar.value) : scalar.properties.isWhitespace
    }

    /// White space and line breaks removed at both ends (Foundation's `trimmingCharacters` went
    /// through NSString, once per round for every ingested message).
    static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        if first == scalars.startIndex, scalars.index(after: last) == scalars.endIndex { return text }
        return String(scalars[first...last])
    }

    /// "Re:", "RE[2]:", "Fwd :", "回复：" at the start, or nil.
    static func strippingReplyPrefix(_ text: String) -> String? {
        // Also a bracketed list tag like "[EXTERNAL]" is left alone: only words followed by a colon count.
        guard let colon = text.unicodeScalars.firstIndex(where: { $0 == ":" || $0 == "：" }) else { return nil }
        // No prefix is longer than 20 characters; a long text before the colon is not counted out.
        guard text.unicodeScalars[..<colon].count <= 80 else { return nil }
        var word = trimmed(String(text.unicodeScalars[..<colon]))
        guard !word.isEmpty, word.count <= 20 else { return nil }
        // A reply count: "Re[2]", "RE(3)", "Re^2".
        if let open = word.firstIndex(where: { $0 == "[" || $0 == "(" || $0 == "^" }) {
            let count = word[word.index(after: open)...].filter { $0 != "]" && $0 != ")" }
            guard count.allSatisfy(\.isNumber) else { return nil }
            word = String(word[..<open])
        }
        guard prefixes.contains(word.lowercased()) else { return nil }
        return String(text.unicodeScalars[text.unicodeScalars.index(after: colon)...])
    }

    /// Where the first "[Ticket#" (in any case) is. Compared byte by byte: this runs for every
    /// ingested message, and Foundation's case-insensitive search cost more than the rest of the
    /// normalisation together.
    static func tagStart(in text: String) -> Range<String.Index>? {
        let marker = Array("[ticket#".utf8)
        let utf8 = text.utf8
        var index = utf8.startIndex
        while let open = utf8[index...].firstIndex(of: UInt8(ascii: "[")) {
            var cursor = open
            var matched = 0
            while matched < marker.count, cursor < utf8.endIndex {
                var byte = utf8[cursor]
                if (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) { byte += 32 }
                guard byte == marker[matched] else { break }
                matched += 1
                cursor = utf8.index(after: cursor)
            }
            if matched == marker.count { return open..<cursor }
            index = utf8.index(after: open)
        }
        return nil
    }

    /// Removes every "[Ticket#123]" tag.
    static func removingTags(_ subject: String) -> String {
        var text = subject
        var guardCount = 0
        while let range = tagStart(in: text), guardCount < 20 {
            guardCount += 1
            guard let close = text[range.upperBound...].firstIndex(of: "]") else { break }
            text.removeSubrange(range.lowerBound...close)
        }
        return text
    }
}
