import Foundation
import Testing
@testable import MailMessage

@Suite("Encoded message/rfc822 parts")
struct EncodedEmbeddedMessageTests {
    @Test(arguments: ["forwarded-rfc822-base64.eml", "forwarded-rfc822-quoted-printable.eml"])
    func encodedForwardIsDecodedAndParsed(name: String) throws {
        let message = try Fixture.message(name)
        let summary = MessageSummary(message)
        #expect(summary.text == "Forwarding the customer's message.")
        #expect(summary.attachments.map(\.contentType) == ["message/rfc822"])
        // The file name comes from the subject of the message inside, so it was parsed.
        #expect(summary.attachments.first?.filename == "Login fällt aus.eml")
        #expect(summary.warnings.isEmpty)

        let rfc822 = try #require(message.parts.first { $0.mediaType.isEmbeddedMessage })
        #expect(rfc822.hasParsedChildren)
        let innerRoot = try message.part(try #require(rfc822.childIndices.first))
        #expect(innerRoot.buffer == 1)
        #expect(message.decodedBuffers.count == 1)
        let inner = try #require(message.embeddedMessage(in: rfc822))
        #expect(inner.messageID == "orig-b64@example.com")
        #expect(inner.textBody == "Ich kann mich nicht anmelden, Grüße.")
        let log = try #require(MessageSummary(inner).attachments.first)
        #expect(log.filename == "log.bin")
        #expect(log.size == 771)
        #expect(log.sha256 == "398cc8a909372ba126b671e342b2dd7ce3f9b5da1fc6b44e994bc9a24e20f14b")

        // Parts inside the decoded buffer decode and stream from it, not from `raw`.
        let logPart = try #require(message.parts.first { $0.filename == "log.bin" })
        #expect(logPart.buffer == 1)
        var sink = MemorySink()
        let info = try message.decodeBody(of: logPart, into: &sink)
        #expect(sink.bytes == message.decodedBody(of: logPart))
        #expect(info.size == 771)
        #expect(info.sha256 == log.sha256)
    }

    /// A forward of a forward of ..., each level quoted-printable encoded: every level holds
    /// a decoded copy, so the nesting and the decoded-bytes limits must both hold.
    static func nestedQuotedPrintable(levels: Int) -> [UInt8] {
        var body = "From: deepest@example.com\r\nSubject: deepest\r\n\r\ndeepest text\r\n"
        for level in 0..<levels {
            // No "=" in these headers, so quoted-printable leaves them as they are and the
            // message grows linearly, not exponentially.
            body = "From: level\(level)@example.com\r\nSubject: level \(level)\r\nContent-Type: message/rfc822\r\n"
                + "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + body
        }
        return Array(body.utf8)
    }

    @Test func nestingLimitHoldsForEncodedMessages() throws {
        let raw = Self.nestedQuotedPrintable(levels: 200)
        let message = MIMEMessage(parsing: raw)
        #expect(message.parts.count == ParseOptions.default.maxNestingDepth + 1)
        #expect(message.warnings.contains { $0.code == .nestingTooDeep })
        let deep = MIMEMessage(parsing: Self.nestedQuotedPrintable(levels: 10), options: ParseOptions(maxNestingDepth: 100))
        #expect(deep.parts.count == 11)
        #expect(deep.parts.last?.headers["subject"] == "deepest")
        #expect(deep.text(of: deep.parts[10]) == "deepest text\n")
    }

    @Test func decodedBytesLimitHolds() throws {
        let raw = Self.nestedQuotedPrintable(levels: 30)
        let options = ParseOptions(maxEmbeddedDecodedBytes: raw.count * 2)
        let message = MIMEMessage(parsing: raw, options: options)
        #expect(message.decodedBuffers.reduce(0) { $0 + $1.count } <= raw.count * 2)
        #expect(message.decodedBuffers.count < 30)
        #expect(message.decodedBuffers.count >= 2)
        #expect(message.warnings.contains { $0.code == .embeddedMessageTooLarge })
        let none = MIMEMessage(parsing: raw, options: ParseOptions(maxEmbeddedDecodedBytes: 0))
        #expect(none.parts.count == 1)
        #expect(none.decodedBuffers.isEmpty)
        // Still listed, as an opaque attachment.
        #expect(none.parts[0].mediaType.isEmbeddedMessage)
        #expect(MIMEMessage(parsing: raw, options: ParseOptions(maxEmbeddedDecodedBytes: .max)).parts.count == 31)
    }

    @Test func garbageInsideAnEncodedMessageIsHarmless() throws {
        let raw = crlf("""
            From: a@example.com
            Subject: garbage
            Content-Type: message/rfc822
            Content-Transfer-Encoding: base64

            ////+++++====!!!!AAAA====\u{1}\u{2}
            """)
        let message = MIMEMessage(parsing: raw)
        let summary = MessageSummary(message)
        #expect(message.parts.count == 2)
        #expect(summary.subject == "garbage")
        _ = try summary.jsonData()
    }
}

@Suite("Attachment digesters")
struct AttachmentDigesterTests {
    /// Stands in for a hardware-accelerated hasher: proves the hook is what hashes.
    struct ZeroHasher: SHA256Hashing {
        var count = 0
        mutating func update(_ bytes: UnsafeRawBufferPointer) { count += bytes.count }
        mutating func finalize() -> [UInt8] { [UInt8](repeating: UInt8(truncatingIfNeeded: count), count: 32) }
    }

    @Test func summaryAndStreamingUseTheConfiguredDigester() throws {
        let options = ParseOptions(digester: AttachmentDigester(name: "zero") { ZeroHasher() })
        let message = try Fixture.message("related-inline-image.eml", options: options)
        let summary = MessageSummary(message)
        #expect(summary.attachments.count == 2)
        for attachment in summary.attachments {
            #expect(attachment.sha256 == SHA256.hex([UInt8](repeating: UInt8(truncatingIfNeeded: attachment.size), count: 32)))
        }
        let part = try #require(message.parts.first { $0.filename == "invoice.pdf" })
        var sink = DiscardingSink()
        #expect(try message.decodeBody(of: part, into: &sink).sha256 == summary.attachments[1].sha256)
        // Embedded messages keep the options they were parsed with.
        let forwarded = try Fixture.message("forwarded-rfc822-base64.eml", options: options)
        let rfc822 = try #require(forwarded.parts.first { $0.mediaType.isEmbeddedMessage })
        #expect(forwarded.embeddedMessage(in: rfc822)?.options.digester.name == "zero")
    }

    @Test func portableIsTheDefaultAndMatchesTheReference() throws {
        #expect(ParseOptions.default.digester == .portable)
        let summary = try Fixture.summary("related-inline-image.eml")
        let message = try Fixture.message("related-inline-image.eml")
        let part = try #require(message.parts.first { $0.filename == "invoice.pdf" })
        let body = message.decodedBody(of: part)
        #expect(summary.attachments[1].sha256 == body.withUnsafeBytes { AttachmentDigester.portable.hexDigest($0) })
    }

    /// The unrolled compression function against the FIPS 180-4 examples, fed in every split
    /// of a buffer that crosses block boundaries.
    @Test func portableSHA256AcrossChunkSplits() {
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let whole = SHA256.hash(bytes)
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 128, 200, 299, 300] {
            var hasher = SHA256()
            bytes[..<split].withUnsafeBytes { hasher.update($0) }
            bytes[split...].withUnsafeBytes { hasher.update($0) }
            #expect(hasher.finalize() == whole, "split at \(split)")
        }
        #expect(SHA256.hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}

@Suite("Charsets added for old and East Asian mailers")
struct AddedCharsetTests {
    @Test func utf7EncodedWordSubject() throws {
        #expect(try Fixture.summary("charset-utf-7.eml").subject == "Grüße")
    }

    @Test(arguments: [
        ("utf-7", "utf-7"), ("UNICODE-1-1-UTF-7", "utf-7"), ("csISO2022KR", "iso-2022-kr"), ("HZ", "hz-gb-2312"), ("x-euc-jp", "euc-jp"),
    ])
    func aliases(label: String, name: String) {
        #expect(Charset(label: label)?.name == name)
    }

    @Test func eucJPCodeSetThreeAndBadSequences() {
        // JIS X 0212 0x3021 (丂) after 0x8F, between JIS X 0208 and half-width katakana.
        #expect(Charset.eucJP.decode([0xA4, 0xA2, 0x8F, 0xB0, 0xA1, 0x8E, 0xB6]) == "あ丂ｶ")
        // A truncated three-byte sequence, a bad katakana byte, an unassigned cell: not EUC-JP.
        #expect(Charset.eucJP.decode([0x41, 0x8F, 0xB0]) == nil)
        #expect(Charset.eucJP.decode([0x8E, 0x41]) == nil)
        #expect(Charset.eucJP.decode([0x8F, 0xA1, 0xA1]) == nil)
        let mislabelled = TextDecoding.decode(Array("Grüße".utf8), declaredLabel: "euc-jp", isHTML: false)
        #expect(mislabelled.text == "Grüße")
        #expect(mislabelled.warnings.map(\.code) == [.charsetMismatch])
    }

    @Test func sevenBitShiftedCharsetsRejectEightBitBytes() {
        #expect(Charset.utf7.decode(Array("plain ascii".utf8)) == "plain ascii")
        #expect(Charset.utf7.decode([0x41, 0xC3, 0xA9]) == nil)
        #expect(Charset.hzGB2312.decode(Array("~{<:Ky2;S{#,~}".utf8)) == "己所不欲，")
    }
}
