import Foundation
import Hummingbird
import MailroomCore

/// The per-request state: who is calling, once authenticated.
public struct MailroomRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?
    /// Set when the caller is a browser signed in with the session cookie (not a Bearer token).
    public var session: SessionInfo?
    /// The peer's IP address, for limiting sign-in failures per client.
    public let clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress
    }

    /// JSON bodies are small; a larger body is refused before it is read whole.
    public var maxUploadSize: Int { JSONBody.maximumBytes }

    public var responseEncoder: JSONEncoder { JSONCoding.encoder }

    /// The caller, or 401.
    public func caller() throws -> Principal {
        guard let principal else { throw APIError.unauthorized() }
        return principal
    }

    /// The caller if their role is at least `role`, or 403.
    @discardableResult
    public func require(_ role: Role) throws -> Principal {
        let principal = try caller()
        guard principal.has(atLeast: role) else {
            throw APIError.forbidden("this needs the \(role.rawValue) role; you are signed in as \(principal.role.rawValue)")
        }
        return principal
    }
}

/// Reading JSON request bodies: syntax errors are 400, type and value errors 422 naming the field.
public enum JSONBody {
    public static let maximumBytes = 1 << 20

    public static func document(_ request: Request, context: MailroomRequestContext) async throws -> JSONValue {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else {
            throw APIError(.badRequest, code: "invalid_json", message: "the request body is empty; send a JSON object")
        }
        do {
            return try JSONCoding.decoder.decode(JSONValue.self, from: Data(buffer: buffer))
        } catch {
            throw APIError(.badRequest, code: "invalid_json", message: "the request body is not valid JSON")
        }
    }

    public static func object(_ request: Request, context: MailroomRequestContext) async throws -> JSONValue {
        let document = try await document(request, context: context)
        guard document.objectValue != nil else {
            throw APIError(.badRequest, code: "invalid_json", message: "the request body must be a JSON object")
        }
        return document
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ request: Request, context: MailroomRequestContext) async throws -> T {
        let document = try await object(request, context: context)
        do {
            return try document.decode(type)
        } catch let error as DecodingError {
            throw APIError.invalid([FieldError(error)])
        }
    }
}

/// A JSON response with a chosen status.
public struct JSONResponse<Value: Encodable & Sendable>: ResponseGenerator {
    let status: HTTPResponse.Status
    let value: Value

    public init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONCoding.clientJSON(value)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The list shape every collection endpoint answers with.
public struct ItemList<Item: Encodable & Sendable>: Encodable, Sendable {
    public let items: [Item]
    public let nextCursor: String?

    public init(_ items: [Item], nextCursor: String? = nil) {
        self.items = items
        self.nextCursor = nextCursor
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(items, forKey: .items)
        try c.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey { case items, nextCursor }
}

extension Request {
    /// A path parameter the route guarantees.
    func parameter(_ name: String, context: MailroomRequestContext) throws -> String {
        guard let value = context.parameters.get(name) else { throw APIError.notFound(name) }
        return value
    }
}
