import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

/// `/api/v1/campaigns` (Ameyo's campaigns): administrators group queues, accounts and agents; an
/// agent in campaigns sees only their campaigns' tickets; the ticket list filters by campaign.
@Suite struct CampaignsAPITests {
    func ticket(_ store: SQLStore, accountId: String, subject: String) async throws -> String {
        let account = try #require(try await store.accounts.find(id: accountId))
        let mail = InboundMail(rawSha256: "raw-\(subject)", rawSize: 1, contentHash: "content-\(subject)", messageId: "\(subject)@x",
                               subject: subject, from: [EmailAddress(address: "\(subject.lowercased())@example.com")], date: nil,
                               text: subject, html: nil)
        return try #require(try await store.ingest.ingest(mail, raw: [1], account: account, position: nil).ticketId)
    }

    func subjects(_ response: APIResponse) -> Set<String> {
        guard case .array(let items)? = response.json?["items"] else { return [] }
        return Set(items.compactMap { if case .string(let s)? = $0["subject"] { s } else { nil } })
    }

    @Test(arguments: TestDatabase.available)
    func campaignsLimitWhatTheirAgentsSeeAndFilterTheList(_ kind: TestDatabase) async throws {
        try await withAPI(kind) { api, store in
            let sales = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["key": .string("SAL"), "name": .string("Sales")])).string("id"))
            let care = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["key": .string("CARE"), "name": .string("Care")])).string("id"))
            let agentToken = try await api.token(for: .agent, email: "agnes@example.com")
            let agentId = try #require(try await store.users.find(email: "agnes@example.com")?.id)
            let queue = try #require(try await api.call(.post, "/api/v1/queues", json: .object([
                "name": .string("Both"), "members": .array([.object(["userId": .string(agentId), "priority": .number(0)])]),
                "accountIds": .array([.string(sales), .string(care)]),
            ])).string("id"))
            _ = try await ticket(store, accountId: sales, subject: "Order")
            let careTicket = try await ticket(store, accountId: care, subject: "Broken")
            #expect(subjects(try await api.call(.get, "/api/v1/tickets", token: agentToken)) == ["Order", "Broken"], "no campaign: no limit")

            // Only administrators group them, and every id must name something.
            let body: JSONValue = .object(["name": .string("Sales campaign"), "queueIds": .array([.string(queue)]),
                                           "accountIds": .array([.string(sales)]), "userIds": .array([.string(agentId)])])
            #expect(try await api.call(.post, "/api/v1/campaigns", token: agentToken, json: body).status == 403)
            let bad = try await api.call(.post, "/api/v1/campaigns", json: .object(["name": .string("X"), "accountIds": .array([.string("nope")])]))
            #expect(bad.status == 422 || bad.status == 400, "\(bad.text)")
            #expect(bad.text.contains("accountIds[0]"))
            let created = try await api.call(.post, "/api/v1/campaigns", json: body)
            #expect(created.status == 201, "\(created.text)")
            let campaignId = try #require(created.string("id"))
            #expect(try await api.call(.post, "/api/v1/campaigns", json: body).status == 409, "names are unique")
            #expect(try await api.call(.get, "/api/v1/campaigns", token: agentToken).text.contains(#""name":"Sales campaign""#))

            // The agent now sees only the campaign's account; the others are as if they did not exist.
            #expect(subjects(try await api.call(.get, "/api/v1/tickets", token: agentToken)) == ["Order"])
            #expect(try await api.call(.get, "/api/v1/tickets/\(careTicket)", token: agentToken).status == 404)
            // Supervisors see everything, and filter by campaign.
            #expect(subjects(try await api.call(.get, "/api/v1/tickets")) == ["Order", "Broken"])
            #expect(subjects(try await api.call(.get, "/api/v1/tickets?campaignId=\(campaignId)")) == ["Order"])
            #expect(subjects(try await api.call(.get, "/api/v1/tickets?campaignId=\(campaignId)&accountId=\(care)")).isEmpty)
            #expect(try await api.call(.get, "/api/v1/tickets?campaignId=nope").status >= 400)

            // Care joins the campaign: its tickets come into view.
            let changed = try await api.call(.put, "/api/v1/campaigns/\(campaignId)", json: body.merging(.object([
                "accountIds": .array([.string(sales), .string(care)]),
            ])))
            #expect(changed.status == 200, "\(changed.text)")
            #expect(subjects(try await api.call(.get, "/api/v1/tickets", token: agentToken)) == ["Order", "Broken"])

            // A deleted account leaves its campaigns.
            #expect(try await api.call(.delete, "/api/v1/accounts/\(care)").status == 204)
            #expect(try await api.call(.get, "/api/v1/campaigns/\(campaignId)").json?["accountIds"] == .array([.string(sales)]))
            #expect(try await api.call(.delete, "/api/v1/campaigns/\(campaignId)").status == 204)
            #expect(try await api.call(.get, "/api/v1/campaigns/\(campaignId)").status == 404)
        }
    }

    /// Ameyo: "create a routing rule ... selecting this email media profile and select the required
    /// both queue and campaign": a rule that names a campaign routes only to its queues, for its accounts.
    @Test func aRuleRoutesToAQueueWithinItsCampaign() async throws {
        try await withAPI { api, _ in
            let sales = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["key": .string("SAL"), "name": .string("Sales")])).string("id"))
            let care = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["key": .string("CARE"), "name": .string("Care")])).string("id"))
            let inside = try #require(try await api.call(.post, "/api/v1/queues", json: .object(["name": .string("Inside")])).string("id"))
            let outside = try #require(try await api.call(.post, "/api/v1/queues", json: .object(["name": .string("Outside")])).string("id"))
            let campaign = try #require(try await api.call(.post, "/api/v1/campaigns", json: .object([
                "name": .string("Sales"), "queueIds": .array([.string(inside)]), "accountIds": .array([.string(sales)]),
            ])).string("id"))
            func rule(account: String, queue: String, campaignId: String = campaign) -> JSONValue {
                .object(["name": .string("Route"), "accountId": .string(account), "campaignId": .string(campaignId),
                         "actions": .array([.object(["type": .string("queue"), "queueId": .string(queue)])])])
            }
            let good = try await api.call(.post, "/api/v1/rules", json: rule(account: sales, queue: inside))
            #expect(good.status == 201, "\(good.text)")
            #expect(good.json?["campaignId"] == .string(campaign))
            let wrongQueue = try await api.call(.post, "/api/v1/rules", json: rule(account: sales, queue: outside))
            #expect(wrongQueue.status == 422 || wrongQueue.status == 400, "\(wrongQueue.text)")
            #expect(wrongQueue.text.contains("actions[0].queueId"))
            let wrongAccount = try await api.call(.post, "/api/v1/rules", json: rule(account: care, queue: inside))
            #expect(wrongAccount.text.contains("is not an account of campaign"), "\(wrongAccount.text)")
            let noCampaign = try await api.call(.post, "/api/v1/rules", json: rule(account: sales, queue: inside, campaignId: "nope"))
            #expect(noCampaign.text.contains("campaignId"), "\(noCampaign.text)")
        }
    }

    /// Supervisors' views across the installation filter by campaign: the queues (API and page) and
    /// the agents (API and the users page), as the ticket list does.
    @Test func supervisorsQueuesAndAgentsFilterByCampaign() async throws {
        try await withSite { browser, api, store in
            try await makeUser(api, role: .supervisor, email: "sue@example.com")
            try await makeUser(api, role: .agent, email: "agnes@example.com")
            try await makeUser(api, role: .agent, email: "bob@example.com")
            let agnes = try #require(try await store.users.find(email: "agnes@example.com")?.id)
            let inside = try #require(try await api.call(.post, "/api/v1/queues", json: .object([
                "name": .string("Inside"), "members": .array([.object(["userId": .string(agnes), "priority": .number(0)])]),
            ])).string("id"))
            let outside = try #require(try await api.call(.post, "/api/v1/queues", json: .object(["name": .string("Outside")])).string("id"))
            let campaign = try #require(try await api.call(.post, "/api/v1/campaigns", json: .object([
                "name": .string("Sales"), "queueIds": .array([.string(inside)]), "userIds": .array([.string(agnes)]),
            ])).string("id"))

            func names(_ response: APIResponse, _ field: String) -> [String] {
                guard case .array(let items)? = response.json?["items"] else { return [] }
                return items.compactMap { if case .string(let s)? = $0[field] { s } else { nil } }
            }
            #expect(Set(names(try await api.call(.get, "/api/v1/queues"), "id")) == [inside, outside])
            #expect(names(try await api.call(.get, "/api/v1/queues?campaignId=\(campaign)"), "id") == [inside])
            #expect(names(try await api.call(.get, "/api/v1/users?campaignId=\(campaign)"), "email") == ["agnes@example.com"])
            #expect(names(try await api.call(.get, "/api/v1/users"), "email").contains("bob@example.com"))
            let unknown = try await api.call(.get, "/api/v1/queues?campaignId=nope")
            #expect(unknown.status == 422 || unknown.status == 400, "\(unknown.text)")
            #expect(unknown.text.contains("campaignId"))

            try await browser.signIn("sue@example.com", "password-123")
            let queues = try await browser.get("/admin/queues?campaignId=\(campaign)")
            #expect(queues.status == 200)
            #expect(queues.text.contains("data-queue=\"\(inside)\""))
            #expect(!queues.text.contains("data-queue=\"\(outside)\""))
            #expect(queues.text.contains("<option value=\"\(campaign)\" selected>Sales</option>"), "the filter shows the campaign chosen")
            #expect(try await browser.get("/admin/queues").text.contains("data-queue=\"\(outside)\""), "no filter: every queue")
            let users = try await browser.get("/admin/users?campaignId=\(campaign)")
            #expect(users.status == 200)
            #expect(users.text.contains("agnes@example.com"))
            #expect(!users.text.contains("bob@example.com"))
            #expect(try await browser.get("/admin/users").text.contains("bob@example.com"))
        }
    }
}
