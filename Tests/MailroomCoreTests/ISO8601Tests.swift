import Foundation
import MailroomCore
import Testing

struct ISO8601Tests {
    /// Foundation's formatter is the reference the hand-written one replaces.
    static func reference(_ options: ISO8601DateFormatter.Options) -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = options
        return formatter
    }

    @Test func formatsAsFoundationDoesForMillisecondDates() {
        let reference = Self.reference([.withInternetDateTime, .withFractionalSeconds])
        var generator = SystemRandomNumberGenerator()
        // From 1901 to 2199, every value a Timestamp (milliseconds) can give back.
        for _ in 0..<20_000 {
            let millis = Int64.random(in: -2_177_452_800_000...7_258_118_400_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            #expect(ISO8601.format(date) == reference.string(from: date), "millis \(millis)")
        }
    }

    @Test(arguments: [
        ("1970-01-01T00:00:00.000Z", 0.0),
        ("1969-12-31T23:59:59.999Z", -0.001),
        ("2000-02-29T12:00:00.000Z", 951_825_600.0),
        ("2026-11-23T10:00:00.123Z", 1_795_428_000.123),
        ("2100-03-01T00:00:00.000Z", 4_107_542_400.0),
    ])
    func formatsKnownInstants(expected: String, seconds: Double) {
        #expect(ISO8601.format(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test func aDateWithMicrosecondsIsCutToMilliseconds() {
        #expect(ISO8601.format(Date(timeIntervalSince1970: 1_795_428_000.123_999)) == "2026-11-23T10:00:00.123Z")
    }

    @Test(arguments: [
        ("2026-11-23T10:00:00Z", 1_795_428_000.0),
        ("2026-11-23T10:00:00.5Z", 1_795_428_000.5),
        ("2026-11-23T10:00:00.123456789Z", 1_795_428_000.123_456_789),
        ("2026-11-23t10:00:00z", 1_795_428_000.0),
        ("2026-11-23T11:30:00+01:30", 1_795_428_000.0),
        ("2026-11-23T05:00:00-05:00", 1_795_428_000.0),
        ("2026-11-23T05:00:00-0500", 1_795_428_000.0),
        ("2024-02-29T00:00:00Z", 1_709_164_800.0),
    ])
    func parses(text: String, seconds: Double) throws {
        let date = try #require(ISO8601.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test(arguments: [
        "", "2026-11-23", "2026-11-23T10:00:00", "2026-11-23 10:00:00Z", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T10:60:00Z", "2026-11-23T10:00:60Z", "2026-11-23T10:00:00.Z",
        "2026-11-23T10:00:00.1234567890Z", "2026-11-23T10:00:00Zjunk", "2026-11-23T10:00:00+25:00", "26-11-23T10:00:00Z",
        "２026-11-23T10:00:00Z", "2026-11-00T10:00:00Z",
    ])
    func refuses(text: String) {
        #expect(ISO8601.parse(text) == nil)
    }

    @Test func roundTripsWhatItWrites() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let millis = Int64.random(in: 0...7_258_118_400_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let parsed = try #require(ISO8601.parse(ISO8601.format(date)))
            #expect(Int64((parsed.timeIntervalSince1970 * 1000).rounded()) == millis)
        }
    }
}
