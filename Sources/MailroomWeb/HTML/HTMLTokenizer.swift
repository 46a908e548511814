import Foundation

/// One piece of an HTML document as the sanitizer sees it.
public enum HTMLToken: Equatable, Sendable {
    case startTag(name: String, attributes: [HTMLAttribute], selfClosing: Bool)
    case endTag(name: String)
    /// Character data with entities already decoded.
    case text(String)
    /// The content of a raw text element (script, style, ...), as written.
    case rawText(String)
    /// Comments, doctypes and processing instructions: never kept.
    case ignored
}

public struct HTMLAttribute: Equatable, Sendable {
    public var name: String
    /// Entity-decoded.
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A forgiving tokenizer following the shape of the HTML standard's tokenizer closely enough that
/// the sanitizer sees the tags a browser would; whatever it reads as text is escaped on output,
/// so a tag it misses can only ever be shown, never run.
///
/// Works on Unicode scalars; never throws: broken markup becomes text or is dropped.
public struct HTMLTokenizer {
    /// Elements whose content is raw text up to their end tag (no tags inside).
    public static let rawTextElements: Set<String> = [
        "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
    ]

    private let input: [Unicode.Scalar]
    private var position = 0
    /// After `<plaintext>` everything is text.
    private var plaintext = false

    public init(_ html: String) {
        input = Array(html.unicodeScalars)
    }

    public static func tokenize(_ html: String) -> [HTMLToken] {
        var tokenizer = HTMLTokenizer(html)
        var tokens: [HTMLToken] = []
        while let token = tokenizer.next() { tokens.append(token) }
        return tokens
    }

    public mutating func next() -> HTMLToken? {
        if let raw = pendingRawText {
            pendingRawText = nil
            return .rawText(raw)
        }
        guard position < input.count else { return nil }
        if plaintext {
            let text = String(String.UnicodeScalarView(input[position...]))
            position = input.count
            return .text(text)
        }
        if input[position] == "<", let token = tag() {
            return token
        }
        return text()
    }

    // MARK: Text

    private mutating func text() -> HTMLToken {
        let start = position
        position += 1 // the first character is text even when it is a '<' that starts no tag
        while position < input.count, input[position] != "<" { position += 1 }
        return .text(HTMLEntities.decode(String(String.UnicodeScalarView(input[start..<position])), inAttribute: false))
    }

    // MARK: Tags

    /// At a '<': a tag, comment or doctype, or nil when the '<' is just text.
    private mutating func tag() -> HTMLToken? {
        let next = peek(1)
        if next == "!" {
            if match("<!--", at: position) { return comment() }
            return bogusComment(from: position + 2)
        }
        if next == "?" { return bogusComment(from: position + 1) }
        if next == "/" {
            guard let after = peek(2) else { return nil }
            if after == ">" {
                position += 3
                return .ignored
            }
            guard Self.isASCIILetter(after) else { return bogusComment(from: position + 2) }
            position += 2
            let name = readTagName()
            // End tags' attributes are read and thrown away.
            _ = readAttributes()
            return .endTag(name: name)
        }
        guard let first = next, Self.isASCIILetter(first) else { return nil }
        position += 1
        let name = readTagName()
        guard let (attributes, selfClosing) = readAttributes() else {
            // A tag cut off by the end of the input is dropped, as browsers do.
            position = input.count
            return .ignored
        }
        if Self.rawTextElements.contains(name) {
            // A '/' does not end these elements in HTML: their content runs to the end tag.
            pendingRawText = readRawText(until: name)
        } else if name == "plaintext" {
            plaintext = true
        }
        return .startTag(name: name, attributes: attributes, selfClosing: selfClosing)
    }

    /// Raw text read after a raw text element's start tag; the next token.
    private var pendingRawText: String?

    private mutating func readTagName() -> String {
        var name = ""
        while position < input.count {
            let c = input[position]
            if Self.isSpace(c) || c == "/" || c == ">" { break }
            name.unicodeScalars.append(Self.lower(c))
            position += 1
        }
        return name
    }

    /// Reads attributes up to and including '>'; nil if the input ends first.
    private mutating func readAttributes() -> ([HTMLAttribute], Bool)? {
        var attributes: [HTMLAttribute] = []
        var seen: Set<String> = []
        var selfClosing = false
        while true {
            while position < input.count, Self.isSpace(input[position]) || input[position] == "/" {
                selfClosing = input[position] == "/"
                position += 1
            }
            guard position < input.count else { return nil }
            if input[position] == ">" {
                position += 1
                return (attributes, selfClosing)
            }
            selfClosing = false
            var name = ""
            // The first character may be '=' (the standard keeps it in the name).
            name.unicodeScalars.append(Self.lower(input[position]))
            position += 1
            while position < input.count {
                let c = input[position]
                if Self.isSpace(c) || c == "/" || c == ">" || c == "=" { break }
                name.unicodeScalars.append(Self.lower(c))
                position += 1
            }
            var value = ""
            var probe = position
            while probe < input.count, Self.isSpace(input[probe]) { probe += 1 }
            if probe < input.count, input[probe] == "=" {
                position = probe + 1
                while position < input.count, Self.isSpace(input[position]) { position += 1 }
                guard position < input.count else { return nil }
                let quote = input[position]
                if quote == "\"" || quote == "'" {
                    position += 1
                    let start = position
                    while position < input.count, input[position] != quote { position += 1 }
                    guard position < input.count else { return nil }
                    value = String(String.UnicodeScalarView(input[start..<position]))
                    position += 1
                } else {
                    let start = position
                    while position < input.count, !Self.isSpace(input[position]), input[position] != ">" { position += 1 }
                    value = String(String.UnicodeScalarView(input[start..<position]))
                }
                value = HTMLEntities.decode(value, inAttribute: true)
            }
            // A repeated attribute is ignored: the first one wins, as in browsers.
            if seen.insert(name).inserted { attributes.append(HTMLAttribute(name, value)) }
        }
    }

    /// Everything up to `</name` followed by a space, '/' or '>' (case-insensitive); that end tag stays in the input.
    private mutating func readRawText(until name: String) -> String {
        let start = position
        let closing = Array(("</" + name).unicodeScalars)
        while position < input.count {
            if input[position] == "<", position + closing.count <= input.count {
                var matches = true
                for (offset, c) in closing.enumerated() where Self.lower(input[position + offset]) != c {
                    matches = false
                    break
                }
                if matches {
                    let after = position + closing.count < input.count ? input[position + closing.count] : ">"
                    if Self.isSpace(after) || after == "/" || after == ">" { break }
                }
            }
            position += 1
        }
        return String(String.UnicodeScalarView(input[start..<position]))
    }

    private mutating func comment() -> HTMLToken {
        // "<!-->" and "<!--->" are complete (empty) comments.
        var index = position + 4
        if peekAbsolute(index) == ">" { position = index + 1; return .ignored }
        if peekAbsolute(index) == "-", peekAbsolute(index + 1) == ">" { position = index + 2; return .ignored }
        while index < input.count {
            if match("-->", at: index) { position = index + 3; return .ignored }
            if match("--!>", at: index) { position = index + 4; return .ignored }
            index += 1
        }
        position = input.count
        return .ignored
    }

    private mutating func bogusComment(from start: Int) -> HTMLToken {
        var index = start
        while index < input.count, input[index] != ">" { index += 1 }
        position = min(index + 1, input.count)
        return .ignored
    }

    // MARK: Characters

    private func peek(_ offset: Int) -> Unicode.Scalar? { peekAbsolute(position + offset) }

    private func peekAbsolute(_ index: Int) -> Unicode.Scalar? { index < input.count ? input[index] : nil }

    private func match(_ literal: String, at index: Int) -> Bool {
        var i = index
        for c in literal.unicodeScalars {
            guard i < input.count, input[i] == c else { return false }
            i += 1
        }
        return true
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}"
    }

    static func isASCIILetter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z")
    }

    static func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
        (c >= "A" && c <= "Z") ? Unicode.Scalar(c.value + 32)! : c
    }
}

/// Character references: numeric ones and the named ones mail commonly carries.
public enum HTMLEntities {
    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "copy": "©", "reg": "®",
        "trade": "™", "hellip": "…", "mdash": "—", "ndash": "–", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”",
        "bull": "•", "middot": "·", "euro": "€", "pound": "£", "yen": "¥", "cent": "¢", "sect": "§", "para": "¶",
        "deg": "°", "plusmn": "±", "times": "×", "divide": "÷", "laquo": "«", "raquo": "»", "iexcl": "¡", "iquest": "¿",
        "auml": "ä", "ouml": "ö", "uuml": "ü", "Auml": "Ä", "Ouml": "Ö", "Uuml": "Ü", "szlig": "ß", "eacute": "é",
        "egrave": "è", "ecirc": "ê", "aacute": "á", "agrave": "à", "acirc": "â", "iacute": "í", "oacute": "ó", "uacute": "ú",
        "ntilde": "ñ", "ccedil": "ç", "Eacute": "É", "zwnj": "\u{200C}", "zwj": "\u{200D}", "shy": "\u{AD}", "ensp": "\u{2002}",
        "emsp": "\u{2003}", "thinsp": "\u{2009}", "colon": ":", "Tab": "\t", "NewLine": "\n", "sol": "/", "lpar": "(",
        "rpar": ")", "period": ".", "comma": ",", "excl": "!", "num": "#", "percnt": "%", "semi": ";", "equals": "=",
        "quest": "?", "commat": "@", "lsqb": "[", "rsqb": "]", "bsol": "\\", "lowbar": "_", "grave": "`", "lcub": "{",
        "rcub": "}", "verbar": "|", "Hat": "^", "plus": "+", "ast": "*", "dollar": "$",
    ]
    /// Entities browsers decode even without the closing ';' (the legacy set, as far as mail uses it).
    static let legacy: Set<String> = ["amp", "lt", "gt", "quot", "nbsp", "copy", "reg"]

    public static func decode(_ text: String, inAttribute: Bool) -> String {
        guard text.contains("&") else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            guard scalars[i] == "&" else {
                out.append(scalars[i])
                i += 1
                continue
            }
            if i + 1 < scalars.count, scalars[i + 1] == "#" {
                var j = i + 2
                var hex = false
                if j < scalars.count, scalars[j] == "x" || scalars[j] == "X" { hex = true; j += 1 }
                var value: UInt32 = 0
                var digits = 0
                while j < scalars.count, let d = digit(scalars[j], hex: hex) {
                    value = value > 0x10FFFF ? value : value &* (hex ? 16 : 10) &+ d
                    digits += 1
                    j += 1
                }
                if digits > 0 {
                    if j < scalars.count, scalars[j] == ";" { j += 1 }
                    out.append(numeric(value))
                    i = j
                    continue
                }
            } else {
                var j = i + 1
                var name = ""
                while j < scalars.count, j - i <= 32, isAlphanumeric(scalars[j]) {
                    name.unicodeScalars.append(scalars[j])
                    j += 1
                }
                if !name.isEmpty, let replacement = named[name] {
                    let terminated = j < scalars.count && scalars[j] == ";"
                    let next = j < scalars.count ? scalars[j] : nil
                    if terminated {
                        out.append(contentsOf: replacement.unicodeScalars)
                        i = j + 1
                        continue
                    }
                    // In attributes, "&amp=" or "&ampx" stay literal (URLs with query strings).
                    let literalInAttribute = inAttribute && (next == "=" || next.map(isAlphanumeric) == true)
                    if legacy.contains(name), !literalInAttribute {
                        out.append(contentsOf: replacement.unicodeScalars)
                        i = j
                        continue
                    }
                }
            }
            out.append("&")
            i += 1
        }
        return String(out)
    }

    private static func digit(_ c: Unicode.Scalar, hex: Bool) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 48
        case "a"..."f" where hex: return c.value - 87
        case "A"..."F" where hex: return c.value - 55
        default: return nil
        }
    }

    private static func isAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
    }

    private static func numeric(_ value: UInt32) -> Unicode.Scalar {
        if value == 0 || value > 0x10FFFF || (0xD800...0xDFFF).contains(value) { return "\u{FFFD}" }
        // The C1 range is read as Windows-1252, as browsers do; other controls are replaced.
        if (0x80...0x9F).contains(value) {
            return windows1252[Int(value - 0x80)]
        }
        return Unicode.Scalar(value) ?? "\u{FFFD}"
    }

    private static let windows1252: [Unicode.Scalar] = [
        "€", "\u{81}", "‚", "ƒ", "„", "…", "†", "‡", "ˆ", "‰", "Š", "‹", "Œ", "\u{8D}", "Ž", "\u{8F}",
        "\u{90}", "‘", "’", "“", "”", "•", "–", "—", "˜", "™", "š", "›", "œ", "\u{9D}", "ž", "Ÿ",
    ]
}
