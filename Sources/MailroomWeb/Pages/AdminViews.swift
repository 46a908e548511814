import Foundation
import Hummingbird
import MailroomCore

/// `admin/users.mustache`: users with their roles and presence (administrators edit them).
struct UserListView: PageContent {
    static let template = "admin/users"

    struct Row: TemplateView {
        let id: String
        let name: String
        let email: String
        let alias: String
        let capacity: Int
        let active: Bool
        let roles: [OptionView]
        let role: String
        /// The state, and the pause reason in parentheses.
        let presence: String
        /// The newest invitation: "sent", "failed", "accepted", ... (empty: never invited).
        var invitation: String = ""
        var invited = false
        var invitationFailed = false
        /// The server's reply when the invitation mail failed.
        var invitationError: String = ""
        var previewSubject: String = ""
        var previewText: String = ""
        /// The user's own time zone (empty: the installation's).
        var timeZone: String = ""
    }

    var users: [Row]
    /// Every IANA name, for the time zone boxes' suggestions.
    var timeZoneNames: [String] = []
    /// The installation's zone, named in the boxes' hint.
    var installationZone: String = "UTC"
    /// Narrows the list to a campaign's agents; nil without campaigns.
    var campaignFilter: CampaignFilterView?
    /// The new user form's roles.
    let roles: [OptionView]
    /// The invitation settings are complete (the new-user form ticks "send invitation").
    var invitationsReady = false
    /// Why invitations cannot be sent yet, naming the setting.
    var invitationProblem: String?
}

/// `admin/queue-fields.mustache`: a queue's form, for an existing queue or a new one.
struct QueueFormView: TemplateView {
    /// One row per active user, ticked when a member.
    struct Member: TemplateView {
        let userId: String
        let name: String
        let email: String
        let role: String
        let member: Bool
        let priority: Int
    }

    /// An account the queue may serve.
    struct LinkedAccount: TemplateView {
        let id: String
        let label: String
        let linked: Bool
    }

    /// Element ids and labels start with it, so several forms share a page.
    let prefix: String
    let name: String
    let timeout: Int
    let strategies: [LabelledOptionView]
    let members: [Member]
    let accounts: [LinkedAccount]
    let hasAccounts: Bool
}

/// `admin/queues.mustache`: every queue, summarized, with its form; and a new queue's form.
struct QueueListView: PageContent {
    static let template = "admin/queues"

    struct Summary: TemplateView {
        let id: String
        let strategy: String
        let memberNames: String
        let accountNames: String
    }

    let queues: [Merged<Summary, QueueFormView>]
    let empty: Bool
    let new: QueueFormView
    /// Narrows the list to a campaign's queues; nil without campaigns.
    var campaignFilter: CampaignFilterView?
}

/// `admin/campaign-filter.mustache`: a supervisor's list narrowed to one campaign (`?campaignId=`).
struct CampaignFilterView: TemplateView {
    let action: String
    let campaigns: [NamedChoiceView]

    /// The filter for `path` and the campaign chosen in the request (nil: none, or one that no
    /// longer exists, which then filters nothing); no filter at all without campaigns.
    static func make(_ path: String, campaigns: [Campaign], request: Request) -> (view: CampaignFilterView?, chosen: Campaign?) {
        guard !campaigns.isEmpty else { return (nil, nil) }
        let id = request.uri.queryParameters["campaignId"].map(String.init)
        let chosen = campaigns.first { $0.id == id }
        return (CampaignFilterView(action: path, campaigns: campaigns.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == chosen?.id) }),
                chosen)
    }
}

/// `admin/catalog.mustache`: dispositions and canned answers of one account and the global ones.
struct CatalogView: PageContent {
    static let template = "admin/catalog"

    struct Disposition: TemplateView {
        let id: String
        let name: String
        let active: Bool
        /// The account's key, or "all accounts".
        let scope: String
    }

    struct Answer: TemplateView {
        let id: String
        let name: String
        let text: String
        let html: String
        let active: Bool
        let scope: String
    }

    let accounts: [ChoiceView]
    let accountId: String
    let braces: String
    let dispositions: [Disposition]
    let answers: [Answer]
}

/// `admin/templates.mustache`: message templates, each with its form, and a new one's form.
struct TemplateListView: PageContent {
    static let template = "admin/templates"

    struct Row: TemplateView {
        let id: String
        let key: String
        let subject: String
        let text: String
        let html: String
        let kinds: [OptionView]
        let kind: String
    }

    let templates: [Row]
    let kinds: [OptionView]
    /// A variable shown as text in the help.
    let example: String
}

/// `admin/settings.mustache`: the global settings.
struct SettingsView: PageContent {
    static let template = "admin/settings"

    struct InvitationTemplate: TemplateView {
        let key: String
        let selected: Bool
    }

    /// An account whose replies are sent from another.
    struct Mapping: TemplateView {
        let from: String
        let to: String
        let id: String
    }

    let failureMailSenders: String
    let invitationLink: String
    let invitationTemplates: [InvitationTemplate]
    let mappings: [Mapping]

    struct SenderOption: TemplateView {
        let value: String
        let label: String
        let selected: Bool
    }

    /// Accounts with an outgoing server, for the system sender.
    var systemSenders: [SenderOption] = []
    /// The installation's time zone (issue 27).
    var timeZones: [LabelledOptionView] = []
    /// Agents' presence after signing in.
    var presenceChoices: [LabelledOptionView] = []
    var invitationHours: Int = UserLink.defaultInvitationHours
}

/// `admin/outbox.mustache`: the outbox, fifty entries a page.
struct OutboxListView: PageContent {
    static let template = "admin/outbox"

    struct Row: TemplateView {
        let id: String
        let ticketId: String
        let state: String
        let attempts: Int
        let recipients: String
        /// The account's key.
        let account: String
        let created: String
        let next: String
        let lastError: String
        /// Why it waits though due ("account inactive"); empty when nothing holds it.
        let held: String?
        let canResend: Bool
    }

    let states: [OptionView]
    let items: [Row]
    let empty: Bool
    let nextPage: String?
}

/// `admin/outbox-item.mustache`: one delivery and its attempts.
struct OutboxItemView: PageContent {
    static let template = "admin/outbox-item"

    struct Item: TemplateView {
        let id: String
        let ticketId: String
        let state: String
        let attempts: Int
        let recipients: String
        let envelopeFrom: String
        let lastError: String
        let held: String?
        let next: String
        let sent: String
        /// Mailroom's own mail (no ticket): what it is for.
        var systemPurpose: String? = nil
    }

    struct Attempt: TemplateView {
        let time: String
        let outcome: String
        let code: String
        let enhanced: String
        let text: String
        let errorClass: String
        let policy: String
        let next: String
    }

    let item: Item
    let canResend: Bool
    let attemptRows: [Attempt]
}

/// `admin/quarantine.mustache`: mail that could not become a ticket.
struct QuarantineView: PageContent {
    static let template = "admin/quarantine"

    struct Entry: TemplateView {
        let id: String
        /// The account's key.
        let account: String
        let reason: String
        let detail: String
        let from: String
        let subject: String
        let size: String
        let time: String
        let replayed: Bool
        let hasRaw: Bool
        let leftOnServer: Bool
    }

    let includeReplayed: Bool
    let entries: [Entry]
    let empty: Bool
}

/// `admin/quarantine-entry.mustache`: one quarantined message, its raw text shown as text.
struct QuarantineEntryView: PageContent {
    static let template = "admin/quarantine-entry"

    let entry: QuarantineView.Entry
    let reasonDetail: String
    /// The raw message as text (invalid UTF-8 replaced), cut at ``rawShownLimit`` bytes.
    let rawText: String
    let rawCut: Bool
    static let rawShownLimit = 512 * 1024
}

/// `admin/status.mustache`: each account's fetching state.
struct StatusView: PageContent {
    static let template = "admin/status"

    struct Row: TemplateView {
        let key: String
        let name: String
        let id: String
        let active: Bool
        let fetching: Bool
        let connected: Bool
        let idle: Bool
        let lastFetch: String
        /// Seconds since the last successful fetch.
        let lag: String
        let lastError: String
        let lastErrorAt: String
        /// "failing since … (3 tries)", "working (recovered at …)".
        let health: String
        let failing: Bool
        let ingested: Int
        let quarantined: Int
        /// For an account that signs in through a provider: how its token stands.
        let token: Token?
    }

    struct Token: TemplateView {
        let state: String
        let stateLabel: String
        let message: String
        /// The state needs someone to sign in (again).
        let needsSignIn: Bool
    }

    let accounts: [Row]
    let empty: Bool
    /// The disk is full or the database does not answer: shown above the table.
    var storageProblem: StorageProblem? = nil

    struct StorageProblem: TemplateView {
        /// "disk full" or "database unreachable".
        let status: String
        let message: String
    }
}
