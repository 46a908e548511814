import Foundation
import IMAPClient
import MailTransport
import MailroomTestSupport
import Testing

/// The newcomer's path (issue 26): a fresh data directory, `mailroom serve` without any token, the
/// setup page with the code from the log, the first administrator, an account that sends through a
/// real Postfix into a real Dovecot mailbox, the system sender, an invited agent who reads the
/// invitation over IMAP, opens its link in Chromium, sets a password and lands signed in; then the
/// same person's password reset by mail. Screenshots go to the artifacts directory.
@Suite(.serialized, .enabled(if: TestServers.shouldRun("MAILROOM_TEST_WEBDRIVER_URL") && TestServers.shouldRun("MAILROOM_TEST_MAILBOX_SMTP_PORT")))
struct NewcomerBrowserTests {
    static var databases: [TestDatabase] { TestDatabase.available }

    @Test(arguments: databases)
    func aNewcomerSetsUpMailroomAndAnInvitedAgentSignsIn(database: TestDatabase) async throws {
        let name = database == .sqlite ? "sqlite" : "postgres"
        try await NewcomerServe.run(database: database) { serve in
            let h = serve.harness
            let shot = { (step: String) in try await h.screenshot("newcomer-\(name)-\(step)") }
            let code = try await serve.setupCode()

            // 1. The browser's first visit lands on the setup page.
            try await h.go("/")
            try await h.waitForURL(containing: "/setup")
            try await shot("01-setup")
            try await h.fill("#code", "wrong-code-here")
            try await h.fill("#name", "Ada Admin")
            try await h.fill("#email", "ada@example.com")
            try await h.fill("#password", "ada password 1")
            try await h.fill("#password2", "ada password 1")
            try await h.click("#setup-form button[type=submit]")
            #expect(try await h.text("#setup-error").contains("setup code is wrong"))
            try await shot("02-setup-wrong-code")
            try await h.fill("#code", code)
            try await h.fill("#password", "ada password 1")
            try await h.fill("#password2", "ada password 1")
            try await h.click("#setup-form button[type=submit]")
            try await h.waitForURL(containing: "/admin/accounts")
            try await shot("03-first-administrator")

            // 2. An account whose outgoing server is the test Postfix.
            let smtpPort = try TestServers.require("MAILROOM_TEST_MAILBOX_SMTP_PORT")
            try await h.go("/admin/accounts/new")
            try await h.fill("#acc-name", "Help Desk")
            try await h.fill("#acc-key", "HELP")
            try await h.fill("#acc-from", "help@example.test")
            try await h.fill("#acc-from-name", "Example Help Desk")
            try await h.select("#in-protocol", value: "none")
            try await h.select("#out-protocol", value: "smtp")
            try await h.fill("#outgoing-host", "127.0.0.1")
            try await h.fill("#outgoing-port", smtpPort)
            try await h.select("#outgoing-security", value: "none")
            try await h.select("#outgoing-auth-method", value: "none")
            try await h.click("#account-form button.primary")
            try await h.driver.waitUntil("the new account's page", timeout: .seconds(40)) {
                let url = try await h.driver.currentURL()
                return url.contains("/admin/accounts/") && !url.hasSuffix("/new")
            }
            try await shot("04-account")

            // 3. The invitation template: an unknown variable is refused, naming it.
            try await h.go("/admin/templates")
            try await h.fill("#nt-key", "welcome")
            try await h.select("#nt-kind", value: "invitation")
            try await h.fill("#nt-subject", "Welcome to the help desk, {{ user.name }}")
            try await h.fill("#nt-text", "Hello {{ user.nmae }}")
            try await h.click("#new-template button[type=submit]")
            try await h.driver.waitUntil("the template error") { try await h.driver.source().contains("user.nmae") }
            try await shot("05-template-unknown-variable")
            try await h.fill("#nt-text", "Hello {{ user.name }},\n\n{{ sender.name }} invites you to Mailroom as {{ user.role }}.\nSet your password here: {{ invitation.link }}\nThe link works until {{ invitation.expiresAt }}.")
            try await h.click("#new-template button[type=submit]")
            try await h.driver.waitUntil("the template is saved") {
                let source = try await h.driver.source()
                return source.contains("value=\"welcome\"") && !source.contains("user.nmae")
            }

            // 4. Settings: the template, the link's base address and the system sender; a test mail.
            try await h.go("/admin/settings")
            try await h.select("#s-invite", value: "welcome")
            try await h.fill("#s-link", h.base)
            let senderValue = try await h.driver.execute("return document.querySelector('#s-sender option[value]:not([value=\"\"])').value") as? String ?? ""
            try await h.select("#s-sender", value: senderValue)
            try await serve.clickAndWaitForReload("#settings-form button.primary")
            #expect(try await serve.settingsAsShown().1 == senderValue, "the system sender is saved")
            try await h.go("/admin/settings")
            try await h.fill("#t-to", "ada@example.com")
            try await h.click("#system-sender-test button")
            try await shot("06-settings-system-sender")
            let testMail = try await Mailbox.waitForMessage(to: "ada@example.com", subjectContains: "test mail")
            #expect(testMail.contains("Auto-Submitted: auto-generated"))

            // 5. The agent, invited on creation (the box is ticked because the settings are complete).
            let agentEmail = "agent-\(UUID().uuidString.prefix(8).lowercased())@example.test"
            try await h.go("/admin/users")
            #expect(try await h.driver.find("#nu-invite").property("checked") as? Bool == true)
            try await h.fill("#nu-name", "Agnes Agent")
            try await h.fill("#nu-email", agentEmail)
            try await h.select("#nu-role", value: "agent")
            try await serve.clickAndWaitForReload("#new-user button.primary")
            try await h.driver.waitUntil("the agent is listed") { try await h.driver.source().contains(agentEmail) }
            let invitation = try await Mailbox.waitForMessage(to: agentEmail, subjectContains: "Welcome")
            #expect(invitation.contains("Auto-Submitted: auto-generated"))
            #expect(invitation.contains("Hello Agnes Agent"))
            let link = try #require(Mailbox.link(in: invitation, path: "/invitation/"))
            #expect(link.hasPrefix(h.base + "/invitation/"))
            try await h.driver.waitUntil("the invitation shows as sent", timeout: .seconds(40)) {
                try await h.go("/admin/users")
                return try await h.driver.source().contains(">sent<")
            }
            try await shot("07-users-invitation-sent")
            try await h.signOut()

            // 6. The agent opens the link, sets a password (twice) and lands on the desk.
            try await h.driver.go(link)
            #expect(try await h.text("#link-for").contains(agentEmail))
            try await shot("08-invitation-page")
            try await h.fill("#password", "agnes password 1")
            try await h.fill("#password2", "agnes password 2")
            try await h.click("#password-form button[type=submit]")
            #expect(try await h.text("#password-error").contains("differ"))
            try await h.fill("#password", "agnes password 1")
            try await h.fill("#password2", "agnes password 1")
            try await h.click("#password-form button[type=submit]")
            try await h.waitForURL(containing: "/desk")
            #expect(try await h.text(".who-name").contains("Agnes Agent"))
            try await shot("09-agent-signed-in")
            try await h.signOut()
            try await h.driver.go(link)
            #expect(try await h.driver.source().contains("already used"))
            try await shot("10-link-used")

            // 7. A forgotten password: the reset mail, its link, a new password, signed in again.
            try await h.go("/login")
            try await h.click("#forgot-link")
            try await h.fill("#email", agentEmail)
            try await h.click("#forgot-form button[type=submit]")
            _ = try await h.driver.waitFor("#forgot-sent")
            try await shot("11-forgot-sent")
            let reset = try await Mailbox.waitForMessage(to: agentEmail, subjectContains: "Reset")
            let resetLink = try #require(Mailbox.link(in: reset, path: "/password/reset/"))
            try await h.driver.go(resetLink)
            try await h.driver.waitUntil("the reset page at \(resetLink)") { try await h.driver.currentURL().contains("/password/reset/") }
            try await shot("12-reset-page")
            try await h.fill("#password", "agnes password 3")
            try await h.fill("#password2", "agnes password 3")
            try await h.click("#password-form button[type=submit]")
            try await h.waitForURL(containing: "/desk")
            try await shot("13-reset-signed-in")

            // 8. The profile: the agent's own name, and a password change that needs the current one.
            try await h.click("#profile-link")
            try await h.waitForURL(containing: "/profile")
            try await h.fill("#p-name", "Agnes A. Agent")
            try await h.fill("#p-current", "agnes password 3")
            try await h.fill("#p-new", "agnes password 4")
            try await h.fill("#p-new2", "agnes password 4")
            try await h.click("#profile-form button[type=submit]")
            #expect(try await h.text("#profile-message").contains("saved"))
            #expect(try await h.text(".who-name").contains("Agnes A. Agent"))
            try await shot("14-profile")
            try await h.signOut()
            try await h.signIn(agentEmail, "agnes password 4")
            let notice = try await Mailbox.waitForMessage(to: agentEmail, subjectContains: "password was changed")
            #expect(!notice.contains("agnes password"))
            #expect(try serve.log().contains(code), "the setup code is printed in the log")
            let log = try serve.log()
            #expect(!log.contains("agnes password") && !log.contains(String(link.split(separator: "/").last ?? "")),
                    "no password or link token in the log")
        }
    }
}

/// The system sender's server refuses the invitation: the users page says so with the server's
/// reply; once the account points at a server that accepts, "Send again" delivers a new link.
@Suite(.serialized, .enabled(if: TestServers.shouldRun("MAILROOM_TEST_WEBDRIVER_URL") && TestServers.shouldRun("MAILROOM_TEST_MAILBOX_SMTP_PORT")
                     && TestServers.shouldRun("MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT")))
struct RefusedInvitationBrowserTests {
    @Test func aRefusedInvitationShowsTheServersReplyAndIsSentAgain() async throws {
        try await BrowserHarness.run { h in try await Self.refusedThenSentAgain(h, screenshots: "refused") }
    }

    static func refusedThenSentAgain(_ h: BrowserHarness, screenshots: String) async throws {
        let refusing = try TestServers.require("MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT")
        let accepting = try TestServers.require("MAILROOM_TEST_MAILBOX_SMTP_PORT")
        try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
        let (created, account) = try await h.api("POST", "/api/v1/accounts", json: """
            {"key": "SYS", "name": "System", "fromAddress": "help@example.test", "fromName": "Help Desk",
             "incoming": {"protocol": "none"},
             "outgoing": {"protocol": "smtp", "host": "127.0.0.1", "port": \(refusing), "security": "none", "auth": {"method": "none"}}}
            """)
        #expect(created == 201, "\(account)")
        let accountId = try #require(account["id"] as? String)
        let (template, _) = try await h.api("POST", "/api/v1/templates", json: """
            {"key": "welcome", "kind": "invitation", "subject": "Welcome, {{ user.name }}", "text": "Set your password: {{ invitation.link }}"}
            """)
        #expect(template == 201)
        let (saved, _) = try await h.api("PATCH", "/api/v1/settings", json: """
            {"invitationTemplateKey": "welcome", "invitationLinkBaseAddress": "\(h.base)", "systemSender": {"accountId": "\(accountId)"}}
            """)
        #expect(saved == 200)
        let email = "refused-\(UUID().uuidString.prefix(8).lowercased())@example.test"
        let agentId = try await h.createUser(name: "Rita Refused", email: email, role: "agent")

        try await h.signIn("ada@example.com", "password-123")
        try await h.go("/admin/users")
        try await h.click("td.invitation[data-user='\(agentId)'] button.send-invitation")
        try await h.driver.waitUntil("the invitation shows as failed", timeout: .seconds(40)) {
            try await h.go("/admin/users")
            return try await h.driver.source().contains("invitation-state alert\">failed")
        }
        let reply = try await h.text("td.invitation[data-user='\(agentId)'] .invitation-error")
        #expect(reply.contains("5"), "the server's reply is shown: \(reply)")
        try await h.screenshot("\(screenshots)-01-invitation-failed")

        let (patched, _) = try await h.api("PATCH", "/api/v1/accounts/\(accountId)", json: """
            {"outgoing": {"port": \(accepting)}}
            """)
        #expect(patched == 200)
        try await h.go("/admin/users")
        #expect(try await h.text("td.invitation[data-user='\(agentId)'] button.send-invitation").contains("Send again"))
        try await h.click("td.invitation[data-user='\(agentId)'] button.send-invitation")
        let mail = try await Mailbox.waitForMessage(to: email, subjectContains: "Welcome")
        let link = try #require(Mailbox.link(in: mail, path: "/invitation/"))
        try await h.driver.waitUntil("the invitation shows as sent", timeout: .seconds(40)) {
            try await h.go("/admin/users")
            return try await h.driver.source().contains(">sent<")
        }
        try await h.screenshot("\(screenshots)-02-sent-again")
        try await h.signOut()
        try await h.driver.go(link)
        try await h.fill("#password", "rita password 1")
        try await h.fill("#password2", "rita password 1")
        try await h.click("#password-form button[type=submit]")
        try await h.waitForURL(containing: "/desk")
    }
}

/// Reads the test mailbox (Postfix delivers every address into it) over IMAP.
enum Mailbox {
    static func connect() async throws -> IMAPConnection {
        let port = Int(try TestServers.require("MAILROOM_TEST_MAILBOX_IMAP_PORT"))!
        let endpoint = MailEndpoint(host: "127.0.0.1", port: port, security: .none, authTimeout: .seconds(30))
        return try await IMAPConnection.connect(to: endpoint, credentials: .password(
            try TestServers.require("MAILROOM_TEST_MAILBOX_USER"), try TestServers.require("MAILROOM_TEST_MAILBOX_DOVECOT_PASSWORD")))
    }

    /// The newest message to `address` whose subject contains `subjectContains`, waiting for it to arrive.
    static func waitForMessage(to address: String, subjectContains: String, timeout: Duration = .seconds(60)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let imap = try await connect()
            _ = try await imap.select("INBOX")
            let uids = try await imap.uidSearch(.and([.header("To", address), .header("Subject", subjectContains)]))
            if let last = uids.last {
                let messages = try await imap.uidFetchMessages(IMAPUIDSet([last]), items: .wholeMessagePeek)
                await imap.logout()
                if let message = messages.first { return String(decoding: message.bytes, as: UTF8.self) }
            } else {
                await imap.logout()
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw WebDriver.Failure(description: "no mail to \(address) with '\(subjectContains)' arrived in the test mailbox")
    }

    /// How many messages to `address` with `subjectContains` in the subject the mailbox holds.
    static func count(to address: String, subjectContains: String) async throws -> Int {
        let imap = try await connect()
        _ = try await imap.select("INBOX")
        let uids = try await imap.uidSearch(.and([.header("To", address), .header("Subject", subjectContains)]))
        await imap.logout()
        return uids.count
    }

    /// The first link with `path` in a mail (quoted-printable soft breaks joined).
    static func link(in message: String, path: String) -> String? {
        let text = message.replacingOccurrences(of: "=\r\n", with: "").replacingOccurrences(of: "=3D", with: "=")
        guard let range = text.range(of: path) else { return nil }
        let start = text[..<range.lowerBound].lastIndex { $0.isWhitespace || $0 == "\"" || $0 == ">" }
        let head = start.map { text[text.index(after: $0)..<range.lowerBound] } ?? text[..<range.lowerBound]
        let token = text[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        return String(head) + path + String(token)
    }
}

/// `mailroom serve` as a newcomer runs it: no administrator token, its log kept to read the setup code.
final class NewcomerServe: @unchecked Sendable {
    let harness: BrowserHarness
    let logFile: URL

    init(harness: BrowserHarness, logFile: URL) {
        self.harness = harness
        self.logFile = logFile
    }

    func log() throws -> String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Clicks a button of a form that reloads the page once the API answered, and waits for the reload.
    func clickAndWaitForReload(_ css: String) async throws {
        _ = try await harness.driver.execute("window.__beforeReload = true")
        try await harness.click(css)
        try await harness.driver.waitUntil("the page reloads after saving", timeout: .seconds(30)) {
            (try await harness.driver.execute("return window.__beforeReload === true") as? Bool) == false
        }
    }

    /// The system sender the settings page shows now, read in a second tab-free way: a fresh load.
    func settingsAsShown() async throws -> (String, String) {
        try await harness.go("/admin/settings")
        let value = try await harness.driver.execute("return document.querySelector('#s-sender').value") as? String ?? ""
        return (try await harness.driver.currentURL(), value)
    }

    /// The code from the log line "first-run setup code".
    func setupCode() async throws -> String {
        for _ in 0..<200 {
            let text = try log()
            if let range = text.range(of: "setupCode=") {
                return String(text[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" })
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw WebDriver.Failure(description: "mailroom serve printed no setup code: \(try log().suffix(2_000))")
    }

    static func run(database: TestDatabase, _ body: (NewcomerServe) async throws -> Void) async throws {
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("newcomer-\(UUID().uuidString).log")
        try await BrowserHarness.run(database: database, adminToken: nil, logFile: logFile, logLevel: "info") { harness in
            do {
                try await body(NewcomerServe(harness: harness, logFile: logFile))
            } catch {
                try? FileManager.default.copyItem(at: logFile, to: harness.artifacts.appendingPathComponent("newcomer-failure-serve.log"))
                throw error
            }
        }
        try? FileManager.default.removeItem(at: logFile)
    }
}
