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

    /// The administrator sets up an account (after testing the connection), a canned answer, a
    /// disposition, a queue and a rule, all through the forms. An agent goes online on the desk; the
    /// message that then arrives is offered to them live (no reload) with the account's notification;
    /// they accept with the keyboard, read it, tag it, answer with the canned answer (which reaches
    /// the SMTP sink) and close it, which needs a disposition and pauses them until they choose one.
    @Test func administratorSetsUpRoutingAndAnAgentAnswersAnOfferLive() async throws {
        let mailbox = try await BrowserHarness.mailbox([])
        let sinkPort = try TestServers.require("MAILROOM_TEST_SMTP_SINK_DUMP_PORT")
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            let agentId = try await h.createUser(name: "Agnes Agent", email: "agnes@example.com", role: "agent")
            try await h.signIn("ada@example.com", "password-123")
            try await h.screenshot("01-desk-admin")

            // The account.
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
            try await h.fill("#incoming-password-confirm", mailbox.password)
            try await h.select("#out-protocol", value: "smtp")
            try await h.fill("#outgoing-host", "127.0.0.1")
            try await h.fill("#outgoing-port", sinkPort)
            try await h.select("#outgoing-security", value: "none")
            try await h.select("#outgoing-auth-method", value: "none")
            // The agent's notification: an ampersand must show as one, not as "&amp;".
            try await h.fill("#acc-notification", "{{account.name}} & friends: #{{ticket.number}} {{ticket.subject}}")
            try await h.setChecked("#acc-sound", true)
            try await h.setChecked("#acc-shake", true)
            try await h.setChecked("#acc-mandatory", true)
            try await h.fill("#acc-pause", "Disposing")
            // A field-level message first: the key is too long for the API.
            try await h.driver.execute("document.getElementById('acc-key').removeAttribute('maxlength')")
            try await h.fill("#acc-key", "TOOLONG")
            try await h.click("#account-form button.primary")
            let keyError = try await h.driver.waitFor("#acc-key[aria-invalid='true']")
            #expect(try await keyError.attribute("aria-describedby")?.isEmpty == false)
            try await h.screenshot("02-account-field-error")
            #expect(try await h.unlabelledControls() == [], "every field of the account form is labelled")
            try await h.fill("#acc-key", "WEB")

            try await h.click("#test-connection")
            _ = try await h.driver.waitFor("#test-result .steps li", timeout: .seconds(60))
            let report = try await h.text("#test-result")
            #expect(report.contains("Connection test passed."), "\(report)")
            try await h.screenshot("03-account-test-connection")
            try await h.click("#account-form button.primary")
            try await h.driver.waitUntil("the new account's page", timeout: .seconds(40)) {
                let url = try await h.driver.currentURL()
                return url.contains("/admin/accounts/") && !url.hasSuffix("/new")
            }
            // Protocols are read-only once created.
            #expect(try await h.driver.find("#in-protocol").property("disabled") as? Bool == true)
            try await h.screenshot("04-account-settings")
            let accounts = try await h.waitForItems("/api/v1/accounts") { !$0.isEmpty }
            let accountId = try #require(accounts.first?["id"] as? String)

            // A canned answer and a disposition of the account.
            try await h.go("/admin/catalog?accountId=\(accountId)")
            try await h.fill("#ca-name", "Parcel answer")
            try await h.fill("#ca-text", "Your parcel is on its way.")
            try await h.click("#new-canned button[type=submit]")
            try await h.driver.waitUntil("the canned answer is listed") { try await h.driver.source().contains("Parcel answer") }
            try await h.fill("#d-name", "Parcel located")
            try await h.click("#new-disposition button[type=submit]")
            try await h.driver.waitUntil("the disposition is listed") { try await h.driver.source().contains("Parcel located") }

            // The queue: the agent as its member, the account linked.
            try await h.go("/admin/queues")
            try await h.fill("#nq-name", "Parcels")
            try await h.fill("#nq-timeout", "600")
            try await h.setChecked("#nq-m-\(agentId)", true)
            try await h.setChecked("#nq-a-\(accountId)", true)
            try await h.click("#new-queue button.primary")
            let queues = try await h.waitForItems("/api/v1/queues") { !$0.isEmpty }
            let queueId = try #require(queues.first?["id"] as? String)
            let members = queues.first?["members"] as? [[String: Any]] ?? []
            #expect(members.map { $0["userId"] as? String } == [agentId], "\(queues)")
            #expect(queues.first?["accountIds"] as? [String] == [accountId], "\(queues)")
            #expect(queues.first?["agentTimeoutSeconds"] as? Int == 600)
            _ = try await h.driver.waitFor("[data-queue='\(queueId)']")
            try await h.screenshot("15-queues")
            #expect(try await h.unlabelledControls() == [], "every field of the queue forms is labelled")

            // The rule: subjects with "parcel" go to the queue.
            try await h.go("/admin/rules/new?accountId=\(accountId)")
            try await h.fill("#rule-name", "Parcels to their queue")
            try await h.click("button[data-add-row='conditions']")
            try await h.select("#conditions [data-item] select[name='field']", value: "subject")
            try await h.select("#conditions [data-item] select[name='operator']", value: "contains")
            try await h.fill("#conditions [data-item] input[name='value']", "parcel")
            try await h.click("button[data-add-row='actions']")
            try await h.select("#actions [data-item] select[name='type']", value: "queue")
            try await h.select("#actions [data-item] select[name='queueId']", value: queueId)
            try await h.screenshot("10-rule-form")
            #expect(try await h.unlabelledControls() == [], "every field of the rule form is labelled")
            try await h.click("#rule-form button.primary")
            try await h.waitForURL(containing: "/admin/rules?accountId=")
            let rules = try await h.waitForItems("/api/v1/rules?accountId=\(accountId)") { !$0.isEmpty }
            let actions = rules.first?["actions"] as? [[String: Any]] ?? []
            #expect(actions.first?["type"] as? String == "queue" && actions.first?["queueId"] as? String == queueId, "\(rules)")
            try await h.signOut()

            // The agent goes online on the desk and waits there.
            try await h.signIn("agnes@example.com", "password-123")
            try await h.waitForURL(containing: "/desk")
            #expect(try await h.text("#my-queues ul").contains("Parcels"))
            try await h.select("#presence-state", value: "online")
            try await h.click("#presence-form button[type=submit]")
            try await h.driver.waitUntil("the agent is online") { try await h.text("#presence-summary").hasPrefix("You are online") }
            let presence = try await h.api("GET", "/api/v1/users/\(agentId)").1["presence"] as? [String: Any]
            #expect(presence?["state"] as? String == "online")
            try await h.driver.waitUntil("the live stream is open") {
                try await h.driver.execute("return document.body.dataset.liveState") as? String == "open"
            }
            try await h.driver.execute("window.__sameDesk = true; document.getElementById('presence-state').focus();")

            // The customer writes; the offer appears without a reload, with the notification.
            try await BrowserHarness.deliver([Self.message(subject: "Where is my parcel?")], user: mailbox.user)
            let offer = try await h.driver.waitFor("#offers [data-offer]", timeout: .seconds(120))
            #expect(try await h.driver.execute("return window.__sameDesk === true") as? Bool == true, "the desk was not reloaded")
            let offerText = try await offer.text()
            #expect(offerText.contains("Web Desk & friends: #"), "\(offerText)")
            #expect(offerText.contains("Where is my parcel?") && !offerText.contains("&amp;"), "\(offerText)")
            #expect(try await offer.attribute("class")?.contains("shake") == true)
            let notice = try await h.driver.execute("return document.body.dataset.lastNotification") as? String
            #expect(notice?.hasPrefix("Web Desk & friends: #") == true, "\(notice ?? "none")")
            #expect((try await h.driver.execute("return document.getElementById('toast').textContent") as? String)?.contains("Web Desk & friends") == true)
            #expect(try await h.driver.execute("return document.activeElement.id") as? String == "presence-state",
                    "a live update does not move the keyboard focus")
            try await h.screenshot("17-desk-offer")
            #expect(try await h.unlabelledControls() == [], "every control of the desk is labelled")

            // Accepted with the keyboard: the ticket opens.
            let offerId = try #require(try await offer.attribute("data-offer"))
            try await h.press("#accept-\(offerId)", key: BrowserHarness.enterKey)
            try await h.waitForURL(containing: "/tickets/")
            let ticketId = try #require(try await h.driver.currentURL().split(separator: "/").last.map(String.init))
            #expect(try await h.text(".message.in pre.text").contains("I need help with my order"))
            let ticket = try await h.api("GET", "/api/v1/tickets/\(ticketId)").1
            #expect(ticket["agentId"] as? String == agentId && ticket["queueId"] as? String == queueId, "\(ticket)")
            // Opening it marked it read.
            try await h.driver.waitUntil("the ticket is read") {
                try await h.api("GET", "/api/v1/tickets/\(ticketId)").1["unread"] as? Bool == false
            }

            // Tags and priority.
            try await h.fill("#details-tags", "parcel, urgent")
            try await h.select("#details-priority", value: "high")
            try await h.click("#details-form button[type=submit]")
            try await h.driver.waitUntil("the tags are saved") {
                let saved = try await h.api("GET", "/api/v1/tickets/\(ticketId)").1
                return saved["tags"] as? [String] == ["parcel", "urgent"] && saved["priority"] as? String == "high"
            }

            // The reply with the canned answer.
            let cannedId = try #require(
                try await h.api("GET", "/api/v1/canned-answers?accountId=\(accountId)").1["items"].flatMap { ($0 as? [[String: Any]])?.first?["id"] as? String })
            // Choosing a canned answer puts its text into the message, after what the agent wrote.
            try await h.fill("#reply-text", "Hello Carol,")
            try await h.select("#reply-canned", value: cannedId)
            try await h.driver.waitUntil("the canned answer is in the message") {
                try await h.driver.execute("return document.getElementById('reply-text').value") as? String
                    == "Hello Carol,\n\nYour parcel is on its way."
            }
            #expect(try await h.driver.execute("return document.getElementById('reply-canned').value") as? String == "")
            try await h.screenshot("06-ticket-reply")
            #expect(try await h.unlabelledControls() == [], "every control of the ticket page is labelled")
            try await h.click("#reply-form button[type=submit]")
            _ = try await h.driver.waitFor(".message.out", timeout: .seconds(40))
            try await h.screenshot("07-ticket-replied")
            var delivered = false
            for _ in 0..<300 where !delivered {
                delivered = BrowserHarness.sinkMessages().contains { $0.contains("Your parcel is on its way.") && $0.contains("Hello Carol,") }
                if !delivered { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(delivered, "the reply with the canned answer reached the SMTP sink")

            // Closing needs a disposition: without one, the field says so and the agent is paused.
            _ = try await h.driver.waitFor("#close-form")
            try await h.driver.waitUntil("the live stream is open") {
                try await h.driver.execute("return document.body.dataset.liveState") as? String == "open"
            }
            try await h.click("#close-form button[type=submit]")
            let dispositionError = try await h.driver.waitFor("#close-disposition[aria-invalid='true']")
            #expect(try await dispositionError.attribute("aria-describedby")?.isEmpty == false)
            try await h.driver.waitUntil("the agent is paused while disposing", timeout: .seconds(30)) {
                try await h.text("#close-form [data-presence-summary]").contains("paused (Disposing)")
            }
            try await h.screenshot("08-ticket-disposition-required")
            let dispositionId = try #require(
                try await h.api("GET", "/api/v1/dispositions?accountId=\(accountId)").1["items"].flatMap { ($0 as? [[String: Any]])?.first?["id"] as? String })
            try await h.select("#close-disposition", value: dispositionId)
            try await h.click("#close-form button[type=submit]")
            try await h.driver.waitUntil("the ticket is closed") { try await h.driver.source().contains("This ticket is closed.") }
            let closed = try await h.api("GET", "/api/v1/tickets/\(ticketId)").1
            #expect(closed["status"] as? String == "closed")
            let restored = try await h.api("GET", "/api/v1/users/\(agentId)").1["presence"] as? [String: Any]
            #expect(restored?["state"] as? String == "online", "the pause for disposing ended with the close")

            // The desk, narrow and wide.
            try await h.go("/desk")
            _ = try await h.driver.waitFor("#offers-title")
            try await h.driver.setWindow(width: 420, height: 900)
            try await h.screenshot("18-desk-narrow")
            try await h.driver.setWindow(width: 1700, height: 1000)
            try await h.screenshot("19-desk-wide")
            try await h.driver.setWindow(width: 1366, height: 900)
            try await h.go("/tickets?view=queue&queueId=\(queueId)")
            _ = try await h.driver.waitFor("tr[data-ticket='\(ticketId)']")
            try await h.screenshot("05-ticket-list")
            try await h.signOut()

            // The other administrator screens render.
            try await h.signIn("ada@example.com", "password-123")
            for (path, name) in [("/admin/outbox", "22-outbox"), ("/admin/status", "23-status"), ("/admin/rules", "24-rules"),
                                 ("/admin/users", "25-users"), ("/admin/templates", "26-templates"), ("/admin/settings", "27-settings"),
                                 ("/admin/quarantine", "28-quarantine")] {
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

    /// An agent hands a ticket to another queue from the ticket page; its member, going online,
    /// gets the offer live and accepts it; the read mark can be set back to unread.
    @Test func anAgentTransfersATicketToAnotherQueue() async throws {
        let mailbox = try await BrowserHarness.mailbox([])
        try await BrowserHarness.run { h in
            let agnes = try await h.createUser(name: "Agnes Agent", email: "agnes@example.com", role: "agent")
            let bert = try await h.createUser(name: "Bert Agent", email: "bert@example.com", role: "agent")
            let (_, first) = try await h.api("POST", "/api/v1/queues", json: """
                {"name": "First line", "agentTimeoutSeconds": 600, "members": [{"userId": "\(agnes)"}]}
                """)
            let (_, second) = try await h.api("POST", "/api/v1/queues", json: """
                {"name": "Second line", "agentTimeoutSeconds": 600, "members": [{"userId": "\(bert)"}]}
                """)
            let firstId = try #require(first["id"] as? String), secondId = try #require(second["id"] as? String)
            let (ruleStatus, rule) = try await h.api("POST", "/api/v1/rules", json: """
                {"name": "All to the first line", "accountId": null, "conditions": [],
                 "actions": [{"type": "queue", "queueId": "\(firstId)"}]}
                """)
            #expect(ruleStatus == 201, "\(rule)")
            let (created, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "TRF", "name": "Transfers", "fromAddress": "desk@example.com", "transfer": {"enabled": true, "timeoutSeconds": 600},
                 "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(mailbox.port), "security": "none", "fetchIntervalSeconds": 1,
                              "authTimeoutSeconds": 30, "auth": {"username": "\(mailbox.user)", "password": "\(mailbox.password)"}}}
                """)
            #expect(created == 201, "\(account)")

            // Agnes takes the ticket from her offers.
            try await h.signIn("agnes@example.com", "password-123")
            try await h.select("#presence-state", value: "online")
            try await h.click("#presence-form button[type=submit]")
            try await h.driver.waitUntil("Agnes is online") { try await h.text("#presence-summary").hasPrefix("You are online") }
            try await BrowserHarness.deliver([Self.message(subject: "Please escalate")], user: mailbox.user)
            let offer = try await h.driver.waitFor("#offers [data-offer]", timeout: .seconds(120))
            let offerId = try #require(try await offer.attribute("data-offer"))
            try await h.click("#accept-\(offerId)")
            try await h.waitForURL(containing: "/tickets/")
            let ticketId = try #require(try await h.driver.currentURL().split(separator: "/").last.map(String.init))

            // She transfers it to the second line and is sent back to the desk.
            try await h.select("#transfer-queue", value: secondId)
            try await h.screenshot("30-ticket-transfer")
            try await h.click("#transfer-form button[type=submit]")
            try await h.waitForURL(containing: "/desk?done=transferred")
            #expect(try await h.text("main .notice").contains("transferred"))
            try await h.signOut()

            // Bert goes online: the offer arrives live, and he accepts.
            try await h.signIn("bert@example.com", "password-123")
            #expect(try await h.driver.findAll("#offers [data-offer]").isEmpty, "no offer while Bert is offline")
            try await h.driver.waitUntil("the live stream is open") {
                try await h.driver.execute("return document.body.dataset.liveState") as? String == "open"
            }
            try await h.select("#presence-state", value: "online")
            try await h.click("#presence-form button[type=submit]")
            let transferred = try await h.driver.waitFor("#offers [data-offer]", timeout: .seconds(60))
            #expect(try await transferred.text().contains("Please escalate"))
            try await h.click("#accept-\(try #require(try await transferred.attribute("data-offer")))")
            try await h.waitForURL(containing: "/tickets/\(ticketId)")
            let ticket = try await h.api("GET", "/api/v1/tickets/\(ticketId)").1
            #expect(ticket["agentId"] as? String == bert && ticket["queueId"] as? String == secondId, "\(ticket)")

            // The read mark: opened means read; he can set it back to unread.
            try await h.driver.waitUntil("the ticket is read") {
                try await h.api("GET", "/api/v1/tickets/\(ticketId)").1["unread"] as? Bool == false
            }
            _ = try await h.driver.waitFor("#read-form[data-api$='/unread']")
            try await h.click("#read-form button[type=submit]")
            try await h.driver.waitUntil("the ticket is unread again") {
                try await h.api("GET", "/api/v1/tickets/\(ticketId)").1["unread"] as? Bool == true
            }
            _ = try await h.driver.waitFor("#read-form[data-api$='/read']")
            #expect(try await h.text("#read-form button") == "Mark as read")
            try await Task.sleep(for: .seconds(2))
            #expect(try await h.api("GET", "/api/v1/tickets/\(ticketId)").1["unread"] as? Bool == true, "it stays unread")
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
        let mailbox = try await BrowserHarness.mailbox([
            Self.message(subject: "Hostile", body: "plain part", html: html),
            Self.message(subject: "Routine question", body: "Just asking."),
        ])
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            let agnes = try await h.createUser(name: "Agnes Agent", email: "agnes@example.com", role: "agent")
            let bert = try await h.createUser(name: "Bert Agent", email: "bert@example.com", role: "agent")
            // Queue A has Agnes, queue B has Bert; global rules route each message to one of them.
            let (queueAStatus, queueA) = try await h.api("POST", "/api/v1/queues", json: """
                {"name": "Queue A", "members": [{"userId": "\(agnes)"}]}
                """)
            let (queueBStatus, queueB) = try await h.api("POST", "/api/v1/queues", json: """
                {"name": "Queue B", "members": [{"userId": "\(bert)"}]}
                """)
            #expect(queueAStatus == 201 && queueBStatus == 201, "\(queueA) \(queueB)")
            let queueAId = try #require(queueA["id"] as? String), queueBId = try #require(queueB["id"] as? String)
            for (word, queueId) in [("Hostile", queueBId), ("Routine", queueAId)] {
                let (status, rule) = try await h.api("POST", "/api/v1/rules", json: """
                    {"name": "\(word)", "accountId": null, "conditions": [{"field": "subject", "operator": "contains", "value": "\(word)"}],
                     "actions": [{"type": "queue", "queueId": "\(queueId)"}]}
                    """)
                #expect(status == 201, "\(rule)")
            }
            let (created, body) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "SEC", "name": "Security", "fromAddress": "desk@example.com",
                 "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(mailbox.port), "security": "none", "fetchIntervalSeconds": 1,
                              "authTimeoutSeconds": 30, "auth": {"username": "\(mailbox.user)", "password": "\(mailbox.password)"}}}
                """)
            #expect(created == 201, "\(body)")
            let tickets = try await h.waitForItems("/api/v1/tickets", timeout: .seconds(120)) { items in
                items.filter { $0["queueId"] is String }.count == 2
            }
            let ticketId = try #require(tickets.first { $0["subject"] as? String == "Hostile" }?["id"] as? String)
            let routineId = try #require(tickets.first { $0["subject"] as? String == "Routine question" }?["id"] as? String)
            #expect(tickets.first { $0["id"] as? String == ticketId }?["queueId"] as? String == queueBId)
            #expect(tickets.first { $0["id"] as? String == routineId }?["queueId"] as? String == queueAId)

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

            // Agnes is in queue A only: queue B's ticket is "not found" for its page, its message's body
            // and the API (read and act), though queue A's ticket opens.
            let messages = try await h.api("GET", "/api/v1/tickets/\(ticketId)/messages").1["items"] as? [[String: Any]] ?? []
            let messageId = try #require(messages.first?["id"] as? String)
            try await h.signIn("agnes@example.com", "password-123")
            try await h.go("/tickets/\(routineId)")
            #expect(try await h.text("main h1").contains("Routine question"), "her own queue's ticket opens")
            #expect(try await h.statusInPage("/web/messages/\(messageId)/body") == 404)
            #expect(try await h.statusInPage("/api/v1/tickets/\(ticketId)") == 404)
            #expect(try await h.statusInPage("/api/v1/tickets/\(ticketId)/messages") == 404)
            #expect(try await h.statusInPage("/api/v1/messages/\(messageId)/raw") == 404)
            #expect(try await h.statusInPage("/tickets?view=queue&queueId=\(queueBId)") == 404)
            let closing = try await h.driver.execute("""
                const x = new XMLHttpRequest(); x.open('POST', '/api/v1/tickets/' + arguments[0] + '/close', false);
                x.setRequestHeader('Content-Type', 'application/json');
                x.setRequestHeader('X-CSRF-Token', document.querySelector('meta[name="csrf-token"]').content);
                x.send('{}'); return x.status;
                """, [ticketId]) as? Int
            #expect(closing == 404, "acting on it by URL is refused the same way")
            try await h.go("/tickets/\(ticketId)")
            #expect(try await h.text("main h1") == "Not found")
            try await h.go("/web/messages/\(messageId)/body")
            #expect(try await h.text("main h1") == "Not found")
            try await h.screenshot("21-agent-not-found")
        }
    }
}
