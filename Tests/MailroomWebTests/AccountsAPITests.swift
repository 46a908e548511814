import Foundation
import MailroomCore
import MailroomTestSupport
import Testing

@Suite struct AccountsAPITests {
    @Test(arguments: TestDatabase.available)
    func createReadUpdateDelete(_ kind: TestDatabase) async throws {
        try await withAPI(kind) { api, _ in
            let created = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON())
            #expect(created.status == 201, "\(created.text)")
            let id = try #require(created.string("id"))
            #expect(created.json?["incoming"]?["port"] == .number(993))
            #expect(created.json?["incoming"]?["security"] == .string("tls"))

            let read = try await api.call(.get, "/api/v1/accounts/\(id)")
            #expect(read.status == 200)
            #expect(read.json?["key"] == .string("SUP"))

            let patched = try await api.call(.patch, "/api/v1/accounts/\(id)", json: .object([
                "name": .string("Support desk"), "waitForAgentSeconds": .number(30),
                "signature": .object(["html": .string("<p>{{ agent.name }}</p>"), "beforeQuote": .bool(true)]),
            ]))
            #expect(patched.status == 200, "\(patched.text)")
            #expect(patched.json?["name"] == .string("Support desk"))
            #expect(patched.json?["waitForAgentSeconds"] == .number(30))
            #expect(patched.json?["signature"]?["beforeQuote"] == .bool(true))
            #expect(patched.json?["incoming"]?["auth"]?["passwordSet"] == .bool(true), "the password was kept")

            let put = try await api.call(.put, "/api/v1/accounts/\(id)", json: .object(["description": .string("Main desk")]))
            #expect(put.status == 200)
            #expect(put.json?["name"] == .string("Support desk"))

            let list = try await api.call(.get, "/api/v1/accounts")
            if case .array(let items)? = list.json?["items"] { #expect(items.count == 1) } else { Issue.record("no items: \(list.text)") }

            let deleted = try await api.call(.delete, "/api/v1/accounts/\(id)")
            #expect(deleted.status == 204)
            let afterDelete = try await api.call(.get, "/api/v1/accounts/\(id)")
            #expect(afterDelete.status == 200, "a deleted account stays readable for its history")
            #expect(afterDelete.json?["deletedAt"] != .null)
            #expect(afterDelete.json?["active"] == .bool(false))
            let emptyList = try await api.call(.get, "/api/v1/accounts")
            #expect(emptyList.json?["items"] == .array([]))
            let withDeleted = try await api.call(.get, "/api/v1/accounts?includeDeleted=true")
            if case .array(let items)? = withDeleted.json?["items"] { #expect(items.count == 1) }
            #expect(try await api.call(.delete, "/api/v1/accounts/\(id)").status == 404)
            let changeDeleted = try await api.call(.patch, "/api/v1/accounts/\(id)", json: .object(["name": .string("x")]))
            #expect(changeDeleted.status == 409)
            #expect(try await api.call(.get, "/api/v1/accounts/nope").status == 404)
        }
    }

    @Test(arguments: [
        ("incoming", "protocol", JSONValue.string("pop3")),
        ("outgoing", "protocol", JSONValue.string("none")),
        ("incoming", "mailbox", JSONValue.string("Archive")),
        ("outgoing", "sentFolder", JSONValue.string("Sent")),
    ])
    func protocolsAndFoldersAnswer409(side: String, field: String, value: JSONValue) async throws {
        try await withAPI { api, _ in
            let id = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).string("id"))
            let response = try await api.call(.patch, "/api/v1/accounts/\(id)", json: .object([side: .object([field: value])]))
            #expect(response.status == 409)
            #expect(response.errorField == "\(side).\(field)")
            #expect(response.json?["error"]?["message"].map { "\($0)" }?.contains("cannot change") == true)
        }
    }

    @Test(arguments: [
        ("key", JSONValue.string("ABCDE"), true), ("key", .string("ABCDEF"), false), ("key", .string(""), false),
        ("fromName", .string(String(repeating: "n", count: 52)), true), ("fromName", .string(String(repeating: "n", count: 53)), false),
        ("waitForAgentSeconds", .number(0), false), ("waitForAgentSeconds", .number(1), true),
        ("waitForAgentSeconds", .number(2_147_483), true), ("waitForAgentSeconds", .number(2_147_484), false),
        ("waitForQueueSeconds", .number(0), false), ("waitForQueueSeconds", .number(1), true),
        ("waitForQueueSeconds", .number(2_147_483), true), ("waitForQueueSeconds", .number(2_147_484), false),
    ])
    func boundaries(field: String, value: JSONValue, accepted: Bool) async throws {
        try await withAPI { api, _ in
            let response = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON([field: value]))
            if accepted {
                #expect(response.status == 201, "\(response.text)")
            } else {
                #expect(response.status == 422, "\(response.text)")
                #expect(response.errorField == field)
                #expect(response.errorCode == "invalid_field")
            }
        }
    }

    @Test func portsAndTimeoutsHaveBoundsAndDefaults() async throws {
        try await withAPI { api, _ in
            for (port, accepted) in [(0, false), (1, true), (65_535, true), (65_536, false)] {
                let response = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON([
                    "key": .string("P\(port % 1000)"), "name": .string("Port \(port)"),
                    "outgoing": .object(["port": .number(Double(port))]),
                ]))
                #expect(response.status == (accepted ? 201 : 422), "port \(port): \(response.text)")
                if !accepted { #expect(response.errorField == "outgoing.port") }
            }
            let defaults = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["key": .string("D"), "name": .string("D")]))
            #expect(defaults.json?["outgoing"]?["connectionTimeoutSeconds"] == .number(10))
            #expect(defaults.json?["outgoing"]?["authTimeoutSeconds"] == .number(5))
            #expect(defaults.json?["incoming"]?["fetchIntervalSeconds"] == .number(10))
        }
    }

    @Test func presetsFillRealServers() async throws {
        try await withAPI { api, _ in
            let response = try await api.call(.post, "/api/v1/accounts", json: .object([
                "key": .string("O365"), "name": .string("Office"), "service": .string("outlook365"),
                "fromAddress": .string("desk@contoso.example"),
                "incoming": .object(["auth": .object(["password": .string("pw")])]),
                "outgoing": .object(["auth": .object(["password": .string("pw")])]),
            ]))
            #expect(response.status == 201, "\(response.text)")
            #expect(response.json?["incoming"]?["host"] == .string("outlook.office365.com"))
            #expect(response.json?["outgoing"]?["host"] == .string("smtp.office365.com"))
            #expect(response.json?["outgoing"]?["port"] == .number(587))
            #expect(response.json?["outgoing"]?["security"] == .string("starttls"))
            let presets = try await api.call(.get, "/api/v1/service-presets")
            #expect(presets.status == 200)
            #expect(presets.text.contains("imap.gmail.com"))
        }
    }

    @Test func uniqueKeyAndNameAnswer409() async throws {
        try await withAPI { api, _ in
            #expect(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).status == 201)
            let sameKey = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["name": .string("Other")]))
            #expect(sameKey.status == 409)
            #expect(sameKey.errorField == "key")
            let sameName = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["key": .string("OTH")]))
            #expect(sameName.status == 409)
            #expect(sameName.errorField == "name")
        }
    }

    @Test func outgoingMappingMustNameASendingAccount() async throws {
        try await withAPI { api, _ in
            let missing = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["outgoingAccountId": .string("nope")]))
            #expect(missing.status == 422)
            #expect(missing.errorField == "outgoingAccountId")
            let receiveOnly = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON([
                "key": .string("RO"), "name": .string("Receive only"), "outgoing": .object(["protocol": .string("none")]),
            ]))
            let receiveOnlyId = try #require(receiveOnly.string("id"))
            let notSending = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["outgoingAccountId": .string(receiveOnlyId)]))
            #expect(notSending.status == 422)
            let sender = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["key": .string("OUT"), "name": .string("Out")]))
            let senderId = try #require(sender.string("id"))
            let mapped = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["outgoingAccountId": .string(senderId)]))
            #expect(mapped.status == 201, "\(mapped.text)")
            let mappedId = try #require(mapped.string("id"))
            // Deleting the sender removes the mapping: replies go out through the account itself again.
            #expect(try await api.call(.delete, "/api/v1/accounts/\(senderId)").status == 204)
            #expect(try await api.call(.get, "/api/v1/accounts/\(mappedId)").json?["outgoingAccountId"] == .null)
        }
    }

    @Test func credentialsNeverAppearInResponses() async throws {
        try await withAPI { api, _ in
            let secrets = ["incoming-secret-value", "outgoing-secret-value", "oauth-client-secret", "oauth-refresh-token"]
            let created = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON())
            let id = try #require(created.string("id"))
            let oauth = try await api.call(.patch, "/api/v1/accounts/\(id)", json: .object(["outgoing": .object(["auth": .object([
                "method": .string("oauth2"),
                "oauth2": .object(["clientId": .string("app"), "clientSecret": .string("oauth-client-secret"),
                                   "refreshToken": .string("oauth-refresh-token")]),
            ])])]))
            #expect(oauth.status == 200, "\(oauth.text)")
            #expect(oauth.json?["outgoing"]?["auth"]?["oauth2"]?["refreshTokenSet"] == .bool(true))
            let responses = [created, oauth,
                             try await api.call(.get, "/api/v1/accounts/\(id)"),
                             try await api.call(.get, "/api/v1/accounts"),
                             try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["key": .string("BAD"), "port": .string("x")]))]
            for response in responses {
                for secret in secrets { #expect(!response.text.contains(secret), "\(response.text)") }
            }
        }
    }
}
