import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import MailroomApp
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWeb
import MailroomWorkers
import Synchronization
import Testing

/// Mailroom's own mail through the outbox and a real SMTP server (issue 26), and the
/// administrators' mail when an account's token changes state (issue 21).
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_SMTP_SINK_PORT"))) struct SystemMailTests {
    static let logger = Logger(label: "test.system-mail", factory: { _ in SwiftLogNoOpLogHandler() })

    func configure(_ store: SQLStore, portVariable: String) async throws -> Account {
        var account = Account(key: "SYS", name: "System", fromAddress: "desk@example.com", fromName: "Desk")
        account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(
            host: "127.0.0.1", port: Int(try TestServers.require(portVariable))!, security: .none, auth: ServerAuth(method: .none),
            connectionTimeoutSeconds: 10, authTimeoutSeconds: 10))
        let stored = try await store.accounts.create(account)
        _ = try await store.templates.create(MessageTemplate(key: "invite", kind: .invitation, subject: "Welcome {{ user.name }}",
                                                             text: "Open {{ invitation.link }}"))
        var settings = try await store.settings.globalSettings()
        settings.systemSender = SystemSenderSetting(accountId: stored.id)
        settings.invitationTemplateKey = "invite"
        settings.invitationLinkBaseAddress = "https://desk.example.com"
        try await store.settings.save(settings)
        return stored
    }

    @Test(arguments: TestDatabase.available)
    func aRefusedInvitationShowsFailedWithTheServersReplyAndCanBeSentAgain(database: TestDatabase) async throws {
        try await database.withStore { store in
            _ = try await configure(store, portVariable: "MAILROOM_TEST_SMTP_SINK_RCPT_5XX_PORT")
            let admin = try await store.users.create(User(name: "Ada", email: "ada@example.com", role: .admin), passwordHash: nil)
            let agent = try await store.users.create(User(name: "Bo", email: "bo@example.com", role: .agent), passwordHash: nil)
            let mail = PeopleMail(store: store, mailer: SystemMailer(store: store, wake: {}))
            let (_, item) = try await mail.invite(agent, by: Principal(userId: admin.id, name: admin.name, role: .admin))
            #expect(await OutboxSender(store: store, logger: Self.logger, owner: "test").sendDue() == 1)
            let failed = try #require(try await store.outbox.item(id: item.id))
            #expect(failed.state == .failed)
            let attempt = try #require(try await store.outbox.attempts(outboxId: item.id).first)
            #expect(attempt.replyCode.map { $0 >= 500 } == true, "\(attempt.text)")
            let latest = try #require(try await SQLPeopleStore(database: store.database).latestInvitations()[agent.id])
            #expect(latest.state == .failed)
            #expect(latest.lastError == attempt.text)

            // The users page shows it failed, with the server's words, and sends it again.
            let sessions = SessionAuthenticator(sessions: SQLSessionRepository(database: store.database), settings: WebSettings())
            let (cookie, session) = try await sessions.signIn(admin)
            let app = Application(router: APIRouter.build(WebDependencies(store: store, adminToken: "t0ken-for-the-test", metricsText: { "" })))
            try await app.test(.router) { client in
                let page = try await client.execute(uri: "/admin/users", method: .get, headers: [.cookie: "\(WebSettings.sessionCookie)=\(cookie)"])
                let html = String(buffer: page.body)
                #expect(page.status == .ok)
                #expect(html.contains("invitation-state alert\">failed"), "\(html.prefix(300))")
                #expect(html.contains(String(attempt.text.prefix(20)).replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")))
                let again = try await client.execute(uri: "/api/v1/users/\(agent.id)/invitation", method: .post,
                                                     headers: [.cookie: "\(WebSettings.sessionCookie)=\(cookie)", CSRFCheck.header: session.csrfToken])
                #expect(again.status == .created)
            }
            #expect(try await store.outbox.items(state: .queued).contains { $0.purpose == "invitation" && $0.recipients == ["bo@example.com"] })
        }
    }

    @Test func anAcceptedSystemMailIsSentAndCarriesNoTicket() async throws {
        try await TestDatabase.sqlite.withStore { store in
            _ = try await configure(store, portVariable: "MAILROOM_TEST_SMTP_SINK_PORT")
            let mailer = SystemMailer(store: store, wake: {})
            let item = try await mailer.send(to: .init(address: "ops@example.com"), subject: "Test", text: "Hello", purpose: "test")
            #expect(await OutboxSender(store: store, logger: Self.logger, owner: "test").sendDue() == 1)
            let sent = try #require(try await store.outbox.item(id: item.id))
            #expect(sent.state == .sent)
            #expect(sent.ticketId.isEmpty && sent.purpose == "test")
            #expect(try await store.outbox.attempts(outboxId: item.id).map(\.outcome) == [.sent])
            #expect(try await store.tickets.tickets(TicketFilter()).items.isEmpty, "no ticket was made or touched")
        }
    }

    /// A grant for the account, so the once-a-day mark has a row to live in.
    func signedIn(_ store: SQLStore, account: Account, tokenURL: String = "https://login.example.com/token",
                  clientId: String = "mailroom", clientSecret: String = "secret", refreshToken: String = "refresh-1") async throws -> OAuth2Provider {
        let provider = try await store.accounts.oauth2.create(OAuth2Provider(
            name: "Local", kind: .generic, clientId: clientId, clientSecret: Secret(clientSecret),
            authorizationURL: "https://login.example.com/authorize", tokenURL: tokenURL, scopes: ["mail"]))
        try await store.accounts.oauth2.saveSignIn(OAuth2AccountGrant(
            accountId: account.id, providerId: provider.id, refreshToken: Secret(refreshToken), accessToken: Secret("access-1"),
            expiresAt: Date().addingTimeInterval(60), grantedAt: Date(), scopes: ["mail"], signedInAddress: account.fromAddress))
        return provider
    }

    func admins(_ store: SQLStore) async throws {
        _ = try await store.users.create(User(name: "Ada", email: "ada@example.com", role: .admin), passwordHash: nil)
        _ = try await store.users.create(User(name: "Al", email: "al@example.com", role: .admin), passwordHash: nil)
        _ = try await store.users.create(User(name: "Bo", email: "bo@example.com", role: .agent), passwordHash: nil)
    }

    @Test func aTokenStateChangeMailsTheAdministratorsAtMostOnceADayPerAccount() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let account = try await configure(store, portVariable: "MAILROOM_TEST_SMTP_SINK_PORT")
            try await admins(store)
            _ = try await signedIn(store, account: account)
            let clock = Mutex(Date())
            var notices = SystemMailTokenNotices(live: LiveOAuth2TokenNotices(events: nil),
                                                 mail: PeopleMail(store: store, mailer: SystemMailer(store: store, wake: {})),
                                                 grants: store.accounts.oauth2, logger: Self.logger)
            notices.now = { clock.withLock { $0 } }
            func mails() async throws -> [OutboxItem] { try await store.outbox.items().filter { $0.purpose == "tokenNotice" } }
            let failed = OAuth2TokenStatus(state: .refreshFailed, message: "The provider could not be reached.")
            await notices.tokenStateChanged(accountId: account.id, from: .valid, to: failed)
            #expect(try await mails().count == 2, "one mail to each administrator, none to agents")
            #expect(Set(try await mails().flatMap(\.recipients)) == ["ada@example.com", "al@example.com"])
            // The same state again (another failed refresh) is no change: no mail.
            await notices.tokenStateChanged(accountId: account.id, from: .refreshFailed, to: failed)
            #expect(try await mails().count == 2)
            // Back to valid: nothing to do for a person.
            await notices.tokenStateChanged(accountId: account.id, from: .refreshFailed, to: OAuth2TokenStatus(state: .valid, message: "ok"))
            // Failing again an hour later, then revoked: the same day, so no more mail.
            clock.withLock { $0 = $0.addingTimeInterval(3_600) }
            await notices.tokenStateChanged(accountId: account.id, from: .valid, to: failed)
            await notices.tokenStateChanged(accountId: account.id, from: .refreshFailed, to: OAuth2TokenStatus(state: .revoked, message: "Sign in again."))
            #expect(try await mails().count == 2, "at most once a day per account")
            // The next day's change is mailed.
            clock.withLock { $0 = $0.addingTimeInterval(86_400) }
            await notices.tokenStateChanged(accountId: account.id, from: .valid, to: OAuth2TokenStatus(state: .revoked, message: "Sign in again."))
            #expect(try await mails().count == 4)
            let raw = try #require(try await store.outbox.rawMessages(sha256: [try await mails()[0].rawSha256]).values.first)
            let text = String(decoding: raw, as: UTF8.self)
            #expect(text.contains("Auto-Submitted: auto-generated"))
            #expect(text.contains("SYS"))
            #expect(await OutboxSender(store: store, logger: Self.logger, owner: "test").sendDue() == 4)
        }
    }

    /// The whole path with a real refresh: the local provider revokes the grant, the token service's
    /// refresh is refused (invalid_grant), the state becomes revoked, and the administrators get one
    /// mail through the system sender and SMTP, naming the account and carrying no token.
    @Test(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_OAUTH2_URL")))
    func aRefreshTheProviderRefusesIsMailedToTheAdministrators() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let base = try TestServers.require("MAILROOM_TEST_OAUTH2_URL")
            let account = try await configure(store, portVariable: "MAILROOM_TEST_SMTP_SINK_PORT")
            try await admins(store)
            let user = "revoked-\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let issued = try await OAuth2SignInServeTests.control("/control/issue", ["email": user])
            let refresh = try #require(issued["refresh_token"] as? String)
            _ = try await signedIn(store, account: account, tokenURL: base + "/token",
                                   clientId: try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_ID"),
                                   clientSecret: try TestServers.require("MAILROOM_TEST_OAUTH2_CLIENT_SECRET"), refreshToken: refresh)
            _ = try await OAuth2SignInServeTests.control("/control/revoke", ["email": user])
            let notices = SystemMailTokenNotices(live: LiveOAuth2TokenNotices(events: nil),
                                                 mail: PeopleMail(store: store, mailer: SystemMailer(store: store, wake: {})),
                                                 grants: store.accounts.oauth2, logger: Self.logger)
            let tokens = OAuth2AccountTokens(store: store.accounts.oauth2, observer: notices, pacer: OAuth2RefreshPacer(ratePerSecond: 100))
            await #expect(throws: (any Error).self) { try await tokens.accessToken(accountId: account.id, force: true) }
            #expect(try await store.accounts.oauth2.grant(accountId: account.id)?.failure?.state == .revoked)
            // A second try is refused before the provider is asked, and mails nothing more.
            await #expect(throws: (any Error).self) { try await tokens.accessToken(accountId: account.id) }
            let mails = try await store.outbox.items().filter { $0.purpose == "tokenNotice" }
            #expect(mails.count == 2)
            let raw = try #require(try await store.outbox.rawMessages(sha256: [mails[0].rawSha256]).values.first)
            let text = String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "=\r\n", with: "")
            #expect(text.contains("revoked") && text.contains("SYS"))
            #expect(!text.contains(refresh) && !text.contains("access-1"))
            #expect(await OutboxSender(store: store, logger: Self.logger, owner: "test").sendDue() == 2)
        }
    }
}
