import Foundation

/// One attachment as `mailroom parse` and the API describe it.
public struct AttachmentSummary: Sendable, Hashable, Codable {
    public var filename: String?
    public var contentType: String
    public var size: Int
    public var sha256: String
    public var contentId: String?
    public var inline: Bool

    enum CodingKeys: String, CodingKey { case filename, contentType, size, sha256, contentId, inline }

    public init(filename: String?, contentType: String, size: Int, sha256: String, contentId: String?, inline: Bool) {
        self.filename = filename
        self.contentType = contentType
        self.size = size
        self.sha256 = sha256
        self.contentId = contentId
        self.inline = inline
    }

}

/// The JSON description of a message printed by `mailroom parse` (DESIGN.md, "Stable
/// interfaces"): field names, order and null handling are part of that interface.
public struct MessageSummary: Sendable, Hashable, Codable {
    public var messageId: String?
    public var inReplyTo: [String]
    public var references: [String]
    public var subject: String?
    /// ISO 8601 in UTC, e.g. `2026-11-22T10:00:00Z`.
    public var date: String?
    public var from: [Mailbox]
    public var sender: [Mailbox]
    public var replyTo: [Mailbox]
    public var to: [Mailbox]
    public var cc: [Mailbox]
    public var bcc: [Mailbox]
    public var autoSubmitted: String
    public var text: String?
    public var html: String?
    public var attachments: [AttachmentSummary]
    public var deliveryStatus: DeliveryStatusReport?
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case messageId, inReplyTo, references, subject, date, from, sender, replyTo, to, cc, bcc, autoSubmitted
        case text, html, attachments, deliveryStatus, warnings
    }

    /// Summarises a parsed message: decodes headers and bodies, hashes attachments (streamed,
    /// not held in memory) and gathers every warning.
    /// - Parameter attachmentDigests: false leaves `sha256` empty and skips hashing (sizes are
    ///   still exact); for callers that hash while storing the blobs anyway.
    public init(_ message: MIMEMessage, attachmentDigests: Bool = true) {
        var warnings = message.warnings
        let headers = message.headers
        messageId = message.messageID
        inReplyTo = message.inReplyTo
        references = message.references
        if let field = headers.first(named: "subject") {
            subject = EncodedWords.decode(field.rawValue[...], warnings: &warnings)
        } else {
            subject = nil
        }
        if let field = headers.first(named: "date") {
            if let parsed = DateParser.parse(field.rawValue[...]) {
                date = DateParser.iso8601(parsed)
            } else {
                date = nil
                warnings.append(ParseWarning(.invalidDate, "the Date field \"\(String(decoding: field.rawValue.prefix(60), as: UTF8.self))\" could not be read"))
            }
        } else {
            date = nil
            if !message.raw.isEmpty { warnings.append(ParseWarning(.missingDate, "the message has no Date field")) }
        }
        from = message.from
        sender = message.sender
        replyTo = message.replyTo
        to = message.to
        cc = message.cc
        bcc = message.bcc
        autoSubmitted = message.autoReplySignals.autoSubmitted?.rawValue ?? AutoSubmitted.no.rawValue

        let body = message.body
        let texts = body.textPartIndices.filter { message.parts.indices.contains($0) }.map { message.textWithWarnings(of: message.parts[$0]) }
        text = texts.isEmpty ? nil : texts.map(\.text).joined(separator: "\n")
        warnings += texts.flatMap(\.warnings)
        if let index = body.htmlPartIndex, message.parts.indices.contains(index) {
            let decoded = message.textWithWarnings(of: message.parts[index])
            html = decoded.text
            warnings += decoded.warnings
        } else {
            html = nil
        }
        attachments = body.attachments.map { attachment in
            let part = message.parts[attachment.partIndex]
            let info: DecodedBodyInfo
            if attachmentDigests {
                info = message.digest(of: part)
            } else {
                var sink = DiscardingSink()
                info = DecodedBodyInfo(size: (try? message.streamDecodedBody(of: part, into: &sink)) ?? 0, sha256: "")
            }
            return AttachmentSummary(filename: attachment.filename, contentType: attachment.mediaType.description, size: info.size,
                                     sha256: info.sha256, contentId: attachment.contentID, inline: attachment.isInline)
        }
        deliveryStatus = message.deliveryStatus
        var seen = Set<String>()
        self.warnings = warnings.map(\.description).filter { seen.insert($0).inserted }
    }

    /// The JSON `mailroom parse` prints: keys in DESIGN.md's order, nulls written, slashes
    /// not escaped. (Encoding with `JSONEncoder` gives the same members in hash order.)
    public func jsonData(pretty: Bool = true) throws -> Data {
        Data(orderedJSON.serialized(pretty: pretty))
    }

    public func jsonString(pretty: Bool = true) throws -> String {
        String(decoding: try jsonData(pretty: pretty), as: UTF8.self)
    }
}
