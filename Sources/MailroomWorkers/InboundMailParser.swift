import Crypto
import Foundation
import MailMessage
import MailroomCore

/// Turns raw bytes from a mailbox into what the store ingests, or says why it cannot.
public enum InboundMailParser {
    /// Header fields added on the way (by relays and the receiving server): the same mail
    /// delivered to two mailboxes differs only in these, so they are left out of the content hash.
    static let traceFields: Set<String> = [
        "received", "return-path", "delivered-to", "x-original-to", "x-delivered-to", "envelope-to", "x-envelope-from",
        "x-envelope-to", "authentication-results", "received-spf", "arc-seal", "arc-message-signature",
        "arc-authentication-results", "x-spam-status", "x-spam-score", "x-spam-level", "x-spam-flag", "x-spam-checker-version",
        "x-virus-scanned", "x-virus-status", "x-mailroom-account", "x-gm-message-state", "x-google-smtp-source", "x-received",
        "x-ms-exchange-organization-authas", "x-ms-exchange-crosstenant-originalarrivaltime", "status", "x-status", "x-uid",
        "x-keywords", "lines", "content-length",
    ]

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case empty
        case notAMessage

        public var description: String {
            switch self {
            case .empty: return "the message is empty (0 bytes)"
            case .notAMessage: return "the data has no mail header fields: it is not an RFC 5322 message"
            }
        }
    }

    public static func sha256Hex(_ bytes: some Collection<UInt8>) -> String {
        var hasher = Crypto.SHA256()
        // Hashed in place when the bytes are contiguous: a raw message was copied whole before.
        if bytes.withContiguousStorageIfAvailable({ hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }) == nil {
            hasher.update(data: Array(bytes))
        }
        return MailMessage.SHA256.hex(hasher.finalize())
    }

    /// Sender and subject from the header section alone, for quarantine entries of mail too large to parse whole.
    public static func peekHeaders(_ raw: [UInt8]) -> (from: String?, subject: String?) {
        let window = raw.prefix(256 * 1024)
        var end = window.count
        if let index = Array(window).firstRange(of: [13, 10, 13, 10])?.lowerBound ?? Array(window).firstRange(of: [10, 10])?.lowerBound {
            end = index
        }
        let message = MIMEMessage(parsing: Array(window.prefix(end)) + [13, 10, 13, 10])
        return (message.from.first?.address, message.subject.map { String($0.prefix(300)) })
    }

    /// How mail is parsed for real (ingest and `mailroom parse`): default limits, and
    /// attachment digests through swift-crypto, which uses the CPU's SHA instructions.
    public static let parseOptions = ParseOptions(digester: .swiftCrypto)

    public static func parse(_ raw: [UInt8]) throws -> InboundMail {
        guard !raw.isEmpty else { throw Refusal.empty }
        let message = MIMEMessage(parsing: raw, options: parseOptions)
        guard !message.headers.isEmpty else { throw Refusal.notAMessage }
        let summary = MessageSummary(message)
        let headers = message.headers.fields
        let bodyStart = message.root.bodyRange.lowerBound
        var content = Crypto.SHA256()
        for field in headers {
            let name = field.name.lowercased()
            if traceFields.contains(name) { continue }
            var line = Array(name.utf8)
            line.reserveCapacity(line.count + field.rawValue.count + 2)
            line.append(58)
            line.append(contentsOf: field.rawValue)
            line.append(10)
            line.withUnsafeBytes { content.update(bufferPointer: $0) }
        }
        content.update(data: [10])
        if bodyStart < raw.count { raw[bodyStart...].withUnsafeBytes { content.update(bufferPointer: $0) } }
        let contentHash = MailMessage.SHA256.hex(content.finalize())

        func addresses(_ mailboxes: [Mailbox]) -> [EmailAddress] {
            mailboxes.prefix(500).map { EmailAddress(name: $0.name, address: $0.address) }
        }
        var mail = InboundMail(
            rawSha256: sha256Hex(raw),
            rawSize: raw.count,
            contentHash: contentHash,
            messageId: summary.messageId,
            inReplyTo: Array(summary.inReplyTo.prefix(50)),
            references: Array(summary.references.prefix(100)),
            subject: summary.subject ?? "",
            from: addresses(summary.from),
            replyTo: addresses(summary.replyTo),
            to: addresses(summary.to),
            cc: addresses(summary.cc),
            // The parsed Date directly: formatting it to ISO 8601 and back cost a formatter per message.
            date: message.date,
            text: summary.text,
            html: summary.html,
            attachments: summary.attachments.map {
                AttachmentSummary(filename: $0.filename, contentType: $0.contentType, size: $0.size, sha256: $0.sha256,
                               contentId: $0.contentId, inline: $0.inline)
            },
            headers: headers.prefix(1_000).map { MailroomCore.HeaderField($0) },
            isAutomatic: message.autoReplySignals.isAutomatic,
            parseWarnings: summary.warnings)
        if let report = summary.deliveryStatus {
            mail.bounce = BounceReport(
                originalMessageIds: ([report.originalMessageId].compactMap { $0 } + summary.inReplyTo + summary.references.reversed()),
                recipients: report.recipients.map {
                    BounceReport.Recipient(address: $0.address, action: $0.action, status: $0.status, diagnosticCode: $0.diagnosticCode)
                })
        }
        return mail
    }

    /// A failure-mail sender's plain bounce (no DSN): the original is named by threading headers or a
    /// "Message-ID:" line quoted in the text; the failed addresses are not machine-readable.
    public static func plainBounce(_ mail: InboundMail) -> BounceReport {
        var ids = mail.inReplyTo + mail.references.reversed()
        if let text = mail.text {
            var rest = text[...]
            while let range = rest.range(of: "Message-ID:", options: .caseInsensitive), ids.count < 20 {
                let after = rest[range.upperBound...].drop(while: { $0 == " " || $0 == "\t" })
                if after.first == "<", let close = after.firstIndex(of: ">") {
                    ids.append(String(after[after.index(after: after.startIndex)..<close]))
                }
                rest = rest[range.upperBound...]
            }
        }
        return BounceReport(originalMessageIds: ids, recipients: [])
    }
}

extension AttachmentDigester {
    /// swift-crypto's SHA-256 (BoringSSL with SHA-NI or AVX2 where the CPU has them), several
    /// times faster than MailMessage's portable one on attachment-heavy mail.
    public static let swiftCrypto = AttachmentDigester(name: "swift-crypto") { CryptoSHA256Hasher() }
}

private struct CryptoSHA256Hasher: SHA256Hashing {
    var hasher = Crypto.SHA256()
    mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
    mutating func finalize() -> [UInt8] { Array(hasher.finalize()) }
}
