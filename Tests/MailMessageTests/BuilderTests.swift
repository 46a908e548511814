import Foundation
import Testing
@testable import MailMessage

/// A seedable generator (SplitMix64) so property tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private enum Samples {
    static let words = ["Order", "status", "Grüße", "café", "naïve", "Zażółć", "Здравствуйте", "你好", "こんにちは", "안녕",
                        "😀", "=?utf-8?q?x?=", "a\"quote", "semi;colon", "comma,", "(paren)", "<angle>", "x@y", "tab", "100%", "ümlaut", "ελληνικά", "שלום", "€"]

    static func phrase(_ rng: inout SeededGenerator, words count: Int) -> String {
        (0..<count).map { _ in words.randomElement(using: &rng) ?? "x" }.joined(separator: " ")
    }

    static func text(_ rng: inout SeededGenerator) -> String {
        var lines: [String] = []
        for _ in 0..<Int.random(in: 1...8, using: &rng) {
            var line = phrase(&rng, words: Int.random(in: 0...40, using: &rng))
            if Bool.random(using: &rng) { line += "  " }
            if Int.random(in: 0..<6, using: &rng) == 0 { line = "." + line }
            if Int.random(in: 0..<6, using: &rng) == 0 { line = "From " + line }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + (Bool.random(using: &rng) ? "\n" : "")
    }
}

@Suite("Builder")
struct BuilderTests {
    @Test(arguments: 0..<60)
    func roundTripPreservesValues(seed: Int) throws {
        var rng = SeededGenerator(state: UInt64(seed) &* 7919 &+ 17)
        var builder = MessageBuilder(from: Mailbox(name: Samples.phrase(&rng, words: Int.random(in: 0...3, using: &rng)).nilIfEmpty, address: "agent@helpdesk.test"))
        builder.to = (0..<Int.random(in: 1...4, using: &rng)).map { index in
            Mailbox(name: Samples.phrase(&rng, words: Int.random(in: 0...3, using: &rng)).nilIfEmpty, address: "customer\(index)@example.com")
        }
        builder.cc = Bool.random(using: &rng) ? [Mailbox(name: "Ünï Cc", address: "cc@example.org")] : []
        builder.subject = Samples.phrase(&rng, words: Int.random(in: 1...30, using: &rng))
        if Bool.random(using: &rng) { builder.text = Samples.text(&rng) }
        if Bool.random(using: &rng) { builder.html = "<p>" + Samples.text(&rng) + "</p>" }
        for index in 0..<Int.random(in: 0...3, using: &rng) {
            let data = (0..<Int.random(in: 0...5000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let name = Samples.phrase(&rng, words: Int.random(in: 1...6, using: &rng)) + ".bin"
            if Bool.random(using: &rng) {
                builder.attachments.append(.inlineImage(filename: name, mediaType: MediaType(type: "image", subtype: "png"), data: data, contentID: "img\(index)@helpdesk.test"))
            } else {
                builder.attachments.append(OutgoingAttachment(filename: name, mediaType: .octetStream, data: data))
            }
        }
        builder.inReplyTo = ["orig-\(seed)@example.com"]
        builder.references = (0..<Int.random(in: 1...20, using: &rng)).map { "ref-\($0)-\(seed)@example.com" }
        builder.date = Date(timeIntervalSince1970: TimeInterval(Int.random(in: 0...4_000_000_000, using: &rng)))
        builder.messageID = "built-\(seed)@helpdesk.test"

        let bytes = builder.build()
        let lines = bytes.split(separator: ASCII.lf, omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.count <= 998 })
        #expect(bytes.allSatisfy { $0 < 0x80 }, "the builder writes 7-bit output")

        let message = MIMEMessage(parsing: bytes)
        let summary = MessageSummary(message)
        #expect(summary.warnings.isEmpty)
        #expect(summary.subject == builder.subject)
        #expect(summary.from == [builder.from])
        #expect(summary.to == builder.to)
        #expect(summary.cc == builder.cc)
        #expect(summary.messageId == builder.messageID)
        #expect(summary.inReplyTo == builder.inReplyTo)
        #expect(summary.references == builder.references)
        #expect(summary.date == DateParser.iso8601(builder.date ?? Date()))
        if builder.text == nil && builder.html == nil {
            #expect(summary.text == nil)
        } else {
            #expect(summary.text == builder.text)
        }
        #expect(summary.html == builder.html)
        #expect(summary.attachments.count == builder.attachments.count)
        let expected = builder.attachments.filter(\.isInline) + builder.attachments.filter { !$0.isInline }
        for (attachment, original) in zip(summary.attachments, expected) {
            #expect(attachment.filename == original.filename)
            #expect(attachment.contentType == original.mediaType.description)
            #expect(attachment.size == original.data.count)
            #expect(attachment.sha256 == SHA256.hex(SHA256.hash(original.data)))
            #expect(attachment.contentId == original.contentID)
            #expect(attachment.inline == original.isInline)
        }
    }

    @Test func headersAreEncodedAndFolded() {
        var builder = MessageBuilder(from: Mailbox(name: "Zoë Agent", address: "zoe@helpdesk.test"))
        builder.to = [Mailbox(name: "Doe, John", address: "john@example.com")]
        builder.subject = "Ihre Bestellung über 100 € ist unterwegs – Lieferung voraussichtlich am Montag, den 30. November"
        builder.text = "Hallo"
        builder.date = Date(timeIntervalSince1970: 1_795_000_000)
        let text = String(decoding: builder.build(), as: UTF8.self)
        #expect(text.contains("From: =?UTF-8?B?"))
        #expect(text.contains("To: \"Doe, John\" <john@example.com>"))
        #expect(text.contains("Subject: =?UTF-8?B?"))
        #expect(text.contains("Date: "))
        #expect(text.contains("Message-ID: <"))
        #expect(text.contains("@helpdesk.test>"))
        for line in text.components(separatedBy: "\r\n") where !line.isEmpty {
            #expect(line.utf8.count <= 78, "\(line)")
        }
    }

    @Test func generatedMessageIDsAreUnique() {
        let ids = Set((0..<1000).map { _ in MessageBuilder.generateMessageID(domain: "helpdesk.test") })
        #expect(ids.count == 1000)
        #expect(ids.allSatisfy { $0.hasSuffix("@helpdesk.test") })
        #expect(MessageBuilder.generateMessageID(domain: nil).hasSuffix("@mailroom.invalid"))
    }

    @Test func headerInjectionIsNeutralised() {
        var builder = MessageBuilder(from: Mailbox(address: "a@helpdesk.test"))
        builder.subject = "Hello\r\nBcc: victim@example.com"
        builder.text = "x"
        let message = MIMEMessage(parsing: builder.build())
        #expect(message.bcc.isEmpty)
        #expect(message.headers.all(named: "bcc").isEmpty)
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
