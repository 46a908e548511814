import Foundation
import MailroomCore
import Testing

/// The reports' pure parts: periods of a time zone's calendar (across clock changes), the
/// percentiles, the CSV writer, the parameters and the assembly of rows.
@Suite struct ReportLogicTests {
    static let rome = TimeZone(identifier: "Europe/Rome")!

    static func utc(_ text: String) -> Date { ISO8601.parse(text)! }

    @Test func daysFollowLocalMidnightsAcrossTheSpringClockChange() {
        // Rome moves from 02:00 to 03:00 on Sunday 29 March 2026: that day lasts 23 hours.
        let days = ReportPeriods(interval: .day, zone: Self.rome)
        let periods = days.periods(from: Self.utc("2026-03-27T23:00:00Z"), to: Self.utc("2026-03-30T22:00:00Z"))
        #expect(periods.map(\.label) == ["2026-03-28", "2026-03-29", "2026-03-30"])
        #expect(periods.map(\.start) == [Self.utc("2026-03-27T23:00:00Z"), Self.utc("2026-03-28T23:00:00Z"), Self.utc("2026-03-29T22:00:00Z")])
        #expect(periods.map { $0.end.timeIntervalSince($0.start) / 3600 } == [24, 23, 24])
        // 23:30 in Rome on the 29th is 21:30 UTC; 00:30 on the 30th is 22:30 UTC.
        #expect(ReportPeriods.index(of: Self.utc("2026-03-29T21:30:00Z"), in: periods) == 1)
        #expect(ReportPeriods.index(of: Self.utc("2026-03-29T22:30:00Z"), in: periods) == 2)
        #expect(ReportPeriods.index(of: Self.utc("2026-03-27T22:59:59Z"), in: periods) == nil)
        #expect(ReportPeriods.index(of: Self.utc("2026-03-30T22:00:00Z"), in: periods) == nil, "the end is not counted")
    }

    @Test func theAutumnDayLastsTwentyFiveHours() {
        let days = ReportPeriods(interval: .day, zone: Self.rome)
        let periods = days.periods(from: Self.utc("2026-10-24T22:00:00Z"), to: Self.utc("2026-10-26T23:00:00Z"))
        #expect(periods.map(\.label) == ["2026-10-25", "2026-10-26"])
        #expect(periods.map { $0.end.timeIntervalSince($0.start) / 3600 } == [25, 24])
    }

    @Test func aDayWhoseMidnightIsSkippedStartsAtItsFirstHour() {
        // São Paulo skipped from 00:00 to 01:00 on 4 November 2018.
        let days = ReportPeriods(interval: .day, zone: TimeZone(identifier: "America/Sao_Paulo")!)
        #expect(days.midnight((2018, 11, 4)) == Self.utc("2018-11-04T03:00:00Z"))
        #expect(days.midnight((2018, 11, 5)) == Self.utc("2018-11-05T02:00:00Z"))
    }

    @Test func weeksRunMondayToSundayAndMonthsFromTheFirst() {
        let weeks = ReportPeriods(interval: .week, zone: Self.rome)
        // Wednesday 25 March to Wednesday 8 April: the first week is cut at `from`, labelled by its Monday.
        let periods = weeks.periods(from: Self.utc("2026-03-24T23:00:00Z"), to: Self.utc("2026-04-07T22:00:00Z"))
        #expect(periods.map(\.label) == ["2026-03-23", "2026-03-30", "2026-04-06"])
        #expect(periods[0].start == Self.utc("2026-03-24T23:00:00Z"))
        #expect(periods[1].start == Self.utc("2026-03-29T22:00:00Z"), "Monday 30 March, after the change")
        #expect(periods[2].end == Self.utc("2026-04-07T22:00:00Z"))
        let months = ReportPeriods(interval: .month, zone: Self.rome).periods(from: Self.utc("2026-01-15T00:00:00Z"), to: Self.utc("2026-04-01T00:00:00Z"))
        #expect(months.map(\.label) == ["2026-01", "2026-02", "2026-03", "2026-04"])
        #expect(months[1].start == Self.utc("2026-01-31T23:00:00Z"))
        #expect(months[2].start == Self.utc("2026-02-28T23:00:00Z"))
        #expect(months[3].start == Self.utc("2026-03-31T22:00:00Z"))
        let december = ReportPeriods(interval: .month, zone: TimeZone(identifier: "UTC")!)
        #expect(december.next(after: Self.utc("2026-12-01T00:00:00Z")) == Self.utc("2027-01-01T00:00:00Z"))
    }

    @Test func percentilesInterpolateBetweenNeighbours() {
        let pair = DurationSummary([20, 10])
        #expect(pair == DurationSummary(count: 2, median: 15, p90: 19, average: 15))
        let ten = DurationSummary((1...10).map(Double.init))
        #expect(ten.median == 5.5)
        #expect(abs((ten.p90 ?? 0) - 9.1) < 1e-9)
        #expect(DurationSummary([7]) == DurationSummary(count: 1, median: 7, p90: 7, average: 7))
        #expect(DurationSummary([]) == DurationSummary(count: 0, median: nil, p90: nil, average: nil))
    }

    @Test(arguments: [
        ("plain", "plain"),
        ("a,b", "\"a,b\""),
        ("say \"hi\"", "\"say \"\"hi\"\"\""),
        ("two\nlines", "\"two\nlines\""),
        ("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("", ""),
        ("Crème · brûlée", "Crème · brûlée"),
    ])
    func csvCellsAreQuotedAndFormulasDefused(_ input: String, _ expected: String) {
        #expect(CSVWriter.cell(input) == expected)
    }

    @Test func csvRowsEndInCRLFAndNumbersStayNumbers() {
        var writer = CSVWriter()
        writer.row(["group", "n"])
        writer.row([.text("-x"), .number(-3), .number(2.5), .number(nil), .number(1_800)])
        #expect(writer.text == "group,n\r\n'-x,-3,2.500,,1800\r\n")
    }

    static func parse(_ query: [String: String], zone: String = "UTC", now: String = "2026-03-10T12:00:00Z") -> Result<ReportRequest, DomainError> {
        ReportRequest.parse(name: .volume, query: query, installationTimeZone: zone, now: utc(now))
    }

    static func fields(_ result: Result<ReportRequest, DomainError>) -> [String] {
        guard case .failure(.invalid(let errors)) = result else { return [] }
        return errors.map(\.field)
    }

    @Test func parametersDefaultToTheLastSevenDaysOfTheInstallationZone() throws {
        let request = try Self.parse([:], zone: "Europe/Rome").get()
        #expect(request.timeZone.identifier == "Europe/Rome")
        #expect(request.from == Self.utc("2026-03-03T23:00:00Z"))
        #expect(request.to == Self.utc("2026-03-10T23:00:00Z"))
        #expect(request.interval == .day && request.groupBy == nil && request.format == .json)
        #expect(request.periods.count == 7)
    }

    @Test func aDateOnlyToCountsItsDayWholeAndDateTimesAreExact() throws {
        let request = try Self.parse(["from": "2026-03-01", "to": "2026-03-31", "interval": "week", "groupBy": "campaign",
                                      "format": "csv", "campaignId": "c1", "timeZone": "Europe/Rome"]).get()
        #expect(request.from == Self.utc("2026-02-28T23:00:00Z"))
        #expect(request.to == Self.utc("2026-03-31T22:00:00Z"))
        #expect(request.interval == .week && request.groupBy == .campaign && request.format == .csv && request.campaignId == "c1")
        let exact = try Self.parse(["from": "2026-03-01T10:00:00+01:00", "to": "2026-03-02T10:00:00Z"]).get()
        #expect(exact.from == Self.utc("2026-03-01T09:00:00Z") && exact.to == Self.utc("2026-03-02T10:00:00Z"))
    }

    @Test(arguments: [
        (["interval": "year"], "interval"),
        (["groupBy": "customer"], "groupBy"),
        (["format": "xlsx"], "format"),
        (["from": "yesterday"], "from"),
        (["from": "2026-02-30"], "from"),
        (["to": "2026-13-01"], "to"),
        (["from": "1969-12-31"], "from"),
        (["timeZone": "Mars/Olympus"], "timeZone"),
        (["from": "2026-03-05", "to": "2026-03-04"], "to"),
        (["from": "2025-01-01", "to": "2026-01-02"], "to"),
        (["from": "2010-01-01", "to": "2026-01-01", "interval": "month"], "to"),
        (["campaignId": String(repeating: "x", count: 101)], "campaignId"),
        (["to": ""], "to"),
        (["groupBy": ""], "groupBy"),
    ])
    func everyBadParameterIsNamed(_ query: [String: String], _ field: String) {
        #expect(Self.fields(Self.parse(query)) == [field], "\(query)")
    }

    @Test func aYearByDayIsAllowedAndAYearAndADayIsNot() {
        #expect((try? Self.parse(["from": "2025-01-01", "to": "2026-01-01"]).get())?.periods.count == 366)
        #expect((try? Self.parse(["from": "2025-01-01", "to": "2026-01-01", "interval": "week"]).get()) != nil)
    }

    @Test func rowsCoverEveryPeriodOfEveryGroupWithTheColumnsMapped() {
        let periods = ReportPeriods(interval: .day, zone: TimeZone(identifier: "UTC")!)
            .periods(from: Self.utc("2026-03-01T00:00:00Z"), to: Self.utc("2026-03-03T00:00:00Z"))
        let names = ReportGroupNames(names: ["a1": "Ann", "b1": "Bob"], noneName: "Unassigned")
        let offers = ReportAssembly.rows(.offers, counts: [
            ReportCount(period: 0, group: "b1", metric: "accepted", value: 2),
            ReportCount(period: 0, group: "b1", metric: "taken", value: 1),
            ReportCount(period: 1, group: "b1", metric: "withdrawn", value: 1),
            ReportCount(period: 1, group: "a1", metric: "rejected", value: 3),
            ReportCount(period: 1, group: nil, metric: "offered", value: 1),
            ReportCount(period: 9, group: "a1", metric: "accepted", value: 5),
        ], periods: periods, groups: names)
        #expect(offers.map(\.group.name) == ["Ann", "Ann", "Bob", "Bob", "Unassigned", "Unassigned"])
        #expect(ReportAssembly.columns(.offers).map(\.key) == ["offered", "accepted", "declined", "expired", "withdrawn", "pending"])
        #expect(offers[1].values == [3, 0, 3, 0, 0, 0])
        #expect(offers[2].values == [3, 2, 0, 0, 1, 0])
        #expect(offers[3].values == [1, 0, 0, 0, 1, 0])
        #expect(offers[5].values == [1, 0, 0, 0, 0, 1])

        // The backlog is a running sum of tickets created less closed; the oldest band what the others leave.
        let backlog = ReportAssembly.rows(.backlog, counts: [
            ReportCount(period: 0, group: "a1", metric: ReportMetrics.backlogOpened, value: 5),
            ReportCount(period: 0, group: "a1", metric: ReportMetrics.backlogClosed, value: 2),
            ReportCount(period: 0, group: "a1", metric: "ageUnder1Day", value: 2),
            ReportCount(period: 1, group: "a1", metric: ReportMetrics.backlogClosed, value: 1),
            ReportCount(period: 1, group: "a1", metric: "age1To3Days", value: 1),
            ReportCount(period: 0, group: "b1", metric: ReportMetrics.backlogOpened, value: 1),
            ReportCount(period: 0, group: "b1", metric: ReportMetrics.backlogClosed, value: 1),
        ], periods: periods, groups: names)
        #expect(backlog.map(\.group.name) == ["Ann", "Ann"], "Bob's only ticket was closed: no rows")
        #expect(backlog.map(\.values) == [[3, 2, 0, 0, 1], [2, 0, 1, 0, 1]])

        let times = ReportAssembly.rows(timings: [
            ReportTiming(period: 0, group: nil, firstResponseSeconds: 1_800, resolutionSeconds: 10_800),
            ReportTiming(period: 0, group: nil, firstResponseSeconds: 3_600, resolutionSeconds: nil),
            ReportTiming(period: 0, group: nil, firstResponseSeconds: nil, resolutionSeconds: nil),
        ], periods: periods, groups: ReportGroupNames(names: [:], noneName: "All", always: [ReportGroup(id: nil, name: "All")]))
        #expect(times[0].values == [2, 2_700, 3_420, 2_700, 1, 10_800, 10_800, 10_800])
        #expect(times[1].values == [0, nil, nil, nil, 0, nil, nil, nil])
    }

    @Test func theTableEncodesItsValuesByColumnKeyAndAsCSV() throws {
        let request = try Self.parse(["from": "2026-03-01", "to": "2026-03-01", "groupBy": "campaign"]).get()
        let table = ReportTable(request: request, columns: ReportAssembly.columns(.volume), rows: [
            ReportRow(group: ReportGroup(id: "c1", name: "=Sales, north"), period: request.periods[0], values: [2, 3, 1]),
        ])
        let json = try JSONCoding.decoder.decode(JSONValue.self, from: try JSONCoding.encoder.encode(table))
        #expect(json["timeZone"] == .string("UTC"))
        #expect(json["groupBy"] == .string("campaign"))
        guard case .array(let rows)? = json["rows"], let row = rows.first else {
            Issue.record("no rows: \(json)")
            return
        }
        #expect(row["values"]?["ticketsCreated"] == .number(2))
        #expect(row["group"]?["name"] == .string("=Sales, north"))
        #expect(row["period"]?["label"] == .string("2026-03-01"))
        #expect(table.csv() == "group id,group,period,period start,period end,Tickets created,Messages in,Messages out\r\n"
            + "c1,\"'=Sales, north\",2026-03-01,2026-03-01T00:00:00.000Z,2026-03-02T00:00:00.000Z,2,3,1\r\n")
        #expect(table.filename == "volume-2026-03-01-2026-03-01.csv")
    }
}
