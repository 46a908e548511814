import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// A reply to HTML mail with inline images (issue 27): the quote's `cid:` images go out as the same
/// parts, a missing one leaves the quote cleanly, a remote one stays a reference; the reply is a
/// `replied` line of the ticket's history, by its agent.
@Suite struct ReplyQuotedImagesTests {
    static let original = """
        From: Ann <ann@example.com>
        To: desk@example.com
        Subject: Damaged box
        Message-ID: <box-1@customer.example>
        MIME-Version: 1.0
        Content-Type: multipart/related; boundary="rel"

        --rel
        Content-Type: text/html; charset=utf-8

        <p>See the photo:</p><img src="cid:photo@customer.example"><img src="cid:gone@customer.example"><img src="https://tracker.example/p.gif">
        --rel
        Content-Type: image/png; name="photo.png"
        Content-Transfer-Encoding: base64
        Content-ID: <photo@customer.example>

        iVBORw0KGgo=
        --rel--

        """.replacingOccurrences(of: "\n", with: "\r\n")

    @Test func theQuotesInlineImagesTravelWithTheReply() async throws {
        try await TestDatabase.sqlite.withStore { store in
            var account = Account(key: "DESK", name: "Desk", fromAddress: "desk@example.com")
            account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(host: "127.0.0.1", port: 2525, security: .none,
                                                                                           auth: ServerAuth(method: .none)))
            let stored = try await store.accounts.create(account)
            let raw = Array(Self.original.utf8)
            let outcome = try await store.ingest.ingest(try InboundMailParser.parse(raw), raw: raw, account: stored, position: nil)
            let ticketId = try #require(outcome.ticketId)
            let message = try await ReplyComposer(store: store).compose(
                ticketId: ticketId, request: ReplyRequest(mode: .reply, html: "<p>Sorry about that.</p>"),
                author: Principal(userId: "u1", name: "Alice Agent", role: .agent))
            let sent = MIMEMessage(parsing: try #require(try await store.rawMail.blob(sha256: message.rawSha256)))
            let html = try #require(sent.htmlBody)
            #expect(html.contains("cid:photo@customer.example"))
            #expect(!html.contains("gone@customer.example"), "the missing image left the quote")
            #expect(html.contains("https://tracker.example/p.gif"), "a remote image stays a reference")
            let image = try #require(sent.parts.first { $0.contentID == "photo@customer.example" })
            #expect(sent.decodedBody(of: image) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            #expect(sent.parts.filter { $0.mediaType.type == "image" }.count == 1, "nothing fetched from elsewhere")

            let history = try await store.tickets.history(ticketId: ticketId)
            #expect(history.map(\.kind) == [.created, .replied])
            #expect(history.last?.actorId == "u1")
            #expect(history.last?.details["messageId"] == message.id)
        }
    }
}
