import Foundation

/// The tickets a report counts: those of these accounts or in these queues (a campaign's).
public struct ReportScope: Sendable, Equatable {
    public var accountIds: [String]
    public var queueIds: [String]

    public init(accountIds: [String], queueIds: [String]) {
        self.accountIds = accountIds
        self.queueIds = queueIds
    }

    public init(_ campaign: Campaign) {
        self.init(accountIds: campaign.accountIds, queueIds: campaign.queueIds)
    }
}

/// What the store splits counts by. A ticket counts once in each campaign it belongs to, and
/// once for each of its tags.
public enum ReportGroupKey: Sendable, Equatable {
    /// The ticket's account, queue, assigned agent (for offers: the agent offered), or tag.
    case account, queue, agent, tag
    case campaigns([Campaign])
}

/// What a store is asked for one report: the periods (worked out in Core, in the report's time
/// zone), the split and the scope.
public struct ReportQuery: Sendable {
    public var periods: [ReportPeriod]
    /// Nil: no split (the group of every count is nil).
    public var groupBy: ReportGroupKey?
    public var scope: ReportScope?
    /// The backlog of a period not over yet is counted at this instant.
    public var asOf: Date

    public init(periods: [ReportPeriod], groupBy: ReportGroupKey?, scope: ReportScope?, asOf: Date) {
        self.periods = periods
        self.groupBy = groupBy
        self.scope = scope
        self.asOf = asOf
    }

    /// The instant a period's backlog is counted at: its end, or `asOf` when it ends later.
    public func snapshot(_ period: ReportPeriod) -> Date { min(period.end, max(asOf, period.start)) }
}

/// One aggregate: how many of `metric` in period number `period` for the group.
public struct ReportCount: Sendable, Equatable {
    public var period: Int
    public var group: String?
    public var metric: String
    public var value: Int

    public init(period: Int, group: String?, metric: String, value: Int) {
        self.period = period
        self.group = group
        self.metric = metric
        self.value = value
    }
}

/// One ticket created in period number `period`, with when it was first answered by an agent and
/// when it was closed. Percentiles need the single values, and SQLite has no percentile function,
/// so the store hands these over (three numbers a ticket) rather than aggregates.
public struct ReportTiming: Sendable, Equatable {
    public var period: Int
    public var group: String?
    public var firstResponseSeconds: Double?
    public var resolutionSeconds: Double?

    public init(period: Int, group: String?, firstResponseSeconds: Double?, resolutionSeconds: Double?) {
        self.period = period
        self.group = group
        self.firstResponseSeconds = firstResponseSeconds
        self.resolutionSeconds = resolutionSeconds
    }
}

/// The counts behind the reports. The store aggregates in SQL by period and group; what the
/// figures mean (which offer states are "declined", the age bands) is ``ReportMetrics``'.
public protocol ReportRepository: Sendable {
    /// `ReportMetrics.ticketsCreated`, `.messagesIn`, `.messagesOut` per period and group.
    func volume(_ query: ReportQuery) async throws -> [ReportCount]
    /// The tickets created in each period, grouped, with their response and resolution times.
    func responseTimes(_ query: ReportQuery) async throws -> [ReportTiming]
    /// At each period's snapshot (``ReportQuery/snapshot(_:)``), from the previous one (the first
    /// from the beginning): `ReportMetrics.backlogOpened` (tickets created) and `.backlogClosed`
    /// (tickets closed); and the tickets open at the snapshot in each `ReportMetrics.ageBands` band
    /// that has an upper bound. A ticket is open at an instant unless it is closed and its closing
    /// time is at or before it (or unknown).
    func backlog(_ query: ReportQuery) async throws -> [ReportCount]
    /// Offers made in each period, one metric per `OfferState` raw value.
    func offers(_ query: ReportQuery) async throws -> [ReportCount]
}

/// The names the store and the report share for its raw figures.
public enum ReportMetrics {
    public static let ticketsCreated = "ticketsCreated"
    public static let messagesIn = "messagesIn"
    public static let messagesOut = "messagesOut"
    public static let open = "open"
    public static let backlogOpened = "backlogOpened"
    public static let backlogClosed = "backlogClosed"
    /// The backlog's age bands: a ticket open at the snapshot falls in the first band whose upper
    /// bound (seconds since it was created) it is under; the last band has none.
    public static let ageBands: [(key: String, label: String, under: Int?)] = [
        ("ageUnder1Day", "Open under 1 day", 86_400),
        ("age1To3Days", "Open 1-3 days", 3 * 86_400),
        ("age3To7Days", "Open 3-7 days", 7 * 86_400),
        ("ageOver7Days", "Open 7 days or more", nil),
    ]
}
