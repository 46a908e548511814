import Foundation

/// The original message quoted below an agent's reply, as text and as HTML.
public struct QuotedOriginal: Sendable, Hashable {
    /// "On ..., Ann <ann@example.com> wrote:" followed by the text with "> " before each line.
    public var text: String
    /// The attribution and the original HTML (or the escaped text) in a
    /// `<blockquote type="cite">`.
    public var html: String
}

/// Helpers for writing replies: the quoted original, the reply subject and threading ids.
public enum ReplyQuoting {
    /// "On Sun, 22 Nov 2026 10:00:00 +0000, Ann <ann@example.com> wrote:"
    public static func attribution(for message: MIMEMessage) -> String {
        let who = message.from.first.map(\.description) ?? "the sender"
        guard let date = message.date else { return "\(who) wrote:" }
        return "On \(DateParser.rfc5322(date)), \(who) wrote:"
    }

    /// Each line prefixed with "> " (">" before an already quoted line or an empty one, so
    /// quote levels stay readable as in RFC 3676 section 4.5).
    public static func quoteText(_ text: String) -> String {
        var lines = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return lines.map { line in
            if line.isEmpty { return ">" }
            if line.hasPrefix(">") { return ">" + line }
            return "> " + line
        }.joined(separator: "\n")
    }

    public static func quotedOriginal(of message: MIMEMessage) -> QuotedOriginal {
        let heading = attribution(for: message)
        let text = message.textBody ?? message.htmlBody.map(HTMLText.plainText) ?? ""
        let quotedText = heading + "\n" + quoteText(text)
        let inner = message.htmlBody.map(HTMLText.bodyContent) ?? HTMLEscape.escape(text).replacingOccurrences(of: "\n", with: "<br>\n")
        let html = "<div class=\"mailroom-attribution\">\(HTMLEscape.escape(heading))</div>\n"
            + "<blockquote type=\"cite\" style=\"margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex\">\n"
            + inner + "\n</blockquote>"
        return QuotedOriginal(text: quotedText, html: html)
    }

    /// "Re: " once, however many reply or forward prefixes (in several languages) the
    /// original subject carried.
    public static func replySubject(_ subject: String?, prefix: String = "Re: ") -> String {
        prefix + SubjectPrefixes.stripped(subject ?? "")
    }

    /// In-Reply-To and References for a reply (RFC 5322 section 3.6.4).
    public static func threadingIDs(for message: MIMEMessage) -> (inReplyTo: [String], references: [String]) {
        guard let id = message.messageID else { return ([], message.references) }
        var references = message.references
        if references.isEmpty { references = message.inReplyTo.prefix(1).map { $0 } }
        if references.last != id { references.append(id) }
        return ([id], references)
    }
}

/// Reply and forward prefixes as mailers in many languages write them.
public enum SubjectPrefixes {
    static let prefixes = ["re", "fwd", "fw", "aw", "wg", "sv", "vs", "rif", "r", "i", "tr", "rv", "antw", "odp", "fs", "vb", "res", "enc", "ynt", "ilt", "atb", "vl", "přeposlat", "回复", "答复", "转发", "回覆", "轉寄"]

    /// The subject without leading "Re:", "Fwd:", "AW:", "Re[2]:" and the like.
    public static func stripped(_ subject: String) -> String {
        var rest = Substring(subject)
        var changed = true
        while changed {
            changed = false
            rest = rest.drop { $0 == " " || $0 == "\t" }
            guard let colon = rest.firstIndex(where: { $0 == ":" || $0 == "：" }) else { break }
            var word = rest[..<colon].lowercased()
            if let bracket = word.firstIndex(of: "[") ?? word.firstIndex(of: "("), word.hasSuffix("]") || word.hasSuffix(")") {
                word = String(word[..<bracket])
            }
            if prefixes.contains(word.trimming(" ")) {
                rest = rest[rest.index(after: colon)...]
                changed = true
            }
        }
        return String(rest.drop { $0 == " " || $0 == "\t" })
    }
}

/// The new part of a reply, apart from the quoted original and the signature, for previews
/// and for rules that look at what the customer actually wrote.
public struct ReplySplit: Sendable, Hashable {
    public var newText: String
    public var quoted: String?
    public var signature: String?
}

public enum ReplyExtractor {
    /// Splits a text body into new text, signature and quoted original. Recognises "> "
    /// quoting, "On ... wrote:" in common languages (also wrapped over two lines), Outlook's
    /// "-----Original Message-----" and "From:/Sent:" header blocks, the "-- " signature
    /// separator and mobile "Sent from my ..." lines.
    public static func split(_ text: String) -> ReplySplit {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n")
        var quoteStart: Int?
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimming(" \t")
            if isQuoteHeader(trimmed, next: index + 1 < lines.count ? lines[index + 1].trimming(" \t") : "") {
                quoteStart = index
                break
            }
            if isOutlookSeparator(trimmed) || isOutlookHeaderBlock(lines, at: index) {
                quoteStart = index
                break
            }
            if trimmed.hasPrefix(">") {
                // A quoted block that runs to the end (apart from blank lines) is the original;
                // interleaved quoting keeps everything as new text.
                let rest = lines[index...].filter { !$0.trimming(" \t").isEmpty }
                if rest.allSatisfy({ $0.trimming(" \t").hasPrefix(">") }) {
                    quoteStart = index
                    break
                }
            }
        }
        let head = Array(lines[..<(quoteStart ?? lines.count)])
        var signatureStart: Int?
        for (index, line) in head.enumerated().reversed() {
            if line == "-- " || line == "--" || line == "—" || line.hasPrefix("Sent from my ") || line.hasPrefix("Get Outlook for ")
                || line.hasPrefix("Von meinem iPhone gesendet") || line.hasPrefix("Envoyé de mon ") {
                signatureStart = index
                break
            }
        }
        let newLines = head[..<(signatureStart ?? head.count)]
        let signature = signatureStart.map { head[$0...].joined(separator: "\n").trimming(" \n\t") }
        let quoted = quoteStart.map { lines[$0...].joined(separator: "\n").trimming(" \n\t") }
        return ReplySplit(newText: newLines.joined(separator: "\n").trimming(" \n\t"),
                          quoted: quoted?.isEmpty == true ? nil : quoted,
                          signature: signature?.isEmpty == true ? nil : signature)
    }

    private static let attributionVerbs = ["wrote", "writes", "schrieb", "a écrit", "escribió", "ha scritto", "schreef", "pisze", "skrev",
                                           "kirjoitti", "napísal", "napsal", "escreveu", "yazdı", "написал", "写道", "寫道"]

    /// "On <date>, <name> wrote:" and its translations: a known opening word, a known verb,
    /// and a final colon; clients wrap long ones over two lines.
    private static func isQuoteHeader(_ line: String, next: String) -> Bool {
        let lower = line.lowercased()
        let starts = ["on ", "am ", "le ", "el ", "il ", "op ", "w dniu", "den ", "em ", "в ", "在", "於", "dne ", "pe "]
        guard line.count < 300, starts.contains(where: { lower.hasPrefix($0) }) || lower.hasSuffix("wrote:") else { return false }
        for candidate in [lower, lower + " " + next.lowercased()] where candidate.hasSuffix(":") || candidate.hasSuffix("：") {
            if attributionVerbs.contains(where: { candidate.contains($0) }) { return true }
        }
        return false
    }

    private static func isOutlookSeparator(_ line: String) -> Bool {
        let lower = line.lowercased()
        if lower.hasPrefix("-----") && (lower.contains("original message") || lower.contains("ursprüngliche nachricht") || lower.contains("message d'origine") || lower.contains("forwarded message")) { return true }
        if lower.hasPrefix("-------- ") && lower.contains("message") { return true }
        return line.count >= 20 && line.allSatisfy { $0 == "_" }
    }

    /// "From: ...", then "Sent:"/"Date:" and "To:"/"Subject:" within the next lines.
    private static func isOutlookHeaderBlock(_ lines: [String], at index: Int) -> Bool {
        let fromPrefixes = ["from:", "von:", "de :", "de:", "da:", "od:", "från:", "van:"]
        let lower = lines[index].trimming(" \t*").lowercased()
        guard fromPrefixes.contains(where: { lower.hasPrefix($0) }) else { return false }
        let following = lines[(index + 1)..<min(lines.count, index + 5)].map { $0.trimming(" \t*").lowercased() }
        let dateLike = ["sent:", "date:", "gesendet:", "envoyé :", "envoyé:", "inviato:", "enviado:", "datum:", "wysłano:"]
        let toLike = ["to:", "an:", "à :", "a:", "para:", "subject:", "betreff:", "objet :", "oggetto:", "asunto:", "temat:"]
        return following.contains { line in dateLike.contains { line.hasPrefix($0) } } && following.contains { line in toLike.contains { line.hasPrefix($0) } }
    }
}

/// Minimal HTML handling for quoting and signatures: not a renderer, just enough to nest and to
/// give a text version (`HTMLEscape` escapes).
public enum HTMLText {
    /// What is between `<body ...>` and `</body>`, or the whole document when it has no body
    /// element, so the original can be nested in a blockquote.
    static func bodyContent(_ html: String) -> String {
        let lower = html.lowercased()
        guard lower.utf8.count == html.utf8.count, let open = lower.range(of: "<body") else { return html }
        guard let openEnd = lower[open.upperBound...].firstIndex(of: ">") else { return html }
        let start = html.index(after: openEnd)
        let end = lower.range(of: "</body", options: .backwards).map(\.lowerBound) ?? html.endIndex
        guard start <= end else { return html }
        return String(html[start..<end])
    }

    /// Text of an HTML body for quoting when a message has no text part: tags removed,
    /// block ends turned into line breaks, common entities decoded.
    public static func plainText(_ html: String) -> String {
        var output = ""
        var inTag = false
        var tag = ""
        var skipping = false
        for character in bodyContent(html) {
            if inTag {
                guard character == ">" else {
                    if tag.count < 64 { tag.append(character) }
                    continue
                }
                inTag = false
                let name = tag.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).first.map { $0.lowercased() } ?? ""
                if name == "script" || name == "style" { skipping = true }
                if name == "/script" || name == "/style" { skipping = false }
                if ["br", "br/", "/p", "/div", "/li", "/tr", "/h1", "/h2", "/h3"].contains(name) { output += "\n" }
                continue
            }
            if character == "<" {
                inTag = true
                tag = ""
                continue
            }
            if !skipping { output.append(character) }
        }
        return output.replacingOccurrences(of: "&nbsp;", with: " ").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }
}
