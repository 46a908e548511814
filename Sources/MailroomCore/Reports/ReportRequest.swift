import Foundation
import MailMessage

/// The reports `GET /api/v1/reports/{name}` answers.
public enum ReportName: String, NamedValues {
    /// Tickets created, messages in, messages out.
    case volume
    /// First response and resolution times of the tickets created in each period.
    case responseTimes
    /// Needs SLA policies, which Mailroom does not have yet: asked for, it is refused by name.
    case sla
    /// Tickets open at the end of each period, by age.
    case backlog
    /// Offers made to agents and what became of them.
    case offers
}

/// What a report's rows are split by, besides the period.
public enum ReportGrouping: String, NamedValues {
    case account, queue, agent, tag, campaign
}

public enum ReportFormat: String, NamedValues {
    case json, csv
}

/// A report asked for, its parameters checked: the range is whole, bounded and in order.
public struct ReportRequest: Sendable, Equatable {
    public var name: ReportName
    /// The first instant counted.
    public var from: Date
    /// The first instant no longer counted.
    public var to: Date
    public var interval: ReportInterval
    /// Nil: one row per period for everything in scope.
    public var groupBy: ReportGrouping?
    /// Only the tickets of this campaign's accounts and queues.
    public var campaignId: String?
    public var format: ReportFormat
    /// The IANA name of the zone whose calendar makes the days, weeks and months (as asked for:
    /// Foundation on Linux calls UTC "GMT").
    public var timeZoneName: String

    public var timeZone: TimeZone { TimeZone(identifier: timeZoneName) ?? TimeZone(identifier: "UTC")! }

    public init(name: ReportName, from: Date, to: Date, interval: ReportInterval = .day, groupBy: ReportGrouping? = nil,
                campaignId: String? = nil, format: ReportFormat = .json, timeZoneName: String) {
        self.name = name
        self.from = from
        self.to = to
        self.interval = interval
        self.groupBy = groupBy
        self.campaignId = campaignId
        self.format = format
        self.timeZoneName = timeZoneName
    }

    /// By day a report covers at most this many days; by week or month at most `maxRangeDays`.
    public static let maxDays = 366
    public static let maxRangeDays = 3_660
    /// Days a report covers when `from` is not given.
    public static let defaultDays = 7
    static let maxParameterLength = 100

    public var periods: [ReportPeriod] {
        ReportPeriods(interval: interval, zone: timeZone).periods(from: from, to: to)
    }

    /// Reads the query of `GET /api/v1/reports/{name}` (a parameter given empty is refused, as
    /// the document's schema says; leave it out instead). A date without a time is a calendar day
    /// in the report's zone: `from=2026-03-01` starts at its midnight, `to=2026-03-31` counts that
    /// day whole. Without them the report covers the last seven days, today included. Every
    /// problem is named by its parameter.
    public static func parse(name: ReportName, query: [String: String], installationTimeZone: String,
                             now: Date) -> Result<ReportRequest, DomainError> {
        var errors: [FieldError] = []
        func value(_ key: String) -> String? {
            guard let raw = query[key] else { return nil }
            guard !raw.isEmpty else {
                errors.append(FieldError(key, "must not be empty; leave it out for the default"))
                return nil
            }
            guard raw.count <= maxParameterLength else {
                errors.append(FieldError(key, "must be at most \(maxParameterLength) characters"))
                return nil
            }
            return raw
        }
        func named<T: NamedValues>(_ key: String, _ type: T.Type) -> T? {
            guard let raw = value(key) else { return nil }
            guard let found = T(rawValue: raw) else {
                errors.append(FieldError(key, "must be one of \(T.allowedNames), not '\(raw.prefix(40))'"))
                return nil
            }
            return found
        }
        var zoneName = TimeZone(identifier: installationTimeZone) == nil ? "UTC" : installationTimeZone
        if let raw = value("timeZone") {
            if TimeZoneName.isValid(raw), TimeZone(identifier: raw) != nil { zoneName = raw } else {
                errors.append(FieldError("timeZone", TimeZoneName.problem))
            }
        }
        let zone = TimeZone(identifier: zoneName) ?? TimeZone(identifier: "UTC")!
        let interval = named("interval", ReportInterval.self) ?? .day
        let groupBy = named("groupBy", ReportGrouping.self)
        let format = named("format", ReportFormat.self) ?? .json
        let campaignId = value("campaignId")
        let days = ReportPeriods(interval: .day, zone: zone)
        var from: Date?
        var to: Date?
        if let raw = value("from") {
            from = parseInstant(raw, zone: zone, endOfDay: false)
            if from == nil { errors.append(FieldError("from", dateProblem)) }
        }
        if let raw = value("to") {
            to = parseInstant(raw, zone: zone, endOfDay: true)
            if to == nil { errors.append(FieldError("to", dateProblem)) }
        }
        guard errors.isEmpty else { return .failure(.invalid(errors)) }
        let end = to ?? days.next(after: days.start(containing: from.map { max($0, now) } ?? now))
        let start = from ?? days.start(containing: end.addingTimeInterval(-Double(defaultDays) * 86_400))
        let request = ReportRequest(name: name, from: start, to: end, interval: interval, groupBy: groupBy,
                                    campaignId: campaignId, format: format, timeZoneName: zoneName)
        errors = request.rangeProblems()
        return errors.isEmpty ? .success(request) : .failure(.invalid(errors))
    }

    static let dateProblem = "must be a date such as 2026-03-01 or a date-time such as 2026-03-01T09:00:00Z"

    /// What is wrong with the range: out of order, or longer than its interval allows.
    func rangeProblems() -> [FieldError] {
        guard from < to else { return [FieldError("to", "must be after from")] }
        let days = to.timeIntervalSince(from) / 86_400
        if interval == .day, days > Double(Self.maxDays) + 1.0 / 24 {
            return [FieldError("to", "a report by day covers at most \(Self.maxDays) days; choose a shorter range or interval=week")]
        }
        if days > Double(Self.maxRangeDays) + 1.0 / 24 {
            return [FieldError("to", "a report covers at most \(Self.maxRangeDays) days")]
        }
        return []
    }

    /// `YYYY-MM-DD` (a calendar day in `zone`: its first instant, or with `endOfDay` the first
    /// instant of the next day) or an ISO 8601 date-time with its offset. Years 1970 to 9999.
    static func parseInstant(_ text: String, zone: TimeZone, endOfDay: Bool) -> Date? {
        if let date = ISO8601.parse(text) {
            return (0..<253_402_300_800).contains(date.timeIntervalSince1970) ? date : nil
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              year >= 1970, (1...12).contains(month), day >= 1, day <= CivilDate.daysIn(month: month, year: year) else { return nil }
        let days = ReportPeriods(interval: .day, zone: zone)
        let midnight = days.midnight((year, month, day))
        return endOfDay ? days.next(after: midnight) : midnight
    }
}
