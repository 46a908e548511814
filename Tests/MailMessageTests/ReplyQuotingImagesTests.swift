import Foundation
import Testing
@testable import MailMessage

/// Replies that quote HTML mail (issue 27): the quote's inline images go with the reply as the
/// same Content-ID parts, or leave the quote cleanly; remote images are never embedded.
@Suite struct ReplyQuotingImagesTests {
    static let original = """
        From: Ann <ann@example.com>
        To: desk@example.com
        Subject: Damaged box
        Message-ID: <orig@example.com>
        MIME-Version: 1.0
        Content-Type: multipart/related; boundary="rel"

        --rel
        Content-Type: text/html; charset=utf-8

        <p>See the photo:</p><img src="cid:photo@example.com" alt="photo"><img alt='gone' src='CID:missing@example.com'/>\
        <img src="https://tracker.example/pixel.gif"><img src=cid:notanimage@example.com>
        --rel
        Content-Type: image/png; name="photo.png"
        Content-Transfer-Encoding: base64
        Content-ID: <photo@example.com>
        Content-Disposition: inline; filename="photo.png"

        iVBORw0KGgo=
        --rel
        Content-Type: text/plain
        Content-ID: <notanimage@example.com>

        not an image
        --rel--

        """.replacingOccurrences(of: "\n", with: "\r\n")

    @Test func inlineImagesTravelAsTheSameContentIDPartsAndTheRestLeaveCleanly() throws {
        let message = MIMEMessage(parsing: Self.original)
        let result = ReplyQuoting.quotedOriginalWithImages(of: message)
        #expect(result.images.count == 1)
        let image = try #require(result.images.first)
        #expect(image.contentID == "photo@example.com")
        #expect(image.isInline)
        #expect(image.filename == "photo.png")
        #expect(image.mediaType == MediaType(type: "image", subtype: "png"))
        #expect(image.data == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(result.removed == ["missing@example.com", "notanimage@example.com"])
        #expect(result.quoted.html.contains(#"<img src="cid:photo@example.com" alt="photo">"#))
        #expect(!result.quoted.html.contains("missing@example.com"))
        #expect(!result.quoted.html.contains("notanimage"))
        #expect(result.quoted.html.contains("https://tracker.example/pixel.gif"), "a remote image stays a reference")
        #expect(ReplyQuoting.contentIDReferences(in: result.quoted.html) == ["photo@example.com"])
    }

    @Test func imagesOverTheLimitAreLeftOutOfTheQuote() {
        let result = ReplyQuoting.quotedOriginalWithImages(of: MIMEMessage(parsing: Self.original), maxImageBytes: 4)
        #expect(result.images.isEmpty)
        #expect(result.removed.contains("photo@example.com"))
        #expect(!result.quoted.html.contains("cid:"))
    }

    @Test func theBuiltReplyCarriesTheImagePart() throws {
        let result = ReplyQuoting.quotedOriginalWithImages(of: MIMEMessage(parsing: Self.original))
        var builder = MessageBuilder(from: Mailbox(address: "desk@example.com"))
        builder.to = [Mailbox(address: "ann@example.com")]
        builder.subject = "Re: Damaged box"
        builder.text = "Thanks\n\n" + result.quoted.text
        builder.html = "<p>Thanks</p>" + result.quoted.html
        builder.attachments = result.images
        let reply = MIMEMessage(parsing: builder.build())
        let part = try #require(reply.parts.first { $0.contentID == "photo@example.com" })
        #expect(part.mediaType.type == "image")
        #expect(reply.decodedBody(of: part) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(reply.htmlBody?.contains("cid:photo@example.com") == true)
    }
}
