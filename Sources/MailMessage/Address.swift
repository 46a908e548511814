import Foundation

/// One mailbox: an optional display name and an address (`local@domain`). Addresses keep
/// internationalised local parts and domains as UTF-8 (RFC 6532).
public struct Mailbox: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String?
    public var address: String

    public init(name: String? = nil, address: String) {
        self.name = name
        self.address = address
    }

    public var localPart: String {
        guard let at = address.lastIndex(of: "@") else { return address }
        return String(address[..<at])
    }

    public var domain: String? {
        guard let at = address.lastIndex(of: "@") else { return nil }
        return String(address[address.index(after: at)...])
    }

    public var description: String {
        guard let name, !name.isEmpty else { return address }
        return "\(name) <\(address)>"
    }

    enum CodingKeys: String, CodingKey { case name, address }

}

/// An entry of an address list: a mailbox, or a named group of mailboxes (RFC 5322 3.4).
public enum Address: Sendable, Hashable {
    case mailbox(Mailbox)
    case group(name: String, members: [Mailbox])

    public var mailboxes: [Mailbox] {
        switch self {
        case .mailbox(let mailbox): return [mailbox]
        case .group(_, let members): return members
        }
    }
}

/// Reads address lists (RFC 5322 section 3.4, with the obsolete forms of 4.4):
///
///     address-list  = (address *("," address)) / obs-addr-list
///     address       = mailbox / group
///     mailbox       = name-addr / addr-spec
///     name-addr     = [display-name] angle-addr
///     angle-addr    = [CFWS] "<" addr-spec ">" [CFWS] / obs-angle-addr
///     group         = display-name ":" [group-list] ";" [CFWS]
///     display-name  = phrase
///     addr-spec     = local-part "@" domain
///
/// A tolerant tokenizer rather than a strict grammar: unquoted dots and commas in names,
/// encoded words inside quotes, missing closing brackets, source routes, and a name given
/// only as a comment (`ann@example.com (Ann)`) are all read as their sender meant.
public enum AddressParser {
    public static func parse(_ raw: ArraySlice<UInt8>) -> [Address] {
        var state = State()
        var index = raw.startIndex
        let end = raw.endIndex
        while index < end {
            let byte = raw[index]
            switch byte {
            case ASCII.quote:
                var content: [UInt8] = []
                index += 1
                while index < end, raw[index] != ASCII.quote {
                    if raw[index] == ASCII.backslash, index + 1 < end { index += 1 }
                    if raw[index] != ASCII.cr && raw[index] != ASCII.lf { content.append(raw[index]) }
                    index += 1
                }
                index += 1
                state.words.append(Word(bytes: content, isQuoted: true, spaceBefore: state.sawSpace))
                state.sawSpace = false
                continue
            case ASCII.openParen:
                let close = ParameterizedValue.skipComment(raw, from: index)
                let inner = raw[(index + 1)..<max(index + 1, close - 1)]
                if state.comment == nil { state.comment = Array(inner.trimmingWhitespace()) }
                index = close
                state.sawSpace = true
                continue
            case ASCII.lessThan:
                index += 1
                let start = index
                while index < end, raw[index] != ASCII.greaterThan, raw[index] != ASCII.comma || state.insideAngleIsQuotedComma(raw, from: start, to: index) {
                    index += 1
                }
                var inner = AddressParser.compactAddress(raw[start..<index])
                // Drop a source route ("<@relay,@relay2:ann@example.com>").
                if inner.first == ASCII.at, let colon = inner.firstIndex(of: ASCII.colon) { inner.removeSubrange(...colon) }
                if state.angle == nil { state.angle = inner }
                if index < end, raw[index] == ASCII.greaterThan { index += 1 }
                state.sawSpace = true
                continue
            case ASCII.comma:
                state.finishMailbox()
            case ASCII.semicolon:
                state.finishMailbox()
                state.finishGroup()
            case ASCII.colon where state.groupName == nil && state.angle == nil && !state.words.isEmpty:
                state.groupName = decodePhrase(state.words)
                state.words.removeAll()
                state.comment = nil
            case ASCII.space, ASCII.tab, ASCII.cr, ASCII.lf:
                state.sawSpace = true
            default:
                let start = index
                while index < end, !isDelimiter(raw[index]) { index += 1 }
                if index == start { index += 1 }
                state.words.append(Word(bytes: Array(raw[start..<index]), isQuoted: false, spaceBefore: state.sawSpace))
                state.sawSpace = false
                continue
            }
            index += 1
        }
        state.finishMailbox()
        state.finishGroup()
        return state.addresses
    }

    public static func parse(_ text: String) -> [Address] { parse(Array(text.utf8)[...]) }

    /// All mailboxes of a list, groups flattened.
    public static func mailboxes(_ raw: ArraySlice<UInt8>) -> [Mailbox] { parse(raw).flatMap(\.mailboxes) }

    /// An angle address without comments and without the folding whitespace that may
    /// surround its tokens (quoted local parts keep their spaces).
    static func compactAddress(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        if !bytes.contains(where: { $0 == ASCII.openParen || $0 == ASCII.quote || ASCII.isWhitespace($0) }) { return Array(bytes) }
        var output: [UInt8] = []
        var index = bytes.startIndex
        var inQuotes = false
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == ASCII.quote { inQuotes.toggle() }
            if byte == ASCII.openParen && !inQuotes {
                index = ParameterizedValue.skipComment(bytes, from: index)
                continue
            }
            if inQuotes || !ASCII.isWhitespace(byte) { output.append(byte) }
            index += 1
        }
        return output
    }

    private static func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case ASCII.quote, ASCII.openParen, ASCII.lessThan, ASCII.comma, ASCII.semicolon, ASCII.colon,
             ASCII.space, ASCII.tab, ASCII.cr, ASCII.lf:
            return true
        default:
            return false
        }
    }

    struct Word {
        var bytes: [UInt8]
        var isQuoted: Bool
        var spaceBefore: Bool
    }

    private struct State {
        var words: [Word] = []
        var comment: [UInt8]?
        var angle: [UInt8]?
        var sawSpace = false
        var groupName: String?
        var groupMembers: [Mailbox] = []
        var addresses: [Address] = []

        func insideAngleIsQuotedComma(_ raw: ArraySlice<UInt8>, from start: Int, to index: Int) -> Bool {
            // A comma inside a quoted local part ("<\"a,b\"@x>") is part of the address.
            raw[start..<index].filter { $0 == ASCII.quote }.count % 2 == 1
        }

        mutating func finishMailbox() {
            defer {
                words.removeAll()
                comment = nil
                angle = nil
                sawSpace = false
            }
            var mailbox: Mailbox?
            if let angle {
                let address = String(decoding: angle, as: UTF8.self)
                var name = words.isEmpty ? nil : AddressParser.decodePhrase(words)
                if name?.isEmpty ?? true, let comment { name = EncodedWords.decode(comment[...]) }
                if !address.isEmpty || !(name ?? "").isEmpty {
                    mailbox = Mailbox(name: name?.isEmpty == true ? nil : name, address: address)
                }
            } else if !words.isEmpty {
                let address = AddressParser.addrSpec(words)
                let name = comment.map { EncodedWords.decode($0[...]) }
                mailbox = Mailbox(name: name?.isEmpty == true ? nil : name, address: address)
            }
            guard let mailbox else { return }
            if groupName != nil { groupMembers.append(mailbox) } else { addresses.append(.mailbox(mailbox)) }
        }

        mutating func finishGroup() {
            guard let name = groupName else { return }
            addresses.append(.group(name: name, members: groupMembers))
            groupName = nil
            groupMembers = []
        }
    }

    /// A display name: words joined by single spaces, then encoded words decoded (also those
    /// inside quotes, which RFC 2047 forbids and every mailer sends).
    static func decodePhrase(_ words: [Word]) -> String {
        var bytes: [UInt8] = []
        for (offset, word) in words.enumerated() {
            if offset > 0 && (word.spaceBefore || word.isQuoted || words[offset - 1].isQuoted) { bytes.append(ASCII.space) }
            bytes.append(contentsOf: word.bytes)
        }
        return EncodedWords.decode(bytes[...]).trimming(" \t")
    }

    /// An addr-spec without angle brackets: tokens joined without the spaces that obsolete
    /// syntax allows around "." and "@"; quoted local parts keep their quotes when needed.
    static func addrSpec(_ words: [Word]) -> String {
        var bytes: [UInt8] = []
        for word in words {
            if word.isQuoted {
                let needsQuotes = word.bytes.contains { $0 <= ASCII.space || "()<>[]:;@\\,\"".utf8.contains($0) }
                if needsQuotes {
                    bytes.append(ASCII.quote)
                    for byte in word.bytes {
                        if byte == ASCII.quote || byte == ASCII.backslash { bytes.append(ASCII.backslash) }
                        bytes.append(byte)
                    }
                    bytes.append(ASCII.quote)
                } else {
                    bytes.append(contentsOf: word.bytes)
                }
            } else {
                bytes.append(contentsOf: word.bytes)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Mailbox {
    /// The mailbox as a header value: non-ASCII names become encoded words, names with
    /// specials are quoted.
    public var headerValue: String {
        guard let name, !name.isEmpty else { return address }
        if name.utf8.contains(where: { $0 >= 0x80 }) || name.contains("=?") {
            return "\(EncodedWords.encode(name, wordPayload: 36)) <\(address)>"
        }
        let plainAtom = name.utf8.allSatisfy { ASCII.isLetter($0) || ASCII.isDigit($0) || $0 == ASCII.space || "!#$%&'*+-/=?^_`{|}~".utf8.contains($0) }
        if plainAtom && !name.hasPrefix(" ") && !name.hasSuffix(" ") && !name.contains("  ") { return "\(name) <\(address)>" }
        let escaped = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escaped)\" <\(address)>"
    }
}
