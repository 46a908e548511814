import Foundation
import Testing
@testable import MailMessage

@Suite("Reply helpers")
struct ReplyTests {
    @Test func quotedOriginalText() throws {
        let message = try Fixture.message("simple-plain.eml")
        let quoted = ReplyQuoting.quotedOriginal(of: message)
        #expect(quoted.text.hasPrefix("On Sun, 22 Nov 2026 10:00:00 +0000, Ann Example <ann@example.com> wrote:\n> Hello,\n>\n> my order 1234"))
        #expect(quoted.html.contains("<blockquote type=\"cite\""))
        #expect(quoted.html.contains("Ann Example &lt;ann@example.com&gt; wrote:"))
        #expect(quoted.html.contains("my order 1234 has not arrived yet. Could you check?<br>"))
    }

    @Test func quotedOriginalNestsHTMLBody() throws {
        let message = try Fixture.message("alternative-utf8.eml")
        let quoted = ReplyQuoting.quotedOriginal(of: message)
        #expect(quoted.html.contains("<p>Grüße aus München &mdash; <b>café</b> ☃</p>"))
        #expect(!quoted.html.contains("<body>"))
    }

    @Test func quoteLevels() {
        #expect(ReplyQuoting.quoteText("a\n\n> b\n") == "> a\n>\n>> b")
    }

    @Test(arguments: [
        ("Order 42", "Re: Order 42"),
        ("Re: Order 42", "Re: Order 42"),
        ("RE: Fwd: AW: Order 42", "Re: Order 42"),
        ("Re[2]: Order 42", "Re: Order 42"),
        ("SV: VS: Order 42", "Re: Order 42"),
        ("回复：Order 42", "Re: Order 42"),
        ("Ratio: 3:1", "Re: Ratio: 3:1"),
    ])
    func replySubjects(original: String, expected: String) {
        #expect(ReplyQuoting.replySubject(original) == expected)
    }

    @Test func threadingIDs() throws {
        let message = try Fixture.message("auto-reply.eml")
        let ids = ReplyQuoting.threadingIDs(for: message)
        #expect(ids.inReplyTo == ["ooo-1@example.com"])
        #expect(ids.references == ["ticket-41@helpdesk.test", "ticket-42@helpdesk.test", "ooo-1@example.com"])
    }

    @Test(arguments: [
        ("Thanks, that worked!\n\nOn Mon, 23 Nov 2026 at 10:00, Support <support@helpdesk.test> wrote:\n> Please try again.\n",
         "Thanks, that worked!", "On Mon, 23 Nov 2026 at 10:00, Support <support@helpdesk.test> wrote:\n> Please try again.", nil as String?),
        ("Danke!\n\nAm 23.11.2026 um 10:00 schrieb Support <support@helpdesk.test>:\n> Bitte erneut versuchen.",
         "Danke!", "Am 23.11.2026 um 10:00 schrieb Support <support@helpdesk.test>:\n> Bitte erneut versuchen.", nil),
        ("Still broken.\n\nAnn\n-- \nAnn Example\nACME Inc.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nTo: Ann\nSubject: Re: help\n\nTry again",
         "Still broken.\n\nAnn", "-----Original Message-----\nFrom: Support\nSent: Monday\nTo: Ann\nSubject: Re: help\n\nTry again", "-- \nAnn Example\nACME Inc."),
        ("Yes please.\n\nSent from my iPhone\n\nFrom: Support <support@helpdesk.test>\nDate: 23 November 2026\nTo: Ann\nSubject: Question\n\nShall we?",
         "Yes please.", "From: Support <support@helpdesk.test>\nDate: 23 November 2026\nTo: Ann\nSubject: Question\n\nShall we?", "Sent from my iPhone"),
        ("On Mon, 23 Nov 2026, Support <support@\nhelpdesk.test> wrote:\n> old", "", "On Mon, 23 Nov 2026, Support <support@\nhelpdesk.test> wrote:\n> old", nil),
        ("> I asked this\nAnd this is my answer\n> and that\nand that one", "> I asked this\nAnd this is my answer\n> and that\nand that one", nil, nil),
        ("Just new text.", "Just new text.", nil, nil),
    ])
    func newPartOfReply(text: String, newText: String, quoted: String?, signature: String?) {
        let split = ReplyExtractor.split(text)
        #expect(split.newText == newText)
        #expect(split.quoted == quoted)
        #expect(split.signature == signature)
    }

    @Test func plainTextFromHTML() {
        let text = HTMLText.plainText("<html><head><style>p{}</style></head><body><p>Hello&nbsp;there</p><div>A &amp; B<br>next</div></body></html>")
        #expect(text == "Hello there\nA & B\nnext\n")
    }
}
