import Foundation
import Hummingbird
import HummingbirdTesting
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Synchronization
import Testing
@testable import MailroomWeb

/// A browser's view of the pages: cookies kept between requests, forms posted url-encoded.
struct BrowserClient: Sendable {
    final class Jar: Sendable {
        let cookies = Mutex<[String: String]>([:])
        func withLock<T>(_ body: (inout [String: String]) -> T) -> T { cookies.withLock { body(&$0) } }
    }
    let client: any TestClientProtocol
    let cookies = Jar()

    struct Page {
        let status: Int
        let headers: HTTPFields
        let text: String
        var location: String? { headers[.location] }
    }

    func cookieHeader() -> String? {
        let all = cookies.withLock { $0 }
        guard !all.isEmpty else { return nil }
        return all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
    }

    func request(_ method: HTTPRequest.Method, _ path: String, headers extra: HTTPFields = [:], body: String? = nil) async throws -> Page {
        var headers = extra
        if let cookie = cookieHeader() { headers[.cookie] = cookie }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        for line in response.headers[values: .setCookie] {
            let pair = line.split(separator: ";", maxSplits: 1)[0].split(separator: "=", maxSplits: 1)
            let name = String(pair[0])
            let value = pair.count > 1 ? String(pair[1]) : ""
            cookies.withLock { jar in
                if value.isEmpty || line.lowercased().contains("max-age=0") { jar[name] = nil } else { jar[name] = value }
            }
        }
        return Page(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
    }

    func get(_ path: String) async throws -> Page { try await request(.get, path) }

    func postForm(_ path: String, _ fields: [String: String], origin: String? = nil) async throws -> Page {
        let body = fields.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        }.joined(separator: "&")
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let origin { headers[.origin] = origin }
        return try await request(.post, path, headers: headers, body: body)
    }

    /// The value of a hidden input or meta tag in the page.
    static func value(named name: String, in html: String) -> String? {
        for marker in ["name=\"\(name)\" value=\"", "name=\"\(name)\" content=\""] {
            if let range = html.range(of: marker) {
                return String(html[range.upperBound...].prefix { $0 != "\"" })
            }
        }
        return nil
    }

    /// Signs in through the form, as a person would.
    @discardableResult
    func signIn(_ email: String, _ password: String, next: String? = nil) async throws -> Page {
        let form = try await get("/login" + (next.map { "?next=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? ""))
        let token = try #require(Self.value(named: "_csrf", in: form.text))
        let nextValue = Self.value(named: "next", in: form.text) ?? "/desk"
        return try await postForm("/login", ["email": email, "password": password, "_csrf": token, "next": nextValue])
    }

    /// The CSRF token of the signed-in pages.
    func csrfToken() async throws -> String {
        let page = try await get("/desk")
        return try #require(Self.value(named: "csrf-token", in: page.text))
    }
}

func withSite(_ settings: WebSettings = WebSettings(), _ body: @escaping @Sendable (BrowserClient, APIClient, SQLStore) async throws -> Void) async throws {
    try await TestDatabase.sqlite.withStore { store in
        var dependencies = WebDependencies(store: store, adminToken: adminToken, metricsText: { "" })
        dependencies.web = settings
        let app = Application(router: APIRouter.build(dependencies))
        try await app.test(.router) { client in
            try await body(BrowserClient(client: client), APIClient(client: client), store)
        }
    }
}

func makeUser(_ api: APIClient, role: Role, email: String, password: String = "password-123") async throws {
    let created = try await api.call(.post, "/api/v1/users", json: .object([
        "name": .string("\(role.rawValue) user"), "email": .string(email), "role": .string(role.rawValue), "password": .string(password),
    ]))
    #expect(created.status == 201, "\(created.text)")
}

@Suite("Web sessions")
struct WebSessionTests {
    @Test func pagesNeedASessionAndComeBackAfterSignIn() async throws {
        try await withSite { browser, api, _ in
            let page = try await browser.get("/tickets?status=open")
            #expect(page.status == 303)
            #expect(page.location == "/login?next=%2Ftickets%3Fstatus%3Dopen")
            try await makeUser(api, role: .agent, email: "ann@example.com")
            let signedIn = try await browser.signIn("ann@example.com", "password-123", next: "/tickets?status=open")
            #expect(signedIn.status == 303)
            #expect(signedIn.location == "/tickets?status=open")
            let cookie = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix(WebSettings.sessionCookie + "=") })
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("Secure"))
            #expect(cookie.contains("SameSite=Strict"))
            let desk = try await browser.get("/desk")
            #expect(desk.status == 200)
            #expect(desk.text.contains("Sign out"))
            #expect(desk.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
        }
    }

    @Test func wrongPasswordsAreRefusedAndLimited() async throws {
        var settings = WebSettings()
        settings.signInLimits = .init(perAddress: 3, perClient: 50, window: 900)
        try await withSite(settings) { browser, api, _ in
            try await makeUser(api, role: .agent, email: "bob@example.com")
            for _ in 0..<3 {
                let refused = try await browser.signIn("bob@example.com", "wrong-password")
                #expect(refused.status == 401)
                #expect(refused.text.contains("The email or password is wrong"))
            }
            // Even the right password is refused while the address is locked.
            let locked = try await browser.signIn("bob@example.com", "password-123")
            #expect(locked.status == 429)
            #expect(locked.headers[.retryAfter] != nil)
            // An unknown address answers as a wrong password does.
            let unknown = try await browser.signIn("nobody@example.com", "password-123")
            #expect(unknown.status == 401)
        }
    }

    @Test func signInFormNeedsItsToken() async throws {
        try await withSite { browser, api, _ in
            try await makeUser(api, role: .agent, email: "cy@example.com")
            _ = try await browser.get("/login")
            let forged = try await browser.postForm("/login", ["email": "cy@example.com", "password": "password-123", "_csrf": "forged"])
            #expect(forged.status == 403)
            #expect(browser.cookies.withLock { $0[WebSettings.sessionCookie] } == nil)
        }
    }

    @Test func cookieRequestsToTheAPINeedTheCSRFToken() async throws {
        try await withSite { browser, api, _ in
            try await makeUser(api, role: .admin, email: "dee@example.com")
            try await browser.signIn("dee@example.com", "password-123")
            // Reading needs no token.
            let me = try await browser.get("/api/v1/users/me")
            #expect(me.status == 200)
            #expect(me.text.contains("dee@example.com"))
            let body = #"{"name": "Billing", "accountId": null}"#
            let json: HTTPFields = [.contentType: "application/json"]
            let missing = try await browser.request(.post, "/api/v1/dispositions", headers: json, body: body)
            #expect(missing.status == 403)
            #expect(missing.text.contains("\"code\":\"csrf\""))
            var wrong = json
            wrong[CSRFCheck.header] = "not-the-token"
            #expect(try await browser.request(.post, "/api/v1/dispositions", headers: wrong, body: body).status == 403)
            var right = json
            right[CSRFCheck.header] = try await browser.csrfToken()
            #expect(try await browser.request(.post, "/api/v1/dispositions", headers: right, body: body).status == 201)
            // From another site, even with the token.
            var crossSite = right
            crossSite[.origin] = "https://evil.example"
            #expect(try await browser.request(.post, "/api/v1/dispositions", headers: crossSite, body: body).status == 403)
            // Bearer tokens need no CSRF token: no browser sends them on its own.
            #expect(try await api.call(.post, "/api/v1/dispositions", body: #"{"name": "Sales"}"#).status == 201)
        }
    }

    @Test func signOutEndsTheSession() async throws {
        try await withSite { browser, api, _ in
            try await makeUser(api, role: .agent, email: "eve@example.com")
            try await browser.signIn("eve@example.com", "password-123")
            let oldCookie = try #require(browser.cookies.withLock { $0[WebSettings.sessionCookie] })
            let token = try await browser.csrfToken()
            // Without the form's token, sign-out is refused.
            #expect(try await browser.postForm("/logout", [:]).status == 403)
            let out = try await browser.postForm("/logout", ["_csrf": token])
            #expect(out.status == 303 && out.location == "/login")
            #expect(try await browser.get("/desk").status == 303)
            // The old cookie value is dead on the server, not only forgotten by the browser.
            browser.cookies.withLock { $0[WebSettings.sessionCookie] = oldCookie }
            #expect(try await browser.get("/desk").status == 303)
            #expect(try await browser.get("/api/v1/users/me").status == 401)
        }
    }

    @Test func rolesShapeTheNavigation() async throws {
        try await withSite { browser, api, _ in
            try await makeUser(api, role: .agent, email: "agent@example.com")
            try await browser.signIn("agent@example.com", "password-123")
            let desk = try await browser.get("/desk")
            #expect(desk.text.contains("href=\"/tickets\""))
            #expect(!desk.text.contains("href=\"/admin/accounts\""))
            #expect(try await browser.get("/admin/accounts").status == 403)
        }
    }

    @Test func staticFilesAreCachedByVersion() async throws {
        try await withSite { browser, _, _ in
            let login = try await browser.get("/login")
            let version = try #require(login.text.range(of: "app.css?v=").map { String(login.text[$0.upperBound...].prefix { $0 != "\"" }) })
            let css = try await browser.get("/static/app.css?v=\(version)")
            #expect(css.status == 200)
            #expect(css.headers[.cacheControl]?.contains("immutable") == true)
            let etag = try #require(css.headers[.eTag])
            let again = try await browser.request(.get, "/static/app.js", headers: [.ifNoneMatch: etag])
            #expect(again.status == 200)
            let script = try await browser.get("/static/app.js")
            #expect(script.headers[.contentType]?.hasPrefix("text/javascript") == true)
            let cached = try await browser.request(.get, "/static/app.js", headers: [.ifNoneMatch: try #require(script.headers[.eTag])])
            #expect(cached.status == 304)
        }
    }
}

/// A clock moved by hand.
final class ManualClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }
    func now() -> Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}

@Suite("Session timeouts and sign-in limits")
struct SessionTimeoutTests {
    @Test(arguments: TestDatabase.available)
    func idleAndAbsoluteTimeouts(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let user = try await store.users.create(User(name: "Fay", email: "fay@example.com", role: .agent), passwordHash: nil)
            let clock = ManualClock()
            let settings = WebSettings(idleTimeout: 600, absoluteTimeout: 3_600, touchInterval: 60)
            let sessions = SessionAuthenticator(sessions: SQLSessionRepository(database: store.database), settings: settings, clock: clock)
            let (value, session) = try await sessions.signIn(user)
            #expect(SessionAuthenticator.isPlausible(value))
            #expect(session.csrfToken != value)
            #expect(try await sessions.session(cookieValue: value)?.user.id == user.id)
            // Used every 9 minutes, the session lives until its absolute end.
            for _ in 0..<6 {
                clock.advance(540)
                #expect(try await sessions.session(cookieValue: value) != nil)
            }
            clock.advance(540) // 63 minutes after sign-in
            #expect(try await sessions.session(cookieValue: value) == nil)
            // Left alone for longer than the idle timeout, a new one ends.
            let (second, _) = try await sessions.signIn(user)
            clock.advance(601)
            #expect(try await sessions.session(cookieValue: second) == nil)
            // Ended sessions are swept at the next sign-in.
            _ = try await sessions.signIn(user)
            #expect(try await SQLSessionRepository(database: store.database).count(userId: user.id) == 1)
            // A deactivated user's sessions stop working at once.
            let (third, _) = try await sessions.signIn(user)
            var inactive = user
            inactive.active = false
            _ = try await store.users.update(inactive, passwordHash: nil)
            #expect(try await sessions.session(cookieValue: third) == nil)
            #expect(try await sessions.session(cookieValue: "not-a-session") == nil)
        }
    }

    @Test func throttleCountsPerAddressAndPerClient() {
        var throttle = SignInThrottle(limits: .init(perAddress: 3, perClient: 5, window: 100, maximumKeys: 50))
        let start = Date(timeIntervalSince1970: 0)
        for i in 0..<3 { throttle.recordFailure(address: "A@example.com", client: "10.0.0.1", now: start.addingTimeInterval(Double(i))) }
        #expect(throttle.retryAfter(address: "a@example.com", client: "10.0.0.9", now: start.addingTimeInterval(3)) == 97)
        #expect(throttle.retryAfter(address: "b@example.com", client: "10.0.0.1", now: start.addingTimeInterval(3)) == nil)
        for i in 0..<2 { throttle.recordFailure(address: "c\(i)@example.com", client: "10.0.0.1", now: start.addingTimeInterval(4)) }
        // Five failures from one client, across addresses: that client waits, others do not.
        #expect(throttle.retryAfter(address: "new@example.com", client: "10.0.0.1", now: start.addingTimeInterval(5)) != nil)
        #expect(throttle.retryAfter(address: "new@example.com", client: "10.0.0.2", now: start.addingTimeInterval(5)) == nil)
        // The window passes.
        #expect(throttle.retryAfter(address: "a@example.com", client: nil, now: start.addingTimeInterval(103)) == nil)
        throttle.recordSuccess(address: "c0@example.com")
        // Memory stays bounded however many addresses are tried.
        for i in 0..<500 { throttle.recordFailure(address: "spray\(i)@example.com", client: nil, now: start.addingTimeInterval(200)) }
        #expect(throttle.trackedKeys <= 50)
    }

    @Test func nextMustStayOnThisServer() {
        #expect(WebSite.safeNext("/tickets?x=1") == "/tickets?x=1")
        #expect(WebSite.safeNext("//evil.example/") == "/desk")
        #expect(WebSite.safeNext("/\\evil.example") == "/desk")
        #expect(WebSite.safeNext("https://evil.example/") == "/desk")
        #expect(WebSite.safeNext(nil) == "/desk")
    }

    @Test func originMatching() {
        #expect(CSRFCheck.authority(hostHeader: "127.0.0.1:8080") == "127.0.0.1:8080")
        #expect(CSRFCheck.authority(hostHeader: "example.com:443") == "example.com")
        #expect(CSRFCheck.authority(hostHeader: "[::1]:8080") == "::1:8080")
        #expect(CSRFCheck.authority(host: "Example.COM", port: nil) == "example.com")
    }
}
