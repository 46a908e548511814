import Foundation
import MailroomCore
import MailroomTestSupport
import Testing

@Suite struct RulesAPITests {
    @Test func rulesAreCheckedStoredReorderedAndDisabledWithTheirAccount() async throws {
        try await withAPI { api, store in
            let accountId = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).string("id"))
            func rule(_ name: String, position: Int) -> JSONValue {
                .object([
                    "accountId": .string(accountId), "name": .string(name), "position": .number(Double(position)), "match": .string("all"),
                    "conditions": .array([.object(["field": .string("subject"), "operator": .string("contains"), "value": .string("invoice")])]),
                    "actions": .array([.object(["type": .string("tag"), "tag": .string("billing")]),
                                       .object(["type": .string("queue"), "queueId": .string("q-billing")])]),
                ])
            }
            let first = try await api.call(.post, "/api/v1/rules", json: rule("Billing", position: 0))
            #expect(first.status == 201, "\(first.text)")
            let second = try await api.call(.post, "/api/v1/rules", json: rule("Second", position: 1))
            let firstId = try #require(first.string("id"))
            let secondId = try #require(second.string("id"))

            let bad = try await api.call(.post, "/api/v1/rules", json: .object([
                "accountId": .string(accountId), "name": .string("Bad"),
                "conditions": .array([.object(["field": .string("from"), "operator": .string("resembles"), "value": .string("x")])]),
                "actions": .array([.object(["type": .string("stop")])]),
            ]))
            #expect(bad.status == 422 && bad.errorField == "conditions[0].operator", "\(bad.text)")
            let badGoto = try await api.call(.post, "/api/v1/rules", json: .object([
                "accountId": .string(accountId), "name": .string("Jump"), "actions": .array([.object(["type": .string("goto"), "ruleId": .string("nowhere")])]),
            ]))
            #expect(badGoto.status == 422 && badGoto.errorField == "actions[0].ruleId", "\(badGoto.text)")
            let noAccount = try await api.call(.post, "/api/v1/rules", json: rule("X", position: 2).merging(.object(["accountId": .string("nope")])))
            #expect(noAccount.errorField == "accountId")
            let agent = try await api.token(for: .agent)
            #expect(try await api.call(.get, "/api/v1/rules", token: agent).status == 403)

            let reordered = try await api.call(.post, "/api/v1/rules/reorder", json: .object([
                "accountId": .string(accountId), "order": .array([.string(secondId), .string(firstId)]),
            ]))
            #expect(reordered.status == 200, "\(reordered.text)")
            #expect(try await store.rules.list(accountId: accountId).map(\.id) == [secondId, firstId])
            let incomplete = try await api.call(.post, "/api/v1/rules/reorder", json: .object([
                "accountId": .string(accountId), "order": .array([.string(secondId)]),
            ]))
            #expect(incomplete.status == 422 && incomplete.errorField == "order")

            let disabled = try await api.call(.patch, "/api/v1/rules/\(firstId)", json: .object(["enabled": .bool(false)]))
            #expect(disabled.json?["enabled"] == .bool(false))
            #expect(disabled.json?["name"] == .string("Billing"))

            #expect(try await api.call(.delete, "/api/v1/accounts/\(accountId)").status == 204)
            #expect(try await store.rules.list(accountId: accountId).allSatisfy { !$0.enabled }, "deleting the account disables its rules")
            #expect(try await api.call(.delete, "/api/v1/rules/\(secondId)").status == 204)
        }
    }
}
