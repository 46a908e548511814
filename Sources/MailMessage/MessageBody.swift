/// A part that is not the message's text or HTML: a file, an inline image, an embedded
/// message, a delivery-status report.
public struct Attachment: Sendable, Hashable {
    public let partIndex: Int
    public let filename: String?
    public let mediaType: MediaType
    public let contentID: String?
    /// Shown in the body (inline disposition, or a Content-ID referenced from HTML) rather
    /// than listed as a file.
    public let isInline: Bool
}

/// The readable content of a message as a mail client shows it: which parts are the text and
/// HTML bodies (alternatives chosen, related parts resolved) and which are attachments.
public struct MessageBody: Sendable, Hashable {
    /// text/plain parts shown as the text body, in order (several in multipart/mixed are
    /// concatenated, as clients display them one after the other).
    public let textPartIndices: [Int]
    public let htmlPartIndex: Int?
    public let attachments: [Attachment]
}

extension MIMEMessage {
    /// Chooses the body parts and attachments (RFC 2046 section 5.1.4 alternatives: the last
    /// acceptable one is the richest; RFC 2387 related parts: the start part is the body).
    public var body: MessageBody {
        var selector = BodySelector(message: self)
        let selection = selector.select(0, isRoot: true)
        let attachments = selection.attachments.compactMap { index -> Attachment? in
            guard parts.indices.contains(index) else { return nil }
            return attachment(for: parts[index])
        }
        return MessageBody(textPartIndices: selection.text, htmlPartIndex: selection.html, attachments: attachments)
    }

    /// The text body (text/plain parts joined), or nil when the message has none.
    public var textBody: String? {
        let indices = body.textPartIndices.filter { parts.indices.contains($0) }
        guard !indices.isEmpty else { return nil }
        return indices.map { text(of: parts[$0]) }.joined(separator: "\n")
    }

    public var htmlBody: String? {
        guard let index = body.htmlPartIndex, parts.indices.contains(index) else { return nil }
        return text(of: parts[index])
    }

    func attachment(for part: MIMEPart) -> Attachment {
        var filename = part.filename
        if filename == nil, part.mediaType.isEmbeddedMessage {
            let subject = part.childIndices.first.flatMap { parts.indices.contains($0) ? parts[$0].headers["subject"] : nil }
            let base = (subject ?? "").filter { !"/\\:*?\"<>|\r\n\t".contains($0) }.prefix(80)
            filename = (base.isEmpty ? "message" : String(base)) + ".eml"
        }
        let isInline: Bool
        if let disposition = part.disposition {
            isInline = disposition.isInline
        } else {
            isInline = part.contentID != nil && parent(of: part)?.mediaType.subtype == "related"
        }
        return Attachment(partIndex: part.index, filename: filename, mediaType: part.mediaType, contentID: part.contentID, isInline: isInline)
    }

    func parent(of part: MIMEPart) -> MIMEPart? {
        guard let parentIndex = part.parentIndex, parts.indices.contains(parentIndex) else { return nil }
        return parts[parentIndex]
    }
}

private struct BodySelector {
    let message: MIMEMessage

    struct Selection {
        var text: [Int] = []
        var html: Int?
        var attachments: [Int] = []
    }

    init(message: MIMEMessage) { self.message = message }

    mutating func select(_ index: Int, isRoot: Bool = false) -> Selection {
        guard message.parts.indices.contains(index) else { return Selection() }
        let part = message.parts[index]
        var selection = Selection()
        if part.mediaType.isEmbeddedMessage {
            if isRoot, let child = part.childIndices.first { return select(child) }
            if !isRoot { selection.attachments = [index]; return selection }
        }
        guard part.hasParsedChildren, part.mediaType.isMultipart else {
            if isBodyText(part) {
                // An empty text part (or an empty message) has no text to show.
                guard !part.bodyRange.isEmpty else { return selection }
                if part.mediaType.subtype == "html" { selection.html = index } else { selection.text = [index] }
            } else if !(part.mediaType.isMultipart && part.bodyRange.isEmpty) {
                selection.attachments = [index]
            }
            return selection
        }
        let children = part.childIndices
        switch part.mediaType.subtype {
        case "alternative":
            for child in children {
                let sub = select(child)
                if !sub.text.isEmpty { selection.text = sub.text }
                if let html = sub.html { selection.html = html }
                selection.attachments += sub.attachments
            }
        case "related":
            let startID = part.contentType.parameters["start"].map { $0.trimming("<> ") }
            let rootChild = children.first { child in
                guard let startID, message.parts.indices.contains(child) else { return false }
                return message.parts[child].contentID == startID
            } ?? children.first
            for child in children {
                if child == rootChild {
                    let sub = select(child)
                    selection.text = sub.text
                    selection.html = sub.html
                    selection.attachments += sub.attachments
                } else {
                    selection.attachments += collectLeaves(child)
                }
            }
        case "report":
            for (offset, child) in children.enumerated() {
                if offset == 0 {
                    selection = select(child)
                } else {
                    selection.attachments += collectLeaves(child)
                }
            }
        default:
            for child in children {
                let sub = select(child)
                selection.text += sub.text
                if selection.html == nil {
                    selection.html = sub.html
                } else if let html = sub.html {
                    selection.attachments.append(html)
                }
                selection.attachments += sub.attachments
            }
        }
        return selection
    }

    /// Every leaf below a part that is not a body: parts of a related or report entity.
    func collectLeaves(_ index: Int) -> [Int] {
        guard message.parts.indices.contains(index) else { return [] }
        let part = message.parts[index]
        if part.mediaType.isEmbeddedMessage || !part.hasParsedChildren { return [index] }
        return part.childIndices.flatMap { collectLeaves($0) }
    }

    /// text/plain or text/html meant to be read, not saved: no attachment disposition, and no
    /// filename unless explicitly inline.
    func isBodyText(_ part: MIMEPart) -> Bool {
        guard part.mediaType == .textPlain || part.mediaType == .textHTML else { return false }
        if part.disposition?.isAttachment == true { return false }
        if part.filename != nil && part.disposition?.isInline != true { return false }
        return true
    }
}
