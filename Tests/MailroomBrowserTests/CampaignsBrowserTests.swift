import Foundation
import MailroomTestSupport
import Testing

/// Ameyo's campaigns in the browser (issue 24): an administrator creates one from queues,
/// accounts and agents, changes it, and deletes it after a confirmation that names the rules
/// routing within it; the ticket list offers the campaign as a filter. Screenshots
/// `campaigns-*` at desktop and phone widths.
@Suite(.serialized, .enabled(if: BrowserHarness.enabled))
struct CampaignsBrowserTests {
    @Test func anAdministratorCreatesChangesAndDeletesACampaign() async throws {
        try await BrowserHarness.run { h in
            try await h.createUser(name: "Ada Admin", email: "ada@example.com", role: "admin")
            let agnes = try await h.createUser(name: "Agnes Agent", email: "agnes@example.com", role: "agent")
            let (_, account) = try await h.api("POST", "/api/v1/accounts", json: """
                {"key": "PCL", "name": "Parcels", "fromAddress": "parcels@example.com", "incoming": {"protocol": "none"}, "outgoing": {"protocol": "none"}}
                """)
            let accountId = try #require(account["id"] as? String, "\(account)")
            let (_, queue) = try await h.api("POST", "/api/v1/queues", json: #"{"name": "Parcel line", "strategy": "ringAll"}"#)
            let queueId = try #require(queue["id"] as? String, "\(queue)")
            try await h.signIn("ada@example.com", "password-123")
            try await h.go("/admin/campaigns")
            #expect(try await h.text("#no-campaigns").contains("No campaigns yet"))

            try await h.fill("#nc-name", "Parcels campaign")
            try await h.setChecked("#nc-q-\(queueId)", true)
            try await h.setChecked("#nc-a-\(accountId)", true)
            try await h.setChecked("#nc-u-\(agnes)", true)
            try await h.click("#new-campaign button[type=submit]")
            let created = try await h.waitForItems("/api/v1/campaigns") { !$0.isEmpty }
            let campaignId = try #require(created.first?["id"] as? String)
            #expect(created.first?["queueIds"] as? [String] == [queueId])
            #expect(created.first?["accountIds"] as? [String] == [accountId])
            #expect(created.first?["userIds"] as? [String] == [agnes])

            // A rule routing within it, named on the card and in the deletion's confirmation.
            let (ruleStatus, rule) = try await h.api("POST", "/api/v1/rules", json: """
                {"name": "Parcels to the line", "accountId": "\(accountId)", "campaignId": "\(campaignId)",
                 "actions": [{"type": "queue", "queueId": "\(queueId)"}]}
                """)
            #expect(ruleStatus == 201, "\(rule)")
            try await h.go("/admin/campaigns")
            let card = try await h.text("[data-campaign='\(campaignId)']")
            for part in ["Parcels campaign", "Parcel line", "PCL · Parcels", "Agnes Agent", "Parcels to the line"] {
                #expect(card.contains(part), "the card names \(part): \(card)")
            }
            try await h.driver.setWindow(width: 1280, height: 900)
            try await h.screenshot("campaigns-desktop")
            try await h.driver.setWindow(width: 390, height: 844)
            try await h.screenshot("campaigns-phone")
            try await h.driver.setWindow(width: 1280, height: 900)

            // Edit: Agnes leaves the campaign.
            try await h.click("[data-campaign='\(campaignId)'] summary")
            try await h.setChecked("#c0-u-\(agnes)", false)
            try await h.click("#c0-form button.primary")
            _ = try await h.waitForItems("/api/v1/campaigns") { ($0.first?["userIds"] as? [String]) == [] }

            // The ticket list filters by campaign.
            try await h.go("/tickets?view=all")
            let options = try await h.driver.execute(
                "return Array.from(document.querySelectorAll('#f-campaign option')).map(o => o.textContent)") as? [String] ?? []
            #expect(options.contains("Parcels campaign"), "\(options)")

            // Delete: the confirmation names the rule that stops routing.
            try await h.go("/admin/campaigns")
            try await h.click("#c0-delete button.danger")
            try await h.driver.waitUntil("the confirmation opens") {
                try await h.driver.execute("return document.getElementById('c0-delete-dialog').open") as? Bool ?? false
            }
            #expect(try await h.text("#c0-delete-dialog").contains("Parcels to the line"))
            try await h.screenshot("campaigns-delete-confirmation")
            try await h.click("#c0-delete-dialog button[value='yes']")
            _ = try await h.waitForItems("/api/v1/campaigns") { $0.isEmpty }
        }
    }
}
