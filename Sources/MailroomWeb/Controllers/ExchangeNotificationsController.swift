import Foundation
import Hummingbird
import MailroomCore
import NIOCore

/// Microsoft Graph's change and lifecycle notifications, at `POST /exchange/graph/notifications/{accountId}`
/// (no sign-in: Graph proves itself with the subscription's clientState, which the inbox checks).
/// The validation handshake echoes `validationToken` as text/plain; notifications are handed to
/// the inbox and answered 202 at once, as Graph wants an answer within three seconds.
struct ExchangeNotificationsController: Sendable {
    let inbox: ExchangeNotificationInbox
    static let maximumBodyBytes = 1 << 20

    func addRoutes(to router: Router<MailroomRequestContext>) {
        router.post("exchange/graph/notifications/:accountId") { request, context in
            try await self.receive(request, context)
        }
    }

    func receive(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        if let token = request.uri.queryParameters.get("validationToken") {
            // Echoed as plain text only: never rendered, and bounded.
            guard token.count <= 1_024 else { return Response(status: .badRequest) }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: token)))
        }
        let accountId = context.parameters.get("accountId") ?? ""
        var request = request
        let body = try await request.collectBody(upTo: Self.maximumBodyBytes)
        inbox.deliver(accountId: accountId, body: Array(body.readableBytesView))
        return Response(status: .accepted)
    }
}
