import Foundation
import MailroomTestSupport
import Testing

/// The web application in a real headless Chromium, against `mailroom serve`, the test Dovecot and
/// the SMTP sink. Screenshots of the main screens go to MAILROOM_TEST_ARTIFACTS (.build/test-artifacts).
@Suite(.serialized, .enabled(if: BrowserHarness.enabled))
struct BrowserFlowTests {
    static func message(subject: String, from: String = "Carol Customer <carol@example.com>", body: String = "Hello, I need help with my order.",
                        html: String? = nil) -> String {
        let id = "<\(UUID().uuidString)@customer.example>"
        if let html {
            return """
                From: \(from)
                To: desk@example.com
                Subject: \(subject)
                Message-ID: \(id)
                MIME-Version: 1.0
                Content-Type: multipart/alternative; boundary="b1"

                --b1
                Content-Type: text/plain; charset=utf-8

                \(body)
                --b1
                Content-Type: text/html; charset=utf-8

                \(html)
                --b1--

                """
        }
        return "From: \(from)\nTo: desk@example.com\nSubject: \(subject)\nMessage-ID: \(id)\n\n\(body)\n"
    }

    /// The administrator creates the account through its form (after testing the connection), and a
    /// canned answer; the ticket that arrives is read and answered with the canned answer; the reply
    /// reaches the SMTP sink.
    @Test func administratorSetsUpAnAccountAndAnswersWithACannedAnswer() async throws {
        let mailbox = try await BrowserHarness.mailbox([Self.message(subject: "Where is my parcel?")])
        let sinkPort = try TestServers.require("MAILROOM_TEST_SMTP_SINK_DUMP_PORT")
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            try await h.screenshot("01-desk-admin")

            try await h.go("/admin/accounts/new")
            try await h.fill("#acc-name", "Web Desk")
            try await h.fill("#acc-key", "WEB")
            try await h.fill("#acc-from", "desk@example.com")
            try await h.fill("#acc-from-name", "Example Desk")
            try await h.select("#in-protocol", value: "imap")
            try await h.fill("#incoming-host", "127.0.0.1")
            try await h.fill("#incoming-port", mailbox.port)
            try await h.select("#incoming-security", value: "none")
            try await h.fill("#in-interval", "1")
            try await h.fill("#incoming-atimeout", "30")
            try await h.select("#incoming-auth-method", value: "password")
            try await h.fill("#incoming-username", mailbox.user)
            try await h.fill("#incoming-password", mailbox.password)
            try await h.select("#out-protocol", value: "smtp")
            try await h.fill("#outgoing-host", "127.0.0.1")
            try await h.fill("#outgoing-port", sinkPort)
            try await h.select("#outgoing-security", value: "none")
            try await h.select("#outgoing-auth-method", value: "none")
            // A field-level message first: the key is too long for the API.
            try await h.fill("#acc-key", "TOOLONG")
            try await h.driver.execute("document.getElementById('acc-key').removeAttribute('maxlength')")
            try await h.fill("#acc-key", "TOOLONG")
            try await h.click("#account-form button.primary")
            let keyError = try await h.driver.waitFor("#acc-key[aria-invalid='true']")
            #expect(try await keyError.attribute("aria-describedby")?.isEmpty == false)
            try await h.screenshot("02-account-field-error")
            try await h.fill("#acc-key", "WEB")

            try await h.click("#test-connection")
            _ = try await h.driver.waitFor("#test-result .steps li", timeout: .seconds(40))
            let report = try await h.text("#test-result")
            #expect(report.contains("Connection test passed."), "\(report)")
            try await h.screenshot("03-account-test-connection")
            try await h.click("#account-form button.primary")
            try await h.driver.waitUntil("the new account's page") {
                let url = try await h.driver.currentURL()
                return url.contains("/admin/accounts/") && !url.hasSuffix("/new")
            }
            // Protocols are read-only once created.
            #expect(try await h.driver.find("#in-protocol").property("disabled") as? Bool == true)
            try await h.screenshot("04-account-settings")

            let accounts = try await h.waitForItems("/api/v1/accounts") { !$0.isEmpty }
            let accountId = try #require(accounts.first?["id"] as? String)
            try await h.go("/admin/catalog?accountId=\(accountId)")
            try await h.fill("#ca-name", "Parcel answer")
            try await h.fill("#ca-text", "Your parcel is on its way.")
            try await h.click("#new-canned button[type=submit]")
            try await h.driver.waitUntil("the canned answer is listed") { try await h.driver.source().contains("Parcel answer") }

            // The message arrives as a ticket.
            let tickets = try await h.waitForItems("/api/v1/tickets") { !$0.isEmpty }
            let ticketId = try #require(tickets.first?["id"] as? String)
            try await h.go("/tickets?view=all")
            _ = try await h.driver.waitFor("tr[data-ticket='\(ticketId)']")
            try await h.screenshot("05-ticket-list")
            try await h.click("tr[data-ticket='\(ticketId)'] a")
            try await h.waitForURL(containing: "/tickets/\(ticketId)")
            #expect(try await h.text(".message.in pre.text").contains("I need help with my order"))
            try await h.select("#reply-canned", value: try #require(
                try await h.api("GET", "/api/v1/canned-answers?accountId=\(accountId)").1["items"].flatMap { ($0 as? [[String: Any]])?.first?["id"] as? String }))
            try await h.fill("#reply-text", "Hello Carol,")
            try await h.screenshot("06-ticket-reply")
            try await h.click("#reply-form button[type=submit]")
            _ = try await h.driver.waitFor(".message.out")
            try await h.screenshot("07-ticket-replied")
            var delivered = false
            for _ in 0..<150 where !delivered {
                delivered = BrowserHarness.sinkMessages().contains { $0.contains("Your parcel is on its way.") && $0.contains("Hello Carol,") }
                if !delivered { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(delivered, "the reply with the canned answer reached the SMTP sink")

            // The other administrator screens render.
            for (path, name) in [("/admin/outbox", "08-outbox"), ("/admin/status", "09-status"), ("/admin/rules", "10-rules"),
                                 ("/admin/users", "11-users"), ("/admin/templates", "12-templates"), ("/admin/settings", "13-settings"),
                                 ("/admin/quarantine", "14-quarantine"), ("/admin/queues", "15-queues")] {
                try await h.go(path)
                _ = try await h.driver.waitFor("main h1")
                try await h.screenshot(name)
            }
            // Narrow screens get the same page, reflowed.
            try await h.driver.setWindow(width: 420, height: 900)
            try await h.go("/tickets/\(ticketId)")
            _ = try await h.driver.waitFor(".message")
            try await h.screenshot("16-ticket-narrow")
        }
    }

    /// A hostile message runs nothing and loads nothing until the agent asks for images; forms
    /// without the CSRF token are refused, even from a page of the same site; an agent cannot open a
    /// ticket outside their queues by changing the address.
    @Test func hostileMailAndForgedRequestsAchieveNothing() async throws {
        let counter = try HitCounter()
        defer { counter.stop() }
        let remote = "http://127.0.0.1:\(counter.port)"
        let html = """
            <html><head><meta http-equiv="refresh" content="0;url=\(remote)/refresh"><link rel="stylesheet" href="\(remote)/link.css">
            <style>@import url(\(remote)/import.css); body { background: url(\(remote)/bg.png) }</style>
            <script>window.top.__pwned = 'script'; new Image().src = '\(remote)/script';</script></head>
            <body onload="window.top.__pwned = 'onload'">
            <p>Dear desk, <b>please</b> look.</p>
            <img src="\(remote)/remote.png" alt="tracking pixel">
            <img src="x" onerror="window.top.__pwned = 'onerror'; new Image().src = '\(remote)/onerror'">
            <a id="js" href="javascript:window.top.__pwned = 'link'">click me</a>
            <svg onload="window.top.__pwned = 'svg'"><image href="\(remote)/svg.png"/></svg>
            <div style="background-image: url(\(remote)/style.png); width: expression(alert(1))">styled</div>
            <iframe src="\(remote)/frame"></iframe><object data="\(remote)/object"></object><video poster="\(remote)/poster.png"></video>
            <form action="\(remote)/form"><input type="image" src="\(remote)/input.png"></form>
            </body></html>
            """
        let mailbox = try await BrowserHarness.mailbox([Self.message(subject: "Hostile", body: "plain part", html: html)])
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.createUser(name: "Agnes Agent", email: "agnes@example.com", role: "agent")
            let (created, body) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "SEC", "name": "Security", "fromAddress": "desk@example.com",
                 "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(mailbox.port), "security": "none", "fetchIntervalSeconds": 1,
                              "authTimeoutSeconds": 30, "auth": {"username": "\(mailbox.user)", "password": "\(mailbox.password)"}}}
                """)
            #expect(created == 201, "\(body)")
            let ticketId = try #require(try await h.waitForItems("/api/v1/tickets") { !$0.isEmpty }.first?["id"] as? String)

            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/tickets/\(ticketId)")
            let frame = try await h.driver.waitFor(".message.in iframe")
            try await h.driver.waitUntil("the message frame loaded") {
                try await h.driver.execute("return arguments[0].contentDocument && arguments[0].contentDocument.readyState",
                                           [[WebDriver.Element.key: frame.id]]) as? String == "complete"
            }
            let frameText = try await h.driver.execute("return arguments[0].contentDocument.body.innerText", [[WebDriver.Element.key: frame.id]]) as? String
            #expect(frameText?.contains("please look") == true || frameText?.contains("please") == true)
            // Clicking the javascript: link does nothing (it is no longer a link to anything).
            try await h.driver.execute("const a = arguments[0].contentDocument.getElementById('mr-js'); if (a) a.click();",
                                       [[WebDriver.Element.key: frame.id]])
            try await Task.sleep(for: .seconds(2))
            #expect(try await h.driver.execute("return window.__pwned === undefined") as? Bool == true)
            #expect(try await h.driver.execute("return arguments[0].contentWindow.__pwned === undefined",
                                               [[WebDriver.Element.key: frame.id]]) as? Bool == true)
            #expect(counter.hits.isEmpty, "loaded from the listener: \(counter.hits)")
            try await h.screenshot("20-hostile-message")

            // "Show images" loads the remote image, and only that: the listener does count.
            try await h.click(".message.in .notice a")
            let shown = try await h.driver.waitFor(".message.in iframe[src*='images=1']")
            try await h.driver.waitUntil("the remote image was requested") { counter.hits.contains { $0.contains("/remote.png") } }
            try await Task.sleep(for: .seconds(1))
            #expect(counter.hits == ["GET /remote.png"], "\(counter.hits)")
            #expect(try await h.driver.execute("return arguments[0].contentWindow.__pwned === undefined && window.__pwned === undefined",
                                               [[WebDriver.Element.key: shown.id]]) as? Bool == true)

            // The API refuses a cookie-authenticated change without the CSRF token...
            let status = try await h.driver.execute("""
                const x = new XMLHttpRequest(); x.open('POST', '/api/v1/dispositions', false);
                x.setRequestHeader('Content-Type', 'application/json'); x.send('{"name": "forged"}'); return x.status;
                """) as? Int
            #expect(status == 403)
            // ...and so do the pages' own forms, posted from another page of the same site (another port
            // on 127.0.0.1 is the same site, so the SameSite cookie is sent: the token is what stops it).
            let attacker = try HitCounter(page: """
                <form id="f" method="post" action="\(h.base)/logout"></form>
                <form id="g" method="post" enctype="text/plain" action="\(h.base)/api/v1/dispositions"><input name='{"name": "forged2", "x": "' value='"}'></form>
                <script>document.getElementById('g').submit(); setTimeout(function () { document.getElementById('f').submit(); }, 500);</script>
                """)
            defer { attacker.stop() }
            try await h.driver.go("http://127.0.0.1:\(attacker.port)/page")
            try await Task.sleep(for: .seconds(2))
            try await h.go("/desk")
            #expect(try await h.driver.currentURL().hasSuffix("/desk"), "still signed in: the forged sign-out was refused")
            let names = try await h.api("GET", "/api/v1/dispositions").1["items"].flatMap { ($0 as? [[String: Any]])?.compactMap { $0["name"] as? String } } ?? []
            #expect(!names.contains("forged") && !names.contains("forged2"))
            try await h.signOut()

            // An agent who is not in the ticket's queue gets "not found", for the page, its frame and its parts.
            try await h.signIn("agnes@example.com", "password-123")
            try await h.go("/tickets/\(ticketId)")
            #expect(try await h.text("main h1") == "Not found")
            let messages = try await h.api("GET", "/api/v1/tickets/\(ticketId)/messages").1["items"] as? [[String: Any]] ?? []
            let messageId = try #require(messages.first?["id"] as? String)
            try await h.go("/web/messages/\(messageId)/body")
            #expect(try await h.text("main h1") == "Not found")
            try await h.screenshot("21-agent-not-found")
        }
    }
}
