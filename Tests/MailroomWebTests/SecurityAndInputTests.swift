import Foundation
import MailroomCore
import MailroomTestSupport
import MailroomWeb
import Testing

@Suite struct AuthenticationTests {
    @Test func withoutATokenEveryAPIRouteAnswers401() async throws {
        try await withAPI { api, _ in
            for path in ["/api/v1/accounts", "/api/v1/users", "/api/v1/dispositions", "/api/v1/canned-answers", "/api/v1/settings",
                         "/api/v1/users/me", "/api/v1/service-presets"] {
                let response = try await api.call(.get, path, token: nil)
                #expect(response.status == 401, "\(path)")
                #expect(response.errorCode == "unauthorized")
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
            #expect(try await api.call(.get, "/api/v1/accounts", token: "wrong").status == 401)
            #expect(try await api.call(.post, "/api/v1/accounts", token: nil, json: validAccountJSON()).status == 401)
        }
    }

    @Test func rolesLimitWhatACallerMayDo() async throws {
        try await withAPI { api, _ in
            let agent = try await api.token(for: .agent)
            let supervisor = try await api.token(for: .supervisor)
            // Agents read what they work with, and nothing of the configuration.
            #expect(try await api.call(.get, "/api/v1/accounts", token: agent).status == 403)
            #expect(try await api.call(.post, "/api/v1/accounts", token: agent, json: validAccountJSON()).status == 403)
            #expect(try await api.call(.get, "/api/v1/dispositions", token: agent).status == 200)
            #expect(try await api.call(.post, "/api/v1/dispositions", token: agent, json: .object(["name": .string("x")])).status == 403)
            #expect(try await api.call(.get, "/api/v1/users/me", token: agent).json?["role"] == .string("agent"))
            // Supervisors read accounts and manage dispositions; only administrators change accounts and users.
            #expect(try await api.call(.get, "/api/v1/accounts", token: supervisor).status == 200)
            #expect(try await api.call(.post, "/api/v1/accounts", token: supervisor, json: validAccountJSON()).status == 403)
            #expect(try await api.call(.post, "/api/v1/dispositions", token: supervisor, json: .object(["name": .string("Done")])).status == 201)
            let forbidden = try await api.call(.post, "/api/v1/users", token: supervisor, json: .object([
                "name": .string("Eve"), "email": .string("eve@example.com"), "role": .string("admin"),
            ]))
            #expect(forbidden.status == 403)
            #expect(forbidden.errorCode == "forbidden")
            #expect(try await api.call(.patch, "/api/v1/settings", token: supervisor, json: .object([:])).status == 403)
        }
    }

    @Test func signInGivesATokenAndWrongPasswordsDoNot() async throws {
        try await withAPI { api, _ in
            let created = try await api.call(.post, "/api/v1/users", json: .object([
                "name": .string("Ann"), "email": .string("Ann@Example.com"), "role": .string("agent"), "password": .string("long-password"),
            ]))
            #expect(created.status == 201)
            #expect(!created.text.contains("long-password"))
            #expect(!created.text.contains("scrypt"))
            let good = try await api.call(.post, "/api/v1/auth/tokens", token: nil, json: .object([
                "email": .string("ann@example.com"), "password": .string("long-password"),
            ]))
            #expect(good.status == 201)
            let token = try #require(good.string("token"))
            #expect(try await api.call(.get, "/api/v1/users/me", token: token).json?["email"] == .string("ann@example.com"))
            let wrong = try await api.call(.post, "/api/v1/auth/tokens", token: nil, json: .object([
                "email": .string("ann@example.com"), "password": .string("not-the-password"),
            ]))
            #expect(wrong.status == 401)
            let unknown = try await api.call(.post, "/api/v1/auth/tokens", token: nil, json: .object([
                "email": .string("nobody@example.com"), "password": .string("long-password"),
            ]))
            #expect(unknown.status == 401)
            #expect(unknown.text == wrong.text, "an unknown email is not told apart from a wrong password")

            // Administrators issue tokens for programs; the secret is shown once and stored hashed.
            let userId = try #require(created.string("id"))
            let issued = try await api.call(.post, "/api/v1/users/\(userId)/tokens", json: .object(["name": .string("crm")]))
            #expect(issued.status == 201)
            let programToken = try #require(issued.string("token"))
            #expect(try await api.call(.get, "/api/v1/users/me", token: programToken).status == 200)
            let listed = try await api.call(.get, "/api/v1/users/\(userId)/tokens", token: token)
            #expect(listed.status == 200)
            #expect(!listed.text.contains(programToken))
            let tokenId = try #require(issued.string("id"))
            #expect(try await api.call(.delete, "/api/v1/users/\(userId)/tokens/\(tokenId)").status == 204)
            #expect(try await api.call(.get, "/api/v1/users/me", token: programToken).status == 401)

            // A deactivated user can neither sign in nor use a token.
            #expect(try await api.call(.patch, "/api/v1/users/\(userId)", json: .object(["active": .bool(false)])).status == 200)
            #expect(try await api.call(.get, "/api/v1/users/me", token: token).status == 401)
        }
    }

    @Test func userInputIsValidated() async throws {
        try await withAPI { api, _ in
            let cases: [(JSONValue, String)] = [
                (.object(["name": .string("A"), "email": .string("not-mail"), "role": .string("agent")]), "email"),
                (.object(["name": .string("A"), "email": .string("a@example.com"), "role": .string("boss")]), "role"),
                (.object(["name": .string(""), "email": .string("a@example.com"), "role": .string("agent")]), "name"),
                (.object(["name": .string("A"), "email": .string("a@example.com"), "role": .string("agent"), "password": .string("short")]), "password"),
                (.object(["name": .string("A"), "email": .string("a@example.com"), "role": .string("agent"), "capacity": .number(0)]), "capacity"),
            ]
            for (body, field) in cases {
                let response = try await api.call(.post, "/api/v1/users", json: body)
                #expect(response.status == 422, "\(response.text)")
                #expect(response.errorField == field)
            }
        }
    }
}

@Suite struct BadInputTests {
    @Test func malformedBodiesAreRefusedWithJSONErrors() async throws {
        try await withAPI { api, _ in
            let cases: [(String, Int, String)] = [
                ("{bad json", 400, "invalid_json"),
                ("", 400, "invalid_json"),
                ("[1, 2]", 400, "invalid_json"),
                ("\"a string\"", 400, "invalid_json"),
                ("{\"key\": 5, \"name\": \"x\"}", 422, "invalid_field"),
                ("{\"key\": \"K\", \"name\": \"x\", \"service\": \"aol\"}", 422, "invalid_field"),
                ("{\"key\": \"K\", \"name\": \"x\", \"incoming\": []}", 422, "invalid_field"),
                ("{\"key\": \"K\", \"name\": \"x\", \"incoming\": {\"port\": 99999999999999999999999}}", 422, "invalid_field"),
                ("{\"key\": \"K\", \"name\": \"x\", \"incoming\": {\"port\": 1.5}}", 422, "invalid_field"),
            ]
            for (body, status, code) in cases {
                let response = try await api.call(.post, "/api/v1/accounts", body: body)
                #expect(response.status == status, "\(body): \(response.text)")
                #expect(response.errorCode == code, "\(body): \(response.text)")
            }
        }
    }

    @Test func hugeBodiesAreRefusedBeforeTheyAreRead() async throws {
        try await withAPI { api, _ in
            let huge = "{\"key\": \"" + String(repeating: "x", count: 3 << 20) + "\"}"
            let response = try await api.call(.post, "/api/v1/accounts", body: huge)
            #expect(response.status == 413)
            #expect(response.errorCode == "too_large")
        }
    }

    @Test func unknownRoutesAnswerJSON404() async throws {
        try await withAPI { api, _ in
            let response = try await api.call(.get, "/api/v1/nothing-here")
            #expect(response.status == 404)
            #expect(response.errorCode != nil)
        }
    }

    /// Every field of a valid account replaced by values of every wrong shape: always a 4xx or a success, never a 500.
    @Test func noFieldValueCausesAServerError() async throws {
        try await withAPI { api, _ in
            let hostile: [JSONValue] = [
                .null, .bool(true), .number(-1), .number(1e300), .string(""), .string(String(repeating: "ü", count: 5_000)),
                .string("\u{0}\u{7}<script>"), .array([.null]), .object(["x": .object(["y": .array([])])]),
            ]
            guard case .object(let base) = validAccountJSON() else { return }
            var paths: [[String]] = []
            for (key, value) in base {
                paths.append([key])
                if case .object(let nested) = value { for nestedKey in nested.keys { paths.append([key, nestedKey]) } }
            }
            for extra in ["service", "waitForAgentSeconds", "resolvers", "retry", "signature", "transfer", "outgoingAccountId"] {
                paths.append([extra])
            }
            var index = 0
            for path in paths {
                for value in hostile {
                    index += 1
                    let patch: JSONValue = path.count == 1 ? .object([path[0]: value]) : .object([path[0]: .object([path[1]: value])])
                    var document = validAccountJSON(["key": .string("K\(index % 10_000)"), "name": .string("N\(index)")])
                    document = document.merging(patch)
                    let response = try await api.call(.post, "/api/v1/accounts", json: document)
                    #expect((200..<500).contains(response.status), "\(path) = \(value): \(response.text)")
                    if response.status >= 400 { #expect(response.errorCode != nil) }
                }
            }
        }
    }
}

@Suite struct CatalogAPITests {
    @Test func dispositionsAndCannedAnswers() async throws {
        try await withAPI { api, _ in
            let account = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).string("id"))
            let global = try await api.call(.post, "/api/v1/dispositions", json: .object(["name": .string("Solved")]))
            #expect(global.status == 201)
            let local = try await api.call(.post, "/api/v1/dispositions", json: .object(["name": .string("Refund"), "accountId": .string(account)]))
            #expect(local.status == 201)
            #expect(local.json?["accountId"] == .string(account))
            let missingName = try await api.call(.post, "/api/v1/dispositions", json: .object(["name": .string(" ")]))
            #expect(missingName.status == 422 && missingName.errorField == "name")
            let badAccount = try await api.call(.post, "/api/v1/dispositions", json: .object(["name": .string("X"), "accountId": .string("nope")]))
            #expect(badAccount.status == 422 && badAccount.errorField == "accountId")
            let forAccount = try await api.call(.get, "/api/v1/dispositions?accountId=\(account)")
            if case .array(let items)? = forAccount.json?["items"] { #expect(items.count == 2) } else { Issue.record("\(forAccount.text)") }
            let localId = try #require(local.string("id"))
            let renamed = try await api.call(.patch, "/api/v1/dispositions/\(localId)", json: .object(["name": .string("Refunded")]))
            #expect(renamed.json?["name"] == .string("Refunded"))
            #expect(try await api.call(.delete, "/api/v1/dispositions/\(localId)").status == 204)
            #expect(try await api.call(.get, "/api/v1/dispositions/\(localId)").status == 404)

            let answer = try await api.call(.post, "/api/v1/canned-answers", json: .object([
                "name": .string("Greeting"), "text": .string("Hello {{ customer.name }}"), "accountId": .string(account),
            ]))
            #expect(answer.status == 201)
            let noBody = try await api.call(.post, "/api/v1/canned-answers", json: .object(["name": .string("Empty")]))
            #expect(noBody.status == 422 && noBody.errorField == "text")
            let answerId = try #require(answer.string("id"))
            let html = try await api.call(.patch, "/api/v1/canned-answers/\(answerId)", json: .object(["html": .string("<b>Hello</b>")]))
            #expect(html.json?["html"] == .string("<b>Hello</b>"))
            #expect(html.json?["text"] == .string("Hello {{ customer.name }}"))
            #expect(try await api.call(.delete, "/api/v1/canned-answers/\(answerId)").status == 204)
        }
    }

    @Test func globalSettings() async throws {
        try await withAPI { api, _ in
            let defaults = try await api.call(.get, "/api/v1/settings")
            #expect(defaults.status == 200)
            #expect(defaults.text.contains("mailer-daemon@googlemail.com"))
            let changed = try await api.call(.patch, "/api/v1/settings", json: .object([
                "failureMailSenders": .array([.string("mailer-daemon@googlemail.com"), .string("postmaster@example.com")]),
                "invitationTemplateKey": .string("welcome"), "invitationLinkBaseAddress": .string("https://desk.example.com"),
            ]))
            #expect(changed.status == 200, "\(changed.text)")
            #expect(try await api.call(.get, "/api/v1/settings").json?["invitationTemplateKey"] == .string("welcome"))
            let bad = try await api.call(.patch, "/api/v1/settings", json: .object(["failureMailSenders": .array([.string("nope")])]))
            #expect(bad.status == 422 && bad.errorField == "failureMailSenders[0]")
        }
    }
}

@Suite struct OperationalEndpointTests {
    @Test func healthAndMetrics() async throws {
        try await withAPI { api, _ in
            #expect(try await api.call(.get, "/healthz", token: nil).status == 200)
            let metrics = try await api.call(.get, "/metrics", token: nil)
            #expect(metrics.status == 200)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
        }
    }

    /// The OpenAPI document and the router list exactly the same operations.
    @Test func openAPIDescribesEveryRoute() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let router = APIRouter.build(WebDependencies(store: store, adminToken: nil, metricsText: { "" }))
            func normalise(_ path: String) -> String {
                "/" + path.split(separator: "/").map { part in
                    part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                }.joined(separator: "/")
            }
            // The web application's pages answer HTML and are not part of the API document.
            let served = Set(router.routes.map { "\($0.method.rawValue) \(normalise("\($0.path)"))" }
                .filter { route in ["/api/", "/healthz", "/readyz", "/metrics"].contains { route.split(separator: " ")[1].hasPrefix($0) } })
            let described = Set(OpenAPIDocument.describedRoutes.map { "\($0.method) \($0.path)" })
            #expect(served.subtracting(described).isEmpty, "served but not described: \(served.subtracting(described).sorted())")
            #expect(described.subtracting(served).isEmpty, "described but not served: \(described.subtracting(served).sorted())")
            #expect(served.count > 30)
        }
        try await withAPI { api, _ in
            let document = try await api.call(.get, "/api/v1/openapi.json", token: nil)
            #expect(document.status == 200)
            #expect(document.json?["openapi"] == .string("3.1.0"))
            #expect(document.json?["paths"]?["/api/v1/accounts/{id}"]?["patch"] != nil)
            #expect(document.json?["components"]?["schemas"]?["Account"] != nil)
        }
    }
}
