import MailTransport

/// Parser errors: `incomplete` means "need more bytes"; `invalid` means the server sent
/// something that is not IMAP.
enum IMAPParseError: Error, Equatable {
    case incomplete
    case invalid(String)
    case limit(String)
}

/// Limits against hostile servers, in one place.
public struct IMAPParserOptions: Sendable, Hashable {
    /// Longest response text outside literals (a SEARCH answer for 100,000 UIDs is ~700 kB).
    public var maxLineLength: Int = 4 * 1024 * 1024
    /// Largest literal held in memory (mailbox names, quoted headers in non-streamed places).
    public var maxInlineLiteralSize: Int = 1024 * 1024
    /// Largest streamed message literal (BODY[]); larger is an error, not a crash.
    public var maxStreamedLiteralSize: Int = 2 * 1024 * 1024 * 1024
    /// Deepest parenthesised list (BODYSTRUCTURE and friends).
    public var maxNestingDepth: Int = 32

    public init() {}
}

/// A cursor over a window of bytes. Reaching the end of the window throws `.incomplete`.
struct IMAPCursor {
    let bytes: [UInt8]
    var index: Int
    let options: IMAPParserOptions

    init(_ bytes: [UInt8], options: IMAPParserOptions) {
        self.bytes = bytes
        self.index = 0
        self.options = options
    }

    var isAtEnd: Bool { index >= bytes.count }

    func peek() throws -> UInt8 {
        guard index < bytes.count else { throw IMAPParseError.incomplete }
        return bytes[index]
    }

    mutating func next() throws -> UInt8 {
        let b = try peek()
        index += 1
        return b
    }

    mutating func expect(_ byte: UInt8) throws {
        let b = try peek()
        guard b == byte else {
            throw IMAPParseError.invalid("expected \"\(Character(Unicode.Scalar(byte)))\" at \(index), found \"\(Character(Unicode.Scalar(b)))\"")
        }
        index += 1
    }

    /// Case-insensitive keyword.
    mutating func expect(_ keyword: String) throws {
        for k in keyword.utf8 {
            let b = try peek()
            guard lower(b) == lower(k) else { throw IMAPParseError.invalid("expected \(keyword)") }
            index += 1
        }
    }

    mutating func tryKeyword(_ keyword: String) throws -> Bool {
        let saved = index
        do {
            try expect(keyword)
            return true
        } catch IMAPParseError.invalid {
            index = saved
            return false
        }
    }

    func lower(_ b: UInt8) -> UInt8 { (b >= 65 && b <= 90) ? b + 32 : b }

    mutating func skipSpaces() throws {
        while try peek() == UInt8(ascii: " ") { index += 1 }
    }

    mutating func crlf() throws {
        // Tolerate trailing spaces and a bare LF.
        while try peek() == UInt8(ascii: " ") { index += 1 }
        if try peek() == 13 { index += 1 }
        try expect(10)
    }

    func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
}

/// One function per grammar rule (RFC 3501 section 9, RFC 9051 where it differs).
enum IMAPGrammar {
    // atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
    // ATOM-CHAR     = <any CHAR except atom-specials>
    static func isAtomChar(_ b: UInt8) -> Bool {
        switch b {
        case 0...0x20, 0x7f, UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"), UInt8(ascii: "%"),
             UInt8(ascii: "*"), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]"):
            return false
        default:
            return true
        }
    }

    // ASTRING-CHAR = ATOM-CHAR / resp-specials
    static func isAStringChar(_ b: UInt8) -> Bool { isAtomChar(b) || b == UInt8(ascii: "]") }

    // atom = 1*ATOM-CHAR
    static func atom(_ c: inout IMAPCursor) throws -> String {
        let start = c.index
        while isAtomChar(try c.peek()) { c.index += 1 }
        guard c.index > start else { throw IMAPParseError.invalid("expected an atom") }
        return c.string(start..<c.index)
    }

    // number = 1*DIGIT ; unsigned 32-bit (64-bit for mod-sequences)
    static func number(_ c: inout IMAPCursor) throws -> UInt64 {
        let start = c.index
        var value: UInt64 = 0
        while true {
            let b = try c.peek()
            guard b >= 48, b <= 57 else { break }
            guard c.index - start < 20 else { throw IMAPParseError.invalid("number too long") }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(b - 48))
            guard !o1, !o2 else { throw IMAPParseError.invalid("number too large") }
            value = s
            c.index += 1
        }
        guard c.index > start else { throw IMAPParseError.invalid("expected a number") }
        return value
    }

    static func number32(_ c: inout IMAPCursor) throws -> UInt32 {
        let n = try number(&c)
        guard n <= UInt64(UInt32.max) else { throw IMAPParseError.invalid("number exceeds 32 bits") }
        return UInt32(n)
    }

    // nz-number = digit-nz *DIGIT
    static func nzNumber(_ c: inout IMAPCursor) throws -> UInt32 {
        let n = try number32(&c)
        guard n > 0 else { throw IMAPParseError.invalid("expected a non-zero number") }
        return n
    }

    // quoted = DQUOTE *QUOTED-CHAR DQUOTE
    // QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials
    static func quoted(_ c: inout IMAPCursor) throws -> [UInt8] {
        try c.expect(UInt8(ascii: "\""))
        var out: [UInt8] = []
        while true {
            let b = try c.next()
            switch b {
            case UInt8(ascii: "\""): return out
            case UInt8(ascii: "\\"): out.append(try c.next())
            case 13, 10: throw IMAPParseError.invalid("line break inside a quoted string")
            default: out.append(b)
            }
            if out.count > c.options.maxLineLength { throw IMAPParseError.limit("quoted string too long") }
        }
    }

    // literal = "{" number ["+"] "}" CRLF *CHAR8   (literal8 = "~{" number "}" CRLF *OCTET)
    /// The literal's size, with the cursor after its CRLF.
    static func literalHeader(_ c: inout IMAPCursor) throws -> Int {
        if try c.peek() == UInt8(ascii: "~") { c.index += 1 }
        try c.expect(UInt8(ascii: "{"))
        let n = try number(&c)
        if try c.peek() == UInt8(ascii: "+") { c.index += 1 }
        try c.expect(UInt8(ascii: "}"))
        if try c.peek() == 13 { c.index += 1 }
        try c.expect(10)
        guard n <= UInt64(Int32.max) * 2 else { throw IMAPParseError.limit("literal of \(n) bytes") }
        return Int(n)
    }

    static func literal(_ c: inout IMAPCursor) throws -> [UInt8] {
        let size = try literalHeader(&c)
        guard size <= c.options.maxInlineLiteralSize else { throw IMAPParseError.limit("literal of \(size) bytes") }
        guard c.index + size <= c.bytes.count else { throw IMAPParseError.incomplete }
        defer { c.index += size }
        return Array(c.bytes[c.index..<c.index + size])
    }

    // string = quoted / literal
    static func string(_ c: inout IMAPCursor) throws -> [UInt8] {
        let b = try c.peek()
        if b == UInt8(ascii: "\"") { return try quoted(&c) }
        if b == UInt8(ascii: "{") || b == UInt8(ascii: "~") { return try literal(&c) }
        throw IMAPParseError.invalid("expected a string")
    }

    // nstring = string / nil
    static func nstring(_ c: inout IMAPCursor) throws -> [UInt8]? {
        if try c.lower(c.peek()) == UInt8(ascii: "n") {
            try c.expect("NIL")
            return nil
        }
        return try string(&c)
    }

    // astring = 1*ASTRING-CHAR / string
    static func astring(_ c: inout IMAPCursor) throws -> String {
        let b = try c.peek()
        if b == UInt8(ascii: "\"") || b == UInt8(ascii: "{") {
            return String(decoding: try string(&c), as: UTF8.self)
        }
        let start = c.index
        while isAStringChar(try c.peek()) { c.index += 1 }
        guard c.index > start else { throw IMAPParseError.invalid("expected an astring") }
        return c.string(start..<c.index)
    }

    // flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension
    // flag-perm = flag / "\*"
    static func flag(_ c: inout IMAPCursor) throws -> IMAPFlag {
        if try c.peek() == UInt8(ascii: "\\") {
            c.index += 1
            if try c.peek() == UInt8(ascii: "*") {
                c.index += 1
                return IMAPFlag("\\*")
            }
            return IMAPFlag("\\" + (try atom(&c)))
        }
        return IMAPFlag(try atom(&c))
    }

    // flag-list = "(" [flag *(SP flag)] ")"
    static func flagList(_ c: inout IMAPCursor) throws -> [IMAPFlag] {
        try c.expect(UInt8(ascii: "("))
        var flags: [IMAPFlag] = []
        while true {
            try c.skipSpaces()
            if try c.peek() == UInt8(ascii: ")") {
                c.index += 1
                return flags
            }
            flags.append(try flag(&c))
        }
    }

    // text = 1*TEXT-CHAR   (up to CRLF; servers send UTF-8)
    static func text(_ c: inout IMAPCursor) throws -> String {
        let start = c.index
        while true {
            let b = try c.peek()
            if b == 13 || b == 10 { break }
            c.index += 1
        }
        return c.string(start..<c.index)
    }

    // capability-data = "CAPABILITY" *(SP capability) SP "IMAP4rev1" *(SP capability)
    // capability      = ("AUTH=" auth-type) / atom
    static func capabilities(_ c: inout IMAPCursor, until terminator: UInt8?) throws -> [IMAPCapability] {
        var caps: [IMAPCapability] = []
        while true {
            let b = try c.peek()
            if b == 13 || b == 10 || b == terminator { return caps }
            if b == UInt8(ascii: " ") {
                c.index += 1
                continue
            }
            caps.append(IMAPCapability(try atom(&c)))
        }
    }

    // resp-text = ["[" resp-text-code "]" SP] text
    static func responseText(_ c: inout IMAPCursor) throws -> IMAPResponseText {
        var code: IMAPResponseCode?
        if try c.peek() == UInt8(ascii: "[") {
            c.index += 1
            code = try responseCode(&c)
            try c.expect(UInt8(ascii: "]"))
            if try c.peek() == UInt8(ascii: " ") { c.index += 1 }
        }
        return IMAPResponseText(code: code, text: try text(&c))
    }

    // resp-text-code = "ALERT" / capability-data / "PERMANENTFLAGS" SP "(" [flag-perm *(SP flag-perm)] ")" /
    //                  "READ-ONLY" / "READ-WRITE" / "TRYCREATE" / "UIDNEXT" SP nz-number /
    //                  "UIDVALIDITY" SP nz-number / "UNSEEN" SP nz-number /
    //                  atom [SP 1*<any TEXT-CHAR except "]">]
    // resp-code-apnd = "APPENDUID" SP nz-number SP append-uid        (RFC 4315)
    // resp-code-copy = "COPYUID" SP nz-number SP uid-set SP uid-set  (RFC 4315)
    static func responseCode(_ c: inout IMAPCursor) throws -> IMAPResponseCode {
        let name = try atom(&c).uppercased()
        switch name {
        case "ALERT": return .alert
        case "READ-ONLY": return .readOnly
        case "READ-WRITE": return .readWrite
        case "TRYCREATE": return .tryCreate
        case "AUTHENTICATIONFAILED": return .authenticationFailed
        case "CAPABILITY":
            return .capability(try capabilities(&c, until: UInt8(ascii: "]")))
        case "PERMANENTFLAGS":
            try c.expect(UInt8(ascii: " "))
            return .permanentFlags(try flagList(&c))
        case "UIDNEXT":
            try c.expect(UInt8(ascii: " "))
            return .uidNext(try number32(&c))
        case "UIDVALIDITY":
            try c.expect(UInt8(ascii: " "))
            return .uidValidity(try number32(&c))
        case "UNSEEN":
            try c.expect(UInt8(ascii: " "))
            return .unseen(try number32(&c))
        case "HIGHESTMODSEQ":
            try c.expect(UInt8(ascii: " "))
            return .highestModSeq(try number(&c))
        case "APPENDUID":
            try c.expect(UInt8(ascii: " "))
            let validity = try number32(&c)
            try c.expect(UInt8(ascii: " "))
            let uid = try number32(&c)
            // A multi-append answer (uid-set) is reduced to its first UID.
            while try c.peek() != UInt8(ascii: "]") { c.index += 1 }
            return .appendUID(uidValidity: validity, uid: uid)
        case "COPYUID":
            try c.expect(UInt8(ascii: " "))
            let validity = try number32(&c)
            try c.expect(UInt8(ascii: " "))
            let source = try atom(&c)
            try c.expect(UInt8(ascii: " "))
            let destination = try atom(&c)
            return .copyUID(uidValidity: validity, source: source, destination: destination)
        default:
            var rest: String?
            if try c.peek() == UInt8(ascii: " ") {
                c.index += 1
                let start = c.index
                while true {
                    let b = try c.peek()
                    if b == UInt8(ascii: "]") || b == 13 || b == 10 { break }
                    c.index += 1
                }
                rest = c.string(start..<c.index)
            }
            return .other(name, rest)
        }
    }

    // response = *(continue-req / response-data) response-done
    // continue-req = "+" SP (resp-text / base64) CRLF
    // response-tagged = tag SP resp-cond-state CRLF
    // response-untagged / response-data = "*" SP (resp-cond-state / resp-cond-bye /
    //                   mailbox-data / message-data / capability-data / enable-data) CRLF
    /// One complete response that is not a FETCH.
    static func response(_ c: inout IMAPCursor) throws -> IMAPResponse {
        let first = try c.peek()
        if first == UInt8(ascii: "+") {
            c.index += 1
            if try c.peek() == UInt8(ascii: " ") { c.index += 1 }
            let t = try text(&c)
            try c.crlf()
            return .continuation(t)
        }
        if first == UInt8(ascii: "*") {
            c.index += 1
            try c.expect(UInt8(ascii: " "))
            let u = try untagged(&c)
            try c.crlf()
            return .untagged(u)
        }
        // tag = 1*<any ASTRING-CHAR except "+">
        let start = c.index
        while try isAStringChar(c.peek()) && c.peek() != UInt8(ascii: "+") { c.index += 1 }
        guard c.index > start else { throw IMAPParseError.invalid("expected a tag, \"*\" or \"+\"") }
        let tag = c.string(start..<c.index)
        try c.expect(UInt8(ascii: " "))
        let status = try condState(&c)
        let text: IMAPResponseText
        if try c.peek() == UInt8(ascii: " ") {
            c.index += 1
            text = try responseText(&c)
        } else {
            text = IMAPResponseText(code: nil, text: "")
        }
        try c.crlf()
        return .tagged(tag: tag, status: status, text)
    }

    // resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text
    // resp-cond-auth  = ("OK" / "PREAUTH") SP resp-text
    // resp-cond-bye   = "BYE" SP resp-text
    static func condState(_ c: inout IMAPCursor) throws -> IMAPStatus {
        let word = try atom(&c).uppercased()
        guard let status = IMAPStatus(rawValue: word) else { throw IMAPParseError.invalid("unknown status \(word)") }
        return status
    }

    /// After "* ": everything except FETCH (handled by the streaming decoder).
    static func untagged(_ c: inout IMAPCursor) throws -> IMAPUntagged {
        let b = try c.peek()
        if b >= 48, b <= 57 {
            // message-data = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att))
            // mailbox-data =/ number SP "EXISTS" / number SP "RECENT"
            let n = try number32(&c)
            try c.expect(UInt8(ascii: " "))
            let word = try atom(&c).uppercased()
            switch word {
            case "EXISTS": return .exists(n)
            case "RECENT": return .recent(n)
            case "EXPUNGE": return .expunge(n)
            default:
                let rest = try skipRest(&c)
                return .other("\(n) \(word)", rest)
            }
        }
        let word = try atom(&c).uppercased()
        switch word {
        case "OK", "NO", "BAD", "PREAUTH", "BYE":
            let status = IMAPStatus(rawValue: word)!
            if try c.peek() == UInt8(ascii: " ") {
                c.index += 1
                return .status(status, try responseText(&c))
            }
            return .status(status, IMAPResponseText(code: nil, text: ""))
        case "CAPABILITY":
            return .capability(try capabilities(&c, until: nil))
        case "FLAGS":
            try c.expect(UInt8(ascii: " "))
            return .flags(try flagList(&c))
        case "LIST", "LSUB":
            try c.expect(UInt8(ascii: " "))
            return .list(try mailboxList(&c))
        case "SEARCH":
            // mailbox-data =/ "SEARCH" *(SP nz-number)   (a MODSEQ suffix from CONDSTORE is skipped)
            var uids: [UInt32] = []
            while true {
                try c.skipSpaces()
                let d = try c.peek()
                if d == 13 || d == 10 { return .search(uids) }
                if d == UInt8(ascii: "(") {
                    _ = try skipRest(&c)
                    return .search(uids)
                }
                uids.append(try number32(&c))
            }
        case "STATUS":
            // "STATUS" SP mailbox SP "(" [status-att-list] ")"
            try c.expect(UInt8(ascii: " "))
            let mailbox = try astring(&c)
            try c.expect(UInt8(ascii: " "))
            try c.expect(UInt8(ascii: "("))
            var values: [String: UInt64] = [:]
            while true {
                try c.skipSpaces()
                if try c.peek() == UInt8(ascii: ")") {
                    c.index += 1
                    break
                }
                let name = try atom(&c).uppercased()
                try c.expect(UInt8(ascii: " "))
                values[name] = try number(&c)
            }
            return .mailboxStatus(mailbox: mailbox, values)
        case "ENABLED":
            var names: [String] = []
            while try c.peek() == UInt8(ascii: " ") {
                c.index += 1
                names.append(try atom(&c))
            }
            return .enabled(names)
        case "ID":
            // id-response = "ID" SP id-params-list ; "(" *(string SP nstring) ")" / nil
            try c.expect(UInt8(ascii: " "))
            var fields: [String: String] = [:]
            if try c.peek() == UInt8(ascii: "(") {
                c.index += 1
                while true {
                    try c.skipSpaces()
                    if try c.peek() == UInt8(ascii: ")") {
                        c.index += 1
                        break
                    }
                    let key = String(decoding: try string(&c), as: UTF8.self)
                    try c.expect(UInt8(ascii: " "))
                    fields[key] = try nstring(&c).map { String(decoding: $0, as: UTF8.self) }
                }
            } else {
                try c.expect("NIL")
            }
            return .id(fields)
        default:
            return .other(word, try skipRest(&c))
        }
    }

    // mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox [SP mbox-list-extended]
    static func mailboxList(_ c: inout IMAPCursor) throws -> IMAPMailboxInfo {
        try c.expect(UInt8(ascii: "("))
        var attributes: [String] = []
        while true {
            try c.skipSpaces()
            if try c.peek() == UInt8(ascii: ")") {
                c.index += 1
                break
            }
            attributes.append(try flag(&c).name)
        }
        try c.expect(UInt8(ascii: " "))
        let delimiter = try nstring(&c).map { String(decoding: $0, as: UTF8.self) }
        try c.expect(UInt8(ascii: " "))
        let name = try astring(&c)
        _ = try skipRest(&c)
        return IMAPMailboxInfo(name: IMAPMailboxName.decode(name), delimiter: delimiter, attributes: attributes)
    }

    /// Skips to the end of the response (not consuming CRLF), honouring quoted strings and
    /// literals, and returns the skipped text (literals elided).
    static func skipRest(_ c: inout IMAPCursor) throws -> String {
        let start = c.index
        while true {
            let b = try c.peek()
            switch b {
            case 13, 10:
                return c.string(start..<c.index).trimmingLeadingSpace()
            case UInt8(ascii: "\""):
                _ = try quoted(&c)
            case UInt8(ascii: "{"):
                _ = try literal(&c)
            default:
                c.index += 1
            }
            if c.index - start > c.options.maxLineLength { throw IMAPParseError.limit("response longer than \(c.options.maxLineLength) bytes") }
        }
    }

    /// Any value in a FETCH response we do not interpret (ENVELOPE, BODYSTRUCTURE, X-GM-LABELS):
    /// atoms, numbers, strings and nested lists, with a depth limit. Returns its raw text.
    static func genericValue(_ c: inout IMAPCursor, depth: Int = 0) throws -> String {
        guard depth <= c.options.maxNestingDepth else { throw IMAPParseError.limit("lists nested deeper than \(c.options.maxNestingDepth)") }
        let start = c.index
        let b = try c.peek()
        switch b {
        case UInt8(ascii: "("):
            c.index += 1
            while true {
                try c.skipSpaces()
                if try c.peek() == UInt8(ascii: ")") {
                    c.index += 1
                    break
                }
                _ = try genericValue(&c, depth: depth + 1)
            }
        case UInt8(ascii: "\""), UInt8(ascii: "{"), UInt8(ascii: "~"):
            _ = try string(&c)
        default:
            while true {
                let d = try c.peek()
                if d == UInt8(ascii: " ") || d == UInt8(ascii: ")") || d == 13 || d == 10 { break }
                if d == UInt8(ascii: "[") {
                    // e.g. BODY[HEADER] inside lists
                    while try c.peek() != UInt8(ascii: "]") { c.index += 1 }
                }
                c.index += 1
            }
            guard c.index > start else { throw IMAPParseError.invalid("expected a value") }
        }
        return c.string(start..<c.index)
    }
}
