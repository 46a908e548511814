import Foundation
import Testing
@testable import MailroomCore

@Suite struct BusinessHoursTests {
    /// Rome: weekdays 09:00-13:00 and 14:00-18:00, Saturday morning, closed on Sunday and Christmas.
    let rome = BusinessHoursCalendar(timeZone: "Europe/Rome", weekly: [
        .monday: ["09:00-13:00", "14:00-18:00"], .tuesday: ["09:00-13:00", "14:00-18:00"],
        .wednesday: ["09:00-13:00", "14:00-18:00"], .thursday: ["09:00-13:00", "14:00-18:00"],
        .friday: ["09:00-13:00", "14:00-18:00"], .saturday: ["09:00-12:00"],
    ], holidays: ["2026-12-25"])

    @Test(arguments: [
        ("2026-11-23T08:00:00Z", true),   // Monday 09:00 in Rome (UTC+1): the first minute is open
        ("2026-11-23T07:59:00Z", false),  // 08:59
        ("2026-11-23T12:00:00Z", false),  // 13:00: the lunch break starts, the end is exclusive
        ("2026-11-23T13:30:00Z", true),   // 14:30
        ("2026-11-23T16:59:00Z", true),   // 17:59
        ("2026-11-23T17:00:00Z", false),  // 18:00
        ("2026-11-28T10:00:00Z", true),   // Saturday 11:00
        ("2026-11-28T11:00:00Z", false),  // Saturday 12:00
        ("2026-11-29T10:00:00Z", false),  // Sunday
        ("2026-12-25T10:00:00Z", false),  // Christmas, a Friday
        ("2026-12-24T10:00:00Z", true),   // Christmas Eve, a Thursday
        ("2026-07-06T07:30:00Z", true),   // Summer time (UTC+2): Monday 09:30
        ("2026-07-06T16:30:00Z", false),  // Summer time: 18:30
        ("2026-12-24T23:30:00Z", false),  // 00:30 on Christmas in Rome though still the 24th in UTC
    ])
    func openingHoursInTheCalendarsTimeZone(utc: String, open: Bool) {
        #expect(rome.isOpen(at: ISO8601.parse(utc)!) == open)
    }

    @Test func aTwentyFourHourDayAndTheDaysEitherSideOfMidnight() {
        let calendar = BusinessHoursCalendar(timeZone: "America/New_York", weekly: [.friday: ["20:00-24:00"], .saturday: ["00:00-02:00"]])
        #expect(calendar.isOpen(at: ISO8601.parse("2026-11-28T04:59:00Z")!))   // Friday 23:59 in New York
        #expect(calendar.isOpen(at: ISO8601.parse("2026-11-28T06:30:00Z")!))   // Saturday 01:30
        #expect(!calendar.isOpen(at: ISO8601.parse("2026-11-28T07:00:00Z")!))  // Saturday 02:00
    }

    @Test func timeConditionsUseTheCalendar() {
        let open = RuleCondition(.time, .is, .businessHours(.open, rome))
        let closed = RuleCondition(.time, .is, .businessHours(.closed, rome))
        let notOpen = RuleCondition(.time, .isNot, .businessHours(.open, rome))
        let sunday = inbound(at: ISO8601.parse("2026-11-29T10:00:00Z")!)
        let monday = inbound(at: ISO8601.parse("2026-11-23T10:00:00Z")!)
        #expect(ruleHolds(open, monday) && !ruleHolds(open, sunday))
        #expect(ruleHolds(closed, sunday) && !ruleHolds(closed, monday))
        #expect(ruleHolds(notOpen, sunday) && !ruleHolds(notOpen, monday))
    }

    @Test func validationNamesEveryBadPart() {
        let calendar = BusinessHoursCalendar(timeZone: "Nowhere/Town", weekly: [
            .monday: ["09:00-13:00", "12:00-14:00", "25:00-26:00", "9:00-10:00", "10:00-10:00", "10:60-11:00"],
        ], holidays: ["2026-12-25", "25/12/2026", "2027-02-29"])
        #expect(calendar.validate(path: "c").map(\.field) == [
            "c.timeZone", "c.weekly.monday[1]", "c.weekly.monday[2]", "c.weekly.monday[3]", "c.weekly.monday[4]",
            "c.weekly.monday[5]", "c.holidays[1]", "c.holidays[2]",
        ])
        #expect(rome.validate(path: "c").isEmpty)
    }

    @Test func anUnknownWeekdayIsRefusedWhenDecoding() {
        let json = #"{"accountId": "a", "name": "n", "conditions": [{"field": "time", "operator": "is", "value": {"state": "open", "calendar": {"timeZone": "UTC", "weekly": {"funday": ["09:00-10:00"]}}}}], "actions": [{"type": "stop"}]}"#
        let errors = ruleErrors(json)
        #expect(errors.count == 1)
        #expect(errors.first?.field.hasPrefix("conditions[0].value.calendar.weekly") == true, "\(errors)")
    }

    @Test func anUnknownTimeZoneIsClosed() {
        let calendar = BusinessHoursCalendar(timeZone: "Nowhere/Town", weekly: [.monday: ["00:00-24:00"]])
        #expect(!calendar.isOpen(at: mondayNoonUTC))
    }
}
