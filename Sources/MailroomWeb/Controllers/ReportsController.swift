import Foundation
import Hummingbird
import MailroomCore

/// Reports (`GET /api/v1/reports/{name}`): volume, response times, backlog and offers by day,
/// week or month, split by account, queue, agent, tag or campaign. Supervisors and administrators only.
struct ReportsController {
    let reports: ReportService

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("reports/:name", use: show)
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> Response {
        try context.require(.supervisor)
        let name = try request.parameter("name", context: context)
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where query[String(key)] == nil { query[String(key)] = String(value) }
        let table = try await reports.run(name: name, query: query, now: Date())
        switch table.request.format {
        case .json:
            return try JSONResponse(table).response(from: request, context: context)
        case .csv:
            return ReportService.csvResponse(table)
        }
    }
}

/// Runs a report for the API and the reports page: reads the parameters, asks the store, names
/// the groups and builds the table.
struct ReportService: Sendable {
    let store: Repositories

    /// The report `name` with the query's parameters; 404 for a name that is no report, 422 for a
    /// bad parameter (named) and for `sla`, which needs SLA policies Mailroom does not have yet.
    func run(name: String, query: [String: String], now: Date) async throws -> ReportTable {
        guard let report = ReportName(rawValue: name) else {
            throw APIError(.notFound, code: "not_found", message: "there is no report named '\(name.prefix(40))'; reports: \(ReportName.allowedNames)")
        }
        if report == .sla {
            throw APIError(.unprocessableContent, code: "sla_not_configured",
                           message: "the sla report measures tickets against SLA policies, and SLA policies are not configured yet: Mailroom has none so far",
                           field: "name")
        }
        let zone = try await store.settings.globalSettings().effectiveTimeZone
        let request: ReportRequest
        switch ReportRequest.parse(name: report, query: query, installationTimeZone: zone, now: now) {
        case .success(let parsed): request = parsed
        case .failure(let error): throw error
        }
        return try await run(request, now: now)
    }

    func run(_ request: ReportRequest, now: Date) async throws -> ReportTable {
        var scope: ReportScope?
        var campaigns = try await store.routing.campaigns()
        if let id = request.campaignId {
            guard let campaign = campaigns.first(where: { $0.id == id }) else {
                throw APIError.invalid([FieldError("campaignId", "names no campaign")])
            }
            scope = ReportScope(campaign)
            campaigns = [campaign]
        }
        let groupKey: ReportGroupKey?
        let groups: ReportGroupNames
        switch request.groupBy {
        case nil:
            groupKey = nil
            groups = ReportGroupNames(names: [:], noneName: "All", always: [ReportGroup(id: nil, name: "All")])
        case .account:
            groupKey = .account
            let accounts = try await store.accounts.list(includeDeleted: true)
            groups = ReportGroupNames(names: Self.names(accounts.map { ($0.id, "\($0.key) · \($0.name)") }), noneName: "No account")
        case .queue:
            groupKey = .queue
            groups = ReportGroupNames(names: Self.names(try await store.routing.queues().map { ($0.id, $0.name) }), noneName: "No queue")
        case .agent:
            groupKey = .agent
            groups = ReportGroupNames(names: Self.names(try await store.users.list().map { ($0.id, $0.name) }), noneName: "Unassigned")
        case .tag:
            groupKey = .tag
            groups = ReportGroupNames(names: [:], noneName: "No tag")
        case .campaign:
            groupKey = .campaigns(campaigns)
            groups = ReportGroupNames(names: Self.names(campaigns.map { ($0.id, $0.name) }), noneName: "No campaign",
                                      always: campaigns.map { ReportGroup(id: $0.id, name: $0.name) })
        }
        let periods = request.periods
        let query = ReportQuery(periods: periods, groupBy: groupKey, scope: scope, asOf: now)
        let rows: [ReportRow]
        switch request.name {
        case .volume: rows = ReportAssembly.rows(.volume, counts: try await store.reports.volume(query), periods: periods, groups: groups)
        case .responseTimes: rows = ReportAssembly.rows(timings: try await store.reports.responseTimes(query), periods: periods, groups: groups)
        case .backlog: rows = ReportAssembly.rows(.backlog, counts: try await store.reports.backlog(query), periods: periods, groups: groups)
        case .offers: rows = ReportAssembly.rows(.offers, counts: try await store.reports.offers(query), periods: periods, groups: groups)
        case .sla: rows = []
        }
        return ReportTable(request: request, columns: ReportAssembly.columns(request.name), rows: rows)
    }

    static func names(_ pairs: [(String, String)]) -> [String: String] {
        Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    /// The table as a CSV download.
    static func csvResponse(_ table: ReportTable) -> Response {
        var headers: HTTPFields = [.contentType: "text/csv; charset=utf-8", .cacheControl: "no-store"]
        headers[.contentDisposition] = "attachment; filename=\"\(table.filename)\""
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: table.csv())))
    }
}
