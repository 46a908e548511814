import Foundation

/// A file to attach to an outgoing message, or an image shown inline by `cid:` reference.
public struct OutgoingAttachment: Sendable, Hashable {
    public var filename: String
    public var mediaType: MediaType
    public var data: [UInt8]
    /// Without angle brackets. Inline images need one, referenced as `cid:...` in the HTML.
    public var contentID: String?
    public var isInline: Bool

    public init(filename: String, mediaType: MediaType, data: [UInt8], contentID: String? = nil, isInline: Bool = false) {
        self.filename = filename
        self.mediaType = mediaType
        self.data = data
        self.contentID = contentID
        self.isInline = isInline
    }

    public static func inlineImage(filename: String, mediaType: MediaType, data: [UInt8], contentID: String) -> OutgoingAttachment {
        OutgoingAttachment(filename: filename, mediaType: mediaType, data: data, contentID: contentID, isInline: true)
    }
}

/// An extra header field for an outgoing message (e.g. `Auto-Submitted`, `X-Mailroom-Ticket`).
public struct OutgoingHeader: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Writes outgoing mail: text and HTML alternatives, inline images (multipart/related),
/// attachments (multipart/mixed), headers encoded (RFC 2047, RFC 2231) and folded to 78
/// columns, a Message-ID and Date when none are given. `MIMEMessage(parsing:)` reads back
/// the same values.
public struct MessageBuilder: Sendable {
    public var from: Mailbox
    public var sender: Mailbox?
    public var replyTo: [Mailbox] = []
    public var to: [Mailbox] = []
    public var cc: [Mailbox] = []
    /// Written only when `writesBcc` is true; normally Bcc goes to the SMTP envelope only.
    public var bcc: [Mailbox] = []
    public var writesBcc = false
    public var subject: String = ""
    public var text: String?
    public var html: String?
    public var attachments: [OutgoingAttachment] = []
    /// Without angle brackets; generated from the From domain when nil.
    public var messageID: String?
    public var date: Date?
    public var inReplyTo: [String] = []
    public var references: [String] = []
    public var extraHeaders: [OutgoingHeader] = []

    public init(from: Mailbox) { self.from = from }

    /// The message as bytes with CRLF line ends, ready for SMTP DATA (dot-stuffing is the
    /// transport's job).
    public func build() -> [UInt8] {
        var output = HeaderWriter()
        output.field("Date", DateParser.rfc5322(date ?? Date()))
        output.addressField("From", [from])
        if let sender { output.addressField("Sender", [sender]) }
        if !replyTo.isEmpty { output.addressField("Reply-To", replyTo) }
        if !to.isEmpty { output.addressField("To", to) }
        if !cc.isEmpty { output.addressField("Cc", cc) }
        if writesBcc && !bcc.isEmpty { output.addressField("Bcc", bcc) }
        output.field("Subject", EncodedWords.encode(subject, wordPayload: 36), fold: !subject.utf8.contains { $0 >= 0x80 })
        output.field("Message-ID", "<\(resolvedMessageID)>")
        if !inReplyTo.isEmpty { output.idListField("In-Reply-To", inReplyTo) }
        if !references.isEmpty { output.idListField("References", references) }
        for header in extraHeaders {
            output.field(header.name, EncodedWords.encode(header.value, wordPayload: 36))
        }
        output.field("MIME-Version", "1.0")
        let entity = rootEntity()
        entity.write(into: &output.bytes)
        return output.bytes
    }

    /// The Message-ID `build()` writes (generated once per builder value only if set; call
    /// `withGeneratedMessageID()` first to know it in advance).
    public var resolvedMessageID: String { messageID ?? Self.generateMessageID(domain: from.domain) }

    /// Returns a copy with a fixed Message-ID, so the caller can store it before sending.
    public func withGeneratedMessageID() -> MessageBuilder {
        var copy = self
        if copy.messageID == nil { copy.messageID = Self.generateMessageID(domain: from.domain) }
        return copy
    }

    /// `<random>@<domain>`: 128 random bits, unique without coordination between nodes.
    public static func generateMessageID(domain: String?) -> String {
        var generator = SystemRandomNumberGenerator()
        let left = String(generator.next() as UInt64, radix: 36) + "." + String(generator.next() as UInt64, radix: 36)
        let host = (domain?.isEmpty == false ? domain : nil) ?? "mailroom.invalid"
        return "\(left)@\(host)"
    }

    static func makeBoundary() -> String {
        var generator = SystemRandomNumberGenerator()
        // "=_" cannot occur in base64 or quoted-printable output, so the boundary cannot
        // collide with encoded content.
        return "=_mr_" + String(generator.next() as UInt64, radix: 36) + String(generator.next() as UInt64, radix: 36)
    }

    private func rootEntity() -> Entity {
        let textEntity = text.map { Entity.text($0, subtype: "plain") }
        let htmlEntity = html.map { Entity.text($0, subtype: "html") }
        var main: Entity
        switch (textEntity, htmlEntity) {
        case let (text?, html?): main = .multipart("alternative", [text, html])
        case let (text?, nil): main = text
        case let (nil, html?): main = html
        case (nil, nil): main = .text("", subtype: "plain")
        }
        let inline = attachments.filter { $0.isInline && $0.contentID != nil }
        if !inline.isEmpty {
            main = .multipart("related", [main] + inline.map(Entity.attachment))
        }
        let regular = attachments.filter { !($0.isInline && $0.contentID != nil) }
        if !regular.isEmpty {
            main = .multipart("mixed", [main] + regular.map(Entity.attachment))
        }
        return main
    }
}

/// One entity to write: headers and an encoded body, or a multipart of entities.
private struct Entity {
    var headers: [(String, String)]
    var body: [UInt8]
    var children: [Entity]
    var boundary: String?

    static func text(_ text: String, subtype: String) -> Entity {
        let bytes = Array(text.utf8)
        let isASCII = !bytes.contains { $0 >= 0x80 }
        var longestLine = 0, current = 0, hasBareCR = false
        for (index, byte) in bytes.enumerated() {
            if byte == ASCII.lf { longestLine = max(longestLine, current); current = 0 } else { current += 1 }
            if byte == ASCII.cr && (index + 1 >= bytes.count || bytes[index + 1] != ASCII.lf) { hasBareCR = true }
        }
        longestLine = max(longestLine, current)
        let needsEncoding = !isASCII || longestLine > 900 || hasBareCR || bytes.contains { $0 < 0x20 && $0 != ASCII.lf && $0 != ASCII.cr && $0 != ASCII.tab }
            || text.hasSuffix(" ") || text.contains(" \n")
        let body: [UInt8]
        let encoding: String
        if needsEncoding {
            body = QuotedPrintable.encode(bytes)
            encoding = "quoted-printable"
        } else {
            body = Array(text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").utf8)
            encoding = "7bit"
        }
        return Entity(headers: [("Content-Type", "text/\(subtype); charset=utf-8"), ("Content-Transfer-Encoding", encoding)],
                      body: body, children: [], boundary: nil)
    }

    static func attachment(_ attachment: OutgoingAttachment) -> Entity {
        var headers: [(String, String)] = []
        let nameParameter = ParameterWriter.parameter("name", attachment.filename)
        headers.append(("Content-Type", "\(attachment.mediaType);\(nameParameter)"))
        headers.append(("Content-Transfer-Encoding", "base64"))
        let disposition = attachment.isInline ? "inline" : "attachment"
        headers.append(("Content-Disposition", "\(disposition);\(ParameterWriter.extendedParameter("filename", attachment.filename))"))
        if let contentID = attachment.contentID { headers.append(("Content-ID", "<\(contentID)>")) }
        return Entity(headers: headers, body: Base64Encoder.encode(attachment.data), children: [], boundary: nil)
    }

    static func multipart(_ subtype: String, _ children: [Entity]) -> Entity {
        let boundary = MessageBuilder.makeBoundary()
        var type = "multipart/\(subtype);\r\n boundary=\"\(boundary)\""
        if subtype == "related", let rootType = children.first?.headers.first(where: { $0.0 == "Content-Type" })?.1.split(separator: ";").first {
            type += ";\r\n type=\"\(rootType)\""
        }
        return Entity(headers: [("Content-Type", type)], body: [], children: children, boundary: boundary)
    }

    func write(into output: inout [UInt8]) {
        for (name, value) in headers {
            output.append(contentsOf: "\(name): \(value)\r\n".utf8)
        }
        output.append(contentsOf: [ASCII.cr, ASCII.lf])
        guard let boundary else {
            output.append(contentsOf: body)
            return
        }
        for child in children {
            output.append(contentsOf: "--\(boundary)\r\n".utf8)
            child.write(into: &output)
            output.append(contentsOf: [ASCII.cr, ASCII.lf])
        }
        output.append(contentsOf: "--\(boundary)--\r\n".utf8)
    }
}

/// Header lines, folded at 78 columns where the value has room to fold.
private struct HeaderWriter {
    var bytes: [UInt8] = []

    mutating func field(_ name: String, _ value: String, fold: Bool = true) {
        // Header injection guard: a value can never start a new field.
        let clean = value.replacingOccurrences(of: "\r\n ", with: "\u{1}").replacingOccurrences(of: "\r", with: " ")
            .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\u{1}", with: "\r\n ")
        var line = "\(name): "
        if fold && !clean.contains("\r\n") {
            var column = line.utf8.count
            for (offset, word) in clean.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
                if offset > 0 {
                    if column + 1 + word.utf8.count > 78 && column > name.utf8.count + 2 {
                        line += "\r\n "
                        column = 1
                    } else {
                        line += " "
                        column += 1
                    }
                }
                line += word
                column += word.utf8.count
            }
        } else {
            line += clean
        }
        bytes.append(contentsOf: (line + "\r\n").utf8)
    }

    mutating func addressField(_ name: String, _ mailboxes: [Mailbox]) {
        var line = "\(name): "
        var column = line.utf8.count
        for (offset, mailbox) in mailboxes.enumerated() {
            let value = mailbox.headerValue
            let firstLineLength = value.split(separator: "\r\n").first?.utf8.count ?? value.utf8.count
            if offset > 0 {
                line += ","
                column += 1
                if column + 1 + firstLineLength > 78 {
                    line += "\r\n "
                    column = 1
                } else {
                    line += " "
                    column += 1
                }
            }
            line += value
            column = value.contains("\r\n") ? (value.components(separatedBy: "\r\n").last?.utf8.count ?? 0) : column + value.utf8.count
        }
        bytes.append(contentsOf: (line + "\r\n").utf8)
    }

    mutating func idListField(_ name: String, _ ids: [String]) {
        field(name, ids.map { "<\($0)>" }.joined(separator: " "))
    }
}

/// Content-Type and Content-Disposition parameters for filenames: plain quoted ASCII, or
/// RFC 2231 `name*0*=utf-8''...` continuations for other names.
enum ParameterWriter {
    /// The old `name=` parameter: RFC 2047 words inside quotes are wrong by the RFC but are
    /// what older clients (and Outlook) read.
    static func parameter(_ name: String, _ value: String) -> String {
        if isPlain(value) { return "\r\n \(name)=\"\(escaped(value))\"" }
        return "\r\n \(name)=\"\(EncodedWords.encode(value, wordPayload: 36).replacingOccurrences(of: "\r\n ", with: " "))\""
    }

    static func extendedParameter(_ name: String, _ value: String) -> String {
        if isPlain(value) { return "\r\n \(name)=\"\(escaped(value))\"" }
        var encoded = ""
        for byte in value.utf8 {
            if ASCII.isLetter(byte) || ASCII.isDigit(byte) || "!#$&+-.^_`|~".utf8.contains(byte) {
                encoded.append(Character(Unicode.Scalar(byte)))
            } else {
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        // Continuations keep each line under 78 columns; a cut never splits a "%XY".
        var segments: [String] = []
        var current = ""
        for character in encoded {
            current.append(character)
            if current.count >= 48, !current.hasSuffix("%"), !(current.dropLast().last == "%") {
                segments.append(current)
                current = ""
            }
        }
        if !current.isEmpty { segments.append(current) }
        if segments.count == 1 { return "\r\n \(name)*=utf-8''\(segments[0])" }
        return segments.enumerated().map { index, segment in
            index == 0 ? "\r\n \(name)*0*=utf-8''\(segment)" : "\r\n \(name)*\(index)*=\(segment)"
        }.joined(separator: ";")
    }

    private static func isPlain(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F } && value.utf8.count <= 60 && !value.contains("=?")
    }

    private static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
