import Foundation

/// Reads `Date:` values (RFC 5322 section 3.3) and the broken forms mailers produce.
///
///     date-time   = [ day-of-week "," ] date time [CFWS]
///     date        = day month year
///     time        = time-of-day zone
///     time-of-day = hour ":" minute [ ":" second ]
///     zone        = (FWS ( "+" / "-" ) 4DIGIT) / obs-zone
///     obs-zone    = "UT" / "GMT" / "EST" / "EDT" / "CST" / "CDT" / "MST" / "MDT" / "PST" / "PDT"
///
/// Also accepted: two- and three-digit years, full month names, any order of day, month and
/// year (asctime's `Mon Nov 22 10:00:00 2026`), ISO 8601, dots in times, `AM`/`PM`, missing
/// seconds or zone (taken as UTC), zones written `+01:00` or `+1`, comments anywhere.
public enum DateParser {
    public static func parse(_ text: String) -> Date? { parse(Array(text.utf8)[...]) }

    public static func parse(_ raw: ArraySlice<UInt8>) -> Date? {
        var numbers: [(value: Int, digits: Int)] = []
        var month: Int?
        var time: (hour: Int, minute: Int, second: Int)?
        var zoneOffset: Int?
        var pm: Bool?
        var index = raw.startIndex
        let end = raw.endIndex
        var tokens = 0
        while index < end, tokens < 64 {
            let byte = raw[index]
            if byte == ASCII.openParen {
                index = ParameterizedValue.skipComment(raw, from: index)
                continue
            }
            if ASCII.isDigit(byte) {
                tokens += 1
                let (value, digits, after) = readNumber(raw, from: index)
                index = after
                if time == nil, digits <= 2, index + 1 < end, raw[index] == ASCII.colon || (raw[index] == ASCII.dot && numbers.count >= 2),
                   ASCII.isDigit(raw[index + 1]) {
                    let (minute, _, afterMinute) = readNumber(raw, from: index + 1)
                    index = afterMinute
                    var second = 0
                    if index + 1 < end, raw[index] == ASCII.colon || raw[index] == ASCII.dot, ASCII.isDigit(raw[index + 1]) {
                        let (value, _, afterSecond) = readNumber(raw, from: index + 1)
                        second = value
                        index = afterSecond
                        // Fractional seconds (ISO 8601) carry nothing mail cares about.
                        if index + 1 < end, raw[index] == ASCII.dot || raw[index] == ASCII.comma, ASCII.isDigit(raw[index + 1]) {
                            index = readNumber(raw, from: index + 1).after
                        }
                    }
                    time = (value, minute, second)
                } else {
                    numbers.append((value, digits))
                }
                continue
            }
            if (byte == ASCII.plus || byte == ASCII.minus), time != nil, zoneOffset == nil, index + 1 < end, ASCII.isDigit(raw[index + 1]) {
                tokens += 1
                let (value, digits, after) = readNumber(raw, from: index + 1)
                index = after
                var hours = 0, minutes = 0
                if digits <= 2 {
                    hours = value
                    if index + 1 < end, raw[index] == ASCII.colon, ASCII.isDigit(raw[index + 1]) {
                        let (value, _, afterMinutes) = readNumber(raw, from: index + 1)
                        minutes = value
                        index = afterMinutes
                    }
                } else {
                    hours = value / 100
                    minutes = value % 100
                }
                if hours <= 18 && minutes < 60 {
                    zoneOffset = (hours * 3600 + minutes * 60) * (byte == ASCII.minus ? -1 : 1)
                }
                continue
            }
            if ASCII.isLetter(byte) {
                tokens += 1
                let start = index
                while index < end, ASCII.isLetter(raw[index]) { index += 1 }
                let word = raw[start..<index].map(ASCII.lowercased)
                if let found = monthNumber(word) {
                    if month == nil { month = found }
                } else if let offset = namedZones[String(decoding: word, as: UTF8.self)] {
                    if zoneOffset == nil && (time != nil || word.count > 1) { zoneOffset = offset }
                } else if word == Array("pm".utf8) {
                    pm = true
                } else if word == Array("am".utf8) {
                    pm = false
                }
                continue
            }
            index += 1
        }

        // Day, month and year from the numbers, in whatever order they came.
        var day: Int?
        var year: Int?
        var remaining = numbers.prefix(4)
        if let first = remaining.first, first.digits == 4 {
            year = first.value
            remaining = remaining.dropFirst()
            if month == nil, let next = remaining.first {
                month = next.value
                remaining = remaining.dropFirst()
            }
            day = remaining.first?.value
        } else {
            if let yearIndex = remaining.firstIndex(where: { $0.digits >= 3 || $0.value > 31 }) {
                year = remaining[yearIndex].value
                remaining.remove(at: yearIndex)
            }
            if month == nil, remaining.count >= 2 {
                // Numeric day/month without a month name: mail from such systems is mostly
                // day-first; a first value over 12 decides it anyway.
                let first = remaining[remaining.startIndex].value
                let second = remaining[remaining.startIndex + 1].value
                if first > 12 { day = first; month = second } else if second > 12 { month = first; day = second } else { day = first; month = second }
                remaining = remaining.dropFirst(2)
            } else {
                day = remaining.first?.value
                remaining = remaining.dropFirst()
            }
            if year == nil { year = remaining.first?.value }
        }
        guard var year, let month, let day, (1...12).contains(month) else { return nil }
        if year < 50 { year += 2000 } else if year < 1000 { year += 1900 }
        guard (1...9999).contains(year), day >= 1, day <= CivilDate.daysIn(month: month, year: year) else { return nil }
        var (hour, minute, second) = time ?? (0, 0, 0)
        if let pm {
            if pm && hour < 12 { hour += 12 } else if !pm && hour == 12 { hour = 0 }
        }
        guard hour <= 24, minute <= 59, second <= 60 else { return nil }
        let days = CivilDate.daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - (zoneOffset ?? 0)
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    private static func readNumber(_ raw: ArraySlice<UInt8>, from start: Int) -> (value: Int, digits: Int, after: Int) {
        var value = 0
        var index = start
        while index < raw.endIndex, ASCII.isDigit(raw[index]) {
            if index - start < 9 { value = value * 10 + Int(raw[index] - 0x30) }
            index += 1
        }
        return (value, index - start, index)
    }

    private static let monthPrefixes: [[UInt8]] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"].map { Array($0.utf8) }

    private static func monthNumber(_ word: [UInt8]) -> Int? {
        guard word.count >= 3 else { return nil }
        let prefix = Array(word.prefix(3))
        guard let found = monthPrefixes.firstIndex(of: prefix) else { return nil }
        return found + 1
    }

    private static let namedZones: [String: Int] = [
        "ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0, "bst": 3600, "cet": 3600, "met": 3600, "cest": 7200, "mest": 7200,
        "eet": 7200, "eest": 10800, "msk": 10800, "ist": 19800, "jst": 32400, "kst": 32400, "hkt": 28800,
        "est": -18000, "edt": -14400, "cst": -21600, "cdt": -18000, "mst": -25200, "mdt": -21600, "pst": -28800, "pdt": -25200,
    ]

    /// `2026-11-22T10:00:00Z`: the form `mailroom parse` prints.
    public static func iso8601(_ date: Date) -> String {
        let (year, month, day, hour, minute, second) = components(date)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(year).leftPadded(to: 4)
        return "\(yearText)-\(two(month))-\(two(day))T\(two(hour)):\(two(minute)):\(two(second))Z"
    }

    /// `Sun, 22 Nov 2026 10:00:00 +0000`: the form the builder writes.
    public static func rfc5322(_ date: Date) -> String {
        let (year, month, day, hour, minute, second) = components(date)
        let days = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][((days % 7) + 7) % 7]
        let monthName = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][month - 1]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekday), \(day) \(monthName) \(String(year).leftPadded(to: 4)) \(two(hour)):\(two(minute)):\(two(second)) +0000"
    }

    static func components(_ date: Date) -> (Int, Int, Int, Int, Int, Int) {
        let total = Int(date.timeIntervalSince1970.rounded(.down))
        let days = CivilDate.floorDivide(total, 86_400)
        let secondsOfDay = total - days * 86_400
        let (year, month, day) = CivilDate.date(daysSinceEpoch: days)
        return (year, month, day, secondsOfDay / 3600, (secondsOfDay % 3600) / 60, secondsOfDay % 60)
    }
}

/// Message identifiers (RFC 5322 section 3.6.4), returned without angle brackets.
///
///     msg-id      = [CFWS] "<" id-left "@" id-right ">" [CFWS]
///     in-reply-to = "In-Reply-To:" 1*msg-id CRLF
///     references  = "References:" 1*msg-id CRLF
///
/// Ids without brackets, separated by spaces or commas, are accepted too; text and comments
/// between bracketed ids (old In-Reply-To phrases) are ignored.
public enum MessageIDParser {
    public static func parseList(_ raw: ArraySlice<UInt8>, limit: Int = 500) -> [String] {
        var ids: [String] = []
        var index = raw.startIndex
        var sawBracket = false
        while index < raw.endIndex, ids.count < limit {
            let byte = raw[index]
            if byte == ASCII.openParen {
                index = ParameterizedValue.skipComment(raw, from: index)
                continue
            }
            if byte == ASCII.lessThan {
                sawBracket = true
                let start = index + 1
                var close = start
                while close < raw.endIndex, raw[close] != ASCII.greaterThan, raw[close] != ASCII.lessThan { close += 1 }
                let id = raw[start..<close].filter { !ASCII.isWhitespace($0) }
                if !id.isEmpty { ids.append(String(decoding: id, as: UTF8.self)) }
                index = close < raw.endIndex && raw[close] == ASCII.greaterThan ? close + 1 : close
                continue
            }
            index += 1
        }
        if sawBracket { return ids }
        return raw.split(whereSeparator: { ASCII.isWhitespace($0) || $0 == ASCII.comma })
            .filter { $0.contains(ASCII.at) }
            .prefix(limit)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    public static func parseFirst(_ raw: ArraySlice<UInt8>) -> String? { parseList(raw, limit: 1).first }
}
