import Foundation
import Hummingbird
import MailroomCore

/// An error answered as DESIGN.md's `{"error": {"code", "message", "field"?}}`.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let field: String?
    /// Every field problem, when there is more than one.
    public let details: [FieldError]
    /// Sent as `Retry-After` (429 and 503 answers).
    public var retryAfterSeconds: Int? = nil
    /// Sent as `Allow` (405 answers): the methods the path takes.
    public var allowedMethods: [String]? = nil

    public init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil, details: [FieldError] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public static func unauthorized(_ message: String = "sign in first: send 'Authorization: Bearer TOKEN'") -> APIError {
        APIError(.unauthorized, code: "unauthorized", message: message)
    }

    public static func forbidden(_ message: String) -> APIError {
        APIError(.forbidden, code: "forbidden", message: message)
    }

    public static func notFound(_ what: String) -> APIError {
        APIError(.notFound, code: "not_found", message: "\(what) not found")
    }

    public static func invalid(_ errors: [FieldError]) -> APIError {
        let first = errors.first ?? FieldError("", "is not valid")
        let message = first.field.isEmpty ? first.message : "\(first.field) \(first.message)"
        return APIError(.unprocessableContent, code: "invalid_field", message: message,
                        field: first.field.isEmpty ? nil : first.field, details: errors.count > 1 ? errors : [])
    }

    public static func conflict(_ error: FieldError) -> APIError {
        APIError(.conflict, code: "conflict", message: "\(error.field) \(error.message)", field: error.field)
    }

    /// Maps any error to what the client is told; unknown errors become a 500 that reveals nothing.
    static func from(_ error: any Error) -> APIError? {
        switch error {
        case let error as APIError:
            return error
        case let error as DomainError:
            switch error {
            case .invalid(let errors): return .invalid(errors)
            case .conflict(let fieldError): return .conflict(fieldError)
            case .notFound(let what): return .notFound(what)
            }
        case let error as DecodingError:
            return .invalid([FieldError(error)])
        case let error as StoreUnavailable:
            var answer = APIError(.serviceUnavailable, code: error.reason == .diskFull ? "disk_full" : "database_unavailable",
                                  message: error.message)
            answer.retryAfterSeconds = error.retryAfterSeconds
            return answer
        case let error as any HTTPResponseError:
            let status = error.status
            switch status {
            case .contentTooLarge:
                return APIError(status, code: "too_large", message: "the request body is larger than this endpoint accepts")
            case .notFound:
                return APIError(status, code: "not_found", message: "no such endpoint")
            case .methodNotAllowed:
                return APIError(status, code: "method_not_allowed", message: "this endpoint does not take that method")
            default:
                return APIError(status, code: "http_\(status.code)", message: status.reasonPhrase)
            }
        default:
            return nil
        }
    }

    struct Body: Encodable {
        struct Detail: Encodable {
            let field: String
            let message: String
        }

        struct Inner: Encodable {
            let code: String
            let message: String
            let field: String?
            let details: [Detail]?
        }

        let error: Inner
    }

    func response() -> Response {
        let body = Body(error: .init(
            code: code, message: message, field: field,
            details: details.isEmpty ? nil : details.map { .init(field: $0.field, message: $0.message) }))
        let data = (try? JSONCoding.encoder.encode(body)) ?? Data(#"{"error":{"code":"internal","message":"error"}}"#.utf8)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        if let allowedMethods { headers[.allow] = allowedMethods.joined(separator: ", ") }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
