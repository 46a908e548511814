/// A user name and its secret. `description` and `debugDescription` never show the secret.
public struct MailCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Secret: Sendable, Hashable {
        case password(String)
        /// An OAuth2 access token, sent with XOAUTH2 or OAUTHBEARER.
        case oauth2AccessToken(String)
    }

    public var username: String
    public var secret: Secret

    public init(username: String, secret: Secret) {
        self.username = username
        self.secret = secret
    }

    public static func password(_ username: String, _ password: String) -> MailCredentials {
        MailCredentials(username: username, secret: .password(password))
    }

    public static func oauth2(_ username: String, accessToken: String) -> MailCredentials {
        MailCredentials(username: username, secret: .oauth2AccessToken(accessToken))
    }

    public var isOAuth2: Bool {
        if case .oauth2AccessToken = secret { return true }
        return false
    }

    public var description: String {
        switch secret {
        case .password: return "MailCredentials(username: \(username), password: <redacted>)"
        case .oauth2AccessToken: return "MailCredentials(username: \(username), oauth2AccessToken: <redacted>)"
        }
    }

    public var debugDescription: String { description }
}

/// SASL initial responses (already base64), shared by IMAP, POP3 and SMTP.
public enum SASL {
    /// RFC 4616: `[authzid] NUL authcid NUL passwd`.
    public static func plain(username: String, password: String) -> String {
        var bytes: [UInt8] = [0]
        bytes += Array(username.utf8)
        bytes.append(0)
        bytes += Array(password.utf8)
        return Base64.encode(bytes)
    }

    /// Google/Microsoft XOAUTH2: `user=U ^A auth=Bearer T ^A ^A`.
    public static func xoauth2(username: String, accessToken: String) -> String {
        Base64.encode(Array("user=\(username)\u{1}auth=Bearer \(accessToken)\u{1}\u{1}".utf8))
    }

    /// RFC 7628 OAUTHBEARER: `n,a=U,^Ahost=H^Aport=P^Aauth=Bearer T^A^A`.
    public static func oauthBearer(username: String, accessToken: String, host: String, port: Int) -> String {
        var user = ""
        for c in username {
            switch c {
            case "=": user += "=3D"
            case ",": user += "=2C"
            default: user.append(c)
            }
        }
        return Base64.encode(Array("n,a=\(user),\u{1}host=\(host)\u{1}port=\(port)\u{1}auth=Bearer \(accessToken)\u{1}\u{1}".utf8))
    }
}

/// Minimal RFC 4648 base64 (no Foundation in this target).
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes, ignoring whitespace; nil when the input is not base64.
    public static func decode(_ string: String) -> [UInt8]? {
        var values: [UInt8] = []
        for c in string.utf8 {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): values.append(62)
            case UInt8(ascii: "/"): values.append(63)
            case UInt8(ascii: "="), UInt8(ascii: " "), UInt8(ascii: "\r"), UInt8(ascii: "\n"): continue
            default: return nil
            }
        }
        var out: [UInt8] = []
        var i = 0
        while i + 4 <= values.count {
            let n = UInt32(values[i]) << 18 | UInt32(values[i + 1]) << 12 | UInt32(values[i + 2]) << 6 | UInt32(values[i + 3])
            out += [UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)]
            i += 4
        }
        let rest = values.count - i
        if rest == 2 {
            let n = UInt32(values[i]) << 18 | UInt32(values[i + 1]) << 12
            out.append(UInt8(n >> 16 & 255))
        } else if rest == 3 {
            let n = UInt32(values[i]) << 18 | UInt32(values[i + 1]) << 12 | UInt32(values[i + 2]) << 6
            out += [UInt8(n >> 16 & 255), UInt8(n >> 8 & 255)]
        } else if rest == 1 {
            return nil
        }
        return out
    }
}
