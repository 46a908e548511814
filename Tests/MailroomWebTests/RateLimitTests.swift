import Foundation
import Hummingbird
import HummingbirdTesting
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWeb
import Testing

@Suite struct RateLimitTests {
    @Test func aBucketAllowsItsBurstThenOneRequestPerRefill() {
        var buckets = TokenBuckets(limit: RateLimit(requests: 3, seconds: 60))
        let start = Date(timeIntervalSince1970: 1_000_000)
        #expect((0..<3).allSatisfy { _ in buckets.take("a", now: start) == nil })
        let wait = buckets.take("a", now: start)
        #expect(wait.map { abs($0 - 20) < 0.01 } == true, "one token comes back every 20 s: \(String(describing: wait))")
        #expect(buckets.take("b", now: start) == nil, "another key has its own bucket")
        #expect(buckets.take("a", now: start.addingTimeInterval(20)) == nil)
        #expect(buckets.take("a", now: start.addingTimeInterval(20)) != nil)
    }

    @Test func bucketsAreBounded() {
        var buckets = TokenBuckets(limit: RateLimit(requests: 2, seconds: 10), maximumKeys: 100)
        let now = Date()
        for index in 0..<1_000 { _ = buckets.take("k\(index)", now: now) }
        #expect(buckets.trackedKeys <= 101)
    }

    @Test func limitsTextIsRead() {
        #expect(RateLimit(text: "600/60") == RateLimit(requests: 600, seconds: 60))
        #expect(RateLimit(text: "0/60") == nil && RateLimit(text: "10") == nil && RateLimit(text: "a/b") == nil)
    }

    /// Over a real socket, so that the client's address is known as in production.
    @Test func apiCallsPerTokenAndSignInsPerAddressAndPerClientAnswer429WithRetryAfter() async throws {
        try await TestDatabase.sqlite.withStore { store in
            var dependencies = WebDependencies(store: store, adminToken: adminToken, metricsText: { "" })
            dependencies.web = WebSettings(signInLimits: SignInThrottle.Limits(perAddress: 2, perClient: 4, window: 600),
                                           // One call back per 12 minutes: no refill while a loaded machine runs the test.
                                           apiRateLimit: RateLimit(requests: 5, seconds: 3600))
            let app = Application(router: APIRouter.build(dependencies))
            try await app.test(.live) { client in
                let api = APIClient(client: client)
                let agent = try await api.token(for: .agent, email: "limited@example.com")
                // Creating the user spent one of the admin token's five.
                var answered = 0
                var refusal: APIResponse?
                for _ in 0..<10 {
                    let response = try await api.call(.get, "/api/v1/users/me")
                    if response.status == 429 { refusal = response; break }
                    answered += 1
                }
                #expect(answered == 4)
                let limited = try #require(refusal)
                #expect(limited.errorCode == "rate_limited", "\(limited.text)")
                let retryAfter = try #require(limited.headers[.retryAfter].flatMap(Int.init))
                #expect((1...720).contains(retryAfter), "at most the time one call takes to come back")
                #expect(try await api.call(.get, "/api/v1/users/me", token: agent).status == 200, "another token has its own limit")

                func signIn(_ email: String, _ password: String) async throws -> APIResponse {
                    try await api.call(.post, "/api/v1/auth/tokens", token: nil,
                                       json: .object(["email": .string(email), "password": .string(password)]))
                }
                #expect(try await signIn("limited@example.com", "wrong-1").status == 401)
                #expect(try await signIn("limited@example.com", "wrong-2").status == 401)
                let locked = try await signIn("limited@example.com", "password-123")
                #expect(locked.status == 429, "the right password after too many wrong ones waits too: \(locked.text)")
                #expect(locked.headers[.retryAfter].flatMap(Int.init).map { $0 > 0 && $0 <= 600 } == true)
                // Per client: two more failures on other addresses reach the client's four.
                #expect(try await signIn("nobody-1@example.com", "x").status == 401)
                #expect(try await signIn("nobody-2@example.com", "x").status == 401)
                #expect(try await signIn("nobody-3@example.com", "x").status == 429)
            }
        }
    }
}
