import Foundation
import Hummingbird
import MailMessage
import MailroomCore

/// `error-page.mustache`: an error inside the layout, for someone signed in (the navigation stays).
struct ErrorContentView: PageContent {
    static let template = "error-page"
    let heading: String
    let message: String
}

extension ErrorPageView {
    /// The error page with the signed-in person's navigation.
    static func signedIn(_ session: SessionInfo, status: HTTPResponse.Status, title: String, message: String,
                         assets: WebAssets) -> Response {
        let view = WebSite.page(session, assetVersion: assets.version, title: title, section: "",
                                ErrorContentView(heading: title, message: message))
        let html = (try? assets.render(view)) ?? "<h1>\(HTMLEscape.escape(title))</h1><p>\(HTMLEscape.escape(message))</p>"
        return PageHeaders.html(html, status: status)
    }
}

/// An address with no page: a browser gets an HTML "not found" page (with its navigation when
/// signed in); programs, and everything under `/api/`, keep the JSON answer.
struct BrowserNotFoundMiddleware: RouterMiddleware {
    typealias Context = MailroomRequestContext
    let assets: WebAssets
    let sessions: SessionAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            guard Self.wantsHTML(request), Self.isNotFound(error) else { throw error }
            let title = "Page not found"
            let message = "There is no page at this address. Check the link, or use the navigation."
            if let value = request.cookies[WebSettings.sessionCookie]?.value, !value.isEmpty,
               let session = try? await sessions.session(cookieValue: value) {
                return ErrorPageView.signedIn(session, status: .notFound, title: title, message: message, assets: assets)
            }
            let view = ErrorPageView(title: title, message: message, assetVersion: assets.version, signedIn: false)
            let html = (try? assets.render(view)) ?? "<h1>\(title)</h1><p>\(message)</p>"
            return PageHeaders.html(html, status: .notFound)
        }
    }

    /// A browser's page request: GET or HEAD, outside the API, accepting HTML.
    static func wantsHTML(_ request: Request) -> Bool {
        guard request.method == .get || request.method == .head else { return false }
        let path = request.uri.path
        if path == "/api" || path.hasPrefix("/api/") || path.hasPrefix("/static/") { return false }
        return (request.headers[.accept] ?? "").lowercased().contains("text/html")
    }

    static func isNotFound(_ error: any Error) -> Bool {
        if let error = error as? APIError { return error.status == .notFound }
        if let error = error as? any HTTPResponseError { return error.status == .notFound }
        return false
    }
}

extension WebPages {
    /// The middleware above, with the application's templates (nil when they cannot be loaded).
    static func notFoundMiddleware(sessions: SessionAuthenticator) -> BrowserNotFoundMiddleware? {
        guard let assets = try? WebAssets.load() else { return nil }
        return BrowserNotFoundMiddleware(assets: assets, sessions: sessions)
    }
}
