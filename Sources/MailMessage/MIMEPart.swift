/// One entity of a message (RFC 2045 section 2.4): the root, a part of a multipart, or the
/// message inside a message/rfc822 part. Bodies are ranges into the message's raw buffer, so
/// parsing copies only header values; the one exception is a message/rfc822 part sent base64
/// or quoted-printable encoded, whose decoded bytes are kept apart (see `buffer`).
public struct MIMEPart: Sendable {
    /// Position in `MIMEMessage.parts` (pre-order; the root is 0).
    public let index: Int
    public let parentIndex: Int?
    public internal(set) var childIndices: [Int]
    /// 0 for the root; each multipart or message/rfc822 level adds one.
    public let depth: Int
    public let headers: HeaderFields
    public let contentType: ContentType
    public let transferEncoding: ContentTransferEncoding
    public let disposition: ContentDisposition?
    /// Content-ID without angle brackets (RFC 2392), for `cid:` references in HTML.
    public let contentID: String?
    /// Which bytes the ranges below index: 0 for `MIMEMessage.raw`, n for
    /// `MIMEMessage.decodedBuffers[n - 1]` (the decoded body of an encoded message/rfc822
    /// part, for the entities inside it). `MIMEMessage.bytes(of:)` picks the right one.
    public let buffer: Int
    /// Header and body of this entity in its buffer.
    public let entityRange: Range<Int>
    /// The still transfer-encoded body in its buffer.
    public let bodyRange: Range<Int>
    /// Whether children were parsed from this entity (a multipart or message/rfc822 within the
    /// nesting limit).
    public internal(set) var hasParsedChildren: Bool

    public var mediaType: MediaType { contentType.mediaType }

    /// The filename from Content-Disposition, else the older Content-Type `name`.
    public var filename: String? {
        let name = disposition?.filename ?? contentType.name
        guard let name, !name.isEmpty else { return nil }
        return name
    }
}
