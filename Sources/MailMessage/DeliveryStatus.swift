/// What a delivery-status notification (RFC 3464) says about one recipient.
public struct RecipientDeliveryStatus: Sendable, Hashable, Codable {
    /// From Final-Recipient (else Original-Recipient), address type removed.
    public var address: String
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded`, lowercased.
    public var action: String?
    /// The enhanced status code (RFC 3463), e.g. `5.1.1`.
    public var status: String?
    /// The remote server's text, diagnostic type (`smtp;`) removed.
    public var diagnosticCode: String?

    enum CodingKeys: String, CodingKey { case address, action, status, diagnosticCode }

}

/// The machine-readable part of a bounce: which message it reports on and what happened to
/// each recipient.
public struct DeliveryStatusReport: Sendable, Hashable, Codable {
    /// Message-ID of the returned message (from its message/rfc822 or text/rfc822-headers
    /// part), without angle brackets.
    public var originalMessageId: String?
    public var reportingMTA: String?
    public var recipients: [RecipientDeliveryStatus]

    enum CodingKeys: String, CodingKey { case originalMessageId, recipients }

    public init(originalMessageId: String?, reportingMTA: String? = nil, recipients: [RecipientDeliveryStatus]) {
        self.originalMessageId = originalMessageId
        self.reportingMTA = reportingMTA
        self.recipients = recipients
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        originalMessageId = try container.decodeIfPresent(String.self, forKey: .originalMessageId)
        recipients = try container.decode([RecipientDeliveryStatus].self, forKey: .recipients)
        reportingMTA = nil
    }
}

extension MIMEMessage {
    /// The delivery-status report when this message is one (multipart/report with a
    /// message/delivery-status part, RFC 3462/3464; also RFC 6533's global form).
    ///
    ///     delivery-status-content = per-message-fields 1*( CRLF per-recipient-fields )
    ///     per-recipient-fields = [ original-recipient-field CRLF ] final-recipient-field CRLF
    ///                            action-field CRLF status-field CRLF ... [ diagnostic-code-field CRLF ]
    public var deliveryStatus: DeliveryStatusReport? {
        guard let statusPart = parts.first(where: { part in
            part.mediaType.type == "message" && (part.mediaType.subtype == "delivery-status" || part.mediaType.subtype == "global-delivery-status")
        }) else { return nil }
        let content = Self.normalizingLineEnds(decodedBody(of: statusPart))
        var blocks: [HeaderFields] = []
        content.withUnsafeBufferPointer { buffer in
            var position = 0
            while position < buffer.count, blocks.count < 1000 {
                // Extra blank lines between groups are common; skip them.
                while position < buffer.count, buffer[position] == ASCII.lf { position += 1 }
                guard position < buffer.count else { break }
                let parsed = HeaderSectionParser.parse(buffer, from: position, to: buffer.count, options: options)
                if !parsed.fields.isEmpty { blocks.append(parsed.fields) }
                guard parsed.bodyStart > position else { break }
                position = parsed.bodyStart
            }
        }
        var recipients: [RecipientDeliveryStatus] = []
        var reportingMTA: String?
        for block in blocks {
            let finalRecipient = block.first(named: "final-recipient") ?? block.first(named: "original-recipient")
            guard let finalRecipient else {
                if reportingMTA == nil { reportingMTA = block.first(named: "reporting-mta").map { Self.afterType($0.value) } }
                continue
            }
            let address = Self.afterType(finalRecipient.value).trimming("<> ")
            let status = block["status"].flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "(" }).first.map(String.init) }
            recipients.append(RecipientDeliveryStatus(
                address: address,
                action: block["action"].map { $0.trimming(" \t").asciiLowercased },
                status: status,
                diagnosticCode: block["diagnostic-code"].map(Self.afterType)))
        }
        return DeliveryStatusReport(originalMessageId: originalMessageID(near: statusPart), reportingMTA: reportingMTA, recipients: recipients)
    }

    /// "rfc822; ann@example.com" -> "ann@example.com".
    private static func afterType(_ value: String) -> String {
        guard let semicolon = value.firstIndex(of: ";") else { return value.trimming(" \t") }
        return String(value[value.index(after: semicolon)...]).trimming(" \t")
    }

    private func originalMessageID(near statusPart: MIMEPart) -> String? {
        let siblings = parent(of: statusPart)?.childIndices ?? []
        for index in siblings where parts.indices.contains(index) {
            let part = parts[index]
            if part.mediaType.isEmbeddedMessage || part.mediaType.subtype == "global", let child = part.childIndices.first,
               parts.indices.contains(child),
               let id = parts[child].headers.first(named: "message-id").flatMap({ MessageIDParser.parseFirst($0.rawValue[...]) }) {
                return id
            }
            if part.mediaType.subtype == "rfc822-headers" || part.mediaType.subtype == "global-headers" {
                let headerBytes = decodedBody(of: part)
                let headers = headerBytes.withUnsafeBufferPointer {
                    HeaderSectionParser.parse($0, from: 0, to: $0.count, options: options).fields
                }
                if let id = headers.first(named: "message-id").flatMap({ MessageIDParser.parseFirst($0.rawValue[...]) }) { return id }
            }
        }
        return nil
    }
}
