import Foundation
import Hummingbird
import HummingbirdTesting
@testable import MailroomApp
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWeb
import Testing

/// `/metrics` as an operator's alert reads it: each answer counted under the status it really had.
@Suite struct RequestMetricsTests {
    struct Unexpected: Error {}

    @Test func requestMetricsCarryEachAnswersRealStatus() async throws {
        MailroomApplication.bootstrapMetrics()
        let admin = "metrics-admin-token-0123456789"
        try await TestDatabase.sqlite.withStore { store in
            let router = APIRouter.build(WebDependencies(store: store, adminToken: admin, metricsText: MailroomApplication.metricsText))
            // A handler that fails the way a bug would: nothing maps this error, so it is a real 500.
            router.get("metrics-probe/failure") { _, _ -> Response in throw Unexpected() }
            try await Application(router: router).test(.router) { client in
                func call(_ method: HTTPRequest.Method, _ path: String, token: String?, body: String? = nil) async throws -> TestResponse {
                    var headers: HTTPFields = [.contentType: "application/json"]
                    if let token { headers[.authorization] = "Bearer \(token)" }
                    return try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
                }
                #expect(try await call(.get, "/api/v1/accounts", token: "not-a-token").status == .unauthorized)
                #expect(try await call(.get, "/api/v1/tickets/no-such-ticket", token: admin).status == .notFound)
                #expect(try await call(.post, "/api/v1/users", token: admin, body: "{}").status == .unprocessableContent)
                let created = try await call(.post, "/api/v1/users", token: admin, body: """
                    {"name":"Agent","email":"metrics-agent@example.com","role":"agent","password":"password-123"}
                    """)
                #expect(created.status == .created)
                let signIn = try await call(.post, "/api/v1/auth/tokens", token: nil,
                                            body: #"{"email":"metrics-agent@example.com","password":"password-123"}"#)
                let token = try #require(try JSONCoding.decoder.decode(JSONValue.self, from: Data(String(buffer: signIn.body).utf8))["token"])
                guard case .string(let agentToken) = token else { Issue.record("no token in \(String(buffer: signIn.body))"); return }
                #expect(try await call(.get, "/api/v1/users", token: agentToken).status == .forbidden)
                #expect(try await call(.get, "/metrics-probe/failure", token: nil).status == .internalServerError)

                let text = String(buffer: try await call(.get, "/metrics", token: nil).body)
                let errors = text.split(separator: "\n").filter { $0.hasPrefix("hb_request_errors") }
                func errorCount(_ status: Int) -> Int {
                    errors.filter { $0.contains(#"error_type="\#(status)""#) }
                        .compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
                }
                for status in [401, 403, 404, 422] {
                    #expect(errorCount(status) >= 1, "no error counted as \(status) in:\n\(errors.joined(separator: "\n"))")
                }
                // Only the failing handler is a server error; bad tokens and bad input are not.
                #expect(errorCount(500) == 1, "\(errors.joined(separator: "\n"))")
                let requests = text.split(separator: "\n").filter { $0.hasPrefix("hb_requests") }
                #expect(requests.contains { $0.contains(#"http_route="/metrics-probe/failure""#) && $0.contains(#"http_response_status_code="500""#) },
                        "\(requests.joined(separator: "\n"))")
                #expect(requests.contains { $0.contains(#"http_response_status_code="401""#) })
            }
        }
    }
}
