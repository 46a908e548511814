import Foundation
import Hummingbird
import Logging
import MailroomCore
import MailroomStore

/// Turns every thrown error into DESIGN.md's JSON error shape; never lets a 500 say why.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = MailroomRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            if let apiError = APIError.from(error) {
                // A 503 (the database or the disk, logged by ErrorStatusMiddleware) is not a failure of the server's code.
                if apiError.status.code >= 500, apiError.status != .serviceUnavailable {
                    context.logger.error("request failed", metadata: ["error": "\(apiError)"])
                }
                return apiError.response()
            }
            context.logger.error("request failed with an unexpected error", metadata: [
                "error": "\(String(reflecting: type(of: error)))", "path": "\(request.uri.path)",
            ])
            return APIError(.internalServerError, code: "internal", message: "the server failed to handle this request; see its log").response()
        }
    }
}

/// Who is calling: the bootstrap administrator token, an API token stored hashed, or a browser's
/// session cookie. Cookie-authenticated requests that change something must carry the session's
/// CSRF token in `X-CSRF-Token`; Bearer tokens are never sent by a browser on its own, so they need none.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = MailroomRequestContext
    let tokens: any TokenRepository
    let adminToken: String?
    var sessions: SessionAuthenticator? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            context.principal = try await bearer(header)
        } else if let sessions, let value = request.cookies[WebSettings.sessionCookie]?.value, !value.isEmpty {
            guard let session = try await sessions.session(cookieValue: value) else {
                throw APIError.unauthorized("your session has ended; sign in again")
            }
            if !CSRFCheck.isSafe(request.method) {
                guard CSRFCheck.originAllowed(request) else {
                    throw APIError(.forbidden, code: "csrf", message: "the request comes from another site (its Origin is not this server)")
                }
                guard CSRFCheck.matches(request.headers[CSRFCheck.header], expected: session.csrfToken) else {
                    throw APIError(.forbidden, code: "csrf",
                                   message: "the X-CSRF-Token header is missing or not this session's; reload the page and try again")
                }
            }
            context.session = session
            context.principal = session.principal
        } else {
            throw APIError.unauthorized()
        }
        return try await next(request, context)
    }

    private func bearer(_ header: String) async throws -> Principal {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("the Authorization header must be 'Bearer TOKEN'")
        }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty, token.utf8.count <= 512 else { throw APIError.unauthorized("the token is not valid") }
        if let adminToken, !adminToken.isEmpty, constantTimeEquals(token, adminToken) {
            return .bootstrapAdministrator
        } else if let (_, user) = try await tokens.lookup(hash: TokenHasher.hash(token), now: Date()) {
            return Principal(userId: user.id, name: user.name, role: user.role)
        } else {
            throw APIError.unauthorized("the token is not valid, has expired, or belongs to a deactivated user")
        }
    }
}

/// Gives every thrown error the status it will be answered with, so that the request metrics
/// (Hummingbird's `MetricsMiddleware`, which sits just outside this) count a refused token as 401
/// and a validation failure as 422 instead of as 500. Errors nobody knows stay as they are: they
/// become a 500 and are counted as one.
struct ErrorStatusMiddleware: RouterMiddleware {
    typealias Context = MailroomRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            if let unavailable = error as? StoreUnavailable {
                // Logged with the driver's words; the client gets only the reason.
                context.logger.warning("request refused: \(unavailable.reason.rawValue)", metadata: ["detail": "\(unavailable.detail)"])
            }
            throw APIError.from(error) ?? error
        }
    }
}

/// Lets `MetricsMiddleware` read the answer's status; the body is still written by `ErrorMiddleware`.
extension APIError: HTTPResponseError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }
}
