import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

/// `/api/v1/webhooks/endpoints`: a secret is answered when made and never again.
@Suite struct WebhookEndpointsAPITests {
    @Test(arguments: TestDatabase.available)
    func theSecretIsShownOnceAndRotatesWithAnOverlap(_ kind: TestDatabase) async throws {
        try await withAPI(kind) { api, store in
            let created = try await api.call(.post, "/api/v1/webhooks/endpoints", json: .object(["url": .string("https://hooks.example.com/mailroom")]))
            #expect(created.status == 201, "\(created.text)")
            let id = try #require(created.string("id"))
            let secret = try #require(created.string("secret"))
            #expect(secret.hasPrefix("whsec_") && secret.count > 40)

            let listed = try await api.call(.get, "/api/v1/webhooks/endpoints")
            let shown = try await api.call(.get, "/api/v1/webhooks/endpoints/\(id)")
            #expect(listed.status == 200 && listed.text.contains(id))
            #expect(shown.status == 200 && shown.json?["url"] == .string("https://hooks.example.com/mailroom"))

            let rotated = try await api.call(.post, "/api/v1/webhooks/endpoints/\(id)/rotate", json: .object(["overlapSeconds": .number(600)]))
            #expect(rotated.status == 200, "\(rotated.text)")
            let newSecret = try #require(rotated.string("secret"))
            #expect(newSecret != secret)
            #expect(rotated.json?["previousSecretExpiresAt"] != nil && rotated.json?["previousSecretExpiresAt"] != .null)
            // Both sign during the overlap, the new one first.
            let signing = try await store.webhookEndpoints.signingSecrets(url: "https://hooks.example.com/mailroom")
            #expect(signing.map(\.revealed) == [newSecret, secret])

            let afterwards = [try await api.call(.get, "/api/v1/webhooks/endpoints"), try await api.call(.get, "/api/v1/webhooks/endpoints/\(id)")]
            for response in afterwards + [listed, shown] {
                #expect(!response.text.contains(secret) && !response.text.contains(newSecret), "a secret was answered again: \(response.text)")
                #expect(!response.text.contains("\"secret\""))
            }

            let empty = try await api.call(.post, "/api/v1/webhooks/endpoints/\(id)/rotate")
            #expect(empty.status == 200, "a rotation without a body takes the default overlap: \(empty.text)")
            #expect(try await api.call(.delete, "/api/v1/webhooks/endpoints/\(id)").status == 204)
            #expect(try await api.call(.get, "/api/v1/webhooks/endpoints/\(id)").status == 404)
            #expect(try await store.webhookEndpoints.signingSecrets(url: "https://hooks.example.com/mailroom").isEmpty)
        }
    }

    @Test func refusals() async throws {
        try await withAPI { api, _ in
            let url = JSONValue.object(["url": .string("http://127.0.0.1:9/hook")])
            #expect(try await api.call(.post, "/api/v1/webhooks/endpoints", json: url).status == 201)
            let again = try await api.call(.post, "/api/v1/webhooks/endpoints", json: url)
            #expect(again.status == 409 && again.errorField == "url")
            for bad in ["ftp://example.com/x", "not a url", "https://user:pw@example.com/x", ""] {
                let refused = try await api.call(.post, "/api/v1/webhooks/endpoints", json: .object(["url": .string(bad)]))
                #expect(refused.status == 422 && refused.errorField == "url", "\(bad): \(refused.text)")
            }
            let agent = try await api.token(for: .agent)
            #expect(try await api.call(.get, "/api/v1/webhooks/endpoints", token: agent).status == 403)
            let supervisor = try await api.token(for: .supervisor)
            #expect(try await api.call(.post, "/api/v1/webhooks/endpoints", token: supervisor, json: url).status == 403)
            let listed = try await api.call(.get, "/api/v1/webhooks/endpoints")
            guard case .array(let items)? = listed.json?["items"], case .string(let id)? = items.first?["id"] else {
                Issue.record("no endpoint listed: \(listed.text)")
                return
            }
            let tooLong = try await api.call(.post, "/api/v1/webhooks/endpoints/\(id)/rotate", json: .object(["overlapSeconds": .number(10_000_000)]))
            #expect(tooLong.status == 422 && tooLong.errorField == "overlapSeconds")
            #expect(try await api.call(.post, "/api/v1/webhooks/endpoints/nope/rotate").status == 404)
        }
    }
}
