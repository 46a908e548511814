import Foundation
import MailroomTestSupport
import Testing

/// A supervisor looks at a quarantined message (its raw text shown as text, never as markup),
/// replays it while the cause is still there (told why, no second entry), fixes the cause and
/// replays it onto a ticket, told which.
@Suite(.serialized, .enabled(if: BrowserHarness.enabled))
struct QuarantineBrowserTests {
    @Test func aQuarantinedMessageIsViewedAndReplayedWithItsOutcomeInWords() async throws {
        let mailbox = try await BrowserHarness.mailbox(["""
            From: Spammy <spammy@example.com>
            To: desk@example.com
            Subject: Not really spam
            Message-ID: <quarantine-browser@example.com>
            X-Spam-Flag: YES
            Content-Type: text/html

            <p id="injected">Hello <script>document.title = 'pwned'</script></p>
            """])
        try await BrowserHarness.run { h in
            let (created, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "QRN", "name": "Quarantine desk", "fromAddress": "desk@example.com",
                 "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": \(mailbox.port), "security": "none", "fetchIntervalSeconds": 1,
                              "authTimeoutSeconds": 30, "auth": {"username": "\(mailbox.user)", "password": "\(mailbox.password)"},
                              "headerFilters": [{"header": "X-Spam-Flag", "match": "equals", "value": "YES", "action": "quarantine"}]}}
                """)
            #expect(created == 201, "\(account)")
            let accountId = try #require(account["id"] as? String)
            let entries = try await h.waitForItems("/api/v1/quarantine") { !$0.isEmpty }
            let entryId = try #require(entries.first?["id"] as? String)

            _ = try await h.createUser(name: "Sue Supervisor", email: "sue@example.com", role: "supervisor")
            try await h.signIn("sue@example.com", "password-123")
            try await h.go("/admin/quarantine")
            try await h.click("a[href='/admin/quarantine/\(entryId)']")
            try await h.waitForURL(containing: "/admin/quarantine/\(entryId)")
            let raw = try await h.text("#quarantine-raw")
            #expect(raw.contains("<script>document.title = 'pwned'</script>"), "the raw message is shown as text")
            #expect(try await h.driver.title() != "pwned")
            #expect(try await h.driver.execute("return document.getElementById('injected') === null") as? Bool == true)
            #expect(try await h.text("#quarantine-download") == "Download (.eml)")
            #expect(try await h.text("#quarantine-reason") == "Held by a header filter", "the reason in words")
            try await h.screenshot("quarantine-entry")

            // The filter still holds it: the answer says so, and the entry stays the only one.
            try await h.click("#quarantine-replay")
            try await h.driver.waitUntil("the replay's answer") {
                try await h.text("[data-row-status]").hasPrefix("Still cannot be ingested")
            }
            #expect(try await h.api("GET", "/api/v1/quarantine").1["items"].map { ($0 as? [Any])?.count } == 1)

            // With the filter gone, the replay stores it, and says on which ticket.
            let (patched, _) = try await h.api("PATCH", "/api/v1/accounts/\(accountId)", json: #"{"incoming": {"headerFilters": []}}"#)
            #expect(patched == 200)
            try await h.click("#quarantine-replay")
            try await h.driver.waitUntil("the ticket") { try await h.text("[data-row-status]").hasPrefix("Stored as a new ticket, ticket #") }
            try await h.screenshot("quarantine-replayed")
            let tickets = try await h.waitForItems("/api/v1/tickets") { !$0.isEmpty }
            #expect(tickets.first?["subject"] as? String == "Not really spam")
        }
    }
}
