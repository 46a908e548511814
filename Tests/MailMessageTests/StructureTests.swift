import Foundation
import Testing
@testable import MailMessage

@Suite("Structure edge cases")
struct StructureTests {
    @Test func deliveryStatusWithHeadersOnlyAndGlobalForm() {
        let message = MIMEMessage(parsing: crlf("""
            From: postmaster@example.com
            Content-Type: multipart/report; report-type=delivery-status; boundary=r

            --r
            Content-Type: text/plain

            Delivery failed.
            --r
            Content-Type: message/global-delivery-status

            Reporting-MTA: dns; mx.example.com


            Final-Recipient: utf-8; ünï@example.com
            Action: Failed
            Status: 5.2.2 (mailbox full)
            --r
            Content-Type: text/rfc822-headers

            Message-ID: <out-7@helpdesk.test>
            Subject: Re: hello
            --r--
            """))
        let report = message.deliveryStatus
        #expect(report?.originalMessageId == "out-7@helpdesk.test")
        #expect(report?.reportingMTA == "mx.example.com")
        #expect(report?.recipients == [RecipientDeliveryStatus(address: "ünï@example.com", action: "failed", status: "5.2.2", diagnosticCode: nil)])
        #expect(message.textBody == "Delivery failed.")
    }

    @Test func encodedEmbeddedMessageStaysAnAttachment() {
        let inner = Base64Encoder.encode(crlf("Subject: inner\n\nhello"))
        let message = MIMEMessage(parsing: crlf("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nouter\n--x\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n") + inner + crlf("\n--x--\n"))
        let summary = MessageSummary(message)
        #expect(summary.text == "outer")
        #expect(summary.attachments.map(\.contentType) == ["message/rfc822"])
        #expect(summary.attachments.first?.size == 23)
    }

    @Test func digestPartsDefaultToMessages() {
        let message = MIMEMessage(parsing: crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: first\n\nbody one\n--d\n\nSubject: second\n\nbody two\n--d--\n"))
        let embedded = message.parts.filter { $0.mediaType.isEmbeddedMessage }
        #expect(embedded.count == 2)
        #expect(embedded.compactMap { message.embeddedMessage(in: $0)?.subject } == ["first", "second"])
    }

    @Test func uuencodedAttachment() {
        // "Hello, world" uuencoded.
        let message = MIMEMessage(parsing: crlf("Content-Type: application/octet-stream; name=a.txt\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 a.txt\n,2&5L;&\\L('=O<FQD\n`\nend\n"))
        #expect(String(decoding: message.decodedBody(of: message.root), as: UTF8.self) == "Hello, world")
    }

    @Test func relatedStartParameterChoosesTheRoot() {
        let message = MIMEMessage(parsing: crlf("""
            Content-Type: multipart/related; boundary=r; start="<root@x>"

            --r
            Content-Type: image/gif
            Content-ID: <img@x>

            GIF89a
            --r
            Content-Type: text/html
            Content-ID: <root@x>

            <img src="cid:img@x">
            --r--
            """))
        let summary = MessageSummary(message)
        #expect(summary.html == "<img src=\"cid:img@x\">")
        #expect(summary.attachments.map(\.contentId) == ["img@x"])
        #expect(summary.attachments.first?.inline == true)
    }

    @Test func byteByByteTruncationsNeverCrash() throws {
        let full = try Fixture.bytes("related-inline-image.eml")
        for length in stride(from: 0, through: full.count, by: 7) {
            let summary = MessageSummary(MIMEMessage(parsing: Array(full.prefix(length))))
            _ = try summary.jsonData()
        }
    }
}
