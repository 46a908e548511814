import Foundation
import Hummingbird
import HummingbirdTesting
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing
@testable import MailroomWeb

/// Issue 27's administration side through the router, without a browser: the not-found page,
/// time zones, presence after sign-in, the rules list in words.
@Suite struct AdministrationPagesTests {
    @Test func anAddressWithoutAPageIsAnHTMLPageForABrowserAndJSONForTheAPI() async throws {
        try await withSite { browser, api, _ in
            let html: HTTPFields = [.accept: "text/html,application/xhtml+xml"]
            let anonymous = try await browser.request(.get, "/no-such-page", headers: html)
            #expect(anonymous.status == 404)
            #expect(anonymous.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(anonymous.headers[.contentSecurityPolicy] == PageHeaders.contentSecurityPolicy)
            #expect(anonymous.text.contains("Page not found") && anonymous.text.contains("/login"))
            let program = try await browser.request(.get, "/no-such-page")
            #expect(program.headers[.contentType]?.hasPrefix("application/json") == true)
            let apiPath = try await browser.request(.get, "/api/v1/no-such-thing", headers: html)
            #expect(apiPath.status == 401 || apiPath.headers[.contentType]?.hasPrefix("application/json") == true)

            try await makeUser(api, role: .admin, email: "ada@example.com")
            try await browser.signIn("ada@example.com", "password-123")
            let signedIn = try await browser.request(.get, "/admin/nothing-here", headers: html)
            #expect(signedIn.status == 404)
            #expect(signedIn.text.contains("href=\"/admin/rules\""), "the navigation is shown")
            #expect(signedIn.text.contains("Sign out"))
            let missingRule = try await browser.request(.get, "/admin/rules/no-such-rule", headers: html)
            #expect(missingRule.status == 404)
            #expect(missingRule.text.contains("href=\"/admin/rules\"") && missingRule.text.contains("was not found"))
        }
    }

    @Test func usersAndTheInstallationHaveTimeZones() async throws {
        try await withSite { browser, api, _ in
            #expect(try await api.call(.patch, "/api/v1/settings", body: #"{"timeZone": "Mars/Olympus"}"#).errorField == "timeZone")
            let settings = try await api.call(.patch, "/api/v1/settings", body: #"{"timeZone": "America/New_York"}"#)
            #expect(settings.string("timeZone") == "America/New_York", "\(settings.text)")
            let created = try await api.call(.post, "/api/v1/users", body: #"{"name": "Tomo", "email": "tomo@example.com", "role": "admin", "password": "password-123", "timeZone": "Asia/Tokyo"}"#)
            #expect(created.status == 201 && created.string("timeZone") == "Asia/Tokyo", "\(created.text)")
            let id = try #require(created.string("id"))
            let wrong = try await api.call(.patch, "/api/v1/users/\(id)", body: #"{"timeZone": "Nowhere/Special"}"#)
            #expect(wrong.status == 422 && wrong.errorField == "timeZone")
            #expect(try await api.call(.get, "/api/v1/users/\(id)").string("timeZone") == "Asia/Tokyo")
            let cleared = try await api.call(.patch, "/api/v1/users/\(id)", body: #"{"timeZone": ""}"#)
            #expect(cleared.status == 200 && cleared.string("timeZone") == nil, "\(cleared.text)")
            #expect(try await api.call(.patch, "/api/v1/users/\(id)", body: #"{"timeZone": "Asia/Tokyo"}"#).status == 200)

            // The profile page offers the zones, the user's chosen.
            try await browser.signIn("tomo@example.com", "password-123")
            let profile = try await browser.get("/profile")
            #expect(profile.text.contains("<option value=\"Asia/Tokyo\" selected>"))
            #expect(profile.text.contains("(America/New_York)"))
            let token = try await browser.csrfToken()
            let saved = try await browser.postForm("/profile", ["_csrf": token, "name": "Tomo", "timeZone": "Europe/Rome"])
            #expect(saved.status == 200, "\(saved.text.prefix(300))")
            #expect(try await api.call(.get, "/api/v1/users/\(id)").string("timeZone") == "Europe/Rome")
        }
    }

    @Test func timesOnThePagesAreInTheReadersZone() {
        let date = Date(timeIntervalSince1970: 1_800_000_000) // 2027-01-15 08:00 UTC
        #expect(PageTime.format(date, in: TimeZone(identifier: "UTC")!) == "2027-01-15 08:00 UTC")
        let tokyo = PageTime.format(date, in: TimeZone(identifier: "Asia/Tokyo")!)
        #expect(tokyo.hasPrefix("2027-01-15 17:00 "), "\(tokyo)")
        #expect(PageTime.$zone.withValue(TimeZone(identifier: "Asia/Tokyo")!) { WebSite.displayTime(date) } == tokyo)
        #expect(TimeZoneName.effective(user: nil, installation: "Europe/Rome").identifier == "Europe/Rome")
        #expect(TimeZoneName.effective(user: "Asia/Tokyo", installation: "Europe/Rome").identifier == "Asia/Tokyo")
        // Linux names UTC "GMT"; the pages say UTC either way.
        #expect(["UTC", "GMT"].contains(TimeZoneName.effective(user: "bogus", installation: nil).identifier))
    }

    @Test func theRulesListShowsANewRuleInWordsInItsAccountsList() async throws {
        try await withSite { browser, api, _ in
            let account = try await api.call(.post, "/api/v1/accounts", body: #"{"key": "ACME", "name": "Acme", "fromAddress": "desk@acme.example"}"#)
            #expect(account.status == 201, "\(account.text)")
            let accountId = try #require(account.string("id"))
            let queue = try await api.call(.post, "/api/v1/queues", body: #"{"name": "Parcels"}"#)
            let queueId = try #require(queue.string("id"))
            let rule = try await api.call(.post, "/api/v1/rules", body: """
                {"accountId": "\(accountId)", "name": "VIP", "conditions": [{"field": "from", "operator": "contains", "value": "@acme.com"}],
                 "actions": [{"type": "queue", "queueId": "\(queueId)"}, {"type": "tag", "tag": "vip"}]}
                """)
            #expect(rule.status == 201, "\(rule.text)")
            let ruleId = try #require(rule.string("id"))
            try await makeUser(api, role: .supervisor, email: "sue@example.com")
            try await browser.signIn("sue@example.com", "password-123")
            let after = try await browser.get("/admin/rules?created=\(ruleId)")
            #expect(after.status == 303)
            #expect(after.location == "/admin/rules?accountId=\(accountId)&created=\(ruleId)")
            let list = try await browser.get(try #require(after.location))
            #expect(list.text.contains("From contains @acme.com → queue Parcels, tag vip"), "\(list.text)")
            #expect(list.text.contains("Rule “VIP” was created."))
            let all = try await browser.get("/admin/rules?accountId=all")
            #expect(all.text.contains("ACME · Acme") && all.text.contains("From contains @acme.com"))
            let form = try await browser.get("/admin/rules/\(ruleId)")
            #expect(form.text.contains(">is not</option>") && form.text.contains(">does not contain</option>"))
            #expect(!form.text.contains(">isNot</option>"))
        }
    }

    @Test func presenceAfterSignInFollowsTheSetting() async throws {
        try await withSite { browser, api, store in
            try await makeUser(api, role: .agent, email: "agnes@example.com")
            let agent = try #require(try await store.users.find(email: "agnes@example.com"))
            func state() async throws -> PresenceState? { try await store.routing.presence(userIds: [agent.id])[agent.id]?.state }
            try await browser.signIn("agnes@example.com", "password-123")
            #expect(try await state() != .online, "as left by default")
            #expect(try await api.call(.patch, "/api/v1/settings", body: #"{"presenceAfterSignIn": "online"}"#).status == 200)
            #expect(try await api.call(.patch, "/api/v1/settings", body: #"{"presenceAfterSignIn": "sometimes"}"#).errorField == "presenceAfterSignIn")
            let again = BrowserClient(client: browser.client)
            try await again.signIn("agnes@example.com", "password-123")
            #expect(try await state() == .online)
        }
    }
}
