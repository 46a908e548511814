import Foundation
import MailMessage

/// How long each row of a report covers.
public enum ReportInterval: String, NamedValues {
    case day, week, month
}

/// One row's stretch of time: `[start, end)`, as instants, with the calendar day, ISO week or
/// month it belongs to as its label.
public struct ReportPeriod: Sendable, Equatable {
    public var start: Date
    public var end: Date
    /// `2026-03-29` for a day, the Monday `2026-03-23` for a week, `2026-03` for a month.
    public var label: String

    public init(start: Date, end: Date, label: String) {
        self.start = start
        self.end = end
        self.label = label
    }
}

/// Cuts a range into days, weeks (Monday to Sunday) or months of a time zone's calendar. A day is
/// from one local midnight to the next, so the day a clock changes lasts 23 or 25 hours; the
/// boundaries are worked out from calendar dates rather than by adding 86,400 seconds, which
/// would drift by an hour across a change.
public struct ReportPeriods: Sendable {
    public let interval: ReportInterval
    public let zone: TimeZone
    private let calendar: Calendar

    public init(interval: ReportInterval, zone: TimeZone) {
        self.interval = interval
        self.zone = zone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        self.calendar = calendar
    }

    /// The periods that cover `[from, to)`; the first and last are cut at `from` and `to` when
    /// those fall inside them.
    public func periods(from: Date, to: Date) -> [ReportPeriod] {
        guard from < to else { return [] }
        var result: [ReportPeriod] = []
        var start = self.start(containing: from)
        while start < to {
            let end = next(after: start)
            result.append(ReportPeriod(start: max(start, from), end: min(end, to), label: label(start)))
            start = end
        }
        return result
    }

    /// The index of the period in `periods` that holds `date`, if any (a binary search).
    public static func index(of date: Date, in periods: [ReportPeriod]) -> Int? {
        var low = 0
        var high = periods.count
        while low < high {
            let middle = (low + high) / 2
            if periods[middle].end <= date { low = middle + 1 } else { high = middle }
        }
        guard low < periods.count, periods[low].start <= date else { return nil }
        return low
    }

    /// The local midnight that begins the day, week or month holding `date`.
    public func start(containing date: Date) -> Date {
        let day = calendar.dateComponents([.year, .month, .day], from: date)
        var civil = (year: day.year!, month: day.month!, day: day.day!)
        switch interval {
        case .day:
            break
        case .week:
            // Days since Monday: 1970-01-01 was a Thursday, three days after a Monday.
            let days = CivilDate.daysSinceEpoch(year: civil.year, month: civil.month, day: civil.day)
            let weekday = (days + 3) - CivilDate.floorDivide(days + 3, 7) * 7
            civil = CivilDate.date(daysSinceEpoch: days - weekday)
        case .month:
            civil.day = 1
        }
        return midnight(civil)
    }

    /// The start of the period after the one beginning at `start`.
    public func next(after start: Date) -> Date {
        let day = calendar.dateComponents([.year, .month, .day], from: start)
        let days = CivilDate.daysSinceEpoch(year: day.year!, month: day.month!, day: day.day!)
        switch interval {
        case .day: return midnight(CivilDate.date(daysSinceEpoch: days + 1))
        case .week: return midnight(CivilDate.date(daysSinceEpoch: days + 7))
        case .month:
            let month = day.month! == 12 ? (day.year! + 1, 1) : (day.year!, day.month! + 1)
            return midnight((month.0, month.1, 1))
        }
    }

    /// The first instant of a calendar date in the zone: midnight, or the first minute after it
    /// where a clock change skips midnight itself.
    public func midnight(_ civil: (year: Int, month: Int, day: Int)) -> Date {
        let components = DateComponents(year: civil.year, month: civil.month, day: civil.day)
        if let date = calendar.date(from: components) { return calendar.startOfDay(for: date) }
        let days = CivilDate.daysSinceEpoch(year: civil.year, month: civil.month, day: civil.day)
        return Date(timeIntervalSince1970: Double(days * 86_400 - zone.secondsFromGMT()))
    }

    private func label(_ start: Date) -> String {
        let day = calendar.dateComponents([.year, .month, .day], from: start)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        switch interval {
        case .day, .week: return "\(day.year!)-\(two(day.month!))-\(two(day.day!))"
        case .month: return "\(day.year!)-\(two(day.month!))"
        }
    }
}
