import Foundation
import MailroomTestSupport
import Testing

/// The account editor as the seeds draw it (issue 24), in headless Chromium against `mailroom serve`:
/// service presets hide the server sections and never overwrite typed values silently, the ticket
/// resolver menu loses what was added, passwords are typed twice, the subject prefix previews the
/// subject, and deleting lists what stops before it happens. Screenshots of the editor's sections,
/// in the seeds' order, go to the artifacts directory as `account-editor-NN-section.png`.
@Suite(.serialized, .enabled(if: BrowserHarness.enabled))
struct AccountEditorBrowserTests {
    static func displayed(_ h: BrowserHarness, _ css: String) async throws -> Bool {
        try await h.driver.find(css).isDisplayed()
    }

    static func value(_ h: BrowserHarness, _ css: String) async throws -> String {
        try await h.driver.find(css).property("value") as? String ?? ""
    }

    static func dialogOpen(_ h: BrowserHarness, _ id: String) async throws -> Bool {
        try await h.driver.execute("return document.getElementById(arguments[0]).open", [id]) as? Bool ?? false
    }

    @Test func presetsHideTheServerSectionsAndNeverOverwriteTypedValuesSilently() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/accounts/new")
            #expect(try await Self.displayed(h, "#incoming-server"), "custom shows the IMAP section")
            #expect(try await Self.displayed(h, "#outgoing-server"), "custom shows the SMTP section")
            try await h.fill("#incoming-host", "mail.mine.example")

            // Gmail would replace a typed host: the dialog says so, and "keep mine" stays on custom.
            try await h.select("#acc-service", value: "gmail")
            try await h.driver.waitUntil("the preset dialog opens") { try await Self.dialogOpen(h, "preset-dialog") }
            #expect(try await h.text("#preset-differences").contains("mail.mine.example"))
            try await h.screenshot("account-editor-preset-dialog")
            try await h.click("#preset-keep")
            #expect(try await Self.value(h, "#acc-service") == "custom")
            #expect(try await Self.value(h, "#incoming-host") == "mail.mine.example", "nothing typed was replaced")
            #expect(try await Self.displayed(h, "#incoming-server"))

            // Confirmed, the preset fills the servers and hides them.
            try await h.select("#acc-service", value: "gmail")
            try await h.driver.waitUntil("the preset dialog opens again") { try await Self.dialogOpen(h, "preset-dialog") }
            try await h.click("#preset-replace")
            try await h.driver.waitUntil("the server sections hide") { try await Self.displayed(h, "#incoming-server") == false }
            #expect(try await Self.displayed(h, "#outgoing-server") == false)
            #expect(try await Self.displayed(h, "#incoming [data-preset-note]"))
            #expect(try await Self.value(h, "#incoming-host") == "imap.gmail.com")
            #expect(try await Self.value(h, "#outgoing-host") == "smtp.gmail.com")
            try await h.screenshot("account-editor-preset-gmail")

            // From one preset to another nothing was typed: no question.
            try await h.select("#acc-service", value: "yahoo")
            #expect(try await Self.dialogOpen(h, "preset-dialog") == false)
            #expect(try await Self.value(h, "#incoming-host") == "imap.mail.yahoo.com")

            // Back on custom the preset's values are the starting point.
            try await h.select("#acc-service", value: "custom")
            #expect(try await Self.displayed(h, "#incoming-server"))
            #expect(try await Self.value(h, "#incoming-host") == "imap.mail.yahoo.com")
            #expect(try await Self.value(h, "#outgoing-port") == "465")
        }
    }

    @Test func theResolverMenuLosesWhatWasAddedAndTheListIsOrderedWithArrows() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            let (status, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "RES", "name": "Resolvers", "fromAddress": "desk@example.com", "resolvers": ["caseId"],
                 "incoming": {"protocol": "none"}, "outgoing": {"protocol": "none"}}
                """)
            #expect(status == 201, "\(account)")
            let id = try #require(account["id"] as? String)
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/accounts/\(id)")
            func offered() async throws -> [String] {
                try await h.driver.execute("return Array.from(document.querySelectorAll('#resolver-pick option')).map(o => o.value).filter(v => v)")
                    as? [String] ?? []
            }
            func listed() async throws -> [String] {
                try await h.driver.execute("return Array.from(document.querySelectorAll('#resolver-list input[name=name]')).map(i => i.value)")
                    as? [String] ?? []
            }
            #expect(try await listed() == ["caseId"])
            #expect(try await offered().contains("caseId") == false, "an account's resolver is not offered again")
            #expect(try await offered().count == 6)

            try await h.select("#resolver-pick", value: "customer")
            try await h.select("#resolver-pick", value: "subject")
            #expect(try await listed() == ["caseId", "customer", "subject"])
            #expect(try await offered().contains("customer") == false, "an added resolver leaves the drop-down")
            #expect(try await offered().count == 4)

            try await h.click("#resolver-list li[data-resolver='subject'] button[data-move='up']")
            try await h.click("#resolver-list li[data-resolver='subject'] button[data-move='up']")
            #expect(try await listed() == ["subject", "caseId", "customer"])
            try await h.click("#resolver-list li[data-resolver='customer'] button[data-move='up']")
            #expect(try await listed() == ["subject", "customer", "caseId"])
            try await h.click("#resolver-list li[data-resolver='caseId'] button[data-remove-row]")
            #expect(try await offered().contains("caseId"), "a removed resolver is offered again")
            #expect(try await h.text("#resolver-list li[data-resolver='customer'] [data-position]") == "2")
            try await h.driver.execute("document.getElementById('resolvers').scrollIntoView()")
            try await h.screenshot("account-editor-resolvers")

            try await h.click("#account-form button.primary")
            try await h.driver.waitUntil("the resolvers are saved in order") {
                let (_, saved) = try await h.api("GET", "/api/v1/accounts/\(id)")
                return saved["resolvers"] as? [String] == ["subject", "customer"]
            }
        }
    }

    @Test func passwordsAreTypedTwiceAndThePrefixPreviewsTheSubject() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/accounts/new")
            #expect(try await h.text("#acc-subject-preview-text") == "Re: Where is my order? [Ticket#1001]")
            try await h.fill("#acc-prefix", "[ACME]")
            try await h.driver.waitUntil("the preview follows the prefix") {
                try await h.text("#acc-subject-preview-text") == "Re: [ACME] Where is my order? [Ticket#1001]"
            }
            try await h.fill("#acc-name", "Confirmations")
            try await h.fill("#acc-key", "CNF")
            try await h.fill("#acc-from", "desk@example.com")
            try await h.select("#in-protocol", value: "none")
            try await h.select("#out-protocol", value: "smtp")
            try await h.fill("#outgoing-host", "127.0.0.1")
            try await h.select("#outgoing-auth-method", value: "password")
            try await h.fill("#outgoing-username", "desk")
            try await h.fill("#outgoing-password", "s3cret-one")
            try await h.fill("#outgoing-password-confirm", "s3cret-two")
            try await h.click("#account-form button.primary")
            let mismatch = try await h.driver.waitFor("#outgoing-password-confirm[aria-invalid='true']")
            #expect(try await mismatch.attribute("aria-describedby")?.isEmpty == false)
            #expect(try await h.driver.source().contains("Confirm password does not match the password above"))
            try await h.screenshot("account-editor-password-mismatch")
            let (_, none) = try await h.api("GET", "/api/v1/accounts")
            #expect((none["items"] as? [Any])?.isEmpty == true, "nothing was saved")

            try await h.fill("#outgoing-password-confirm", "s3cret-one")
            try await h.click("#account-form button.primary")
            try await h.driver.waitUntil("the account is saved") {
                let (_, list) = try await h.api("GET", "/api/v1/accounts")
                return (list["items"] as? [[String: Any]])?.first?["subjectPrefix"] as? String == "[ACME]"
            }
        }
    }

    @Test func deletingListsWhatStopsAndThenStopsIt() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            let onlyHere = try await h.createUser(name: "Olga Only", email: "olga@example.com", role: "agent")
            let (_, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "DEL", "name": "Doomed", "fromAddress": "doomed@example.com",
                 "incoming": {"protocol": "none"}, "outgoing": {"protocol": "smtp", "host": "127.0.0.1", "port": 2525, "security": "none", "auth": {"method": "none"}}}
                """)
            let id = try #require(account["id"] as? String, "\(account)")
            let (_, mapped) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "MAP", "name": "Mapped", "fromAddress": "mapped@example.com", "outgoingAccountId": "\(id)",
                 "incoming": {"protocol": "none"}, "outgoing": {"protocol": "none"}}
                """)
            let mappedId = try #require(mapped["id"] as? String, "\(mapped)")
            let (queueStatus, queue) = try await h.api("POST", "/api/v1/queues", json: """
                {"name": "Doomed line", "strategy": "ringAll", "agentTimeoutSeconds": 30, "accountIds": ["\(id)"],
                 "members": [{"userId": "\(onlyHere)", "priority": 0}]}
                """)
            #expect(queueStatus == 201, "\(queue)")
            let queueId = try #require(queue["id"] as? String)
            let (ruleStatus, rule) = try await h.api("POST", "/api/v1/rules", json: """
                {"name": "Doomed routing", "accountId": "\(id)", "conditions": [], "actions": [{"type": "queue", "queueId": "\(queueId)"}]}
                """)
            #expect(ruleStatus == 201, "\(rule)")
            let ruleId = try #require(rule["id"] as? String)
            let (dispositionStatus, disposition) = try await h.api("POST", "/api/v1/dispositions", json: #"{"name": "Doomed solved", "accountId": "\#(id)"}"#)
            #expect(dispositionStatus == 201, "\(disposition)")
            _ = try await h.api("POST", "/api/v1/canned-answers", json: #"{"name": "Doomed hello", "text": "Hello", "accountId": "\#(id)"}"#)

            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/accounts/\(id)")
            try await h.click("#delete-account")
            try await h.driver.waitUntil("the confirmation opens") { try await Self.dialogOpen(h, "delete-dialog") }
            let listed = try await h.text("#delete-consequences")
            for name in ["Doomed line", "Doomed routing", "Doomed solved", "Doomed hello", "Mapped", "Olga Only"] {
                #expect(listed.contains(name), "the confirmation names \(name): \(listed)")
            }
            try await h.screenshot("account-editor-delete-confirmation")
            try await h.click("#delete-no")
            #expect(try await Self.dialogOpen(h, "delete-dialog") == false)
            #expect(try await h.api("GET", "/api/v1/accounts/\(id)").1["deletedAt"] is NSNull, "No keeps the account")

            try await h.click("#delete-account")
            try await h.driver.waitUntil("the confirmation opens again") { try await Self.dialogOpen(h, "delete-dialog") }
            try await h.click("#delete-yes")
            try await h.waitForURL(containing: "/admin/accounts")
            try await h.driver.waitUntil("the account is deleted") {
                !(try await h.api("GET", "/api/v1/accounts/\(id)").1["deletedAt"] is NSNull)
            }
            // What the confirmation listed has stopped.
            #expect(try await h.api("GET", "/api/v1/rules/\(ruleId)").1["enabled"] as? Bool == false)
            #expect(try await h.api("GET", "/api/v1/queues/\(queueId)").1["accountIds"] as? [String] == [])
            #expect(try await h.api("GET", "/api/v1/accounts/\(mappedId)").1["outgoingAccountId"] is NSNull)
            let dispositions = try await h.api("GET", "/api/v1/dispositions?accountId=\(id)").1["items"] as? [[String: Any]] ?? []
            #expect(dispositions.filter { $0["name"] as? String == "Doomed solved" }.allSatisfy { $0["active"] as? Bool == false })
        }
    }

    @Test func theSignatureEditorFormatsLinksAndPlaceholdersWithoutOutsideScripts() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            let (_, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "SIG", "name": "Signed", "fromAddress": "desk@example.com", "incoming": {"protocol": "none"}, "outgoing": {"protocol": "none"}}
                """)
            let id = try #require(account["id"] as? String)
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/accounts/\(id)")
            let editor = try await h.revealed("#signature-editor")
            try await editor.click()
            try await editor.type("Kind regards")
            // Select what was typed and make it bold with the toolbar.
            let selectAll = """
                const area = document.getElementById('signature-editor'); const range = document.createRange();
                range.selectNodeContents(area); const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
                """
            try await h.driver.execute(selectAll)
            try await h.click("button[data-command='bold']")
            try await h.driver.execute("""
                const area = document.getElementById('signature-editor'); const range = document.createRange();
                range.selectNodeContents(area); range.collapse(false);
                const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
                """)
            try await h.click("button[data-insert='{{ agent.alias }}']")
            // A last line, whose last word becomes a link.
            let selectDesk = """
                const area = document.getElementById('signature-editor');
                if (!area.lastChild || area.lastChild.nodeType !== Node.TEXT_NODE || !area.lastChild.textContent.endsWith('Desk')) {
                  area.appendChild(document.createTextNode(' Example Desk'));
                  area.dispatchEvent(new Event('input', { bubbles: true }));
                }
                const text = area.lastChild; const range = document.createRange();
                range.setStart(text, text.textContent.length - 4); range.setEnd(text, text.textContent.length);
                const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
                """
            try await h.driver.execute(selectDesk)
            try await h.fill("#signature-url", "javascript:alert(1)")
            try await h.click("button[data-command='createLink']")
            #expect(try await Self.value(h, "#signature-html").contains("javascript:") == false, "a script address is refused")
            try await h.driver.execute(selectDesk)
            try await h.fill("#signature-url", "https://desk.example.com/")
            try await h.click("button[data-command='createLink']")
            let html = try await Self.value(h, "#signature-html")
            #expect(html.contains("<b>Kind regards"), "\(html)")
            #expect(html.contains("{{ agent.alias }}"), "\(html)")
            #expect(html.contains("<a href=\"https://desk.example.com/\">Desk</a>"), "\(html)")
            try await h.driver.execute("document.getElementById('signature').scrollIntoView()")
            try await h.screenshot("account-editor-signature-editor")
            let outside = try await h.driver.execute("""
                return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin));
                """) as? [String] ?? ["(not run)"]
            #expect(outside.isEmpty, "nothing is loaded from elsewhere: \(outside)")
            // A signature image: uploaded once for the account, shown as cid:logo.
            let png = FileManager.default.temporaryDirectory.appendingPathComponent("logo-\(UUID().uuidString.prefix(6)).png")
            try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: UInt8(7), count: 32)).write(to: png)
            defer { try? FileManager.default.removeItem(at: png) }
            try await h.fill("#image-name", "logo")
            try await h.driver.waitFor("#image-file").type(png.path)
            _ = try await h.driver.waitFor("#account-images li[data-image='logo']")
            #expect(try await Self.value(h, "#signature-url") == "cid:logo", "the new image's address is ready to insert")
            try await h.driver.execute("""
                const area = document.getElementById('signature-editor'); const range = document.createRange();
                range.selectNodeContents(area); range.collapse(false);
                const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
                """)
            try await h.click("button[data-command='insertImage']")
            #expect(try await Self.value(h, "#signature-html").contains("src=\"cid:logo\""))
            try await h.click("#account-form button.primary")
            try await h.driver.waitUntil("the signature and its image are saved") {
                let (_, saved) = try await h.api("GET", "/api/v1/accounts/\(id)")
                let images = saved["inlineImages"] as? [[String: Any]] ?? []
                return ((saved["signature"] as? [String: Any])?["html"] as? String)?.contains("<b>Kind regards") == true
                    && images.first?["contentId"] as? String == "logo"
            }
        }
    }

    /// The editor's sections, top to bottom, as the seeds list them (after the first screen,
    /// "essentials", which gathers the seeds' service, address and password): Motion's settings, IMAP, SMTP,
    /// authentication and advanced; Ameyo's ticket resolvers, signature, incoming-to-outgoing
    /// mapping and retry policies; then Motion's dispositions and canned answers, invitation emails,
    /// and actions and interactions.
    @Test func theEditorsSectionsInTheSeedsOrder() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            let (_, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "SHOW", "name": "Showcase", "fromAddress": "desk@example.com", "fromName": "Example Desk", "subjectPrefix": "[Desk]",
                 "resolvers": ["caseId", "subjectAndCustomer"], "transfer": {"toQueue": true, "toAgent": false, "timeoutSeconds": 120},
                 "signature": {"html": "<p><b>{{ agent.name }}</b><br>Example Desk</p>", "beforeQuote": true},
                 "incoming": {"protocol": "imap", "host": "imap.example.com", "auth": {"username": "desk", "password": "secret-value"}},
                 "outgoing": {"protocol": "smtp", "host": "smtp.example.com", "security": "starttls", "auth": {"username": "desk", "password": "secret-value"}}}
                """)
            let id = try #require(account["id"] as? String)
            try await h.driver.setWindow(width: 1440, height: 1000)
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/accounts/\(id)")
            // The sections start folded below the first screen (issue 27); opened, they read in order.
            try await h.click("#open-sections")
            let order = ["essentials", "settings", "incoming", "outgoing", "authentication", "advanced", "resolvers", "signature", "mapping", "retry",
                         "catalog", "invitations", "actions"]
            let tops = try await h.driver.execute("""
                return arguments[0].map(id => { const el = document.getElementById(id); return el ? el.getBoundingClientRect().top + window.scrollY : -1; });
                """, [order]) as? [Double] ?? []
            #expect(tops.count == order.count && !tops.contains(-1), "every section is on the page: \(tops)")
            #expect(tops == tops.sorted(), "the sections follow the seeds' order: \(tops)")
            for (index, section) in order.enumerated() {
                try await h.driver.execute("document.getElementById(arguments[0]).scrollIntoView({block: 'start'})", [section])
                try await h.screenshot(String(format: "account-editor-%02d-%@", index + 1, section))
            }
        }
    }
}
