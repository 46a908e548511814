/// The one HTML escaper of the project: for element text and for quoted attribute values alike
/// (the pages' few hand-built strings, the sanitizer's output, quoted replies, signatures).
public enum HTMLEscape {
    /// `text` with `& < > " '` written as character references and NUL as U+FFFD, which HTML
    /// parsers substitute anyway. Works on Unicode scalars, not characters: a `<` followed by a
    /// combining mark is one `Character` that would not compare equal to "<", yet still opens a tag.
    public static func escape(_ text: String) -> String {
        let utf8 = text.utf8
        // Most text has nothing to escape: returned as it is.
        guard utf8.contains(where: { $0 == 0 || $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else {
            return text
        }
        var out = ""
        out.reserveCapacity(utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\u{0}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
