import Foundation
import Hummingbird
import Logging
import MailMessage
import MailroomCore

/// The server-rendered web application: pages read from the store and render templates; every
/// change goes from the page to the JSON API through `app.js` with the session's CSRF token.
public enum WebPages {
    /// Adds the pages, sign-in/out and static files to `router` (one call from `APIRouter`).
    public static func addRoutes(to router: Router<MailroomRequestContext>, dependencies: WebDependencies,
                                 sessions: SessionAuthenticator, limiter: SignInLimiter? = nil) {
        let assets: WebAssets
        do {
            assets = try WebAssets.load()
        } catch {
            let message = "\(error)"
            router.get("login") { _, _ in PageHeaders.html("<p>The web application cannot start: \(HTMLEscape.escape(message))</p>",
                                                             status: .internalServerError) }
            return
        }
        let site = WebSite(dependencies: dependencies, assets: assets, sessions: sessions,
                           limiter: limiter ?? SignInLimiter(limits: dependencies.web.signInLimits))
        site.addRoutes(to: router)
    }
}

/// Raised by page handlers; `PageErrorMiddleware` turns it into a redirect or an HTML error page.
enum PageError: Error {
    /// No session: sign in, then come back to `next`.
    case signIn(next: String)
    case forbidden(String)
    case notFound(String)
}

struct WebSite: Sendable {
    let dependencies: WebDependencies
    let assets: WebAssets
    let sessions: SessionAuthenticator
    let limiter: SignInLimiter
    var store: Repositories { dependencies.store }

    func addRoutes(to router: Router<MailroomRequestContext>) {
        router.get("static/app.css") { request, _ in self.asset(self.assets.stylesheet, request: request) }
        router.get("static/app.js") { request, _ in self.asset(self.assets.script, request: request) }
        let pages = router.group()
            .add(middleware: PageErrorMiddleware(assets: assets, sessions: sessions))
            .add(middleware: PageSessionMiddleware(sessions: sessions, settings: store.settings))
        addSignInRoutes(to: pages)
        addDeskRoutes(to: pages)
        addTicketRoutes(to: pages)
        addAdminRoutes(to: pages)
        addCampaignRoutes(to: pages)
        addReportRoutes(to: pages)
        addOAuth2Routes(to: pages)
        addPeopleRoutes(to: pages)
    }

    /// The stylesheet and script: cached for a year, as their URLs carry the version.
    func asset(_ asset: WebAssets.StaticAsset, request: Request) -> Response {
        var headers: HTTPFields = [.contentType: asset.contentType, .eTag: asset.etag]
        headers[.xContentTypeOptions] = "nosniff"
        let versioned = request.uri.queryParameters["v"].map { String($0) == assets.version } ?? false
        headers[.cacheControl] = versioned ? "public, max-age=31536000, immutable" : "no-cache"
        if request.headers[.ifNoneMatch] == asset.etag {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }

    // MARK: Page context

    struct NavItem {
        let href: String
        let label: String
        let section: String
        let role: Role
    }

    static let navigation: [NavItem] = [
        NavItem(href: "/desk", label: "Desk", section: "desk", role: .agent),
        NavItem(href: "/tickets", label: "Tickets", section: "tickets", role: .agent),
        NavItem(href: "/admin/queues", label: "Queues", section: "queues", role: .supervisor),
        NavItem(href: "/admin/campaigns", label: "Campaigns", section: "campaigns", role: .admin),
        NavItem(href: "/admin/rules", label: "Rules", section: "rules", role: .supervisor),
        NavItem(href: "/admin/catalog", label: "Dispositions & answers", section: "catalog", role: .supervisor),
        NavItem(href: "/admin/templates", label: "Templates", section: "templates", role: .supervisor),
        NavItem(href: "/admin/reports", label: "Reports", section: "reports", role: .supervisor),
        NavItem(href: "/admin/outbox", label: "Outbox", section: "outbox", role: .supervisor),
        NavItem(href: "/admin/quarantine", label: "Quarantine", section: "quarantine", role: .supervisor),
        NavItem(href: "/admin/status", label: "Status", section: "status", role: .supervisor),
        NavItem(href: "/admin/accounts", label: "Accounts", section: "accounts", role: .admin),
        NavItem(href: "/admin/users", label: "Users", section: "users", role: .supervisor),
        NavItem(href: "/admin/settings", label: "Settings", section: "settings", role: .admin),
        NavItem(href: "/admin/audit", label: "Audit", section: "audit", role: .admin),
    ]

    /// A signed-in page: its content inside the layout (navigation for the session's role).
    func page<Content: PageContent>(_ session: SessionInfo, title: String, section: String, live: Bool = false,
                                    _ content: Content) -> Page<Content> {
        Self.page(session, assetVersion: assets.version, title: title, section: section, live: live, content)
    }

    /// The same, for middleware that has no `WebSite` (the error and not-found pages).
    static func page<Content: PageContent>(_ session: SessionInfo, assetVersion: String, title: String, section: String,
                                           live: Bool = false, _ content: Content) -> Page<Content> {
        let role = session.user.role
        let nav = Self.navigation.filter { role >= $0.role }.map {
            LayoutView.NavLink(href: $0.href, label: $0.label, current: $0.section == section)
        }
        let me = LayoutView.Me(id: session.user.id, name: session.user.name, email: session.user.email, role: role.rawValue)
        return Page(content: content, layout: LayoutView(
            title: title, csrf: session.csrfToken, assetVersion: assetVersion, nav: nav, me: me,
            isSupervisor: role >= .supervisor, isAdmin: role >= .admin, section: section, live: live))
    }

    func render(_ view: some RenderedView, status: HTTPResponse.Status = .ok) throws -> Response {
        PageHeaders.html(try assets.render(view), status: status)
    }

    /// The signed-in session, or a redirect to the sign-in page that comes back here.
    func session(_ request: Request, _ context: MailroomRequestContext) throws -> SessionInfo {
        guard let session = context.session else {
            throw PageError.signIn(next: request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""))
        }
        return session
    }

    /// The session, if its role is at least `role`.
    func session(_ request: Request, _ context: MailroomRequestContext, role: Role) throws -> SessionInfo {
        let session = try session(request, context)
        guard session.user.role >= role else {
            throw PageError.forbidden("This page needs the \(role.rawValue) role; you are signed in as \(session.user.role.rawValue).")
        }
        return session
    }
}

/// Finds the browser's session for every page (without requiring one: the sign-in page has none).
struct PageSessionMiddleware: RouterMiddleware {
    typealias Context = MailroomRequestContext
    let sessions: SessionAuthenticator
    /// The installation's time zone, for people without one of their own.
    var settings: (any SettingsRepository)? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let value = request.cookies[WebSettings.sessionCookie]?.value, !value.isEmpty,
           let session = try await sessions.session(cookieValue: value) {
            context.session = session
            context.principal = session.principal
        }
        // Every time on the page is shown in the reader's zone (`PageTime`).
        var installation: String? = nil
        if context.session?.user.timeZone == nil, let settings { installation = try? await settings.globalSettings().timeZone }
        let zone = TimeZoneName.effective(user: context.session?.user.timeZone, installation: installation)
        let ready = context
        return try await PageTime.$zone.withValue(zone) { try await next(request, ready) }
    }
}

/// Pages answer in HTML: a missing session sends the browser to sign in, other errors show a page.
struct PageErrorMiddleware: RouterMiddleware {
    typealias Context = MailroomRequestContext
    let assets: WebAssets
    /// The session is found inside this middleware; an error page looks it up again for the navigation.
    var sessions: SessionAuthenticator? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as PageError {
            switch error {
            case .signIn(let next):
                return PageHeaders.redirect(to: "/login?next=" + PercentEncoding.component(next))
            case .forbidden(let message):
                return await errorPage(status: .forbidden, title: "Not allowed", message: message, request: request, context: context)
            case .notFound(let what):
                return await errorPage(status: .notFound, title: "Not found", message: "\(what) was not found, or you may not see it.",
                                       request: request, context: context)
            }
        } catch let error as HTTPError where error.status == .notFound {
            return await errorPage(status: .notFound, title: "Not found", message: "There is no such page.", request: request, context: context)
        } catch {
            if let apiError = APIError.from(error), apiError.status.code < 500 {
                return await errorPage(status: apiError.status, title: "Cannot show this page", message: apiError.message, request: request,
                                       context: context)
            }
            if let unavailable = error as? StoreUnavailable {
                context.logger.warning("page refused: \(unavailable.reason.rawValue)", metadata: ["detail": "\(unavailable.detail)"])
                var page = await errorPage(status: .serviceUnavailable, title: "Try again shortly", message: "Mailroom cannot show this page now: "
                                           + unavailable.message + ".", request: request, context: context)
                page.headers[.retryAfter] = String(unavailable.retryAfterSeconds)
                return page
            }
            context.logger.error("page failed", metadata: ["error": "\(String(reflecting: type(of: error)))", "path": "\(WebSite.loggablePath(request.uri.path))"])
            return await errorPage(status: .internalServerError, title: "Something went wrong",
                                   message: "The server failed to show this page; its log says why.", request: request, context: context)
        }
    }

    private func errorPage(status: HTTPResponse.Status, title: String, message: String, request: Request, context: Context) async -> Response {
        var session = context.session
        if session == nil, let sessions, let value = request.cookies[WebSettings.sessionCookie]?.value, !value.isEmpty {
            session = try? await sessions.session(cookieValue: value)
        }
        if let session {
            return ErrorPageView.signedIn(session, status: status, title: title, message: message, assets: assets)
        }
        let view = ErrorPageView(title: title, message: message, assetVersion: assets.version, signedIn: context.session != nil)
        let html = (try? assets.render(view)) ?? "<h1>\(HTMLEscape.escape(title))</h1><p>\(HTMLEscape.escape(message))</p>"
        return PageHeaders.html(html, status: status)
    }
}

/// `error.mustache`: a whole document, without the layout (the error may be that there is no session).
struct ErrorPageView: RenderedView {
    static let template = "error"
    let title: String
    let message: String
    let assetVersion: String
    let signedIn: Bool
}
