import Foundation
import Hummingbird
import MailMessage
import MailroomCore
import MailroomStore

/// Invitations, the audit trail and the system sender's test mail (issue 26).
struct PeopleController {
    let store: Repositories
    let mail: PeopleMail
    var people: any PeopleRepository { store.people }

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.post("users/invitations", use: inviteSelected)
        api.post("users/:id/invitation", use: invite)
        api.get("users/:id/invitation/preview", use: preview)
        api.get("audit", use: audit)
        api.post("settings/system-sender/test", use: testMail)
    }

    /// The invitation's record as the API shows it: never the token.
    struct InvitationView: Encodable, Sendable {
        let userId: String
        let linkId: String
        let expiresAt: Date
        let outboxId: String
        let deliveryState: String
    }

    @Sendable func invite(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<InvitationView> {
        let principal = try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard let user = try await store.users.find(id: id) else { throw APIError.notFound("user \(id)") }
        let (link, item) = try await mail.invite(user, by: principal)
        return JSONResponse(InvitationView(userId: user.id, linkId: link.id, expiresAt: link.expiresAt, outboxId: item.id,
                                           deliveryState: item.state.rawValue), status: .created)
    }

    struct Selection: Decodable { let userIds: [String] }

    struct SelectionResult: Encodable, Sendable {
        let userId: String
        let ok: Bool
        let outboxId: String?
        let error: String?
    }

    /// Invites each selected user; one that cannot be invited does not stop the others.
    @Sendable func inviteSelected(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<SelectionResult>> {
        let principal = try context.require(.admin)
        let selection = try await JSONBody.decode(Selection.self, request, context: context)
        guard !selection.userIds.isEmpty, selection.userIds.count <= 500 else {
            throw APIError.invalid([FieldError("userIds", "must name between 1 and 500 users")])
        }
        // A missing setting fails every invitation the same way: say so once, naming it.
        let settings = try await store.settings.globalSettings()
        _ = try await mail.invitationSetup(settings)
        var results: [SelectionResult] = []
        for id in selection.userIds {
            guard let user = try await store.users.find(id: id) else {
                results.append(SelectionResult(userId: id, ok: false, outboxId: nil, error: "user \(id) not found"))
                continue
            }
            do {
                let (_, item) = try await mail.invite(user, by: principal)
                results.append(SelectionResult(userId: id, ok: true, outboxId: item.id, error: nil))
            } catch let error as DomainError {
                results.append(SelectionResult(userId: id, ok: false, outboxId: nil, error: APIError.from(error)?.message))
            }
        }
        return JSONResponse(ItemList(results))
    }

    @Sendable func preview(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<InvitationContent> {
        let principal = try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard let user = try await store.users.find(id: id) else { throw APIError.notFound("user \(id)") }
        return JSONResponse(try await mail.preview(user: user, senderName: principal.name))
    }

    @Sendable func audit(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<AuditEvent>> {
        try context.require(.admin)
        var limit = 200
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(String(text)), (1...500).contains(value) else {
                throw APIError.invalid([FieldError("limit", "must be a number from 1 to 500")])
            }
            limit = value
        }
        var before: Date?
        if let text = request.uri.queryParameters["before"] {
            guard let date = ISO8601.parse(String(text)) else {
                throw APIError.invalid([FieldError("before", "must be a date and time such as 2026-11-22T10:00:00Z")])
            }
            before = date
        }
        return JSONResponse(ItemList(try await people.auditEvents(limit: limit, before: before)))
    }

    struct TestRequest: Decodable { var to: String? }

    /// The "send a test mail" button: a short message to `to` (default: the caller's own address).
    @Sendable func testMail(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<OutboxItem> {
        let principal = try context.require(.admin)
        var input = TestRequest()
        if request.headers[.contentLength].map({ $0 != "0" }) ?? false {
            input = try await JSONBody.decode(TestRequest.self, request, context: context)
        }
        var to = input.to?.trimmingCharacters(in: .whitespaces) ?? ""
        if to.isEmpty, let userId = principal.userId { to = try await store.users.find(id: userId)?.email ?? "" }
        guard MailAddressSyntax.isValid(to) else {
            throw APIError.invalid([FieldError("to", "must be a mail address such as ann@example.com")])
        }
        let item = try await mail.mailer.send(
            to: Mailbox(address: to), subject: "Mailroom test mail",
            text: "This test mail was sent by \(principal.name) from Mailroom's system sender. It arrived, so invitations and password resets can too.",
            purpose: "test")
        return JSONResponse(item, status: .created)
    }
}
