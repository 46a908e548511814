import MailTransport

/// A capability a server announces (`CAPABILITY` response or response code). Open-ended.
public struct IMAPCapability: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var name: String
    public init(_ name: String) { self.name = name.uppercased() }
    public init(stringLiteral value: String) { self.init(value) }
    public var description: String { name }

    public static let imap4rev1: Self = "IMAP4REV1"
    public static let imap4rev2: Self = "IMAP4REV2"
    public static let startTLS: Self = "STARTTLS"
    public static let loginDisabled: Self = "LOGINDISABLED"
    public static let saslIR: Self = "SASL-IR"
    public static let idle: Self = "IDLE"
    public static let uidPlus: Self = "UIDPLUS"
    public static let move: Self = "MOVE"
    public static let literalPlus: Self = "LITERAL+"
    public static let literalMinus: Self = "LITERAL-"
    public static let id: Self = "ID"
    public static let condStore: Self = "CONDSTORE"
    public static let enable: Self = "ENABLE"
    public static let specialUse: Self = "SPECIAL-USE"
    public static func auth(_ mechanism: String) -> Self { IMAPCapability("AUTH=\(mechanism)") }
}

/// A message flag or keyword. Open-ended (servers and users add keywords).
public struct IMAPFlag: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var name: String
    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.init(value) }
    public var description: String { name }

    public static let seen: Self = "\\Seen"
    public static let answered: Self = "\\Answered"
    public static let flagged: Self = "\\Flagged"
    public static let deleted: Self = "\\Deleted"
    public static let draft: Self = "\\Draft"
    public static let recent: Self = "\\Recent"

    public static func == (a: Self, b: Self) -> Bool {
        // System flags compare case-insensitively (RFC 3501 2.3.2), keywords too in practice.
        a.name.lowercased() == b.name.lowercased()
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(name.lowercased()) }
}

/// A message UID (RFC 3501 2.3.1.1): a non-zero 32-bit number.
public typealias IMAPUID = UInt32

/// A set of UIDs in IMAP's sequence-set syntax (`1:5,7,10:*`).
public struct IMAPUIDSet: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Bound: Sendable, Hashable, Codable {
        case uid(IMAPUID)
        /// `*`: the largest UID in the mailbox.
        case last
        var text: String {
            switch self {
            case .uid(let u): return String(u)
            case .last: return "*"
            }
        }
    }
    public struct Range: Sendable, Hashable, Codable {
        public var lower: Bound
        public var upper: Bound
        public init(_ lower: Bound, _ upper: Bound) {
            self.lower = lower
            self.upper = upper
        }
    }

    public var ranges: [Range]

    public init(ranges: [Range]) { self.ranges = ranges }

    /// The given UIDs, with runs collapsed into ranges.
    public init<S: Sequence>(_ uids: S) where S.Element == IMAPUID {
        let sorted = Set(uids).sorted()
        var ranges: [Range] = []
        var start: IMAPUID?
        var previous: IMAPUID = 0
        for uid in sorted {
            if let s = start, uid == previous &+ 1 {
                previous = uid
                _ = s
                continue
            }
            if let s = start { ranges.append(Range(.uid(s), .uid(previous))) }
            start = uid
            previous = uid
        }
        if let s = start { ranges.append(Range(.uid(s), .uid(previous))) }
        self.ranges = ranges
    }

    /// `from:*` (everything from `from` on; note `*` also matches the last UID when it is below `from`).
    public static func from(_ uid: IMAPUID) -> IMAPUIDSet { IMAPUIDSet(ranges: [Range(.uid(max(uid, 1)), .last)]) }
    public static func range(_ lower: IMAPUID, _ upper: IMAPUID) -> IMAPUIDSet { IMAPUIDSet(ranges: [Range(.uid(lower), .uid(upper))]) }
    public static let all = IMAPUIDSet(ranges: [Range(.uid(1), .last)])

    public var isEmpty: Bool { ranges.isEmpty }

    public var description: String {
        ranges.map { $0.lower == $0.upper ? $0.lower.text : "\($0.lower.text):\($0.upper.text)" }.joined(separator: ",")
    }

    /// Splits into sets of at most `size` UIDs each (only for sets without `*`).
    public func batches(of size: Int) -> [IMAPUIDSet] {
        var all: [IMAPUID] = []
        for r in ranges {
            guard case .uid(let l) = r.lower, case .uid(let u) = r.upper else { return [self] }
            all += Array(min(l, u)...max(l, u))
        }
        return stride(from: 0, to: all.count, by: max(1, size)).map { IMAPUIDSet(all[$0..<min(all.count, $0 + size)]) }
    }
}

/// A calendar date for SEARCH SINCE/BEFORE (`date = day "-" month "-" year`).
public struct IMAPDate: Sendable, Hashable, Codable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The UTC calendar date of a Unix time.
    public init(secondsSince1970: Int64) {
        // Civil-from-days (proleptic Gregorian).
        let z = Int(secondsSince1970 >= 0 ? secondsSince1970 / 86400 : (secondsSince1970 - 86399) / 86400) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public var description: String { "\(day)-\(Self.months[max(0, min(11, month - 1))])-\(year)" }
}

/// SEARCH criteria (the subset ingest needs, plus raw text for anything else).
public indirect enum IMAPSearchKey: Sendable, Hashable {
    case all
    case uid(IMAPUIDSet)
    case since(IMAPDate)
    case before(IMAPDate)
    case unseen
    case seen
    case deleted
    case undeleted
    case header(String, String)
    case not(IMAPSearchKey)
    case or(IMAPSearchKey, IMAPSearchKey)
    case and([IMAPSearchKey])
    /// Sent as is.
    case raw(String)

    var text: String {
        switch self {
        case .all: return "ALL"
        case .uid(let set): return "UID \(set)"
        case .since(let d): return "SINCE \(d)"
        case .before(let d): return "BEFORE \(d)"
        case .unseen: return "UNSEEN"
        case .seen: return "SEEN"
        case .deleted: return "DELETED"
        case .undeleted: return "UNDELETED"
        case .header(let name, let value): return "HEADER \(IMAPString.quoted(name)) \(IMAPString.quoted(value))"
        case .not(let key): return "NOT \(key.parenthesised)"
        case .or(let a, let b): return "OR \(a.parenthesised) \(b.parenthesised)"
        case .and(let keys): return keys.isEmpty ? "ALL" : keys.map(\.text).joined(separator: " ")
        case .raw(let s): return s
        }
    }

    var parenthesised: String {
        if case .and(let keys) = self, keys.count > 1 { return "(\(text))" }
        return text
    }
}

enum IMAPString {
    /// A quoted string (RFC 3501 `quoted`); callers make sure there is no CR or LF.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        out.append("\"")
        return out
    }

    static func isSafeForQuoted(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 != 0 && $0 != 13 && $0 != 10 && $0 < 0x80 }
    }

    /// Modified UTF-7 (RFC 3501 5.1.3) for mailbox names.
    static func encodeMailboxName(_ name: String) -> String {
        var out = ""
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            var bytes: [UInt8] = []
            for u in pending { bytes += [UInt8(u >> 8), UInt8(u & 0xff)] }
            let b64 = Base64.encode(bytes).replacingSlashAndPadding()
            out += "&" + b64 + "-"
            pending = []
        }
        for scalar in name.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value <= 0x7e {
                flush()
                out += scalar == "&" ? "&-" : String(scalar)
            } else {
                pending += Array(String(scalar).utf16)
            }
        }
        flush()
        return out
    }
}

extension String {
    fileprivate func replacingSlashAndPadding() -> String {
        var out = ""
        for c in self where c != "=" { out.append(c == "/" ? "," : c) }
        return out
    }
}

/// What SELECT or EXAMINE reported.
public struct IMAPMailboxStatus: Sendable, Hashable, Codable {
    public var name: String
    public var exists: Int = 0
    public var recent: Int = 0
    public var uidValidity: UInt32?
    public var uidNext: IMAPUID?
    public var flags: [IMAPFlag] = []
    public var permanentFlags: [IMAPFlag] = []
    public var highestModSeq: UInt64?
    public var readOnly = false

    public init(name: String) { self.name = name }
}

/// One LIST answer.
public struct IMAPMailboxInfo: Sendable, Hashable, Codable {
    public var name: String
    public var delimiter: String?
    public var attributes: [String]

    public var isSelectable: Bool { !attributes.contains { $0.lowercased() == "\\noselect" || $0.lowercased() == "\\nonexistent" } }
    public func hasAttribute(_ attribute: String) -> Bool { attributes.contains { $0.lowercased() == attribute.lowercased() } }
}
