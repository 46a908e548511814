import Foundation
import MailroomTestSupport
import Testing

/// The reports page (issue 24): a supervisor finds it in the navigation, picks a campaign and a
/// split, and sees only that campaign's rows, with a CSV download of the same report. Screenshots
/// `reports-*` at desktop and phone widths (the table becomes cards).
@Suite(.serialized, .enabled(if: BrowserHarness.enabled))
struct ReportsBrowserTests {
    @Test func aSupervisorSeesOnlyTheChosenCampaignsRows() async throws {
        let sales = try await BrowserHarness.mailbox([
            BrowserFlowTests.message(subject: "Order 1", from: "Ann <ann@example.com>"),
            BrowserFlowTests.message(subject: "Order 2", from: "Ben <ben@example.com>"),
        ])
        let care = try await BrowserHarness.mailbox([BrowserFlowTests.message(subject: "Broken", from: "Cy <cy@example.com>")])
        try await BrowserHarness.run { h in
            var campaigns: [String: String] = [:]
            for (key, mailbox) in [("SAL", sales), ("CARE", care)] {
                let (status, account) = try await h.api("POST", "/api/v1/accounts", json: """
                    {"key": "\(key)", "name": "\(key) desk", "fromAddress": "\(key.lowercased())@example.com",
                     "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(mailbox.port), "security": "none", "fetchIntervalSeconds": 1,
                                  "authTimeoutSeconds": 30, "auth": {"username": "\(mailbox.user)", "password": "\(mailbox.password)"}},
                     "outgoing": {"protocol": "none"}}
                    """)
                #expect(status == 201, "\(account)")
                let accountId = try #require(account["id"] as? String)
                let (created, campaign) = try await h.api("POST", "/api/v1/campaigns", json: """
                    {"name": "\(key) campaign", "accountIds": ["\(accountId)"]}
                    """)
                #expect(created == 201, "\(campaign)")
                campaigns[key] = try #require(campaign["id"] as? String)
            }
            _ = try await h.waitForItems("/api/v1/tickets") { $0.count == 3 }
            let salesId = try #require(campaigns["SAL"])

            try await h.createUser(name: "Sam Supervisor", email: "sam@example.com", role: "supervisor")
            try await h.signIn("sam@example.com", "password-123")
            try await h.go("/desk")
            try await h.click("nav a[href='/admin/reports']")
            try await h.waitForURL(containing: "/admin/reports")
            try await h.select("#r-group", value: "campaign")
            try await h.select("#r-campaign", value: salesId)
            #expect(try await h.driver.execute("return document.getElementById('r-zone').value") as? String == "UTC",
                    "the installation's zone is chosen")
            try await h.click("#report-form button[type=submit]")
            try await h.waitForURL(containing: "campaignId=\(salesId)")

            let groups = try await h.driver.execute(
                "return Array.from(document.querySelectorAll('#report-table tbody tr[data-group]')).map(r => r.dataset.group)") as? [String] ?? []
            #expect(groups.count == 7, "a row for each of the last seven days: \(groups)")
            #expect(Set(groups) == [salesId], "only the chosen campaign: \(groups)")
            let created = try await h.driver.execute("""
                return Array.from(document.querySelectorAll('#report-table tbody tr[data-group] td[data-label="Tickets created"]'))
                    .reduce((sum, cell) => sum + Number(cell.textContent), 0)
                """) as? Int
            #expect(created == 2, "the campaign's two tickets")
            #expect(try await h.text("#report-table").contains("SAL campaign"))
            #expect(try await h.text("#report-table").contains("CARE campaign") == false)

            let href = try await h.driver.execute("return document.getElementById('report-csv').getAttribute('href')") as? String ?? ""
            #expect(href.hasPrefix("/api/v1/reports/volume?") && href.contains("campaignId=\(salesId)") && href.contains("format=csv"), "\(href)")
            let csv = try await h.driver.execute("""
                const request = new XMLHttpRequest(); request.open('GET', arguments[0], false); request.send();
                return [request.status, request.getResponseHeader('Content-Disposition'), request.responseText];
                """, [href]) as? [Any] ?? []
            #expect(csv.first as? Int == 200, "\(csv)")
            #expect((csv.dropFirst().first as? String)?.hasPrefix("attachment;") == true, "\(csv)")
            #expect((csv.last as? String)?.hasPrefix("group id,group,period") == true, "\(csv)")

            try await h.driver.setWindow(width: 1280, height: 900)
            try await h.screenshot("reports-desktop")
            try await h.driver.setWindow(width: 390, height: 844)
            // On a phone each row is a card: its cells stack, each with its column's name.
            let display = try await h.driver.execute(
                "return getComputedStyle(document.querySelector('#report-table tbody td')).display") as? String
            #expect(display == "block" || display == "flex" || display == "grid", "\(display ?? "nil")")
            try await h.screenshot("reports-phone")
            try await h.driver.setWindow(width: 1280, height: 900)

            // An agent is not shown the page.
            try await h.createUser(name: "Agnes Agent", email: "agnes@example.com", role: "agent")
            try await h.signOut()
            try await h.signIn("agnes@example.com", "password-123")
            #expect(try await h.statusInPage("/admin/reports") == 403)
        }
    }
}
