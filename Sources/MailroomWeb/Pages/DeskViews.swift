import Foundation

/// `desk.mustache`: the agent's offers, presence, queues and open tickets.
struct DeskView: PageContent {
    static let template = "desk"

    /// A short notice another page sent the agent back with (`/desk?done=transferred`).
    let notice: String?
    let offerList: OffersView
    let presenceStates: [PresenceView.State]
    let presenceReason: String
    let presenceSummary: String
    let queueList: DeskQueuesView
    /// Where the rows are reloaded from when a live event arrives.
    let ticketsSource: String
    let rows: TicketRowsView
}

/// The presence control: the states to choose from and a sentence saying where the agent stands.
struct PresenceView: Sendable {
    struct State: TemplateView {
        let value: String
        let label: String
        let selected: Bool
    }

    let states: [State]
    let reason: String
    let summary: String
}

/// `desk-offers.mustache`: the open offers, inside the desk and alone (`/desk/offers`) when a live
/// event refreshes them.
struct OffersView: RenderedView {
    static let template = "desk-offers"

    struct Offer: TemplateView {
        let id: String
        let ticketId: String
        let number: Int64
        let subject: String
        let customer: String
        /// The account's key.
        let account: String
        let queue: String?
        let sound: Bool
        let shake: Bool
        /// The account's notification template with this ticket's values, as plain text.
        let notification: String
        /// Whether the card shows the notification text (only a template of the account's own says more than the card).
        let showNotification: Bool
        let deadline: String
        let deadlineISO: String
    }

    let offers: [Offer]
    let noOffers: Bool
}

/// What an account's notification template may name (`WebSite.notificationVariables` lists them
/// for the account form; a test checks the list against these fields).
struct NotificationVariables: TemplateView {
    struct TicketFields: TemplateView {
        let number: String
        let subject: String
        let id: String
        let priority: String
    }

    struct CustomerFields: TemplateView {
        let name: String
        let address: String
        /// The same as `address`, for templates written with `customer.email`.
        let email: String
    }

    struct AccountFields: TemplateView {
        let name: String
        let key: String
        let fromAddress: String
    }

    struct QueueFields: TemplateView {
        let name: String
    }

    let ticket: TicketFields
    let customer: CustomerFields
    let account: AccountFields
    let queue: QueueFields
}

/// `desk-queues.mustache`: the agent's queues with how many tickets wait in each, inside the desk
/// and alone (`/desk/queues`) when a live event refreshes them.
struct DeskQueuesView: RenderedView {
    static let template = "desk-queues"

    struct QueueLink: TemplateView {
        let name: String
        let href: String
        /// Open tickets in the queue that no agent holds yet.
        let waiting: Int
        let waitingLabel: String
    }

    let myQueues: [QueueLink]
    let hasQueues: Bool
    /// How many tickets the agent sees that no agent holds yet.
    let unassignedLabel: String
}
