import Foundation
import MailroomTestSupport
import Testing

/// The account form's Exchange fields in headless Chromium against `mailroom serve` and the local
/// EWS server: choosing graph or ews shows that protocol's fields (Graph base URL, EWS endpoint,
/// shared mailbox) instead of host and port; "Test connection" reports each step in words, a
/// folder that is not there by name; the account is created with what was typed. Written against
/// the fields' names and ids, not the form's layout (which issue 24 reorganises).
@Suite(.serialized, .enabled(if: BrowserHarness.enabled && TestServers.shouldRun("MAILROOM_TEST_EWS_URL")))
struct ExchangeAccountFormBrowserTests {
    static func shown(_ h: BrowserHarness, _ name: String) async throws -> Bool {
        try await h.driver.find("[name='\(name)']").isDisplayed()
    }

    @Test func exchangeFieldsFollowTheProtocolAndTheConnectionTestSpeaksInSteps() async throws {
        let ewsURL = try TestServers.require("MAILROOM_TEST_EWS_URL")
        let password = try TestServers.require("MAILROOM_TEST_EXCHANGE_PASSWORD")
        let domain = TestServers.value("MAILROOM_TEST_EXCHANGE_DOMAIN") ?? "exchange.test"
        let mailbox = "form-\(UUID().uuidString.prefix(8).lowercased())@\(domain)"
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/accounts/new")

            try await h.select("[name='incoming.protocol']", value: "graph")
            #expect(try await Self.shown(h, "incoming.baseURL"), "Graph shows its base URL")
            #expect(try await Self.shown(h, "incoming.mailboxAddress"), "and the shared mailbox")
            #expect(try await Self.shown(h, "incoming.url") == false)
            #expect(try await Self.shown(h, "incoming.host") == false, "no host for Graph")
            #expect(try await h.driver.find("[name='incoming.baseURL']").attribute("placeholder") == "https://graph.microsoft.com/v1.0")
            try await h.screenshot("exchange-form-graph")

            try await h.select("[name='incoming.protocol']", value: "ews")
            #expect(try await Self.shown(h, "incoming.url"), "EWS shows its endpoint")
            #expect(try await Self.shown(h, "incoming.mailboxAddress"))
            #expect(try await Self.shown(h, "incoming.baseURL") == false)
            #expect(try await Self.shown(h, "incoming.host") == false)
            try await h.select("[name='outgoing.protocol']", value: "ews")
            #expect(try await Self.shown(h, "outgoing.url"))
            #expect(try await Self.shown(h, "outgoing.host") == false)

            try await h.fill("[name='name']", "Exchange desk")
            try await h.fill("[name='key']", "EXF")
            try await h.fill("[name='fromAddress']", mailbox)
            try await h.fill("[name='incoming.url']", ewsURL)
            try await h.fill("[name='incoming.mailbox']", "Orders/Europe")
            try await h.select("[name='incoming.security']", value: "tls")
            try await h.setChecked("[name='incoming.acceptAnyCertificate']", true)
            try await h.select("[name='incoming.auth.method']", value: "password")
            try await h.fill("[name='incoming.auth.username']", mailbox)
            try await h.fill("[name='incoming.auth.password']", password)
            try await h.fill("#incoming-password-confirm", password)
            try await h.fill("[name='outgoing.url']", ewsURL)
            try await h.fill("[name='outgoing.sentFolder']", "sentitems")
            try await h.select("[name='outgoing.security']", value: "tls")
            try await h.setChecked("[name='outgoing.acceptAnyCertificate']", true)
            try await h.select("[name='outgoing.auth.method']", value: "password")
            try await h.fill("[name='outgoing.auth.username']", mailbox)
            try await h.fill("[name='outgoing.auth.password']", password)
            try await h.fill("#outgoing-password-confirm", password)

            // A folder that is not there: the failing step says so, by name.
            try await h.click("#test-connection")
            _ = try await h.driver.waitFor("#test-result .steps li", timeout: .seconds(60))
            let missing = try await h.text("#test-result")
            #expect(missing.contains("does not exist") && missing.contains("Orders/Europe"), "\(missing)")
            try await h.screenshot("exchange-form-test-folder-missing")

            try await h.fill("[name='incoming.mailbox']", "INBOX")
            try await h.click("#test-connection")
            try await h.driver.waitUntil("the second report", timeout: .seconds(60)) {
                try await h.text("#test-result").contains("Basic over TLS")
            }
            let passed = try await h.text("#test-result")
            #expect(passed.contains("Connection test passed."), "\(passed)")
            #expect(passed.contains("\(mailbox): Inbox") && passed.contains("SendAndSaveCopy"), "\(passed)")
            #expect(!passed.contains(password))
            try await h.screenshot("exchange-form-test-passed")

            try await h.click("#account-form button.primary")
            try await h.driver.waitUntil("the new account's page", timeout: .seconds(40)) {
                let url = try await h.driver.currentURL()
                return url.contains("/admin/accounts/") && !url.hasSuffix("/new")
            }
            let accounts = try await h.waitForItems("/api/v1/accounts") { $0.contains { $0["key"] as? String == "EXF" } }
            let created = try #require(accounts.first { $0["key"] as? String == "EXF" })
            let incoming = created["incoming"] as? [String: Any] ?? [:]
            #expect(incoming["protocol"] as? String == "ews")
            #expect(incoming["url"] as? String == ewsURL)
            #expect(incoming["mailbox"] as? String == "INBOX")
            #expect((created["outgoing"] as? [String: Any])?["sentFolder"] as? String == "sentitems")
        }
    }
}
