import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MailroomTestSupport
import Testing

/// The account form as a new administrator meets it (issue 27): a short first screen (service,
/// address, password or "Sign in with …", test), the seeds' sections folded below it, "Test
/// connection" and "Save" always in view with the result beside them, a save that tests the
/// connection, seed names instead of identifiers, a key that says its limit, and the account's
/// name as the page title. Screenshots at desktop (1280) and phone (390) widths go to the
/// artifacts directory as `account-form-*`.
@Suite(.serialized, .enabled(if: BrowserHarness.enabled))
struct AccountFormBrowserTests {
    static func displayed(_ h: BrowserHarness, _ css: String) async throws -> Bool {
        try await h.driver.find(css).isDisplayed()
    }

    /// Whether the element lies wholly inside the window.
    static func inView(_ h: BrowserHarness, _ css: String) async throws -> Bool {
        try await h.driver.execute("""
            const r = document.querySelector(arguments[0]).getBoundingClientRect();
            return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight + 1;
            """, [css]) as? Bool ?? false
    }

    /// An account whose outgoing server refuses connections (nothing listens on the port).
    static func createUnreachable(_ h: BrowserHarness, name: String = "Parcels Desk") async throws -> String {
        let (status, account) = try await h.api("POST", "/api/v1/accounts", json: """
            {"key": "PCL", "name": "\(name)", "fromAddress": "parcels@example.com",
             "incoming": {"protocol": "none"},
             "outgoing": {"protocol": "smtp", "host": "127.0.0.1", "port": \(BrowserHarness.freePort()), "security": "none",
                          "connectionTimeoutSeconds": 5, "auth": {"method": "none"}}}
            """)
        #expect(status == 201, "\(account)")
        return try #require(account["id"] as? String)
    }

    @Test func theFirstScreenIsShortAndTheSectionsAreFolded() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            let id = try await Self.createUnreachable(h)
            for (width, height, label) in [(1280, 900, "desktop"), (390, 844, "phone")] {
                try await h.driver.setWindow(width: width, height: height)
                try await h.go("/admin/accounts/\(id)")
                for css in ["#acc-service", "#acc-from", "#quick-password", "#quick-password-confirm", "#test-connection", "#save-account"] {
                    #expect(try await Self.displayed(h, css), "\(css) is on the first screen (\(label))")
                }
                for css in ["#acc-prefix", "#retry-max", "#resolver-pick", "#signature-editor", "#outgoing-host"] {
                    #expect(try await Self.displayed(h, css) == false, "\(css) is folded away (\(label))")
                }
                #expect(try await Self.inView(h, "#save-account"), "Save is in view without scrolling (\(label))")
                #expect(try await Self.inView(h, "#test-connection"))
                try await h.screenshot("account-form-first-screen-\(label)")

                // Deep in the opened sections, the action bar is still in view.
                try await h.click("#open-sections")
                try await h.driver.execute("document.getElementById('signature').scrollIntoView({block: 'start'})")
                #expect(try await Self.displayed(h, "#signature-editor"))
                #expect(try await Self.inView(h, "#save-account"), "Save stays in view in the middle of the form (\(label))")
                #expect(try await Self.inView(h, "#test-connection"))
                try await h.screenshot("account-form-sections-open-\(label)")
            }

            // A new account on a custom server unfolds the servers (they must be typed in);
            // a preset's sections stay as they are.
            try await h.driver.setWindow(width: 1280, height: 900)
            try await h.go("/admin/accounts/new")
            #expect(try await Self.displayed(h, "#outgoing-host"))
            #expect(try await Self.displayed(h, "#acc-prefix") == false)
            #expect(try await h.driver.title().hasPrefix("New account"))
            try await h.screenshot("account-form-new-desktop")
            try await h.driver.setWindow(width: 390, height: 844)
            try await h.screenshot("account-form-new-phone")
        }
    }

    @Test func theTestResultAppearsBesideTheBarFocusedAndSaysWhatFailed() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            let id = try await Self.createUnreachable(h)
            for (width, height, label) in [(1280, 900, "desktop"), (390, 844, "phone")] {
                try await h.driver.setWindow(width: width, height: height)
                try await h.go("/admin/accounts/\(id)")
                try await h.click("#open-sections")
                try await h.driver.execute("document.getElementById('advanced').scrollIntoView({block: 'start'})")
                try await h.click("#test-connection")
                _ = try await h.driver.waitFor("#test-result .steps li", timeout: .seconds(60))
                let report = try await h.text("#test-result")
                #expect(report.contains("Connection test failed. Outgoing, Connect"), "the heading names what failed: \(report)")
                // The steps in words, not the JSON's identifiers ("resolve", "connect").
                #expect(report.contains("Find the server ("), "\(report)")
                #expect(!report.contains("resolve (") && !report.contains("connect ("), "\(report)")
                #expect(try await h.driver.execute("return document.activeElement && document.activeElement.id") as? String == "test-result",
                        "the result takes the focus (and is announced: aria-live)")
                #expect(try await h.driver.find("#test-result").attribute("aria-live") == "polite")
                #expect(try await Self.inView(h, "#test-result"), "the result shows where the person is looking (\(label))")
                #expect(try await Self.inView(h, "#save-account"))
                try await h.screenshot("account-form-test-result-\(label)")
            }
        }
    }

    @Test func savingTestsTheConnectionAndTheSaveStands() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            try await h.driver.setWindow(width: 1280, height: 900)
            try await h.go("/admin/accounts/new")
            // The first screen only, and the servers the custom service needs.
            try await h.fill("#acc-from", "orders@example.com")
            try await h.fill("#acc-name", "Orders")
            try await h.fill("#acc-key", "ORD")
            try await h.select("#in-protocol", value: "none")
            try await h.select("#out-protocol", value: "smtp")
            try await h.fill("#outgoing-host", "127.0.0.1")
            try await h.fill("#outgoing-port", String(BrowserHarness.freePort()))
            try await h.select("#outgoing-security", value: "none")
            try await h.fill("#quick-password", "one-password")
            try await h.fill("#quick-password-confirm", "another")
            try await h.click("#save-account")
            _ = try await h.driver.waitFor("#quick-password-confirm[aria-invalid='true']")
            #expect(try await h.driver.source().contains("Confirm password does not match the password above"))
            try await h.fill("#quick-password-confirm", "one-password")
            try await h.click("#save-account")
            try await h.driver.waitUntil("the new account's page", timeout: .seconds(40)) {
                let url = try await h.driver.currentURL()
                return url.contains("/admin/accounts/") && !url.hasSuffix("/new")
            }
            _ = try await h.driver.waitFor("#test-result .steps li", timeout: .seconds(60))
            let report = try await h.text("#test-result")
            #expect(report.hasPrefix("Account saved. Connection test failed. Outgoing,"), "\(report)")
            #expect(try await h.driver.execute("return document.activeElement && document.activeElement.id") as? String == "test-result")
            try await h.screenshot("account-form-saved-and-tested-desktop")
            try await h.driver.setWindow(width: 390, height: 844)
            try await h.screenshot("account-form-saved-and-tested-phone")

            // The save stands, with the first screen's password and the address as username.
            let accounts = try await h.waitForItems("/api/v1/accounts") { !$0.isEmpty }
            let outgoing = try #require(accounts.first?["outgoing"] as? [String: Any])
            let auth = try #require(outgoing["auth"] as? [String: Any])
            #expect(auth["method"] as? String == "password")
            #expect(auth["username"] as? String == "orders@example.com")
            #expect(auth["password"] as? String != "one-password", "the password is never shown back")
            // A reload does not test again (the test follows a save only).
            try await h.driver.execute("location.reload()")
            _ = try await h.driver.waitFor("#save-account")
            #expect(try await h.text("#test-result").isEmpty)
        }
    }

    @Test func seedNamesTheAccountsNameAndTheKeysLimit() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            let id = try await Self.createUnreachable(h, name: "Parcels & Returns")
            try await h.go("/admin/accounts/\(id)")
            #expect(try await h.driver.title().hasPrefix("Parcels & Returns"), "the page title is the account's name")
            #expect(try await h.text("h1") == "Parcels & Returns")

            #expect(try await h.text("label[for='policy-mailbox']") == "Mailbox error")
            #expect(try await h.text("label[for='policy-unidentified']") == "Unidentified error")
            let chosen = try await h.driver.execute(
                "return document.getElementById('policy-mailbox').selectedOptions[0].textContent") as? String
            #expect(chosen == "Progressive retry")
            let labels = try await h.driver.execute(
                "return Array.from(document.querySelectorAll('#retry select option, #retry label, #retry td')).map(e => e.textContent.trim())")
                as? [String] ?? []
            for identifier in ["defaultRetry", "progressiveRetry", "mailSystem", "networkRouting", "noSuchProvider"] {
                #expect(!labels.contains(identifier), "\(identifier) is shown by its seed name")
            }
            #expect(labels.contains("Default retry") && labels.contains("Mail system error"))
            try await h.driver.execute("document.getElementById('retry').scrollIntoView({block: 'start'})")
            try await h.screenshot("account-form-retry-names")

            // The key keeps what is typed and says why it does not fit.
            try await h.fill("#acc-key", "TOOLONG")
            #expect(try await h.driver.find("#acc-key").property("value") as? String == "TOOLONG", "nothing is cut silently")
            let live = try await h.text("#acc-key-limit-error")
            #expect(live.contains("Key is 7 characters long: at most 5 fit"), "\(live)")
            #expect(try await h.driver.find("#acc-key").attribute("aria-invalid") == "true")
            #expect(try await h.driver.find("#acc-key").attribute("aria-describedby")?.contains("acc-key-limit-error") == true)
            try await h.screenshot("account-form-key-limit")
            try await h.click("#save-account")
            try await h.driver.waitUntil("the save is refused at the key") {
                try await h.driver.source().contains("Key must be at most 5 characters")
            }
            #expect(try await h.api("GET", "/api/v1/accounts/\(id)").1["key"] as? String == "PCL")
            try await h.fill("#acc-key", "PCL2")
            #expect(try await h.driver.findAll("#acc-key-limit-error").isEmpty)
        }
    }

    /// Issue 24's template and signature: the font and size are chosen from lists, and an image
    /// that is none (an SVG, here with a script) is refused at the upload field in words.
    @Test func theFontIsChosenAndAnImageThatIsNoneIsRefusedAtTheField() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            let id = try await Self.createUnreachable(h)
            try await h.driver.setWindow(width: 1280, height: 900)
            try await h.go("/admin/accounts/\(id)")
            try await h.select("#acc-font-family", value: "georgia")
            try await h.fill("#acc-font-size", "15")

            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("images-\(UUID().uuidString.prefix(6))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let svg = directory.appendingPathComponent("logo.svg")
            try Data(#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.utf8).write(to: svg)
            let png = directory.appendingPathComponent("logo.png")
            try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: UInt8(7), count: 32)).write(to: png)

            try await h.fill("#image-name", "logo")
            try await h.revealed("#image-file").type(svg.path)
            let error = try await h.driver.waitFor("#image-file-error")
            #expect(try await error.text().contains("Upload an image: logo.svg is not a PNG, JPEG, GIF or WebP image"))
            #expect(try await h.driver.find("#image-file").attribute("aria-invalid") == "true")
            #expect(try await h.driver.find("#image-file").attribute("aria-describedby")?.contains("image-file-error") == true)
            #expect(try await h.driver.findAll("#account-images li").isEmpty, "nothing was added")
            for (width, height, label) in [(1280, 900, "desktop"), (390, 844, "phone")] {
                try await h.driver.setWindow(width: width, height: height)
                try await h.driver.execute("document.getElementById('image-file').scrollIntoView({block: 'center'})")
                try await h.screenshot("account-form-image-refused-\(label)")
            }
            try await h.driver.setWindow(width: 1280, height: 900)

            try await h.fill("#image-name", "logo")
            try await h.revealed("#image-file").type(png.path)
            _ = try await h.driver.waitFor("#account-images li[data-image='logo']")
            #expect(try await h.driver.findAll("#image-file-error").isEmpty, "the error goes with a good image")
            try await h.click("#save-account")
            try await h.driver.waitUntil("the font and the image are saved") {
                let (_, saved) = try await h.api("GET", "/api/v1/accounts/\(id)")
                let font = saved["font"] as? [String: Any]
                return font?["family"] as? String == "georgia" && font?["size"] as? Int == 15
                    && (saved["inlineImages"] as? [[String: Any]])?.first?["contentId"] as? String == "logo"
            }
            _ = try await h.driver.waitFor("#acc-font-family")
            #expect(try await h.driver.find("#acc-font-family").property("value") as? String == "georgia", "the form shows the saved font")
        }
    }

    @Test(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_OAUTH2_URL")))
    func signInWithTheProviderFromTheFirstScreen() async throws {
        try await BrowserHarness.run { h in
            let provider = try TestServers.require("MAILROOM_TEST_OAUTH2_URL")
            let imapPort = try TestServers.require("MAILROOM_TEST_OAUTH2_IMAP_PORT")
            let mailbox = "first-\(UUID().uuidString.prefix(8).lowercased())@example.com"
            try await OAuth2SignInBrowserTests.control("/control/config", ["email": mailbox, "rotateRefreshTokens": false,
                                                                           "omitRefreshToken": false, "tokenEndpointDown": false])
            try await OAuth2SignInBrowserTests.control("/control/redirect-uris", ["uri": h.base + "/oauth2/callback"])
            let created = try await h.api("POST", "/api/v1/oauth2/providers", json: """
                {"name": "Local", "kind": "generic", "clientId": "\(try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_ID"))",
                 "clientSecret": "\(try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_SECRET"))",
                 "authorizationURL": "\(provider)/authorize", "tokenURL": "\(provider)/token", "userInfoURL": "\(provider)/userinfo",
                 "scopes": ["openid", "email", "offline_access", "mail"]}
                """)
            let providerId = try #require(created.1["id"] as? String, "\(created)")
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/accounts/new")
            #expect(try await h.text("#sign-in-\(providerId)") == "Sign in with Local")
            try await h.fill("#acc-from", mailbox)
            try await h.fill("#acc-name", "Signed in")
            try await h.fill("#acc-key", "SGN")
            try await h.fill("#incoming-host", "127.0.0.1")
            try await h.fill("#incoming-port", imapPort)
            try await h.select("#incoming-security", value: "none")
            try await h.select("#out-protocol", value: "none")
            try await h.screenshot("account-form-sign-in-with")
            try await h.click("#sign-in-\(providerId)")
            try await h.driver.waitUntil("the provider's consent page", timeout: .seconds(40)) {
                try await h.driver.title().contains("consent")
            }
            let accounts = try await h.waitForItems("/api/v1/accounts") { !$0.isEmpty }
            let auth = (accounts.first?["incoming"] as? [String: Any])?["auth"] as? [String: Any] ?? [:]
            #expect(auth["method"] as? String == "oauth2")
            #expect((auth["oauth2"] as? [String: Any])?["providerId"] as? String == providerId)
            try await h.driver.find("#allow").click()
            try await h.waitForURL(containing: "/oauth2/callback")
            #expect(try await h.text("#oauth2-title") == "Account connected")
        }
    }
}
