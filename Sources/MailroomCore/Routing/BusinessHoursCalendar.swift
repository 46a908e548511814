import Foundation

public enum Weekday: String, NamedValues, CodingKeyRepresentable {
    case monday, tuesday, wednesday, thursday, friday, saturday, sunday

    /// Maps Foundation's Gregorian weekday (1 = Sunday).
    init?(gregorian: Int) {
        let order: [Weekday] = [.sunday, .monday, .tuesday, .wednesday, .thursday, .friday, .saturday]
        guard (1...7).contains(gregorian) else { return nil }
        self = order[gregorian - 1]
    }
}

/// When a contact center is open: weekly opening intervals in one time zone, minus holidays.
///
/// JSON: `{"timeZone": "Europe/Rome", "weekly": {"monday": ["09:00-13:00", "14:00-18:00"]},
/// "holidays": ["2026-12-25"]}`. Intervals are local wall-clock times, start inclusive and end
/// exclusive; `24:00` may end an interval. An interval cannot cross midnight: write the evening
/// on one day and the early hours on the next. A weekday that is absent is closed all day.
/// Holidays are local dates on which the calendar is closed all day.
///
/// Intervals and dates are kept as written so that `validate` can name every bad one; a
/// calendar that fails validation treats the unreadable parts as closed.
public struct BusinessHoursCalendar: Codable, Sendable, Equatable {
    public var timeZone: String
    public var weekly: [Weekday: [String]]
    public var holidays: [String]

    public init(timeZone: String, weekly: [Weekday: [String]], holidays: [String] = []) {
        self.timeZone = timeZone
        self.weekly = weekly
        self.holidays = holidays
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        timeZone = try c.decode(String.self, forKey: .timeZone)
        weekly = try c.decodeIfPresent([Weekday: [String]].self, forKey: .weekly) ?? [:]
        holidays = try c.decodeIfPresent([String].self, forKey: .holidays) ?? []
    }

    /// Minutes after local midnight, `[start, end)`.
    struct Interval: Equatable {
        var start: Int
        var end: Int
    }

    public func validate(path: String) -> [FieldError] {
        var errors: [FieldError] = []
        if TimeZone(identifier: timeZone) == nil {
            errors.append(FieldError("\(path).timeZone", "must be an IANA time zone such as Europe/Rome, not '\(timeZone.prefix(64))'"))
        }
        for day in Weekday.allCases {
            guard let texts = weekly[day] else { continue }
            var intervals: [Interval] = []
            for (index, text) in texts.enumerated() {
                let field = "\(path).weekly.\(day.rawValue)[\(index)]"
                guard let interval = Self.parseInterval(text) else {
                    errors.append(FieldError(field, "must be a range such as 09:00-18:00 with the start before the end (00:00 to 24:00)"))
                    continue
                }
                if intervals.contains(where: { $0.start < interval.end && interval.start < $0.end }) {
                    errors.append(FieldError(field, "overlaps another range of the same day"))
                }
                intervals.append(interval)
            }
        }
        for (index, text) in holidays.enumerated() where Self.parseDate(text) == nil {
            errors.append(FieldError("\(path).holidays[\(index)]", "must be a date such as 2026-12-25"))
        }
        return errors
    }

    public func isOpen(at date: Date) -> Bool {
        guard let zone = TimeZone(identifier: timeZone) else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: date)
        guard let year = parts.year, let month = parts.month, let day = parts.day,
              let weekday = parts.weekday.flatMap(Weekday.init(gregorian:)),
              let hour = parts.hour, let minute = parts.minute else { return false }
        let localDate = String(format: "%04d-%02d-%02d", year, month, day)
        if holidays.contains(where: { Self.parseDate($0) == localDate }) { return false }
        let minuteOfDay = hour * 60 + minute
        return (weekly[weekday] ?? []).compactMap(Self.parseInterval).contains { $0.start <= minuteOfDay && minuteOfDay < $0.end }
    }

    static func parseInterval(_ text: String) -> Interval? {
        let halves = text.split(separator: "-", omittingEmptySubsequences: false)
        guard halves.count == 2,
              let start = parseClock(halves[0].trimmingCharacters(in: .whitespaces)),
              let end = parseClock(halves[1].trimmingCharacters(in: .whitespaces)),
              start < end else { return nil }
        return Interval(start: start, end: end)
    }

    private static func parseClock(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let hour = Int(parts[0]), let minute = Int(parts[1]),
              (0...24).contains(hour), (0...59).contains(minute) else { return nil }
        let total = hour * 60 + minute
        return total <= 24 * 60 ? total : nil
    }

    /// The date normalised to `yyyy-MM-dd`, or nil when it is not a real calendar date.
    static func parseDate(_ text: String) -> String? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day)
        guard components.isValidDate(in: calendar) else { return nil }
        return String(format: "%04d-%02d-%02d", year, month, day)
    }
}
