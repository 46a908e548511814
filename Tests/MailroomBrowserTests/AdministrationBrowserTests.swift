import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MailroomTestSupport
import Testing

/// Issue 27, the administration side: rules in words, account health that does not flap, errors
/// in words, time zones, presence after sign-in and the phone layout, in a real headless Chromium.
/// Screenshots of the rules list, the quarantine and the accounts list at 1280 and 390 pixels go
/// to the artifacts directory.
@Suite(.serialized, .enabled(if: BrowserHarness.enabled))
struct AdministrationBrowserTests {
    /// Desktop and phone screenshots of the page that is open.
    static func screenshots(_ h: BrowserHarness, _ name: String, ready css: String) async throws {
        for (width, label) in [(1280, "desktop"), (390, "phone")] {
            try await h.driver.setWindow(width: width, height: 900)
            _ = try await h.driver.waitFor(css)
            try await h.screenshot("admin-\(name)-\(label)")
            if width == 390 {
                let overflow = try await h.driver.execute("return document.documentElement.scrollWidth - window.innerWidth") as? Int ?? 0
                #expect(overflow <= 1, "\(name) scrolls sideways on a phone by \(overflow) px")
            }
        }
        try await h.driver.setWindow(width: 1366, height: 900)
    }

    // MARK: 1. Rules

    @Test func aNewRuleIsListedWithItsConditionsAndActionsInWords() async throws {
        try await BrowserHarness.run { h in
            let (created, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "ACME", "name": "Acme desk", "fromAddress": "desk@acme.example"}
                """)
            #expect(created == 201, "\(account)")
            let accountId = try #require(account["id"] as? String)
            let (queued, queue) = try await h.api("POST", "/api/v1/queues", json: #"{"name": "Parcels", "strategy": "roundRobin"}"#)
            #expect(queued == 201, "\(queue)")
            let queueId = try #require(queue["id"] as? String)
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")

            // Strategies and operators have names a person reads.
            try await h.go("/admin/queues")
            let strategies = try await h.driver.execute("return Array.from(document.querySelectorAll('select[name=strategy] option')).map(o => o.textContent)") as? [String] ?? []
            #expect(strategies.contains("ring all") && strategies.contains("round robin") && !strategies.contains("ringAll"), "\(strategies)")
            #expect(try await h.driver.source().contains("Round robin"))

            // A rule made from the list of every account's rules: after saving, its account's list shows it.
            try await h.go("/admin/rules/new")
            try await h.fill("#rule-name", "Acme VIP parcels")
            try await h.select("#rule-account", value: accountId)
            try await h.click("button[data-add-row='conditions']")
            let operators = try await h.driver.execute("return Array.from(document.querySelectorAll('#conditions select[name=operator] option')).map(o => o.textContent)") as? [String] ?? []
            #expect(operators.contains("is not") && operators.contains("does not contain") && !operators.contains("isNot"), "\(operators)")
            try await h.select("#conditions [data-item]:nth-child(1) select[name='field']", value: "from")
            try await h.select("#conditions [data-item]:nth-child(1) select[name='operator']", value: "contains")
            try await h.fill("#conditions [data-item]:nth-child(1) input[name='value']", "@acme.com")
            try await h.click("button[data-add-row='conditions']")
            try await h.select("#conditions [data-item]:nth-child(2) select[name='field']", value: "header")
            try await h.fill("#conditions [data-item]:nth-child(2) input[name='headerName']", "X-Priority")
            try await h.select("#conditions [data-item]:nth-child(2) select[name='operator']", value: "is")
            try await h.fill("#conditions [data-item]:nth-child(2) input[name='value']", "1")
            try await h.click("button[data-add-row='actions']")
            try await h.select("#actions [data-item]:nth-child(1) select[name='type']", value: "queue")
            try await h.select("#actions [data-item]:nth-child(1) select[name='queueId']", value: queueId)
            try await h.click("button[data-add-row='actions']")
            try await h.select("#actions [data-item]:nth-child(2) select[name='type']", value: "tag")
            try await h.fill("#actions [data-item]:nth-child(2) input[name='tag']", "vip")
            let types = try await h.driver.execute("return Array.from(document.querySelectorAll('#actions select[name=type] option')).map(o => o.textContent)") as? [String] ?? []
            #expect(types.contains("Route to a queue") && !types.contains("autoReply"), "\(types)")
            #expect(try await h.unlabelledControls() == [], "every field of the rule form is labelled")
            try await h.screenshot("admin-rule-form")
            try await h.click("#rule-form button.primary")
            try await h.waitForURL(containing: "accountId=\(accountId)")
            let rules = try await h.waitForItems("/api/v1/rules?accountId=\(accountId)") { !$0.isEmpty }
            let ruleId = try #require(rules.first?["id"] as? String)
            let conditions = rules.first?["conditions"] as? [[String: Any]] ?? []
            #expect(conditions.map { $0["field"] as? String } == ["from", "header:X-Priority"], "\(conditions)")
            #expect(try await h.text("#rule-notice").contains("Acme VIP parcels"))
            let summary = try await h.text("[data-rule='\(ruleId)'] .rule-summary")
            #expect(summary == "From contains @acme.com and Header X-Priority is 1 → queue Parcels, tag vip", "\(summary)")

            // A global rule on business hours: the time window is typed into its own boxes.
            try await h.go("/admin/rules/new")
            try await h.fill("#rule-name", "After hours")
            try await h.click("button[data-add-row='conditions']")
            try await h.select("#conditions [data-item] select[name='field']", value: "time")
            try await h.select("#conditions [data-item] select[name='value.state']", value: "closed")
            try await h.fill("#conditions [data-item] input[name='value.calendar.timeZone']", "Europe/Rome")
            try await h.fill("#conditions [data-item] input[name='value.calendar.weekly.monday']", "09:00-13:00, 14:00-18:00")
            try await h.fill("#conditions [data-item] input[name='value.calendar.holidays']", "2026-12-25")
            try await h.click("button[data-add-row='actions']")
            try await h.select("#actions [data-item] select[name='type']", value: "tag")
            try await h.fill("#actions [data-item] input[name='tag']", "after-hours")
            try await h.click("#rule-form button.primary")
            try await h.waitForURL(containing: "accountId=global")
            let global = try await h.waitForItems("/api/v1/rules?accountId=global") { !$0.isEmpty }
            let value = (global.first?["conditions"] as? [[String: Any]])?.first?["value"] as? [String: Any]
            let calendar = value?["calendar"] as? [String: Any]
            #expect(value?["state"] as? String == "closed")
            #expect((calendar?["weekly"] as? [String: Any])?["monday"] as? [String] == ["09:00-13:00", "14:00-18:00"], "\(String(describing: calendar))")
            #expect(calendar?["holidays"] as? [String] == ["2026-12-25"])
            let afterHours = try #require(global.first?["id"] as? String)
            #expect(try await h.text("[data-rule='\(afterHours)'] .rule-summary") == "Outside business hours (Europe/Rome) → tag after-hours")

            // Every rule at once, each with whose it is.
            try await h.go("/admin/rules?accountId=all")
            #expect(try await h.text("[data-rule='\(ruleId)']").contains("ACME · Acme desk"))
            #expect(try await h.text("[data-rule='\(afterHours)']").contains("Every account"))
            try await h.go("/admin/rules?accountId=\(accountId)")
            try await Self.screenshots(h, "rules", ready: "[data-rule='\(ruleId)']")
        }
    }

    // MARK: 2, 3. Account health, errors in words

    @Test func aFailingLoginIsShownAsFailingUntilItWorksAndErrorsAreInWords() async throws {
        let mailbox = try await BrowserHarness.mailbox([
            BrowserFlowTests.message(subject: "Where is my parcel?"),
            "From: Spammy <spammy@example.com>\nTo: desk@example.com\nSubject: Cheap parcels\nMessage-ID: <spam-27@example.com>\nX-Spam-Flag: YES\n\nBuy now.\n",
        ])
        try await BrowserHarness.run { h in
            let (created, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "HLT", "name": "Health desk", "fromAddress": "desk@example.com",
                 "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(mailbox.port), "security": "none", "fetchIntervalSeconds": 1,
                              "authTimeoutSeconds": 30, "auth": {"username": "\(mailbox.user)", "password": "not-the-password"},
                              "headerFilters": [{"header": "X-Spam-Flag", "match": "equals", "value": "YES", "action": "quarantine"}]}}
                """)
            #expect(created == 201, "\(account)")
            let accountId = try #require(account["id"] as? String)

            // The status says what is wrong, and keeps saying it.
            var seen: Set<String> = []
            let deadline = ContinuousClock.now + .seconds(30)
            var failures = 0
            while ContinuousClock.now < deadline && failures < 3 {
                let status = try await h.api("GET", "/api/v1/accounts/\(accountId)/status").1
                let health = status["health"] as? [String: Any]
                if health?["state"] as? String == "failing" {
                    seen.insert(health?["problem"] as? String ?? "?")
                    #expect((status["lastError"] as? String)?.contains("authentication failed") == true, "\(status)")
                    failures = health?["consecutiveFailures"] as? Int ?? 0
                }
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(seen == ["authentication"], "the reported problem never changes: \(seen)")

            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/accounts")
            let state = try await h.text("tr[data-account='\(accountId)'] [data-account-state]")
            #expect(state.contains("failing") && !state.contains("active"), "\(state)")
            #expect(state.contains("authentication failed"), "\(state)")
            try await Self.screenshots(h, "accounts-failing", ready: "tr[data-account='\(accountId)']")

            // The right password: it recovers, and the error is gone.
            let (patched, body) = try await h.api("PATCH", "/api/v1/accounts/\(accountId)", json: """
                {"incoming": {"auth": {"username": "\(mailbox.user)", "password": "\(mailbox.password)"}}}
                """)
            #expect(patched == 200, "\(body)")
            _ = try await h.waitForItems("/api/v1/tickets") { !$0.isEmpty }
            try await h.driver.waitUntil("the account recovered", timeout: .seconds(30)) {
                try await h.go("/admin/accounts")
                let text = try await h.text("tr[data-account='\(accountId)'] [data-account-state]")
                return text.contains("active") && !text.contains("authentication failed")
            }
            let status = try await h.api("GET", "/api/v1/accounts/\(accountId)/status").1
            #expect(status["lastError"] == nil || status["lastError"] is NSNull, "\(status)")
            try await Self.screenshots(h, "accounts", ready: "tr[data-account='\(accountId)']")

            // The quarantine, on both screens.
            _ = try await h.waitForItems("/api/v1/quarantine") { !$0.isEmpty }
            try await h.go("/admin/quarantine")
            try await Self.screenshots(h, "quarantine", ready: "main table, main .card")

            // An empty reply is refused in the form's words.
            let tickets = try await h.api("GET", "/api/v1/tickets").1["items"] as? [[String: Any]] ?? []
            let ticketId = try #require(tickets.first?["id"] as? String)
            try await h.go("/tickets/\(ticketId)")
            try await h.driver.execute("document.getElementById('reply-text').removeAttribute('required')")
            try await h.click("#reply-form button.primary")
            try await h.driver.waitUntil("the reply's error") {
                try await h.driver.source().contains("Write a message or choose a canned answer")
            }
            #expect(!(try await h.driver.source().contains("cannedAnswerId is required")))

            // TLS on the plain IMAP port: the connection test says what to change.
            let (tested, report) = try await h.api("POST", "/api/v1/accounts/test", json: """
                {"key": "TLS", "name": "TLS check", "fromAddress": "desk@example.com",
                 "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(mailbox.port), "security": "tls",
                              "auth": {"username": "\(mailbox.user)", "password": "\(mailbox.password)"}}}
                """)
            #expect(tested == 200, "\(report)")
            let steps = (report["incoming"] as? [String: Any])?["steps"] as? [[String: Any]] ?? []
            let failed = steps.first { $0["outcome"] as? String == "failed" }
            #expect(failed?["message"] as? String == "this port does not speak TLS: try STARTTLS or none, or port 993", "\(steps)")
            let text = "\(report)"
            for raw in ["NIOSSL", "BoringSSL", "PSQLError", "The operation could not be completed"] {
                #expect(!text.contains(raw), "raw library text in the report: \(raw)")
            }
        }
    }

    @Test func aPageThatDoesNotExistIsAnHTMLPageWithTheNavigation() async throws {
        try await BrowserHarness.run { h in
            // Programs keep JSON; a browser gets a page.
            var api = URLRequest(url: URL(string: h.base + "/api/v1/no-such-thing")!)
            api.setValue("text/html", forHTTPHeaderField: "Accept")
            api.setValue("Bearer \(BrowserHarness.adminToken)", forHTTPHeaderField: "Authorization")
            let (_, apiResponse) = try await URLSession.shared.data(for: api)
            #expect((apiResponse as? HTTPURLResponse)?.statusCode == 404)
            #expect((apiResponse as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("application/json") == true)
            var page = URLRequest(url: URL(string: h.base + "/admin/no-such-page")!)
            page.setValue("text/html,application/xhtml+xml", forHTTPHeaderField: "Accept")
            let (data, pageResponse) = try await URLSession.shared.data(for: page)
            let http = pageResponse as? HTTPURLResponse
            #expect(http?.statusCode == 404)
            #expect(http?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/html") == true)
            #expect(http?.value(forHTTPHeaderField: "Content-Security-Policy")?.contains("script-src 'self'") == true)
            #expect(String(decoding: data, as: UTF8.self).contains("Page not found"))

            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/no-such-page")
            #expect(try await h.text("h1") == "Page not found")
            #expect(try await h.driver.findAll("nav .nav a[href='/admin/rules']").count == 1, "the navigation is there")
            #expect(try await h.text("#profile-link") == "Ada Admin")
            try await h.go("/admin/rules/no-such-rule")
            #expect(try await h.driver.findAll("nav .nav a[href='/desk']").count == 1)
            #expect(try await h.text("main").contains("was not found"))
        }
    }

    // MARK: 4. Time zones

    @Test func timesAreShownInTheUsersTimeZone() async throws {
        try await BrowserHarness.run { h in
            let (bad, refused) = try await h.api("PATCH", "/api/v1/settings", json: #"{"timeZone": "Mars/Olympus"}"#)
            #expect(bad == 422 && "\(refused)".contains("timeZone"), "\(refused)")
            let (ok, settings) = try await h.api("PATCH", "/api/v1/settings", json: #"{"timeZone": "America/New_York"}"#)
            #expect(ok == 200 && settings["timeZone"] as? String == "America/New_York", "\(settings)")
            let (made, user) = try await h.api("POST", "/api/v1/users", json: """
                {"name": "Tomo Tokyo", "email": "tomo@example.com", "role": "admin", "password": "password-123", "timeZone": "Asia/Tokyo"}
                """)
            #expect(made == 201 && user["timeZone"] as? String == "Asia/Tokyo", "\(user)")
            let userId = try #require(user["id"] as? String)
            let (wrong, _) = try await h.api("PATCH", "/api/v1/users/\(userId)", json: #"{"timeZone": "Nowhere"}"#)
            #expect(wrong == 422)
            // An account whose status has a time on the status page.
            let (created, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "TZ", "name": "Zones", "fromAddress": "desk@example.com",
                 "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": 1, "security": "none", "fetchIntervalSeconds": 1,
                              "auth": {"username": "x", "password": "y"}}}
                """)
            #expect(created == 201, "\(account)")
            let accountId = try #require(account["id"] as? String)
            try await h.driver.waitUntil("a failed fetch") {
                (try await h.api("GET", "/api/v1/accounts/\(accountId)/status").1["lastErrorAt"] as? String) != nil
            }

            try await h.signIn("tomo@example.com", "password-123")
            try await h.go("/profile")
            #expect(try await h.driver.find("#p-zone").property("value") as? String == "Asia/Tokyo")
            try await h.go("/admin/status")
            let tokyo = TimeZone(identifier: "Asia/Tokyo")!.abbreviation(for: Date()) ?? "Asia/Tokyo"
            #expect(try await h.text("main").contains(tokyo), "the status page's times are in Tokyo time (\(tokyo))")

            // The user changes it on the profile page.
            try await h.go("/profile")
            try await h.select("#p-zone", value: "Europe/Rome")
            try await h.click("#profile-form button[type=submit]")
            _ = try await h.driver.waitFor("#profile-message")
            #expect(try await h.api("GET", "/api/v1/users/\(userId)").1["timeZone"] as? String == "Europe/Rome")
            try await h.go("/admin/status")
            let rome = TimeZone(identifier: "Europe/Rome")!.abbreviation(for: Date()) ?? "Europe/Rome"
            #expect(try await h.text("main").contains(rome))

            // Back to the installation's zone (New York).
            try await h.go("/profile")
            try await h.select("#p-zone", value: "")
            try await h.click("#profile-form button[type=submit]")
            _ = try await h.driver.waitFor("#profile-message")
            let stored = try await h.api("GET", "/api/v1/users/\(userId)").1["timeZone"]
            #expect(stored == nil || stored is NSNull)
            try await h.go("/admin/status")
            let newYork = TimeZone(identifier: "America/New_York")!.abbreviation(for: Date()) ?? "America/New_York"
            #expect(try await h.text("main").contains(newYork))
        }
    }

    // MARK: 5. Presence after sign-in

    @Test func presenceAfterSignInFollowsTheSetting() async throws {
        try await BrowserHarness.run { h in
            let agentId = try await h.createUser(name: "Agnes Agent", email: "agnes@example.com", role: "agent")
            func presence() async throws -> String? {
                (try await h.api("GET", "/api/v1/users/\(agentId)").1["presence"] as? [String: Any])?["state"] as? String
            }
            // As left (the default): an agent who was offline stays offline.
            try await h.signIn("agnes@example.com", "password-123")
            #expect(try await presence() == "offline")
            try await h.signOut()
            // Online after signing in.
            let (ok, settings) = try await h.api("PATCH", "/api/v1/settings", json: #"{"presenceAfterSignIn": "online"}"#)
            #expect(ok == 200 && settings["presenceAfterSignIn"] as? String == "online", "\(settings)")
            try await h.signIn("agnes@example.com", "password-123")
            #expect(try await presence() == "online")
            try await h.signOut()
            // Back to "as left": a paused agent stays paused.
            #expect(try await h.api("PATCH", "/api/v1/settings", json: #"{"presenceAfterSignIn": "asLeft"}"#).0 == 200)
            #expect(try await h.api("PUT", "/api/v1/users/\(agentId)/presence", json: #"{"state": "paused", "reason": "Lunch"}"#).0 == 200)
            try await h.signIn("agnes@example.com", "password-123")
            #expect(try await presence() == "paused")
            // The settings page offers the choice in words.
            try await h.signOut()
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/settings")
            #expect(try await h.driver.find("#s-presence").property("value") as? String == "asLeft")
            #expect(try await h.driver.find("#s-zone").property("value") as? String == "UTC")
        }
    }

    // MARK: 6. Phones, filter labels

    @Test func onAPhoneTheNavigationIsAMenuAndListsAreCards() async throws {
        try await BrowserHarness.run { h in
            let (created, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "PHN", "name": "A desk with a rather long name for a narrow screen", "fromAddress": "someone.with.a.long.address@example.com"}
                """)
            #expect(created == 201, "\(account)")
            let accountId = try #require(account["id"] as? String)
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            try await h.driver.setWindow(width: 390, height: 844)
            try await h.go("/admin/accounts")
            let link = try await h.driver.find("nav .nav a[href='/admin/rules']")
            #expect(try await link.isDisplayed() == false, "the navigation is folded")
            try await h.click("button[data-menu-toggle]")
            #expect(try await h.driver.find("button[data-menu-toggle]").attribute("aria-expanded") == "true")
            #expect(try await link.isDisplayed() == true, "the menu opens")
            try await h.screenshot("admin-phone-menu-open")
            try await h.click("button[data-menu-toggle]")
            #expect(try await link.isDisplayed() == false)
            let display = try await h.driver.execute("return getComputedStyle(document.querySelector(\"tr[data-account='\(accountId)']\")).display") as? String
            #expect(display == "block", "a row is a card")
            let overflow = try await h.driver.execute("return document.documentElement.scrollWidth - window.innerWidth") as? Int ?? 0
            #expect(overflow <= 1, "no sideways scrolling: \(overflow)")
            // The tickets list and the outbox are cards on a phone too.
            for path in ["/tickets", "/admin/outbox"] {
                try await h.go(path)
                let rowDisplay = try await h.driver.execute("return getComputedStyle(document.querySelector('table.cards tbody tr')).display") as? String
                #expect(rowDisplay == "block", "\(path): a row is a card")
                let sideways = try await h.driver.execute("return document.documentElement.scrollWidth - window.innerWidth") as? Int ?? 0
                #expect(sideways <= 1, "\(path): no sideways scrolling: \(sideways)")
            }

            // The ticket filters: every label and box stays inside its field, wide and narrow.
            for width in [1280, 390] {
                try await h.driver.setWindow(width: width, height: 900)
                try await h.go("/tickets")
                let spills = try await h.driver.execute("""
                    return Array.from(document.querySelectorAll('.filters .field')).filter((f) => !f.hidden).flatMap((field) => {
                      const box = field.getBoundingClientRect();
                      return Array.from(field.querySelectorAll('label, input, select')).filter((el) => {
                        const r = el.getBoundingClientRect();
                        return r.right > box.right + 1 || r.left < box.left - 1 || el.scrollWidth > el.clientWidth + 1;
                      }).map((el) => (el.id || el.tagName) + ' at ' + \(width));
                    });
                    """) as? [String] ?? ["the check did not run"]
                #expect(spills.isEmpty, "\(spills)")
            }
            try await h.driver.setWindow(width: 1366, height: 900)
            // The menu works without inline script: the page's policy forbids it.
            var request = URLRequest(url: URL(string: h.base + "/login")!)
            request.setValue("text/html", forHTTPHeaderField: "Accept")
            let (_, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Security-Policy")?.contains("'unsafe-inline'") == false)
            #expect(try await h.driver.execute("return document.querySelectorAll('script:not([src])').length") as? Int == 0)
        }
    }
}
