import Foundation
import MailroomTestSupport
import Testing

/// The desk's ticket side (issue 27) in Chromium: a queue's waiting count on the desk, "Take it",
/// a new message appearing in place on the open ticket, closing with a disposition (who and when),
/// reopening, the history, an offer that names the customer and the subject once, and the phone
/// layout's action links. Screenshots of the desk and the ticket at 1280 and 390 pixels wide.
@Suite(.serialized, .enabled(if: BrowserHarness.enabled))
struct DeskBrowserTests {
    @Test func anAgentTakesAWaitingTicketFollowsItLiveClosesAndReopensIt() async throws {
        let mailbox = try await BrowserHarness.mailbox([])
        try await BrowserHarness.run { h in
            let agnes = try await h.createUser(name: "Agnes Agent", email: "agnes@example.com", role: "agent")
            let (_, queue) = try await h.api("POST", "/api/v1/queues", json: """
                {"name": "Parcels", "agentTimeoutSeconds": 600, "members": [{"userId": "\(agnes)"}]}
                """)
            let queueId = try #require(queue["id"] as? String)
            let (ruleStatus, rule) = try await h.api("POST", "/api/v1/rules", json: """
                {"name": "Parcels", "accountId": null, "conditions": [], "actions": [{"type": "queue", "queueId": "\(queueId)"}]}
                """)
            #expect(ruleStatus == 201, "\(rule)")
            let (dispositionStatus, disposition) = try await h.api("POST", "/api/v1/dispositions", json: #"{"name": "Solved"}"#)
            #expect(dispositionStatus == 201, "\(disposition)")
            let dispositionId = try #require(disposition["id"] as? String)
            let (created, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "DSK", "name": "Desk", "fromAddress": "desk@example.com",
                 "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(mailbox.port), "security": "none", "fetchIntervalSeconds": 1,
                              "authTimeoutSeconds": 30, "auth": {"username": "\(mailbox.user)", "password": "\(mailbox.password)"}}}
                """)
            #expect(created == 201, "\(account)")

            // The ticket waits in her queue, and the desk counts it.
            try await BrowserHarness.deliver([BrowserFlowTests.message(subject: "Where is my parcel?", body: "It has not arrived.")],
                                             user: mailbox.user)
            let items = try await h.waitForItems("/api/v1/tickets", timeout: .seconds(120)) { items in
                items.contains { $0["queueId"] as? String == queueId }
            }
            let ticketId = try #require(items.first?["id"] as? String)
            let number = try #require((items.first?["number"] as? NSNumber)?.intValue)
            // Online from now on (a message on a ticket she holds then stays hers), and offered the waiting ticket.
            #expect(try await h.api("PUT", "/api/v1/users/\(agnes)/presence", json: #"{"state": "online"}"#).0 == 200)
            try await h.signIn("agnes@example.com", "password-123")
            try await h.go("/desk")
            try await h.driver.setWindow(width: 1280, height: 900)
            #expect(try await h.text("#my-queues").contains("Parcels · 1 waiting"))
            #expect(try await h.text("#unassigned-count").contains("Unassigned · 1 waiting"))
            try await h.screenshot("desk-27-desk-1280")
            try await h.driver.setWindow(width: 390, height: 844)
            try await h.screenshot("desk-27-desk-390")
            try await h.driver.setWindow(width: 1280, height: 900)

            // "Take it": the ticket becomes hers; the queue's count follows.
            try await h.go("/tickets/\(ticketId)")
            #expect(try await h.text("#waiting-note").contains("Waiting in queue Parcels"))
            try await h.click("#take-button")
            try await h.driver.waitUntil("the ticket is hers") {
                try await h.api("GET", "/api/v1/tickets/\(ticketId)").1["agentId"] as? String == agnes
            }
            try await h.driver.waitUntil("the page shows her") { try await h.text("#ticket-summary").contains("agent Agnes Agent") }
            #expect(try await h.driver.findAll("#take-button").isEmpty)

            // A new message from the customer appears in place, with a notice, without a reload.
            try await h.driver.waitUntil("the live stream is open") {
                try await h.driver.execute("return document.body.dataset.liveState") as? String == "open"
            }
            _ = try await h.driver.execute("window.stillTheSamePage = true; return true")
            try await h.fill("#reply-text", "A reply being written stays.")
            // The ticket's tag in the subject joins the answer to it (the caseId resolver).
            try await BrowserHarness.deliver([BrowserFlowTests.message(subject: "Re: Where is my parcel? [Ticket#\(number)]",
                                                                       body: "Any news about the parcel?")],
                                             user: mailbox.user)
            try await h.driver.waitUntil("the new message is shown", timeout: .seconds(120)) {
                try await h.text("#thread").contains("Any news about the parcel?")
            }
            #expect(try await h.driver.execute("return window.stillTheSamePage === true") as? Bool == true, "no reload")
            #expect(try await h.text("#ticket-live").contains("new message from the customer"))
            #expect(try await h.driver.find("#reply-text").property("value") as? String == "A reply being written stays.")
            _ = try await h.driver.execute("window.scrollTo(0, 0); return true")
            try await h.screenshot("desk-27-ticket-live-1280")

            // Someone else tags it: the summary and the history follow in place too.
            #expect(try await h.api("PATCH", "/api/v1/tickets/\(ticketId)", json: #"{"tags": ["vip"]}"#).0 == 200)
            try await h.driver.waitUntil("the tag is shown", timeout: .seconds(30)) { try await h.text("#ticket-summary").contains("tags vip") }
            try await h.driver.waitUntil("the history says so", timeout: .seconds(30)) { try await h.text("#history-list").contains("Tags added: vip.") }
            #expect(try await h.driver.execute("return window.stillTheSamePage === true") as? Bool == true, "no reload")
            #expect(try await h.text("#ticket-live").contains("This ticket changed"))

            // Closing with a disposition: the page says who closed it, when and how; the history too.
            try await h.select("#close-disposition", value: dispositionId)
            try await h.click("#close-form button[type=submit]")
            let closedNote = try await h.driver.waitFor("#closed-note", timeout: .seconds(30))
            #expect(try await closedNote.text().contains("Closed by Agnes Agent"))
            #expect(try await closedNote.text().contains("Solved"))
            let history = try await h.text("#history-list")
            #expect(history.contains("Closed with disposition Solved."), "\(history)")
            #expect(history.contains("Agnes Agent took it."), "\(history)")
            #expect(history.contains("Routed to queue Parcels."), "\(history)")
            #expect(history.contains("Created from a message of carol@example.com."), "\(history)")
            _ = try await h.driver.execute("window.scrollTo(0, 0); return true")
            try await h.screenshot("desk-27-ticket-closed-1280")

            try await h.click("#reopen-button")
            try await h.driver.waitUntil("the ticket is open again") {
                try await h.api("GET", "/api/v1/tickets/\(ticketId)").1["status"] as? String == "open"
            }
            try await h.driver.waitUntil("the page shows it open") { try await h.text("#history-list").contains("Reopened.") }
            #expect(try await h.driver.findAll("#closed-note").isEmpty)
            _ = try await h.driver.execute("window.scrollTo(0, 0); return true")
            try await h.screenshot("desk-27-ticket-1280")

            // On a phone the actions are one tap away, above the thread.
            try await h.driver.setWindow(width: 390, height: 844)
            try await h.go("/tickets/\(ticketId)")
            let jump = try #require(try await h.driver.execute("""
                const bar = document.querySelector('.ticket-jump'); const box = bar.getBoundingClientRect();
                return [getComputedStyle(bar).display, box.top, window.innerHeight, document.querySelector('#thread').getBoundingClientRect().top];
                """) as? [Any])
            #expect(jump.first as? String == "flex", "\(jump)")
            let top = (jump[1] as? NSNumber)?.doubleValue ?? .infinity, height = (jump[2] as? NSNumber)?.doubleValue ?? 0
            let threadTop = (jump[3] as? NSNumber)?.doubleValue ?? 0
            #expect(top < height && top < threadTop, "the action links show before the thread: \(jump)")
            try await h.screenshot("desk-27-ticket-390")
            try await h.click(".ticket-jump a[href='#close-title']")
            try await h.driver.waitUntil("the close section is in view") {
                let y = try await h.driver.execute("return document.querySelector('#close-title').getBoundingClientRect().top") as? NSNumber
                return (y?.doubleValue ?? 10_000) < 844
            }
            try await h.screenshot("desk-27-ticket-close-390")
            try await h.driver.setWindow(width: 1280, height: 900)

            // An offer names the customer and says the subject once.
            try await h.go("/desk")
            try await BrowserHarness.deliver([BrowserFlowTests.message(subject: "Broken zipper", from: "Dora Doe <dora@example.com>")],
                                             user: mailbox.user)
            let offer = try await h.driver.waitFor("#offers [data-offer]", timeout: .seconds(120))
            let text = try await offer.text()
            #expect(text.components(separatedBy: "Broken zipper").count == 2, "the subject once: \(text)")
            #expect(text.contains("Dora Doe <dora@example.com>"), "\(text)")
            try await h.screenshot("desk-27-offer-1280")
        }
    }
}
