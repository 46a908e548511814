/// Makes protocol lines safe for logs: credentials and SASL payloads are replaced.
public enum LogRedaction {
    /// Redacts a client command line (without CRLF) of any of the three protocols:
    /// IMAP `tag LOGIN user pass`, `tag AUTHENTICATE mech payload`, POP3 `PASS secret`,
    /// `AUTH mech payload`, `APOP user digest`, SMTP `AUTH mech payload`.
    public static func redactCommand(_ line: String) -> String {
        let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard let first = words.first else { return line }
        let w0 = first.uppercased()
        switch w0 {
        case "PASS":
            return "PASS <redacted>"
        case "APOP":
            return words.count > 1 ? "APOP \(words[1]) <redacted>" : "APOP <redacted>"
        case "AUTH", "AUTHENTICATE":
            return words.count > 1 ? "\(first) \(words[1])" + (words.count > 2 ? " <redacted>" : "") : String(first)
        default:
            break
        }
        if words.count >= 2 {
            let w1 = words[1].uppercased()
            if w1 == "LOGIN" {
                return "\(first) LOGIN <redacted>"
            }
            if w1 == "AUTHENTICATE" {
                return words.count > 2 ? "\(first) AUTHENTICATE \(words[2])" + (words.count > 3 ? " <redacted>" : "") : line
            }
        }
        return line
    }
}
