import Foundation
import MailroomTestSupport
import Testing

extension BrowserHarness {
    /// A harness on the given database: SQLite in the data directory, or a PostgreSQL database of
    /// its own (made here, dropped after) for the cluster store.
    static func run(database: TestDatabase, adminToken: String? = BrowserHarness.adminToken, logFile: URL? = nil,
                    logLevel: String = "error", _ body: (BrowserHarness) async throws -> Void) async throws {
        var databaseURL: String? = nil
        var dropDatabase: (@Sendable () async -> Void)? = nil
        if database == .postgres {
            let scratch = try await TestDatabase.scratchPostgresDatabase(prefix: "mr_browser_")
            databaseURL = scratch.url
            dropDatabase = scratch.drop
        }
        let harness = try await start(adminToken: adminToken, databaseURL: databaseURL, logFile: logFile, logLevel: logLevel)
        do {
            try await body(harness)
        } catch {
            try? await harness.screenshot("failure-\(database.rawValue)-\(UUID().uuidString.prefix(6))")
            await harness.stop()
            await dropDatabase?()
            throw error
        }
        await harness.stop()
        await dropDatabase?()
    }

    /// An account that sends through the test Postfix into the test mailbox, an invitation
    /// template, and the settings that make invitations possible. Answers the account's id.
    @discardableResult
    func prepareInvitations(smtpPort: String) async throws -> String {
        let (created, account) = try await api("POST", "/api/v1/accounts", json: """
            {"key": "SYS", "name": "System", "fromAddress": "help@example.test", "fromName": "Help Desk",
             "incoming": {"protocol": "none"},
             "outgoing": {"protocol": "smtp", "host": "127.0.0.1", "port": \(smtpPort), "security": "none", "auth": {"method": "none"}}}
            """)
        #expect(created == 201, "\(account)")
        let accountId = try #require(account["id"] as? String)
        let (template, body) = try await api("POST", "/api/v1/templates", json: """
            {"key": "welcome", "kind": "invitation", "subject": "Welcome, {{ user.name }}",
             "text": "Hello {{ user.name }}, you join as {{ user.role }}. Set your password: {{ invitation.link }}"}
            """)
        #expect(template == 201, "\(body)")
        let (saved, settings) = try await api("PATCH", "/api/v1/settings", json: """
            {"invitationTemplateKey": "welcome", "invitationLinkBaseAddress": "\(base)", "systemSender": {"accountId": "\(accountId)"}}
            """)
        #expect(saved == 200, "\(settings)")
        return accountId
    }
}

/// The users page's invitations as an administrator uses them (issue 26): the preview of the exact
/// mail, "Invite selected" for several people at once, and the audit trail that records it, on
/// SQLite and PostgreSQL; then the refused invitation and the flood of reset requests on PostgreSQL.
@Suite(.serialized, .enabled(if: TestServers.shouldRun("MAILROOM_TEST_WEBDRIVER_URL") && TestServers.shouldRun("MAILROOM_TEST_MAILBOX_SMTP_PORT")))
struct PeopleAdminBrowserTests {
    @Test(arguments: TestDatabase.available)
    func anAdministratorPreviewsAndInvitesASelectionThenReadsTheAuditTrail(database: TestDatabase) async throws {
        try await BrowserHarness.run(database: database) { h in
            let name = database.rawValue
            try await h.prepareInvitations(smtpPort: try TestServers.require("MAILROOM_TEST_MAILBOX_SMTP_PORT"))
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            let run = UUID().uuidString.prefix(8).lowercased()
            let first = (name: "Bea Selected", email: "bea-\(run)@example.test")
            let second = (name: "Cid Selected", email: "cid-\(run)@example.test")
            let skipped = (name: "Dot Skipped", email: "dot-\(run)@example.test")
            let firstId = try await h.createUser(name: first.name, email: first.email, role: "agent")
            let secondId = try await h.createUser(name: second.name, email: second.email, role: "supervisor")
            let skippedId = try await h.createUser(name: skipped.name, email: skipped.email, role: "agent")

            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/users")
            // The preview shows the exact subject and body this person will get.
            let cell = "td.invitation[data-user='\(firstId)']"
            try await h.click("\(cell) details summary")
            let previewSubject = try await h.text("\(cell) details strong")
            let previewText = try await h.text("\(cell) .invitation-preview")
            #expect(previewSubject == "Welcome, \(first.name)")
            #expect(previewText.contains("Hello \(first.name), you join as agent."))
            try await h.screenshot("people-\(name)-01-invitation-preview")

            try await h.setChecked("#sel-\(firstId)", true)
            try await h.setChecked("#sel-\(secondId)", true)
            try await h.screenshot("people-\(name)-02-selection")
            _ = try await h.driver.execute("window.__beforeReload = true")
            try await h.click("#invite-selected button[type=submit]")
            try await h.driver.waitUntil("the page reloads after inviting", timeout: .seconds(30)) {
                (try await h.driver.execute("return window.__beforeReload === true") as? Bool) == false
            }
            // Quoted-printable soft line breaks joined: the words as the person reads them.
            let firstMail = try await Mailbox.waitForMessage(to: first.email, subjectContains: "Welcome, \(first.name)")
                .replacingOccurrences(of: "=\r\n", with: "")
            let secondMail = try await Mailbox.waitForMessage(to: second.email, subjectContains: "Welcome, \(second.name)")
                .replacingOccurrences(of: "=\r\n", with: "")
            #expect(firstMail.contains("you join as agent"))
            #expect(secondMail.contains("you join as supervisor"))
            let firstLink = try #require(Mailbox.link(in: firstMail, path: "/invitation/"))
            // The preview was the mail: the same words, with the link where the preview had its place.
            #expect(previewText.split(separator: ":").first.map { firstMail.contains(String($0)) } == true)
            try await h.driver.waitUntil("both invitations show as sent", timeout: .seconds(40)) {
                try await h.go("/admin/users")
                let sentFirst = try await h.text("td.invitation[data-user='\(firstId)'] .invitation-state")
                let sentSecond = try await h.text("td.invitation[data-user='\(secondId)'] .invitation-state")
                return sentFirst == "sent" && sentSecond == "sent"
            }
            #expect(try await h.text("td.invitation[data-user='\(skippedId)'] .invitation-state") != "sent", "only the selection")
            try await h.screenshot("people-\(name)-03-invitations-sent")

            // An administrator changes a role and deactivates someone: all of it is in the trail, in words.
            let (patched, _) = try await h.api("PATCH", "/api/v1/users/\(skippedId)", json: #"{"role": "supervisor", "active": false}"#)
            #expect(patched == 200)
            try await h.go("/admin/audit")
            let rows = try await h.driver.execute("""
                return Array.from(document.querySelectorAll('#audit tbody tr')).map((tr) =>
                  [tr.dataset.action || '', ...Array.from(tr.cells).map((c) => c.textContent.trim())].join(' | '));
                """) as? [String] ?? []
            let invited = rows.filter { $0.hasPrefix("user.invited |") }
            #expect(invited.count == 2, "\(rows)")
            #expect(invited.contains { $0.contains("Ada Admin") && $0.contains("Invitation sent") && $0.contains("\(first.name) <\(first.email)>") })
            #expect(invited.contains { $0.contains("\(second.name) <\(second.email)>") })
            #expect(rows.contains { $0.hasPrefix("user.roleChanged |") && $0.contains("Role changed") && $0.contains("from agent to supervisor") })
            #expect(rows.contains { $0.hasPrefix("user.deactivated |") && $0.contains(skipped.email) })
            let page = try await h.driver.source()
            let token = String(firstLink.split(separator: "/").last ?? "")
            #expect(!token.isEmpty && !page.contains(token), "no link token in the trail")
            #expect(!page.contains("password-123"))
            try await h.screenshot("people-\(name)-04-audit-trail")

            // An agent does not see the trail.
            try await h.signOut()
            try await h.signIn(first.email, "password-123")
            #expect(try await h.statusInPage("/admin/audit") == 403)
        }
    }

    /// Many "Forgot your password?" requests for one address from the browser: the first few get
    /// the usual answer and a mail each, the rest are told to wait, and an address no one has gets
    /// exactly the same answers in the same order (the limit tells nothing about who exists).
    @Test(arguments: TestDatabase.available)
    func aFloodOfResetRequestsFromTheBrowserIsLimitedAndDisclosesNothing(database: TestDatabase) async throws {
        try await BrowserHarness.run(database: database) { h in
            try await h.prepareInvitations(smtpPort: try TestServers.require("MAILROOM_TEST_MAILBOX_SMTP_PORT"))
            let email = "flood-\(UUID().uuidString.prefix(8).lowercased())@example.test"
            try await h.createUser(name: "Fay Flood", email: email, role: "agent")
            func answers(for address: String) async throws -> [String] {
                var seen: [String] = []
                for _ in 0..<6 {
                    try await h.go("/password/forgot")
                    try await h.fill("#email", address)
                    try await h.click("#forgot-form button[type=submit]")
                    try await h.driver.waitUntil("an answer") {
                        let source = try await h.driver.source()
                        return source.contains("id=\"forgot-sent\"") || source.contains("id=\"forgot-error\"")
                    }
                    let source = try await h.driver.source()
                    seen.append(source.contains("id=\"forgot-sent\"") ? try await h.text("#forgot-sent") : try await h.text("#forgot-error"))
                }
                return seen
            }
            let known = try await answers(for: email)
            try await h.screenshot("people-\(database.rawValue)-05-reset-flood")
            let unknown = try await answers(for: "nobody-\(UUID().uuidString.prefix(6).lowercased())@example.test")
            #expect(known == unknown, "an unknown address gets the same answers")
            #expect(known.prefix(3).allSatisfy { $0.contains("on its way") }, "\(known)")
            #expect(known.suffix(3).allSatisfy { $0.contains("Too many requests") && $0.contains("minutes") }, "\(known)")
            // Give the outbox time to send whatever was accepted, then count what arrived.
            _ = try await Mailbox.waitForMessage(to: email, subjectContains: "Reset")
            try await Task.sleep(for: .seconds(5))
            #expect(try await Mailbox.count(to: email, subjectContains: "Reset") == 3)
        }
    }
}

/// The refused invitation of RefusedInvitationBrowserTests, on the cluster store.
@Suite(.serialized, .enabled(if: TestServers.shouldRun("MAILROOM_TEST_WEBDRIVER_URL") && TestServers.shouldRun("MAILROOM_TEST_MAILBOX_SMTP_PORT")
                     && TestServers.shouldRun("MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT") && TestServers.shouldRun(TestDatabase.postgresVariable)))
struct RefusedInvitationOnPostgreSQLBrowserTests {
    @Test func aRefusedInvitationShowsTheServersReplyAndIsSentAgain() async throws {
        try await BrowserHarness.run(database: .postgres) { h in
            try await RefusedInvitationBrowserTests.refusedThenSentAgain(h, screenshots: "refused-postgres")
        }
    }
}
