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
                if apiError.status.code >= 500 { context.logger.error("request failed", metadata: ["error": "\(apiError)"]) }
                return apiError.response()
            }
            context.logger.error("request failed with an unexpected error", metadata: [
                "error": "\(String(reflecting: type(of: error)))", "path": "\(request.uri.path)",
            ])
            return APIError(.internalServerError, code: "internal", message: "the server failed to handle this request; see its log").response()
        }
    }
}

/// Who is calling: the bootstrap administrator token, or an API token stored hashed.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = MailroomRequestContext

    let tokens: any TokenRepository
    let adminToken: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { throw APIError.unauthorized() }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("the Authorization header must be 'Bearer TOKEN'")
        }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty, token.utf8.count <= 512 else { throw APIError.unauthorized("the token is not valid") }
        var context = context
        if let adminToken, !adminToken.isEmpty, constantTimeEquals(token, adminToken) {
            context.principal = .bootstrapAdministrator
        } else if let (_, user) = try await tokens.lookup(hash: TokenHasher.hash(token), now: Date()) {
            context.principal = Principal(userId: user.id, name: user.name, role: user.role)
        } else {
            throw APIError.unauthorized("the token is not valid, has expired, or belongs to a deactivated user")
        }
        return try await next(request, context)
    }
}
