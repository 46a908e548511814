import Foundation
import Hummingbird
import MailroomCore

/// `admin/campaigns.mustache`: Ameyo's campaigns (queues, accounts and agents grouped), listed,
/// created, edited and deleted through `/api/v1/campaigns`.
struct CampaignListView: PageContent {
    static let template = "admin/campaigns"

    /// One tick box of the form: a queue, an account or an agent.
    struct Choice: TemplateView {
        let id: String
        let label: String
        let checked: Bool
    }

    /// `admin/campaign-fields.mustache`, for a campaign or the new one.
    struct Form: TemplateView {
        let prefix: String
        let name: String
        let queues: [Choice]
        let accounts: [Choice]
        let agents: [Choice]
        let hasQueues: Bool
        let hasAccounts: Bool
        let hasAgents: Bool
    }

    struct Summary: TemplateView {
        let id: String
        let queueNames: String
        let accountNames: String
        let agentNames: String
        /// Rules that route within the campaign, by name.
        let ruleNames: String
    }

    let campaigns: [Merged<Summary, Form>]
    let empty: Bool
    let new: Form
}

extension WebSite {
    func addCampaignRoutes(to pages: RouterGroup<MailroomRequestContext>) {
        pages.get("admin/campaigns") { request, context in try await self.campaignList(request, context) }
    }

    func campaignList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .admin)
        let campaigns = try await store.routing.campaigns()
        let queues = try await store.routing.queues()
        let accounts = try await store.accounts.list(includeDeleted: false)
        let agents = try await store.users.list().filter(\.active)
        let rules = try await store.rules.all()
        let queueNames = Dictionary(queues.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let accountNames = Dictionary(accounts.map { ($0.id, "\($0.key) · \($0.name)") }, uniquingKeysWith: { first, _ in first })
        let agentNames = Dictionary(agents.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        func form(_ campaign: Campaign?, prefix: String) -> CampaignListView.Form {
            let chosenQueues = Set(campaign?.queueIds ?? [])
            let chosenAccounts = Set(campaign?.accountIds ?? [])
            let chosenAgents = Set(campaign?.userIds ?? [])
            return CampaignListView.Form(
                prefix: prefix, name: campaign?.name ?? "",
                queues: queues.map { .init(id: $0.id, label: $0.name, checked: chosenQueues.contains($0.id)) },
                accounts: accounts.map { .init(id: $0.id, label: "\($0.key) · \($0.name)", checked: chosenAccounts.contains($0.id)) },
                agents: agents.map { .init(id: $0.id, label: "\($0.name) (\($0.email), \($0.role.rawValue))", checked: chosenAgents.contains($0.id)) },
                hasQueues: !queues.isEmpty, hasAccounts: !accounts.isEmpty, hasAgents: !agents.isEmpty)
        }
        func names(_ ids: [String], _ known: [String: String]) -> String {
            ids.compactMap { known[$0] }.joined(separator: ", ")
        }
        let rows = campaigns.sorted { $0.name.localizedCaseInsensitiveCompare($1.name) == .orderedAscending }.enumerated().map { index, campaign in
            Merged(CampaignListView.Summary(
                       id: campaign.id,
                       queueNames: names(campaign.queueIds, queueNames), accountNames: names(campaign.accountIds, accountNames),
                       agentNames: names(campaign.userIds, agentNames),
                       ruleNames: rules.filter { $0.campaignId == campaign.id }.map(\.name).joined(separator: ", ")),
                   form(campaign, prefix: "c\(index)"))
        }
        return try render(page(session, title: "Campaigns", section: "campaigns",
                               CampaignListView(campaigns: rows, empty: rows.isEmpty, new: form(nil, prefix: "nc"))))
    }
}
