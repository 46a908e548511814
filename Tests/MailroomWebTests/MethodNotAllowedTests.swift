import Foundation
import Hummingbird
import MailroomCore
import MailroomWeb
import Testing

/// A known path asked with a method it does not take answers 405 with `Allow`, not 404; an unknown
/// path still answers 404. The most specific path decides, as in the router.
@Suite struct MethodNotAllowedTests {
    @Test func knownPathsAnswer405WithAllow() async throws {
        try await withAPI { api, _ in
            let tickets = try await api.call(.delete, "/api/v1/tickets")
            #expect(tickets.status == 405)
            #expect(tickets.headers[.allow] == "GET")
            #expect(tickets.errorCode == "method_not_allowed")

            let user = try await api.call(.post, "/api/v1/users/someone")
            #expect(user.status == 405)
            #expect(user.headers[.allow] == "GET, PUT, PATCH")

            // `/accounts/test` is its own path, not an `/accounts/{id}`.
            let test = try await api.call(.put, "/api/v1/accounts/test")
            #expect(test.status == 405)
            #expect(test.headers[.allow] == "POST")

            // Without a token too: the method is wrong whoever asks.
            let health = try await api.call(.post, "/healthz", token: nil)
            #expect(health.status == 405)
            #expect(health.headers[.allow] == "GET")

            let unknown = try await api.call(.get, "/api/v1/no-such-thing")
            #expect(unknown.status == 404)
            let allowed = try await api.call(.get, "/api/v1/tickets")
            #expect(allowed.status == 200)
        }
    }
}
