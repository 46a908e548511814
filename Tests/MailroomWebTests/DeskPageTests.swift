import Foundation
import MailMessage
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Mustache
import Testing
@testable import MailroomWeb

/// The agent desk's server side: notification text, the offers fragment, and what an agent's
/// lists and ticket pages show with real queues.
@Suite("Desk pages")
struct DeskPageTests {
    static let ticket = Ticket(id: "t1", number: 42, accountId: "a1", subject: "Tom & Jerry <3", customerId: "c1",
                               customer: EmailAddress(name: "O'Brien & Sons", address: "ob@example.com"), createdAt: Date())

    @Test func notificationTemplatesRenderAsPlainText() {
        let account = Account(key: "WEB", name: "Web & Mail")
        let text = WebSite.notificationText("{{account.name}}: #{{ticket.number}} {{ticket.subject}} from {{customer.name}} in {{queue.name}}",
                                            ticket: Self.ticket, account: account, queueName: "Sales & Co")
        #expect(text == "Web & Mail: #42 Tom & Jerry <3 from O'Brien & Sons in Sales & Co")
        // No template, a blank one or one that does not parse: the plain default.
        for template in [nil, "", "{{#unclosed}}"] {
            #expect(WebSite.notificationText(template, ticket: Self.ticket, account: account) == "New ticket #42 from ob@example.com: Tom & Jerry <3")
        }
    }

    /// The fragment escapes the notification once: `&` shows as `&`, markup stays text.
    @Test func offersFragmentEscapesTheNotificationOnce() throws {
        let assets = try WebAssets.load()
        let notification = WebSite.notificationText("{{ticket.subject}} & more", ticket: Self.ticket, account: nil)
        let html = try assets.render(OffersView(offers: [
            OffersView.Offer(
                id: "t1-0", ticketId: "t1", number: 42, subject: Self.ticket.subject, customer: "ob@example.com", account: "WEB", queue: nil,
                sound: true, shake: true, notification: notification, showNotification: true, deadline: "2026-11-23 10:00 UTC",
                deadlineISO: "2026-11-23T10:00:00Z"),
        ], noOffers: false))
        #expect(html.contains("data-notification=\"Tom &amp; Jerry &lt;3 &amp; more\""), "\(html)")
        #expect(html.contains(">Tom &amp; Jerry &lt;3 &amp; more</p>"), "\(html)")
        #expect(!html.contains("&amp;amp;") && !html.contains("&amp;lt;"))
        #expect(html.contains("data-sound=\"true\"") && html.contains("data-shake=\"true\""))
        #expect(html.contains("id=\"accept-t1-0\"") && html.contains("id=\"reject-t1-0\""))
    }

    @Test func presenceSummarySaysWhetherOffersCome() {
        #expect(WebSite.presenceView(state: "paused", reason: "lunch").summary
                == "You are paused (lunch): no new tickets are offered to you.")
        #expect(WebSite.presenceView(state: "online", reason: nil).summary.hasPrefix("You are online") == true)
    }

    /// An agent of queue A sees queue A's tickets and the unassigned ones of A's account; a ticket of
    /// queue B is "not found" as a page, as a message body and through the API, and queue B's view too.
    @Test func agentsSeeOnlyTheirQueuesTickets() async throws {
        try await withSite { browser, api, store in
            let accountId = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).string("id"))
            let agent = try await api.call(.post, "/api/v1/users", json: .object([
                "name": .string("Agnes"), "email": .string("agnes@example.com"), "role": .string("agent"), "password": .string("password-123"),
            ]))
            let other = try await api.call(.post, "/api/v1/users", json: .object([
                "name": .string("Bert"), "email": .string("bert@example.com"), "role": .string("agent"), "password": .string("password-123"),
            ]))
            let agentId = try #require(agent.string("id"))
            let otherId = try #require(other.string("id"))
            let queueA = try #require(try await api.call(.post, "/api/v1/queues", json: .object([
                "name": .string("Queue A"), "members": .array([.object(["userId": .string(agentId)])]), "accountIds": .array([.string(accountId)]),
            ])).string("id"))
            let queueB = try #require(try await api.call(.post, "/api/v1/queues", json: .object([
                "name": .string("Queue B"), "members": .array([.object(["userId": .string(otherId)])]),
            ])).string("id"))
            let account = try #require(try await store.accounts.find(id: accountId))
            var ids: [String: String] = [:]
            for (name, queue) in [("inA", queueA), ("inB", queueB), ("loose", nil)] as [(String, String?)] {
                let outcome = try await store.ingest.ingest(storedMail(from: "\(name)@example.com", subject: "Subject \(name)", id: "\(name)@x"),
                                                             raw: Array(name.utf8), account: account, position: nil)
                let id = try #require(outcome.ticketId)
                if let queue {
                    try await store.tickets.applyRouting(ticketId: id, tags: [], priority: nil, queueId: queue, agentId: nil, closeWithDisposition: nil)
                }
                ids[name] = id
            }
            let inB = try #require(ids["inB"]), inA = try #require(ids["inA"]), loose = try #require(ids["loose"])
            let bodyOfB = try #require(try await store.tickets.messages(ticketId: inB).first?.id)

            try await browser.signIn("agnes@example.com", "password-123")
            let desk = try await browser.get("/desk")
            #expect(desk.text.contains("Queue A") && !desk.text.contains("Queue B"), "the desk links the agent's own queues")
            #expect(desk.text.contains("/tickets?view=queue&amp;queueId=\(queueA)"))

            #expect(try await browser.get("/tickets/\(inA)").status == 200)
            #expect(try await browser.get("/tickets/\(loose)").status == 200, "unassigned tickets of the queue's account")
            let hidden = try await browser.get("/tickets/\(inB)")
            #expect(hidden.status == 404 && hidden.text.contains("Not found"))
            #expect(try await browser.get("/web/messages/\(bodyOfB)/body").status == 404)
            let csrf = try await browser.csrfToken()
            #expect(try await browser.request(.get, "/api/v1/tickets/\(inB)").status == 404)
            #expect(try await browser.request(.post, "/api/v1/tickets/\(inB)/read", headers: [CSRFCheck.header: csrf]).status == 404)

            let queueView = try await browser.get("/tickets?view=queue&queueId=\(queueA)")
            #expect(queueView.text.contains("data-ticket=\"\(inA)\"") && !queueView.text.contains("data-ticket=\"\(inB)\""))
            #expect(try await browser.get("/tickets?view=queue&queueId=\(queueB)").status == 404)
            let unassigned = try await browser.get("/tickets?view=unassigned")
            #expect(unassigned.text.contains("data-ticket=\"\(loose)\""))
            // Unassigned: no agent yet, whatever the queue (issue 27), among the tickets the agent sees.
            #expect(!unassigned.text.contains("data-ticket=\"\(inB)\"") && unassigned.text.contains("data-ticket=\"\(inA)\""))
            // Asking for another agent's tickets in a view lists nothing the agent may not see.
            let sneaky = try await browser.get("/tickets?view=queue&queueId=\(queueA)&agentId=\(otherId)")
            #expect(!sneaky.text.contains("data-ticket=\"\(inB)\""))
        }
    }

    /// A received message's attachments exist only inside its raw message: the page cuts the part
    /// out, and only the part whose digest the message recorded.
    @Test func receivedAttachmentsOpenFromTheRawMessage() async throws {
        try await withSite { browser, api, store in
            let accountId = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).string("id"))
            let account = try #require(try await store.accounts.find(id: accountId))
            let content = Array("Invoice 42: 12 widgets\n".utf8)
            let raw = Array("""
                From: Customer <c@example.com>\r
                To: desk@example.com\r
                Subject: Invoice\r
                Message-ID: <inv@x>\r
                MIME-Version: 1.0\r
                Content-Type: multipart/mixed; boundary="b1"\r
                \r
                --b1\r
                Content-Type: text/plain\r
                \r
                See the attachment.\r
                --b1\r
                Content-Type: text/plain; name="invoice.txt"\r
                Content-Disposition: attachment; filename="invoice.txt"\r
                Content-Transfer-Encoding: base64\r
                \r
                \(Data(content).base64EncodedString())\r
                --b1--\r

                """.utf8)
            var mail = storedMail(from: "c@example.com", subject: "Invoice", id: "inv@x")
            let digest = SHA256.hex(SHA256.hash(content))
            mail.attachments = [AttachmentSummary(filename: "invoice.txt", contentType: "text/plain", size: content.count, sha256: digest,
                                               contentId: nil, inline: false),
                                AttachmentSummary(filename: "other.txt", contentType: "text/plain", size: 3, sha256: String(repeating: "0", count: 64),
                                               contentId: nil, inline: false)]
            mail.rawSha256 = SHA256.hex(SHA256.hash(raw))
            let outcome = try await store.ingest.ingest(mail, raw: raw, account: account, position: nil)
            let ticketId = try #require(outcome.ticketId)
            let messageId = try #require(try await store.tickets.messages(ticketId: ticketId).first?.id)

            try await makeUser(api, role: .admin, email: "root@example.com")
            try await browser.signIn("root@example.com", "password-123")
            let download = try await browser.get("/web/messages/\(messageId)/attachments/0")
            #expect(download.status == 200)
            #expect(download.text == String(decoding: content, as: UTF8.self))
            #expect(download.headers[.contentType] == "application/octet-stream")
            #expect(try await browser.get("/web/messages/\(messageId)/attachments/1").status == 404, "no part has the recorded digest")
            #expect(try await browser.get("/web/messages/\(messageId)/attachments/2").status == 404)
        }
    }

    /// The queue screen edits members and linked accounts; the users screen shows presence.
    @Test func queueScreenShowsMembersAccountsAndPresence() async throws {
        try await withSite { browser, api, _ in
            try await makeUser(api, role: .supervisor, email: "sue@example.com")
            let accountId = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).string("id"))
            let agent = try #require(try await api.call(.post, "/api/v1/users", json: .object([
                "name": .string("Agnes"), "email": .string("agnes@example.com"), "role": .string("agent"), "password": .string("password-123"),
            ])).string("id"))
            let queue = try #require(try await api.call(.post, "/api/v1/queues", json: .object([
                "name": .string("Sales & Support"), "members": .array([.object(["userId": .string(agent), "priority": .number(3)])]),
                "accountIds": .array([.string(accountId)]),
            ])).string("id"))
            #expect(try await api.call(.put, "/api/v1/users/\(agent)/presence", json: .object(["state": .string("paused"), "reason": .string("lunch")])).status == 200)
            try await browser.signIn("sue@example.com", "password-123")
            let page = try await browser.get("/admin/queues")
            #expect(page.status == 200)
            #expect(page.text.contains("<h2 id=\"q0-title\">Sales &amp; Support</h2>"))
            #expect(page.text.contains("data-api=\"/api/v1/queues/\(queue)\" data-method=\"PUT\""))
            #expect(page.text.contains("id=\"q0-m-\(agent)\" name=\"userId\" type=\"checkbox\" value=\"\(agent)\" checked"))
            #expect(page.text.contains("id=\"q0-p-\(agent)\" name=\"priority\" type=\"number\" min=\"0\" value=\"3\""))
            #expect(page.text.contains("id=\"q0-a-\(accountId)\" name=\"accountIds[]\" type=\"checkbox\" value=\"\(accountId)\" checked"))
            #expect(page.text.contains("id=\"nq-a-\(accountId)\" name=\"accountIds[]\" type=\"checkbox\" value=\"\(accountId)\">"))
            let users = try await browser.get("/admin/users")
            #expect(users.text.contains("<td data-label=\"Presence\">paused (lunch)</td>"))
        }
    }
}

@Suite("Page values")
struct PageValueTests {
    /// A missing value must read as absent: an `Optional.none` stored as `Any` showed "Next page"
    /// links to nowhere and wrote "nil" into hidden fields.
    struct Values: TemplateView {
        let next: String?
        let value: String?
    }

    @Test func missingValuesAreAbsentInTemplates() throws {
        let template = try MustacheTemplate(string: "{{#next}}link {{next}}{{/next}}{{^next}}none{{/next}}|{{value}}")
        let missing: String? = nil
        #expect(template.render(Values(next: missing, value: missing)) == "none|")
        #expect(template.render(Values(next: Optional("/p2"), value: Optional("x"))) == "link /p2|x")
        // The same through a page's composed context.
        #expect(template.render(Merged(Values(next: missing, value: missing), Values(next: "/outer", value: "outer"))) == "none|")
    }
}
