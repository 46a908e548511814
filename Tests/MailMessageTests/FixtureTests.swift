import Foundation
import Testing
@testable import MailMessage

@Suite("Real-shaped fixture messages")
struct FixtureTests {
    @Test func simplePlainMessage() throws {
        let summary = try Fixture.summary("simple-plain.eml")
        #expect(summary.messageId == "CAF1234.5678@mail.example.com")
        #expect(summary.subject == "Order 1234 has not arrived")
        #expect(summary.date == "2026-11-22T10:00:00Z")
        #expect(summary.from == [Mailbox(name: "Ann Example", address: "ann@example.com")])
        #expect(summary.to == [Mailbox(name: "Support", address: "support@helpdesk.test")])
        #expect(summary.text?.hasPrefix("Hello,\n\nmy order 1234") == true)
        #expect(summary.html == nil)
        #expect(summary.attachments.isEmpty)
        #expect(summary.warnings.isEmpty)
    }

    @Test func alternativeChoosesTextAndHTML() throws {
        let summary = try Fixture.summary("alternative-utf8.eml")
        #expect(summary.subject == "Grüße aus München")
        #expect(summary.from.first?.name == "Jürgen Müller")
        #expect(summary.text?.hasPrefix("Grüße aus München — café ☃\nZweite Zeile") == true)
        #expect(summary.text?.contains("umgebrochen werden muss, damit") == true)
        #expect(summary.html == "<html><body><p>Grüße aus München &mdash; <b>café</b> ☃</p></body></html>")
        #expect(summary.attachments.isEmpty)
        #expect(summary.date == "2026-11-23T07:15:00Z")
    }

    @Test func relatedInlineImageAndMixedAttachment() throws {
        let summary = try Fixture.summary("related-inline-image.eml")
        #expect(summary.text == "See the screenshot below.")
        #expect(summary.html?.contains("cid:shot1@example.org") == true)
        #expect(summary.attachments.count == 2)
        let image = try #require(summary.attachments.first)
        #expect(image.filename == "shot.png")
        #expect(image.contentType == "image/png")
        #expect(image.contentId == "shot1@example.org")
        #expect(image.inline)
        #expect(image.size == 208)
        let pdf = summary.attachments[1]
        #expect(pdf.filename == "invoice.pdf")
        #expect(pdf.contentType == "application/pdf")
        #expect(pdf.inline == false)
        #expect(pdf.size == 3016)
        // The digest is of the decoded bytes, as the blob store will compute it.
        let message = try Fixture.message("related-inline-image.eml")
        let part = try #require(message.parts.first { $0.filename == "invoice.pdf" })
        #expect(pdf.sha256 == SHA256.hex(SHA256.hash(message.decodedBody(of: part))))
    }

    @Test func rfc2231AndEncodedWordFilenames() throws {
        let summary = try Fixture.summary("attachments-rfc2231.eml")
        #expect(summary.text == "Ecco i documenti.")
        #expect(summary.attachments.map(\.filename) == ["Fattura n° 12 – dicembre.pdf", "Reporte último.xlsx", "caffè.txt", "notes with spaces.txt"])
        #expect(summary.attachments.first?.size == 11)
        #expect(summary.attachments[1].size == 4)
    }

    @Test func forwardedMessageIsAnAttachmentAndParsed() throws {
        let message = try Fixture.message("forwarded-rfc822.eml")
        let summary = MessageSummary(message)
        #expect(summary.text == "Forwarding the customer's message.")
        #expect(summary.attachments.count == 1)
        #expect(summary.attachments.first?.contentType == "message/rfc822")
        #expect(summary.attachments.first?.filename == "Problem with login.eml")
        let rfc822 = try #require(message.parts.first { $0.mediaType.isEmbeddedMessage })
        let inner = try #require(message.embeddedMessage(in: rfc822))
        #expect(inner.messageID == "orig-login@example.com")
        #expect(inner.textBody == "I cannot log in.")
        #expect(inner.htmlBody == "<p>I cannot log in.</p>")
    }

    @Test func deliveryStatusReport() throws {
        let summary = try Fixture.summary("dsn-bounce.eml")
        let report = try #require(summary.deliveryStatus)
        #expect(report.originalMessageId == "ticket-1234.reply-1@helpdesk.test")
        #expect(report.recipients.count == 2)
        #expect(report.recipients[0] == RecipientDeliveryStatus(
            address: "nobody@example.com", action: "failed", status: "5.1.1",
            diagnosticCode: "550 5.1.1 <nobody@example.com>: Recipient address    rejected: User unknown"))
        #expect(report.recipients[1].address == "slow@example.com")
        #expect(report.recipients[1].action == "delayed")
        #expect(report.recipients[1].status == "4.4.1")
        #expect(report.recipients[1].diagnosticCode == "connect to mx.example.com timed out")
        #expect(summary.autoSubmitted == "auto-replied")
        #expect(summary.text?.hasPrefix("I'm sorry") == true)
    }

    @Test func autoReplySignals() throws {
        let message = try Fixture.message("auto-reply.eml")
        let signals = message.autoReplySignals
        #expect(signals.autoSubmitted == .autoReplied)
        #expect(signals.precedence == .bulk)
        #expect(signals.xAutoreply)
        #expect(signals.xAutorespond)
        #expect(signals.listID == "announce.example.com")
        #expect(signals.listUnsubscribe == ["mailto:leave@example.com", "https://example.com/unsub?id=1"])
        #expect(signals.autoResponseSuppress == ["DR", "RN", "NRN", "OOF", "AutoReply"])
        #expect(signals.isAutomatic)
        #expect(signals.suppressesAutoReply)
        #expect(message.inReplyTo == ["ticket-42@helpdesk.test"])
        #expect(message.references == ["ticket-41@helpdesk.test", "ticket-42@helpdesk.test"])
        let plain = try Fixture.message("simple-plain.eml").autoReplySignals
        #expect(plain.autoSubmitted == nil)
        #expect(!plain.isAutomatic)
        #expect(!plain.suppressesAutoReply)
    }

    @Test func addressForms() throws {
        let message = try Fixture.message("addresses.eml")
        #expect(message.from == [Mailbox(name: "Doe, John (Sales)", address: "john.doe@example.com")])
        #expect(message.sender == [Mailbox(name: "Mary Smith", address: "secretary@example.com")])
        #expect(message.replyTo == [Mailbox(name: "John Q. Public", address: "\"john q\"@example.com")])
        #expect(message.to == [
            Mailbox(address: "ann@example.com"),
            Mailbox(name: "Bob", address: "bob@example.com"),
            Mailbox(address: "carol@example.com"),
            Mailbox(name: "Danièle", address: "daniele@example.fr"),
            Mailbox(name: "Pete", address: "pete@silly.test"),
        ])
        #expect(message.cc == [Mailbox(address: "route@example.com"), Mailbox(name: "用户", address: "用户@例子.广告")])
        #expect(message.bcc == [Mailbox(name: "Mary", address: "mary@example.net")])
    }

    @Test func mislabelledCharsets() throws {
        let latin = try Fixture.summary("mislabeled-latin1-is-utf8.eml")
        #expect(latin.text == "Dzień dobry, zamówienie nr 7 nie dotarło. Zażółć gęślą jaźń.\n")
        #expect(latin.warnings.contains { $0.hasPrefix("charsetMismatch") })
        let cp1252 = try Fixture.summary("mislabeled-utf8-is-cp1252.eml")
        #expect(cp1252.text == "Voilà la facture, merci “beaucoup” – 10 €.\n")
        #expect(cp1252.warnings.contains { $0.hasPrefix("charsetMismatch") })
        let meta = try Fixture.summary("unknown-charset-html-meta.eml")
        #expect(meta.html?.contains("Здравствуйте, где мой заказ?") == true)
        #expect(meta.warnings.contains { $0.hasPrefix("unknownCharset") })
    }

    @Test(arguments: [
        ("koi8-r", "Здравствуйте, где мой заказ?"),
        ("koi8-u", "Доброго дня, ґанок і їжак"),
        ("windows-1251", "Здравствуйте, где мой заказ?"),
        ("windows-1250", "Dobrý den, žluťoučký kůň úpěl ďábelské ódy"),
        ("iso-8859-2", "Zażółć gęślą jaźń"),
        ("windows-1253", "Καλημέρα σας"),
        ("iso-8859-7", "Καλημέρα σας"),
        ("windows-1254", "Günaydın, şişe ığdır"),
        ("windows-1255", "שלום עולם"),
        ("windows-1256", "مرحبا بالعالم"),
        ("windows-1257", "Labdien, ąčęėįšųūž"),
        ("windows-1258", "Xin chao"),
        ("iso-8859-15", "Prix: 10 € à payer"),
        ("iso-8859-5", "Привет"),
        ("gb2312", "你好，我的订单在哪里？"),
        ("gbk", "你好，我的訂單在哪裡？"),
        ("gb18030", "你好，世界 𠀀"),
        ("big5", "你好，我的訂單在哪裡？"),
        ("shift_jis", "こんにちは、注文はどこですか？①"),
        ("euc-jp", "こんにちは、注文はどこですか？ｶﾀｶﾅ"),
        ("euc-jp-x0212", "森鷗外の「舞姫」、丂と鄙、ｶﾀｶﾅ"),
        ("utf-7", "Grüße aus Köln, 1 + 1 = 2, 日本語 ☃"),
        ("iso-2022-kr", "안녕하세요, 주문이 어디에 있나요?"),
        ("hz-gb-2312", "你好，我的订单在哪里？ ~ tilde"),
        ("iso-2022-jp", "こんにちは、注文はどこですか？"),
        ("euc-kr", "안녕하세요, 주문이 어디에 있나요?"),
        ("ks_c_5601-1987", "안녕하세요, 주문이 어디에 있나요? 똠방각하"),
        ("utf-16", "Hello, 世界"),
        ("utf-16le", "Hello, 世界"),
    ])
    func charsetBodies(label: String, expected: String) throws {
        let summary = try Fixture.summary("charset-\(label).eml")
        #expect(summary.text == expected + "\n")
        #expect(summary.warnings.isEmpty)
    }

    @Test func brokenEncodedWords() throws {
        let message = try Fixture.message("encoded-words-broken.eml")
        // Words glued without spaces, a character split across two words, text glued after.
        #expect(message.subject == "你好，世界abc €")
        #expect(message.from.first?.name == "张三")
        #expect(message.to.map(\.name) == ["André Pirard", "König"])
    }

    @Test func rawEightBitHeaders() throws {
        let summary = try Fixture.summary("raw-8bit-headers.eml")
        #expect(summary.from == [Mailbox(name: "Jürgen Groß", address: "jürgen@bücher.example")])
        #expect(summary.subject == "Größe der Lieferung")
        #expect(summary.warnings.contains { $0.hasPrefix("rawEightBitHeader") })
    }

    @Test func truncatedMultipartKeepsWhatArrived() throws {
        let summary = try Fixture.summary("truncated-multipart.eml")
        #expect(summary.text == "The attachment below was cut off in transit.")
        #expect(summary.attachments.first?.filename == "big.pdf")
        #expect((summary.attachments.first?.size ?? 0) > 100)
        #expect(summary.warnings.contains { $0.hasPrefix("truncatedMultipart") })
    }

    @Test func missingBoundaryIsInferred() throws {
        let summary = try Fixture.summary("missing-boundary.eml")
        #expect(summary.text == "Text that should still be readable.")
        #expect(summary.warnings.contains { $0.hasPrefix("missingBoundary") })
    }

    @Test func boundaryTextInsideABodyDoesNotSplit() throws {
        let message = try Fixture.message("boundary-in-body.eml")
        let summary = MessageSummary(message)
        #expect(summary.text == "This line mentions --b1 in the middle.\n--b1x is not a delimiter either, nor is --b1-- followed by text.\n --b1\ninner text")
        #expect(message.parts.count == 4)
        #expect(summary.warnings.isEmpty)
    }

    @Test func bareLineFeedsAndNoBlankLine() throws {
        let summary = try Fixture.summary("bare-lf-no-blank-line.eml")
        #expect(summary.subject == "bare LF")
        #expect(summary.date == "2026-12-03T10:00:00Z")
        #expect(summary.text == "This line has no colon so the body starts here.\nSecond line.\n")
        #expect(summary.warnings.contains { $0.hasPrefix("malformedHeader") })
    }

    @Test func emptyFile() throws {
        let summary = try Fixture.summary("empty.eml")
        #expect(summary.messageId == nil)
        #expect(summary.subject == nil)
        #expect(summary.text == nil)
        #expect(summary.warnings == ["emptyMessage: the message is empty"])
    }

    @Test func thousandNestedPartsStopAtTheDepthLimit() throws {
        let message = try Fixture.message("nested-1000.eml")
        #expect(message.parts.count == ParseOptions.default.maxNestingDepth + 1)
        #expect(message.warnings.contains { $0.code == .nestingTooDeep })
        let deeper = try Fixture.message("nested-1000.eml", options: ParseOptions(maxNestingDepth: 2000, maxPartCount: 5000))
        #expect(deeper.textBody == "deepest text")
    }

    @Test func partCountLimit() throws {
        let message = try Fixture.message("many-parts.eml", options: ParseOptions(maxPartCount: 100))
        #expect(message.parts.count == 100)
        #expect(message.warnings.contains { $0.code == .tooManyParts })
        #expect(try Fixture.message("many-parts.eml").body.attachments.count == 1000)
    }

    /// Every fixture, including garbage and fuzzer finds, parses and summarises without
    /// crashing, with default and with tight limits.
    @Test func everyFixtureSummarises() throws {
        let tight = ParseOptions(maxHeaderCount: 2, maxHeaderSectionBytes: 64, maxLineLength: 78, maxNestingDepth: 1, maxPartCount: 2)
        for name in try Fixture.allNames() {
            let bytes = try Fixture.bytes(name)
            for options in [ParseOptions.default, tight] {
                let summary = MessageSummary(MIMEMessage(parsing: bytes, options: options))
                let json = try JSONSerialization.jsonObject(with: summary.jsonData())
                #expect(json is [String: Any], "\(name)")
            }
        }
    }
}
