import MailTransport

extension String {
    func trimmingLeadingSpace() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        return String(s)
    }
}

/// Mailbox names on the wire: modified UTF-7 (RFC 3501 5.1.3).
public enum IMAPMailboxName {
    public static func encode(_ name: String) -> String { IMAPString.encodeMailboxName(name) }

    public static func decode(_ wire: String) -> String {
        guard wire.contains("&") else { return wire }
        var out = ""
        var rest = Substring(wire)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            guard let dash = after.firstIndex(of: "-") else {
                out += rest[amp...]
                return out
            }
            let encoded = after[..<dash]
            if encoded.isEmpty {
                out += "&"
            } else {
                var b64 = encoded.map { $0 == "," ? "/" : String($0) }.joined()
                while b64.count % 4 != 0 { b64 += "=" }
                if let bytes = Base64.decode(b64), bytes.count % 2 == 0 {
                    var units: [UInt16] = []
                    for i in stride(from: 0, to: bytes.count, by: 2) { units.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])) }
                    out += String(decoding: units, as: UTF16.self)
                } else {
                    out += "&" + encoded + "-"
                }
            }
            rest = after[after.index(after: dash)...]
        }
        return out + rest
    }
}
