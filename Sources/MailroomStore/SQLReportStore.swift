import Foundation
import MailroomCore
import SQLKit

extension SQLStore {
    /// The reports' aggregates.
    public var reports: SQLReportStore { SQLReportStore(database: database) }
}

/// Counts for the reports, aggregated in SQL by period and group. The periods arrive as
/// instants worked out in Core (the report's time zone and its clock changes are Core's), and
/// are joined as a small table of bounds, so each period is one range scan of an index on the
/// timestamp it counts (migration 63).
public struct SQLReportStore: ReportRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    public func volume(_ query: ReportQuery) async throws -> [ReportCount] {
        guard !query.periods.isEmpty else { return [] }
        let kind = database.kind
        return try await perGroup(query) { db, split, scope in
            let statements = Statements.volume(query, split: split, scope: scope, kind: kind)
            let created = try await db.raw(statements[0]).all().map { try Self.count($0, metric: ReportMetrics.ticketsCreated) }
            let messages = try await db.raw(statements[1]).all().map { row in
                let direction = try row.decode(column: "metric", as: String.self)
                return try Self.count(row, metric: direction == MessageDirection.inbound.rawValue ? ReportMetrics.messagesIn : ReportMetrics.messagesOut)
            }
            return created + messages
        }
    }

    public func responseTimes(_ query: ReportQuery) async throws -> [ReportTiming] {
        guard !query.periods.isEmpty else { return [] }
        let kind = database.kind
        return try await perGroup(query) { db, split, scope in
            try await db.raw(Statements.responseTimes(query, split: split, scope: scope, kind: kind)).all().map { row in
                let created = try row.decode(column: "created_at", as: Int64.self)
                func seconds(_ column: String) throws -> Double? {
                    try row.decode(column: column, as: Int64?.self).map { Double($0 - created) / 1000 }
                }
                return ReportTiming(period: try row.decode(column: "period", as: Int.self), group: try row.decode(column: "grp", as: String?.self),
                                    firstResponseSeconds: try seconds("first_reply"), resolutionSeconds: try seconds("closed_at"))
            }
        }
    }

    public func backlog(_ query: ReportQuery) async throws -> [ReportCount] {
        guard !query.periods.isEmpty else { return [] }
        let kind = database.kind
        return try await perGroup(query) { db, split, scope in
            let statements = Statements.backlog(query, split: split, scope: scope, kind: kind)
            let opened = try await db.raw(statements[0]).all().map { try Self.count($0, metric: ReportMetrics.backlogOpened) }
            let closed = try await db.raw(statements[1]).all().map { try Self.count($0, metric: ReportMetrics.backlogClosed) }
            let young = try await db.raw(statements[2]).all().map { row in try Self.count(row, metric: try row.decode(column: "metric", as: String.self)) }
            return opened + closed + young
        }
    }

    public func offers(_ query: ReportQuery) async throws -> [ReportCount] {
        guard !query.periods.isEmpty else { return [] }
        let kind = database.kind
        return try await perGroup(query, agentColumn: "o.user_id") { db, split, scope in
            try await db.raw(Statements.offers(query, split: split, scope: scope, kind: kind)).all().map { row in
                try Self.count(row, metric: try row.decode(column: "metric", as: String.self))
            }
        }
    }

    /// The statements, one function per report (a test reads their plans).
    enum Statements {
        /// Tickets created; messages written, by direction.
        static func volume(_ query: ReportQuery, split: Split, scope: SQLQueryString, kind: SQLDialectKind) -> [SQLQueryString] {
            [
                """
                WITH \(periods(query)) SELECT p.idx AS period, \(split.column) AS grp, COUNT(*) AS n
                FROM periods p JOIN tickets t ON t.created_at >= p.s AND t.created_at < p.e\(split.join(kind))
                WHERE \(scope) GROUP BY 1, 2
                """,
                """
                WITH \(periods(query)) SELECT p.idx AS period, \(split.column) AS grp, m.direction AS metric, COUNT(*) AS n
                FROM periods p JOIN messages m ON m.created_at >= p.s AND m.created_at < p.e
                JOIN tickets t ON t.id = m.ticket_id\(split.join(kind))
                WHERE \(scope) GROUP BY 1, 2, 3
                """,
            ]
        }

        /// Each ticket created in a period with its closing and its first answer: the first reply
        /// an agent wrote (automatic replies have no actor).
        static func responseTimes(_ query: ReportQuery, split: Split, scope: SQLQueryString, kind: SQLDialectKind) -> SQLQueryString {
            """
            WITH \(periods(query)) SELECT p.idx AS period, \(split.column) AS grp, t.created_at AS created_at,
                CASE WHEN t.status = 'closed' THEN t.closed_at ELSE NULL END AS closed_at,
                (SELECT MIN(e.at) FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'replied' AND e.actor_id IS NOT NULL) AS first_reply
            FROM periods p JOIN tickets t ON t.created_at >= p.s AND t.created_at < p.e\(split.join(kind))
            WHERE \(scope)
            """
        }

        /// Between one snapshot and the next: tickets created (and not closed without a time) and
        /// tickets closed. The first span reaches back to the beginning, so Core's running sum of
        /// the two is the backlog at each snapshot, each ticket read once rather than once a
        /// period. Then the young age bands: tickets open at the snapshot created within the widest.
        static func backlog(_ query: ReportQuery, split: Split, scope: SQLQueryString, kind: SQLDialectKind) -> [SQLQueryString] {
            let snapshots = query.periods.map { Timestamp.from(query.snapshot($0)) }
            let spans = snapshots.enumerated().map { index, end in "(\(index), \(index == 0 ? -1 : snapshots[index - 1]), \(end))" }
                .joined(separator: ", ")
            let bounded = ReportMetrics.ageBands.compactMap { band in band.under.map { (band.key, Int64($0) * 1000) } }
            let widest = bounded.map(\.1).max() ?? 0
            let band = "CASE " + bounded.map { "WHEN p.e - t.created_at < \($0.1) THEN '\($0.0)'" }.joined(separator: " ") + " END"
            let periods: SQLQueryString = "periods (idx, s, e) AS (VALUES \(unsafeRaw: spans))"
            return [
                """
                WITH \(periods) SELECT p.idx AS period, \(split.column) AS grp, COUNT(*) AS n
                FROM periods p JOIN tickets t ON t.created_at > p.s AND t.created_at < p.e\(split.join(kind))
                WHERE NOT (t.status = 'closed' AND t.closed_at IS NULL) AND \(scope) GROUP BY 1, 2
                """,
                """
                WITH \(periods) SELECT p.idx AS period, \(split.column) AS grp, COUNT(*) AS n
                FROM periods p JOIN tickets t ON t.status = 'closed' AND t.closed_at > p.s AND t.closed_at <= p.e\(split.join(kind))
                WHERE \(scope) GROUP BY 1, 2
                """,
                """
                WITH \(periods) SELECT p.idx AS period, \(split.column) AS grp, \(unsafeRaw: band) AS metric, COUNT(*) AS n
                FROM periods p JOIN tickets t ON t.created_at > p.e - \(unsafeRaw: String(widest)) AND t.created_at < p.e\(split.join(kind))
                WHERE NOT (t.status = 'closed' AND (t.closed_at IS NULL OR t.closed_at <= p.e)) AND \(scope) GROUP BY 1, 2, 3
                """,
            ]
        }

        /// Offers made in each period, by state.
        static func offers(_ query: ReportQuery, split: Split, scope: SQLQueryString, kind: SQLDialectKind) -> SQLQueryString {
            """
            WITH \(periods(query)) SELECT p.idx AS period, \(split.column) AS grp, o.state AS metric, COUNT(*) AS n
            FROM periods p JOIN offers o ON o.offered_at >= p.s AND o.offered_at < p.e
            JOIN tickets t ON t.id = o.ticket_id\(split.join(kind))
            WHERE \(scope) GROUP BY 1, 2, 3
            """
        }

        /// `periods (idx, s, e) AS (VALUES ...)`: the bounds as millisecond literals (numbers made
        /// here, so not a way in for input), which keeps a year of days clear of bind limits.
        static func periods(_ query: ReportQuery) -> SQLQueryString {
            let values = query.periods.enumerated().map { index, period in
                "(\(index), \(Timestamp.from(period.start)), \(Timestamp.from(period.end)))"
            }.joined(separator: ", ")
            return "periods (idx, s, e) AS (VALUES \(unsafeRaw: values))"
        }
    }

    // MARK: Pieces of the statements

    /// What a count is split by, as a column of the ticket `t` (or the offer `o`).
    struct Split: Sendable {
        let column: SQLQueryString
        let tags: Bool

        /// The join that makes one row per tag of the ticket (none: one row with no tag).
        func join(_ kind: SQLDialectKind) -> SQLQueryString {
            guard tags else { return "" }
            return kind == .postgres ? " LEFT JOIN LATERAL json_array_elements_text(CAST(t.tags AS json)) AS tg(value) ON TRUE"
                                     : " LEFT JOIN json_each(t.tags) AS tg"
        }
    }

    /// Runs `body` once, or once per campaign when the split is by campaign (each run limited to
    /// the campaign's tickets, its counts put under the campaign's id).
    private func perGroup<Row: Sendable>(_ query: ReportQuery, agentColumn: String = "t.agent_id",
                                         _ body: @escaping @Sendable (any SQLDatabase, Split, SQLQueryString) async throws -> [Row]) async throws -> [Row]
    where Row: ReportGroupedRow {
        let scope = Self.scopeClause(query.scope)
        return try await database.withConnection { db in
            switch query.groupBy {
            case .campaigns(let campaigns):
                var rows: [Row] = []
                for campaign in campaigns {
                    let both: SQLQueryString = "(\(scope)) AND \(Self.scopeClause(ReportScope(campaign)))"
                    rows += try await body(db, Split(column: "CAST(NULL AS TEXT)", tags: false), both).map { $0.inGroup(campaign.id) }
                }
                return rows
            case .account: return try await body(db, Split(column: "t.account_id", tags: false), scope)
            case .queue: return try await body(db, Split(column: "t.queue_id", tags: false), scope)
            case .agent: return try await body(db, Split(column: "\(unsafeRaw: agentColumn)", tags: false), scope)
            case .tag: return try await body(db, Split(column: "tg.value", tags: true), scope)
            case nil: return try await body(db, Split(column: "CAST(NULL AS TEXT)", tags: false), scope)
            }
        }
    }

    /// The tickets of a scope: its accounts' or its queues'.
    static func scopeClause(_ scope: ReportScope?) -> SQLQueryString {
        guard let scope else { return "1 = 1" }
        var parts: [SQLQueryString] = []
        if !scope.accountIds.isEmpty { parts.append("t.account_id IN (\(binds: scope.accountIds))") }
        if !scope.queueIds.isEmpty { parts.append("t.queue_id IN (\(binds: scope.queueIds))") }
        guard var clause = parts.first else { return "1 = 0" }
        for part in parts.dropFirst() { clause = "\(clause) OR \(part)" }
        return "(\(clause))"
    }

    static func count(_ row: any SQLRow, metric: String) throws -> ReportCount {
        ReportCount(period: try row.decode(column: "period", as: Int.self), group: try row.decode(column: "grp", as: String?.self),
                    metric: metric, value: try row.decode(column: "n", as: Int.self))
    }
}

/// A row of figures that can be put under a campaign's id.
protocol ReportGroupedRow {
    func inGroup(_ id: String) -> Self
}

extension ReportCount: ReportGroupedRow {
    func inGroup(_ id: String) -> ReportCount {
        var copy = self
        copy.group = id
        return copy
    }
}

extension ReportTiming: ReportGroupedRow {
    func inGroup(_ id: String) -> ReportTiming {
        var copy = self
        copy.group = id
        return copy
    }
}
