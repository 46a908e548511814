import Foundation

/// One row of `ticket-rows.mustache` (and the ticket page's heading).
struct TicketRowView: TemplateView {
    let id: String
    let number: Int64
    let subject: String
    /// `Name <address>`, or the address alone.
    let contact: String
    let started: String
    let startedISO: String
    let lastMessage: String
    let lastMessageISO: String
    /// `in` or `out`.
    let direction: String
    /// `received` or `sent`.
    let directionLabel: String
    let status: String
    let unread: Bool
    let escalated: Bool
    /// The agent's name, or a dash.
    let agent: String
    /// The account's key.
    let account: String
    /// Comma-separated; empty when none.
    let tags: String
}

/// `ticket-rows.mustache`: a page of tickets, rendered inside the list and the desk, and alone
/// (`/tickets/fragment`) when a live event refreshes it.
struct TicketRowsView: RenderedView {
    static let template = "ticket-rows"
    let tickets: [TicketRowView]
    let empty: Bool
    let firstPage: String?
    let nextPage: String?
}

/// `tickets.mustache`: Motion's interactions list with its filters.
struct TicketListView: PageContent {
    static let template = "tickets"

    /// A choice of the view select (`mine`, `all`, `unassigned`, `queue`).
    struct ViewChoice: TemplateView {
        let value: String
        let label: String
        let selected: Bool
    }

    let views: [ViewChoice]
    let queues: [NamedChoiceView]
    let hasQueues: Bool
    let accounts: [ChoiceView]
    /// Campaigns to filter by (their accounts' tickets); the filter shows only when there are some.
    let campaigns: [NamedChoiceView]
    let hasCampaigns: Bool
    let agents: [NamedChoiceView]
    let statuses: [OptionView]
    let unreadAny: Bool
    let unreadYes: Bool
    let unreadNo: Bool
    let tag: String
    let since: String
    let until: String
    /// Where the rows are reloaded from when a live event arrives.
    let fragmentSource: String
    let showAgentFilter: Bool
    let rows: TicketRowsView
}

/// `ticket.mustache`: one ticket, its messages and the agent's actions.
struct TicketPageView: PageContent {
    static let template = "ticket"

    struct MessageView: TemplateView {
        let id: String
        let direction: String
        let directionLabel: String
        let from: String
        let to: String
        let cc: String
        let hasCc: Bool
        let subject: String
        let date: String
        let dateISO: String
        let text: String
        let hasHTML: Bool
        /// The sanitized HTML for the sandboxed frame.
        let bodyURL: String
        let blockedImages: Bool
        let blockedCount: Int
        let showImagesURL: String
        let deliveryState: String?
        let attachments: [AttachmentView]
        let hasAttachments: Bool
    }

    struct AttachmentView: TemplateView {
        let url: String
        let name: String
        let size: String
        let inline: Bool
    }

    struct CannedView: TemplateView {
        let id: String
        let name: String
    }

    let ticket: TicketRowView
    let ticketId: String
    /// The holder's id (empty: nobody), so the page can tell a live change from the state it shows.
    let agentId: String
    let priority: String
    let summary: TicketSummaryView
    let thread: TicketThreadView
    let history: TicketHistoryView
    let accountName: String
    let canned: [CannedView]
    let hasCanned: Bool
    let dispositions: [NamedView]
    let dispositionRequired: Bool
    let transferEnabled: Bool
    let transferToQueue: Bool
    let transferToAgent: Bool
    let transferTimeout: Int
    /// The subject a reply gets when the agent leaves the field empty (``ReplySubject``).
    let replySubject: String
    let queues: [NamedView]
    let agents: [NamedView]
    let signatureBefore: Bool
    let hasSignature: Bool
    let replyTo: String
    let isClosed: Bool
    let unread: Bool
    /// Opening an unread ticket one holds marks it read (through the API, with the CSRF token).
    let markReadOnOpen: Bool
    let tagsText: String
    let priorities: [OptionView]
    let escalated: Bool
    let pauseStatus: String
    let presenceSummary: String
}
