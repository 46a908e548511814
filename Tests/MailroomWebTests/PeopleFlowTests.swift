import Foundation
import Hummingbird
import HummingbirdTesting
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing
@testable import MailroomWeb

/// First run, invitations, their links and password resets, through the API and the pages (issue 26).
/// No mail server runs here: the mails wait in the outbox, where the tests read their links.
@Suite struct PeopleFlowTests {
    static let setupCode = "abcd-efgh-jkmn"

    /// The API and a browser over one router, with a setup code, on a fresh database of `kind`.
    func withPeople(_ kind: TestDatabase, live: Bool = false, _ body: @escaping @Sendable (APIClient, BrowserClient, SQLStore) async throws -> Void) async throws {
        try await kind.withStore { store in
            var dependencies = WebDependencies(store: store, adminToken: adminToken, metricsText: { "" })
            dependencies.setupCode = Self.setupCode
            dependencies.web.secureCookies = false
            let app = Application(router: APIRouter.build(dependencies))
            try await app.test(live ? .live : .router) { client in
                try await body(APIClient(client: client), BrowserClient(client: client), store)
            }
        }
    }

    /// A sending account, the system sender, an invitation template and the base address.
    @discardableResult
    static func configureInvitations(_ api: APIClient, _ store: SQLStore, text: String = "Hello {{ user.name }}, open {{ invitation.link }} before {{ invitation.expiresAt }}. {{ sender.name }}") async throws -> Account {
        var account = Account(key: "SYS", name: "System", fromAddress: "desk@example.com", fromName: "Mailroom Desk")
        account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(host: "127.0.0.1", port: 1, security: .none,
                                                                                        auth: ServerAuth(method: .none)))
        let stored = try await store.accounts.create(account)
        let template = try await api.call(.post, "/api/v1/templates", json: .object([
            "key": .string("invite"), "kind": .string("invitation"), "subject": .string("Welcome, {{ user.name }}"), "text": .string(text),
        ]))
        #expect(template.status == 201, "\(template.text)")
        let settings = try await api.call(.patch, "/api/v1/settings", json: .object([
            "invitationTemplateKey": .string("invite"), "invitationLinkBaseAddress": .string("https://desk.example.com"),
            "systemSender": .object(["accountId": .string(stored.id)]), "publicBaseURL": .string("https://desk.example.com"),
        ]))
        #expect(settings.status == 200, "\(settings.text)")
        return stored
    }

    /// The token in the newest system mail of `purpose` to `address`, read from the outbox's stored copy.
    static func mailedToken(_ store: SQLStore, to address: String, purpose: String, path: String) async throws -> (OutboxItem, String) {
        // A reset mail is made just after the page answers: wait for it a little.
        var found: OutboxItem? = nil
        for _ in 0..<100 {
            found = try await store.outbox.items().first { $0.purpose == purpose && $0.recipients == [address] }
            if found != nil { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let item = try #require(found)
        let raw = try #require(try await store.outbox.rawMessages(sha256: [item.rawSha256])[item.rawSha256])
        let text = String(decoding: raw, as: UTF8.self)
        #expect(text.contains("Auto-Submitted: auto-generated"))
        let marker = try #require(text.range(of: path))
        let token = String(text[marker.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" })
        return (item, token)
    }

    func createUser(_ api: APIClient, email: String, invite: Bool?) async throws -> APIResponse {
        var body: [String: JSONValue] = ["name": .string("Agent \(email.prefix(3))"), "email": .string(email), "role": .string("agent")]
        if let invite { body["invite"] = .bool(invite) }
        return try await api.call(.post, "/api/v1/users", json: .object(body))
    }

    // MARK: First run

    @Test(arguments: TestDatabase.available)
    func theSetupPageCreatesTheOnlyAdministratorAndThenIsGone(kind: TestDatabase) async throws {
        try await withPeople(kind) { _, browser, _ in
            #expect(try await browser.get("/").location == "/setup", "a fresh installation sends the browser to the setup page")
            #expect(try await browser.get("/login").text.contains("Set up Mailroom"))
            let form = try await browser.get("/setup")
            #expect(form.status == 200)
            let token = try #require(BrowserClient.value(named: "_csrf", in: form.text))
            let fields = ["_csrf": token, "name": "Ada Admin", "email": "ada@example.com", "password": "correct horse", "password2": "correct horse"]
            // Each page the server answers carries a fresh form token, as a browser would send next.
            var wrong = fields
            wrong["code"] = "wrong-code-0000"
            let wrongPage = try await browser.postForm("/setup", wrong)
            #expect(wrongPage.status == 401)
            var differ = fields
            differ["_csrf"] = BrowserClient.value(named: "_csrf", in: wrongPage.text)
            differ["code"] = Self.setupCode
            differ["password2"] = "another one"
            let differPage = try await browser.postForm("/setup", differ)
            #expect(differPage.status == 422)
            var short = fields
            short["_csrf"] = BrowserClient.value(named: "_csrf", in: differPage.text)
            short["code"] = Self.setupCode
            short["password"] = "short"
            short["password2"] = "short"
            let shortPage = try await browser.postForm("/setup", short)
            #expect(shortPage.status == 422)
            #expect(shortPage.text.contains("at least 8 characters"))
            var good = fields
            good["_csrf"] = BrowserClient.value(named: "_csrf", in: shortPage.text)
            good["code"] = Self.setupCode
            let done = try await browser.postForm("/setup", good)
            #expect(done.status == 303)
            #expect(done.location == "/admin/accounts")
            #expect(try await browser.get("/admin/accounts").status == 200, "the new administrator is signed in")
            #expect(try await browser.get("/setup").location == "/login", "the page is gone once an administrator exists")
            #expect(try await browser.postForm("/setup", good).status == 403)
        }
    }

    @Test(arguments: TestDatabase.available)
    func twoSetupsAtOnceMakeOneAdministrator(kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let people = SQLPeopleStore(database: store.database)
            let hash = try PasswordHasher.hash(Secret("password-123"))
            let made = try await withThrowingTaskGroup(of: User?.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        try await people.createFirstAdministrator(User(name: "Admin \(index)", email: "admin\(index)@example.com", role: .admin),
                                                                  passwordHash: hash)
                    }
                }
                var made: [User] = []
                for try await user in group { if let user { made.append(user) } }
                return made
            }
            #expect(made.count == 1)
            #expect(try await store.users.list().filter { $0.role == .admin }.count == 1)
        }
    }

    // MARK: Invitations

    @Test(arguments: TestDatabase.available)
    func anInvitationLinkSetsThePasswordOnceAndSignsIn(kind: TestDatabase) async throws {
        try await withPeople(kind) { api, browser, store in
            try await Self.configureInvitations(api, store)
            let created = try await createUser(api, email: "bob@example.com", invite: true)
            #expect(created.status == 201, "\(created.text)")
            let userId = try #require(created.string("id"))
            let (item, token) = try await Self.mailedToken(store, to: "bob@example.com", purpose: "invitation", path: "/invitation/")
            #expect(item.ticketId.isEmpty, "system mail belongs to no ticket")
            #expect(token.hasPrefix("mr_") && token.count > 30)
            #expect(try await store.tickets.tickets(TicketFilter()).items.isEmpty)

            let page = try await browser.get("/invitation/\(token)")
            #expect(page.status == 200)
            #expect(page.text.contains("bob@example.com"))
            var csrf = try #require(BrowserClient.value(named: "_csrf", in: page.text))
            let differ = try await browser.postForm("/invitation/\(token)", ["_csrf": csrf, "password": "new password 1", "password2": "other"])
            #expect(differ.status == 422)
            #expect(differ.text.contains("differ"))
            csrf = try #require(BrowserClient.value(named: "_csrf", in: differ.text))
            let short = try await browser.postForm("/invitation/\(token)", ["_csrf": csrf, "password": "short", "password2": "short"])
            #expect(short.status == 422)
            csrf = try #require(BrowserClient.value(named: "_csrf", in: short.text))
            let forged = try await browser.postForm("/invitation/\(token)", ["_csrf": "forged", "password": "new password 1", "password2": "new password 1"])
            #expect(forged.status == 403)
            csrf = try #require(BrowserClient.value(named: "_csrf", in: forged.text))
            let done = try await browser.postForm("/invitation/\(token)", ["_csrf": csrf, "password": "new password 1", "password2": "new password 1"])
            #expect(done.status == 303)
            #expect(done.location == "/desk")
            #expect(try await browser.get("/desk").status == 200, "signed in as the invited user")

            let reused = try await BrowserClient(client: browser.client).get("/invitation/\(token)")
            #expect(reused.status == 410)
            #expect(reused.text.contains("already used"))
            let signIn = try await api.call(.post, "/api/v1/auth/tokens", token: nil, json: .object([
                "email": .string("bob@example.com"), "password": .string("new password 1")]))
            #expect(signIn.status == 201, "the password works for the API too")

            let audit = try await api.call(.get, "/api/v1/audit")
            #expect(audit.text.contains("user.invited") && audit.text.contains("user.invitationAccepted"))
            #expect(!audit.text.contains(token), "the audit trail holds no token")
            _ = userId
        }
    }

    @Test(arguments: TestDatabase.available)
    func tamperedExpiredReplacedAndMisusedLinksAreRefused(kind: TestDatabase) async throws {
        try await withPeople(kind) { api, browser, store in
            try await Self.configureInvitations(api, store)
            let created = try await createUser(api, email: "cy@example.com", invite: true)
            let userId = try #require(created.string("id"))
            let (_, first) = try await Self.mailedToken(store, to: "cy@example.com", purpose: "invitation", path: "/invitation/")

            var tampered = Array(first)
            tampered[tampered.count - 2] = tampered[tampered.count - 2] == "a" ? "b" : "a"
            let tamperedPage = try await browser.get("/invitation/\(String(tampered))")
            #expect(tamperedPage.status == 404)
            #expect(tamperedPage.text.contains("not valid"))
            #expect(try await browser.get("/invitation/x").status == 404)

            // A new invitation revokes the old link.
            #expect(try await api.call(.post, "/api/v1/users/\(userId)/invitation").status == 201)
            let replaced = try await browser.get("/invitation/\(first)")
            #expect(replaced.status == 410)
            #expect(replaced.text.contains("replaced"))

            // An expired link.
            let people = SQLPeopleStore(database: store.database)
            let expired = "mr_expired_token_for_the_test_0123456789"
            _ = try await people.createLink(userId: userId, purpose: .invitation, tokenHash: TokenHasher.hash(expired), lifetime: -1, createdBy: nil)
            let expiredPage = try await browser.get("/invitation/\(expired)")
            #expect(expiredPage.status == 410)
            #expect(expiredPage.text.contains("expired"))
            #expect(expiredPage.text.contains("administrator"))

            // A reset link is no invitation, and the other way round.
            let reset = "mr_reset_token_for_the_test_0123456789abc"
            _ = try await people.createLink(userId: userId, purpose: .passwordReset, tokenHash: TokenHasher.hash(reset), lifetime: 3_600, createdBy: nil)
            #expect(try await browser.get("/invitation/\(reset)").status == 404)
            #expect(try await browser.get("/password/reset/\(reset)").status == 200)

            // Another user's link shows that user, and signs in only as them.
            let other = try await createUser(api, email: "dee@example.com", invite: true)
            let (_, deeToken) = try await Self.mailedToken(store, to: "dee@example.com", purpose: "invitation", path: "/invitation/")
            let deePage = try await browser.get("/invitation/\(deeToken)")
            #expect(deePage.text.contains("dee@example.com") && !deePage.text.contains("cy@example.com"))
            _ = other
        }
    }

    @Test(arguments: TestDatabase.available)
    func missingSettingsAndBadTemplatesAreNamed(kind: TestDatabase) async throws {
        try await withPeople(kind) { api, _, store in
            let noTemplate = try await createUser(api, email: "eve@example.com", invite: true)
            #expect(noTemplate.status == 409)
            #expect(noTemplate.errorField == "invitationTemplateKey", "\(noTemplate.text)")
            #expect(try await store.users.find(email: "eve@example.com") == nil, "no user is made when the invitation cannot go")

            let unknown = try await api.call(.post, "/api/v1/templates", json: .object([
                "key": .string("bad"), "kind": .string("invitation"), "text": .string("Hi {{ user.nmae }}")]))
            #expect(unknown.status == 422)
            #expect(unknown.text.contains("user.nmae"))
            let unclosed = try await api.call(.post, "/api/v1/templates", json: .object([
                "key": .string("bad2"), "kind": .string("invitation"), "text": .string("Hi {{ user.name ")]))
            #expect(unclosed.status == 422)
            #expect(unclosed.text.contains("unclosed"))
            let section = try await api.call(.post, "/api/v1/templates", json: .object([
                "key": .string("bad3"), "kind": .string("reply"), "text": .string("{{#ticket}}open")]))
            #expect(section.status == 422)

            _ = try await api.call(.post, "/api/v1/templates", json: .object([
                "key": .string("invite"), "kind": .string("invitation"), "text": .string("{{ invitation.link }}")]))
            _ = try await api.call(.patch, "/api/v1/settings", json: .object(["invitationTemplateKey": .string("invite")]))
            let noBase = try await createUser(api, email: "eve@example.com", invite: true)
            #expect(noBase.errorField == "invitationLinkBaseAddress", "\(noBase.text)")
            _ = try await api.call(.patch, "/api/v1/settings", json: .object(["invitationLinkBaseAddress": .string("https://desk.example.com")]))
            let noSender = try await createUser(api, email: "eve@example.com", invite: true)
            #expect(noSender.errorField == "systemSender", "\(noSender.text)")
            let testMail = try await api.call(.post, "/api/v1/settings/system-sender/test", json: .object(["to": .string("x@example.com")]))
            #expect(testMail.errorField == "systemSender")

            let plain = try await createUser(api, email: "eve@example.com", invite: nil)
            #expect(plain.status == 201, "without invite nothing is sent and nothing is needed")
            let selected = try await api.call(.post, "/api/v1/users/invitations", json: .object(["userIds": .array([.string(plain.string("id") ?? "")])]))
            #expect(selected.errorField == "systemSender")
        }
    }

    @Test(arguments: TestDatabase.available)
    func previewSelectionAndTestMail(kind: TestDatabase) async throws {
        try await withPeople(kind) { api, _, store in
            try await Self.configureInvitations(api, store)
            let one = try #require(try await createUser(api, email: "fay@example.com", invite: false).string("id"))
            let two = try #require(try await createUser(api, email: "gus@example.com", invite: false).string("id"))
            let preview = try await api.call(.get, "/api/v1/users/\(one)/invitation/preview")
            #expect(preview.status == 200)
            #expect(preview.string("subject") == "Welcome, Agent fay")
            #expect(preview.string("text")?.contains("https://desk.example.com/invitation/") == true)
            let selected = try await api.call(.post, "/api/v1/users/invitations",
                                              json: .object(["userIds": .array([.string(one), .string(two), .string("nobody")])]))
            #expect(selected.status == 200, "\(selected.text)")
            guard case .array(let results)? = selected.json?["items"] else { Issue.record("no items: \(selected.text)"); return }
            #expect(results.map { $0["ok"] } == [.bool(true), .bool(true), .bool(false)])
            #expect(try await store.outbox.items().filter { $0.purpose == "invitation" }.count == 2)
            #expect(try await store.outbox.items().allSatisfy { $0.ticketId.isEmpty }, "system mail is on no ticket")
            // The link's lifetime is a setting (72 hours unless changed).
            let standard = try await api.call(.post, "/api/v1/users/\(one)/invitation")
            let standardExpiry = try #require(standard.string("expiresAt").flatMap(ISO8601.parse))
            #expect(abs(standardExpiry.timeIntervalSinceNow - 72 * 3_600) < 120)
            _ = try await api.call(.patch, "/api/v1/settings", json: .object(["invitationLinkHours": .number(2)]))
            let short = try await api.call(.post, "/api/v1/users/\(one)/invitation")
            let shortExpiry = try #require(short.string("expiresAt").flatMap(ISO8601.parse))
            #expect(abs(shortExpiry.timeIntervalSinceNow - 2 * 3_600) < 120)
            #expect(try await api.call(.patch, "/api/v1/settings", json: .object(["invitationLinkHours": .number(0)])).errorField == "invitationLinkHours")
            let test = try await api.call(.post, "/api/v1/settings/system-sender/test", json: .object(["to": .string("ops@example.com")]))
            #expect(test.status == 201, "\(test.text)")
            #expect(test.string("purpose") == "test")
            let agent = try await api.token(for: .agent)
            #expect(try await api.call(.get, "/api/v1/audit", token: agent).status == 403)
            #expect(try await api.call(.post, "/api/v1/users/\(one)/invitation", token: agent).status == 403)
        }
    }

    @Test(arguments: TestDatabase.available)
    func theAuditTrailNamesRoleChangesAndDeactivations(kind: TestDatabase) async throws {
        try await withPeople(kind) { api, browser, store in
            let account = try await Self.configureInvitations(api, store)
            let changed = try await api.call(.patch, "/api/v1/accounts/\(account.id)", json: .object([
                "outgoing": .object(["auth": .object(["method": .string("password"), "username": .string("desk"), "password": .string("s3cret-pw-42")])])]))
            #expect(changed.status == 200, "\(changed.text)")
            let id = try #require(try await createUser(api, email: "hal@example.com", invite: nil).string("id"))
            _ = try await api.call(.patch, "/api/v1/users/\(id)", json: .object(["role": .string("supervisor")]))
            _ = try await api.call(.patch, "/api/v1/users/\(id)", json: .object(["active": .bool(false)]))
            _ = try await api.call(.patch, "/api/v1/users/\(id)", json: .object(["password": .string("secret-password-9")]))
            let audit = try await api.call(.get, "/api/v1/audit")
            guard case .array(let items)? = audit.json?["items"] else { Issue.record("no items: \(audit.text)"); return }
            let actions = items.compactMap { item -> String? in if case .string(let action)? = item["action"] { return action } else { return nil } }
            #expect(actions.contains("user.roleChanged") && actions.contains("user.deactivated") && actions.contains("user.passwordSet"))
            #expect(actions.contains("account.credentialsChanged"))
            #expect(!audit.text.contains("secret-password-9") && !audit.text.contains("s3cret-pw-42"))
            _ = try await api.call(.post, "/api/v1/users", json: .object([
                "name": .string("Ida"), "email": .string("ida@example.com"), "role": .string("admin"), "password": .string("admin password 1")]))
            _ = try await browser.signIn("ida@example.com", "admin password 1")
            let page = try await browser.get("/admin/audit")
            #expect(page.status == 200)
            #expect(page.text.contains("user.roleChanged") && page.text.contains("account.credentialsChanged"))
            #expect(!page.text.contains("s3cret-pw-42"))
        }
    }

    // MARK: Password reset

    @Test(arguments: TestDatabase.available)
    func aResetLinkChangesThePasswordEndsOtherSessionsAndSendsANotice(kind: TestDatabase) async throws {
        try await withPeople(kind) { api, browser, store in
            try await Self.configureInvitations(api, store)
            _ = try await api.call(.post, "/api/v1/users", json: .object([
                "name": .string("Ivy"), "email": .string("ivy@example.com"), "role": .string("agent"), "password": .string("old password 1")]))
            let elsewhere = BrowserClient(client: browser.client)
            #expect(try await elsewhere.signIn("ivy@example.com", "old password 1").status == 303)
            #expect(try await elsewhere.get("/desk").status == 200)

            let known = try await forgot(browser, "ivy@example.com")
            let unknown = try await forgot(BrowserClient(client: browser.client), "nobody@example.com")
            #expect(known.status == unknown.status)
            #expect(Self.withoutTokens(known.text) == Self.withoutTokens(unknown.text), "the same answer whether or not the address exists")
            let (_, token) = try await Self.mailedToken(store, to: "ivy@example.com", purpose: "passwordReset", path: "/password/reset/")
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await store.outbox.items().filter { $0.purpose == "passwordReset" }.count == 1, "nothing is sent to an unknown address")
            let page = try await browser.get("/password/reset/\(token)")
            #expect(page.status == 200)
            let csrf = try #require(BrowserClient.value(named: "_csrf", in: page.text))
            let done = try await browser.postForm("/password/reset/\(token)", ["_csrf": csrf, "password": "new password 2", "password2": "new password 2"])
            #expect(done.status == 303)
            #expect(try await elsewhere.get("/desk").status == 303, "the other session ended")
            #expect(try await browser.get("/desk").status == 200)
            #expect(try await store.outbox.items().contains { $0.purpose == "passwordChanged" && $0.recipients == ["ivy@example.com"] })
            #expect(try await BrowserClient(client: browser.client).get("/password/reset/\(token)").status == 410, "single use")
            #expect(try await BrowserClient(client: browser.client).signIn("ivy@example.com", "new password 2").status == 303)
        }
    }

    @Test func aFloodOfResetRequestsIsLimitedPerAddressAndPerClient() async throws {
        // Live: the per-client limit needs the client's address, which only a real connection has.
        try await withPeople(.sqlite, live: true) { api, browser, store in
            try await Self.configureInvitations(api, store)
            _ = try await api.call(.post, "/api/v1/users", json: .object([
                "name": .string("Jo"), "email": .string("jo@example.com"), "role": .string("agent"), "password": .string("old password 1")]))
            var statuses: [Int] = []
            for _ in 0..<5 { statuses.append(try await forgot(browser, "jo@example.com").status) }
            #expect(statuses == [200, 200, 200, 429, 429])
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await store.outbox.items().filter { $0.purpose == "passwordReset" }.count == 3)
            var others: [Int] = []
            for index in 0..<25 { others.append(try await forgot(browser, "someone\(index)@example.com").status) }
            #expect(others.contains(429), "one client cannot ask for many addresses either")
        }
    }

    func forgot(_ browser: BrowserClient, _ email: String) async throws -> BrowserClient.Page {
        let form = try await browser.get("/password/forgot")
        let csrf = try #require(BrowserClient.value(named: "_csrf", in: form.text))
        return try await browser.postForm("/password/forgot", ["_csrf": csrf, "email": email])
    }

    static func withoutTokens(_ html: String) -> String {
        guard let range = html.range(of: "name=\"_csrf\" value=\"") else { return html }
        let end = html[range.upperBound...].firstIndex(of: "\"") ?? html.endIndex
        return String(html[..<range.upperBound]) + String(html[end...])
    }

    // MARK: Profile

    @Test func theProfilePageChangesNameAndPasswordWithTheCurrentOne() async throws {
        try await withPeople(.sqlite) { api, browser, _ in
            _ = try await api.call(.post, "/api/v1/users", json: .object([
                "name": .string("Kim"), "email": .string("kim@example.com"), "role": .string("agent"), "password": .string("old password 1")]))
            _ = try await browser.signIn("kim@example.com", "old password 1")
            let page = try await browser.get("/profile")
            #expect(page.status == 200)
            let csrf = try #require(BrowserClient.value(named: "_csrf", in: page.text))
            let wrong = try await browser.postForm("/profile", ["_csrf": csrf, "name": "Kim K", "currentPassword": "nope", "newPassword": "new password 3",
                                                                "newPassword2": "new password 3"])
            #expect(wrong.status == 422)
            let saved = try await browser.postForm("/profile", ["_csrf": csrf, "name": "Kim K", "currentPassword": "old password 1",
                                                                "newPassword": "new password 3", "newPassword2": "new password 3"])
            #expect(saved.status == 200)
            #expect(saved.text.contains("Kim K"))
            #expect(try await BrowserClient(client: browser.client).signIn("kim@example.com", "new password 3").status == 303)
            #expect(try await browser.postForm("/profile", ["_csrf": "forged", "name": "X"]).status == 403)
        }
    }
}
