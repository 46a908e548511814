import Foundation

/// One figure of a report's rows.
public struct ReportColumn: Sendable, Equatable, Encodable {
    public enum Unit: String, Sendable, Encodable { case count, seconds }
    public var key: String
    public var label: String
    public var unit: Unit

    public init(_ key: String, _ label: String, _ unit: Unit = .count) {
        self.key = key
        self.label = label
        self.unit = unit
    }
}

/// What a row is split by: an account, queue, agent, tag or campaign; `id` nil for tickets
/// without one (no queue, nobody assigned, no tag) or for a report without a split.
public struct ReportGroup: Sendable, Hashable, Encodable {
    public var id: String?
    public var name: String

    public init(id: String?, name: String) {
        self.id = id
        self.name = name
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
    }

    enum CodingKeys: String, CodingKey { case id, name }
}

public struct ReportRow: Sendable, Equatable {
    public var group: ReportGroup
    public var period: ReportPeriod
    /// In the order of the table's columns; nil where there is nothing to measure (no response yet).
    public var values: [Double?]

    public init(group: ReportGroup, period: ReportPeriod, values: [Double?]) {
        self.group = group
        self.period = period
        self.values = values
    }
}

/// A report as the API answers it:
/// `{name, from, to, interval, groupBy, campaignId, timeZone, columns: [{key, label, unit}],
/// rows: [{group: {id, name}, period: {label, start, end}, values: {KEY: number|null}}]}`;
/// every group has a row for every period, in the groups' order then the periods'.
public struct ReportTable: Sendable, Encodable {
    public var request: ReportRequest
    public var columns: [ReportColumn]
    public var rows: [ReportRow]

    public init(request: ReportRequest, columns: [ReportColumn], rows: [ReportRow]) {
        self.request = request
        self.columns = columns
        self.rows = rows
    }

    enum CodingKeys: String, CodingKey { case name, from, to, interval, groupBy, campaignId, timeZone, columns, rows }
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(request.name.rawValue, forKey: .name)
        try c.encode(ISO8601.format(request.from), forKey: .from)
        try c.encode(ISO8601.format(request.to), forKey: .to)
        try c.encode(request.interval.rawValue, forKey: .interval)
        try c.encode(request.groupBy?.rawValue, forKey: .groupBy)
        try c.encode(request.campaignId, forKey: .campaignId)
        try c.encode(request.timeZoneName, forKey: .timeZone)
        try c.encode(columns, forKey: .columns)
        var list = c.nestedUnkeyedContainer(forKey: .rows)
        for row in rows {
            var item = list.nestedContainer(keyedBy: Key.self)
            try item.encode(row.group, forKey: Key(stringValue: "group"))
            var period = item.nestedContainer(keyedBy: Key.self, forKey: Key(stringValue: "period"))
            try period.encode(row.period.label, forKey: Key(stringValue: "label"))
            try period.encode(ISO8601.format(row.period.start), forKey: Key(stringValue: "start"))
            try period.encode(ISO8601.format(row.period.end), forKey: Key(stringValue: "end"))
            var values = item.nestedContainer(keyedBy: Key.self, forKey: Key(stringValue: "values"))
            for (column, value) in zip(columns, row.values) {
                try values.encode(value, forKey: Key(stringValue: column.key))
            }
        }
    }

    /// The same table as CSV: a header row, then one line per row.
    public func csv() -> String {
        var writer = CSVWriter()
        writer.row(["group id", "group", "period", "period start", "period end"] + columns.map(\.label))
        for row in rows {
            writer.row([.text(row.group.id ?? ""), .text(row.group.name), .text(row.period.label),
                        .text(ISO8601.format(row.period.start)), .text(ISO8601.format(row.period.end))]
                       + row.values.map(CSVWriter.Cell.number))
        }
        return writer.text
    }

    /// `volume-2026-03-01-2026-03-31.csv`: the name a download is saved under.
    public var filename: String {
        let days = ReportPeriods(interval: .day, zone: request.timeZone)
        let last = days.periods(from: request.to.addingTimeInterval(-1), to: request.to).first?.label ?? ""
        let first = days.periods(from: request.from, to: request.from.addingTimeInterval(1)).first?.label ?? ""
        return "\(request.name.rawValue)-\(first)-\(last).csv"
    }
}

/// Turns the store's figures into a report's rows: the one place that says what each report's
/// columns are and how they are worked out.
public enum ReportAssembly {
    public static func columns(_ name: ReportName) -> [ReportColumn] {
        switch name {
        case .volume:
            return [ReportColumn(ReportMetrics.ticketsCreated, "Tickets created"), ReportColumn(ReportMetrics.messagesIn, "Messages in"),
                    ReportColumn(ReportMetrics.messagesOut, "Messages out")]
        case .responseTimes:
            var columns: [ReportColumn] = []
            for (key, label) in [("firstResponse", "First response"), ("resolution", "Resolution")] {
                columns.append(ReportColumn("\(key)Count", "\(label): tickets"))
                columns.append(ReportColumn("\(key)MedianSeconds", "\(label): median (s)", .seconds))
                columns.append(ReportColumn("\(key)P90Seconds", "\(label): 90th percentile (s)", .seconds))
                columns.append(ReportColumn("\(key)AverageSeconds", "\(label): average (s)", .seconds))
            }
            return columns
        case .backlog:
            return [ReportColumn(ReportMetrics.open, "Open")] + ReportMetrics.ageBands.map { ReportColumn($0.key, $0.label) }
        case .offers:
            return [ReportColumn("offered", "Offers made"), ReportColumn("accepted", "Accepted"), ReportColumn("declined", "Declined"),
                    ReportColumn("expired", "Expired"), ReportColumn("withdrawn", "Withdrawn or taken by another"),
                    ReportColumn("pending", "Still open")]
        case .sla:
            return []
        }
    }

    /// The offer states each offers column adds up (`offered` counts them all).
    static let offerColumns: [String: [OfferState]] = [
        "offered": OfferState.allCases, "accepted": [.accepted], "declined": [.rejected], "expired": [.expired],
        "withdrawn": [.withdrawn, .taken], "pending": [.offered],
    ]

    struct Cell: Hashable {
        let period: Int
        let group: String?
    }

    /// Rows from counts: each column is the sum of the metrics it stands for.
    public static func rows(_ name: ReportName, counts: [ReportCount], periods: [ReportPeriod], groups: ReportGroupNames) -> [ReportRow] {
        let columns = columns(name)
        var cells: [Cell: [String: Int]] = [:]
        for count in counts where periods.indices.contains(count.period) {
            cells[Cell(period: count.period, group: count.group), default: [:]][count.metric, default: 0] += count.value
        }
        if name == .backlog { backlog(&cells, periods: periods.count) }
        return assemble(periods: periods, groups: groups.ordered(Set(cells.keys.map(\.group)))) { cell in
            let metrics = cells[cell] ?? [:]
            return columns.map { column in
                if name == .offers {
                    return Double((offerColumns[column.key] ?? []).reduce(0) { $0 + (metrics[$1.rawValue] ?? 0) })
                }
                return Double(metrics[column.key] ?? 0)
            }
        }
    }

    /// The backlog at each snapshot is the running sum of tickets created less tickets closed;
    /// the oldest band is what the younger ones leave of it.
    static func backlog(_ cells: inout [Cell: [String: Int]], periods: Int) {
        let bounded = ReportMetrics.ageBands.filter { $0.under != nil }.map(\.key)
        let oldest = ReportMetrics.ageBands.filter { $0.under == nil }.map(\.key)
        for group in Set(cells.keys.map(\.group)) {
            var open = 0
            var everOpen = false
            for period in 0..<periods {
                let cell = Cell(period: period, group: group)
                var metrics = cells[cell] ?? [:]
                open += (metrics[ReportMetrics.backlogOpened] ?? 0) - (metrics[ReportMetrics.backlogClosed] ?? 0)
                metrics[ReportMetrics.open] = open
                let young = bounded.reduce(0) { $0 + (metrics[$1] ?? 0) }
                for key in oldest { metrics[key] = max(0, open - young) }
                cells[cell] = metrics
                everOpen = everOpen || open != 0
            }
            // A group whose tickets were all closed before the range has nothing to show.
            if !everOpen { cells = cells.filter { $0.key.group != group } }
        }
    }

    /// Rows of `responseTimes` from each ticket's times.
    public static func rows(timings: [ReportTiming], periods: [ReportPeriod], groups: ReportGroupNames) -> [ReportRow] {
        var cells: [Cell: (first: [Double], resolution: [Double])] = [:]
        for timing in timings where periods.indices.contains(timing.period) {
            let cell = Cell(period: timing.period, group: timing.group)
            var values = cells[cell] ?? ([], [])
            if let first = timing.firstResponseSeconds { values.first.append(max(0, first)) }
            if let resolution = timing.resolutionSeconds { values.resolution.append(max(0, resolution)) }
            cells[cell] = values
        }
        return assemble(periods: periods, groups: groups.ordered(Set(cells.keys.map(\.group)))) { cell in
            let values = cells[cell] ?? ([], [])
            return [DurationSummary(values.first), DurationSummary(values.resolution)].flatMap { summary in
                [Double(summary.count), summary.median, summary.p90, summary.average]
            }
        }
    }

    private static func assemble(periods: [ReportPeriod], groups: [ReportGroup], values: (Cell) -> [Double?]) -> [ReportRow] {
        groups.flatMap { group in
            periods.enumerated().map { index, period in
                ReportRow(group: group, period: period, values: values(Cell(period: index, group: group.id)))
            }
        }
    }
}

/// Names for the groups a report's rows are split by, and which groups show even without figures.
public struct ReportGroupNames: Sendable {
    /// Names of known ids (accounts as "KEY · Name", queues, agents, campaigns); tags name themselves.
    public var names: [String: String]
    /// The name of the group without an id: "No queue", "Unassigned", "All".
    public var noneName: String
    /// Groups shown with every period even when nothing was counted (campaigns; the single group of an unsplit report).
    public var always: [ReportGroup]

    public init(names: [String: String], noneName: String, always: [ReportGroup] = []) {
        self.names = names
        self.noneName = noneName
        self.always = always
    }

    /// The groups seen and those always shown, by name (the group without an id last).
    func ordered(_ seen: Set<String?>) -> [ReportGroup] {
        var groups = Set(always)
        for id in seen { groups.insert(ReportGroup(id: id, name: id.map { names[$0] ?? $0 } ?? noneName)) }
        return groups.sorted { a, b in
            if (a.id == nil) != (b.id == nil) { return b.id == nil }
            let order = a.name.localizedStandardCompare(b.name)
            return order == .orderedSame ? (a.id ?? "") < (b.id ?? "") : order == .orderedAscending
        }
    }
}
