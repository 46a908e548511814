import Foundation
import Hummingbird
import MailroomCore

/// Replies and the outbox: queue an agent's answer, list what is waiting or failed, see every attempt, resend.
struct OutboxController {
    let outbox: any OutboxRepository
    let reply: @Sendable (String, ReplyRequest, Principal) async throws -> (TicketMessage, [String])
    let renderCanned: @Sendable (String, String, Principal) async throws -> CannedAnswerRendering
    let outboxChanged: @Sendable () -> Void

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.post("tickets/:id/replies", use: createReply)
        api.get("tickets/:id/canned-answers/:cannedId/rendered", use: renderedCanned)
        api.get("outbox", use: list)
        api.get("outbox/:id", use: show)
        api.get("outbox/:id/attempts", use: attempts)
        api.post("outbox/:id/resend", use: resend)
        api.post("attachments", use: upload)
    }

    /// The outbound message as in `GET /tickets/{id}/messages`, plus `warnings` for the agent.
    @Sendable func createReply(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<JSONValue> {
        let principal = try context.require(.agent)
        let id = try request.parameter("id", context: context)
        let input = try await JSONBody.decode(ReplyRequest.self, request, context: context)
        let (message, warnings) = try await reply(id, input, principal)
        outboxChanged()
        let body = try JSONValue(encoding: message).merging(.object(["warnings": .array(warnings.map(JSONValue.string))]))
        return JSONResponse(body, status: .created)
    }

    /// A canned answer with this ticket's values filled in, for the agent to insert and edit.
    @Sendable func renderedCanned(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<CannedAnswerRendering> {
        let principal = try context.require(.agent)
        let id = try request.parameter("id", context: context)
        let cannedId = try request.parameter("cannedId", context: context)
        return JSONResponse(try await renderCanned(id, cannedId, principal))
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<OutboxItem>> {
        try context.require(.supervisor)
        var state: DeliveryState?
        if let text = request.uri.queryParameters["state"] {
            guard let value = DeliveryState(rawValue: String(text)) else {
                throw APIError.invalid([FieldError("state", "must be one of \(DeliveryState.allowedNames)")])
            }
            state = value
        }
        return JSONResponse(ItemList(try await outbox.items(state: state)))
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<OutboxItem> {
        try context.require(.supervisor)
        let id = try request.parameter("id", context: context)
        guard let item = try await outbox.item(id: id) else { throw APIError.notFound("outbox entry \(id)") }
        return JSONResponse(item)
    }

    @Sendable func attempts(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<OutboxAttempt>> {
        try context.require(.supervisor)
        let id = try request.parameter("id", context: context)
        guard try await outbox.item(id: id) != nil else { throw APIError.notFound("outbox entry \(id)") }
        return JSONResponse(ItemList(try await outbox.attempts(outboxId: id)))
    }

    @Sendable func resend(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<OutboxItem> {
        try context.require(.supervisor)
        let item = try await outbox.resend(id: try request.parameter("id", context: context))
        outboxChanged()
        return JSONResponse(item)
    }

    static let maximumUploadBytes = 25 << 20

    /// An attachment for a reply: the body is the file; `filename`, `inline` and `contentId` come in the query.
    @Sendable func upload(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Upload> {
        let principal = try context.require(.agent)
        let query = request.uri.queryParameters
        guard let filename = query["filename"].map(String.init), !filename.isEmpty, filename.count <= 255,
              !filename.contains("/"), !filename.contains("\\"), !filename.unicodeScalars.contains(where: { $0.value < 32 }) else {
            throw APIError.invalid([FieldError("filename", "is required in the query: a file name without a path")])
        }
        var contentType = request.headers[.contentType] ?? "application/octet-stream"
        let inline = query["inline"].map { $0 == "true" || $0 == "1" } ?? false
        let contentId = query["contentId"].map(String.init)
        if inline && (contentId ?? "").isEmpty {
            throw APIError.invalid([FieldError("contentId", "is required for an inline image (the HTML refers to it as cid:…)")])
        }
        var request = request
        let buffer = try await request.collectBody(upTo: Self.maximumUploadBytes)
        guard buffer.readableBytes > 0 else { throw APIError.invalid([FieldError("body", "the file is empty")]) }
        // `kind=image`: an account's logo or signature image, checked by its bytes (never SVG) and
        // stored with the type its bytes say, whatever the browser declared.
        if query["kind"] == "image" {
            let bytes = buffer.readableBytesView
            if let problem = ImageKind.problem(with: bytes) { throw APIError.invalid([FieldError("file", "\(filename.prefix(100)) \(problem)")]) }
            contentType = ImageKind.sniff(bytes)?.mediaType ?? contentType
        }
        let upload = try await outbox.saveUpload(Array(buffer.readableBytesView), filename: filename, contentType: contentType,
                                                 contentId: contentId, inline: inline, uploadedBy: principal.userId)
        return JSONResponse(upload, status: .created)
    }
}
