import Foundation
import Hummingbird
import MailroomCore

/// `admin/reports.mustache`: a report chosen with a plain GET form (report, range, interval,
/// split, campaign), drawn as a table that becomes cards on phones, with its CSV download.
struct ReportPageView: PageContent {
    static let template = "admin/reports"

    struct Column: TemplateView {
        let label: String
    }

    struct Cell: TemplateView {
        let label: String
        let value: String
    }

    struct Row: TemplateView {
        let groupId: String
        let group: String
        let period: String
        let cells: [Cell]
    }

    let reports: [NamedChoiceView]
    let intervals: [NamedChoiceView]
    let groupings: [NamedChoiceView]
    let campaigns: [NamedChoiceView]
    let hasCampaigns: Bool
    let from: String
    let to: String
    let timeZone: String
    let timeZones: [LabelledOptionView]
    /// Why no table is shown: a parameter out of range, in words.
    let problem: String?
    let columns: [Column]
    let rows: [Row]
    let empty: Bool
    let csvHref: String?
}

extension WebSite {
    func addReportRoutes(to pages: RouterGroup<MailroomRequestContext>) {
        pages.get("admin/reports") { request, context in try await self.reportPage(request, context) }
    }

    static let reportLabels: [ReportName: String] = [
        .volume: "Volume", .responseTimes: "Response times", .backlog: "Backlog", .offers: "Offers",
    ]

    func reportPage(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        var query: [String: String] = [:]
        // The form sends its blank choices ("Nothing", "Any") empty: for the page they mean left out.
        for (key, value) in request.uri.queryParameters where query[String(key)] == nil && !value.isEmpty { query[String(key)] = String(value) }
        query["format"] = nil
        let name = query["report"].flatMap { ReportName(rawValue: $0) }.flatMap { $0 == .sla ? nil : $0 } ?? .volume
        let campaigns = try await store.routing.campaigns().sorted { $0.name.localizedStandardCompare($1.name) == .orderedAscending }
        let now = Date()
        let service = ReportService(store: store)
        var table: ReportTable?
        var problem: String?
        do {
            table = try await service.run(name: name.rawValue, query: query, now: now)
        } catch let error as DomainError {
            problem = error.description
        } catch let error as APIError where error.status == .unprocessableContent {
            problem = error.message
        }
        let request = table?.request
        let days = ReportPeriods(interval: .day, zone: request?.timeZone ?? PageTime.zone)
        func day(_ date: Date?) -> String { date.flatMap { days.periods(from: $0, to: $0.addingTimeInterval(1)).first?.label } ?? "" }
        var csvHref: String?
        if let request {
            var parts = ["from=\(PercentEncoding.component(ISO8601.format(request.from)))", "to=\(PercentEncoding.component(ISO8601.format(request.to)))",
                         "interval=\(request.interval.rawValue)", "timeZone=\(PercentEncoding.component(request.timeZoneName))", "format=csv"]
            if let groupBy = request.groupBy { parts.append("groupBy=\(groupBy.rawValue)") }
            if let campaignId = request.campaignId { parts.append("campaignId=\(PercentEncoding.component(campaignId))") }
            csvHref = "/api/v1/reports/\(request.name.rawValue)?" + parts.joined(separator: "&")
        }
        let columns = table?.columns ?? []
        let rows = (table?.rows ?? []).map { row in
            ReportPageView.Row(groupId: row.group.id ?? "", group: row.group.name, period: row.period.label,
                               cells: zip(columns, row.values).map { column, value in
                                   ReportPageView.Cell(label: column.label, value: Self.reportFigure(value, unit: column.unit))
                               })
        }
        let view = ReportPageView(
            reports: ReportName.allCases.compactMap { report in
                Self.reportLabels[report].map { NamedChoiceView(id: report.rawValue, name: $0, selected: report == name) }
            },
            intervals: ReportInterval.allCases.map { NamedChoiceView(id: $0.rawValue, name: $0.rawValue.capitalized, selected: $0 == (request?.interval ?? .day)) },
            groupings: ReportGrouping.allCases.map { NamedChoiceView(id: $0.rawValue, name: $0.rawValue.capitalized, selected: $0 == request?.groupBy) },
            campaigns: campaigns.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == request?.campaignId) },
            hasCampaigns: !campaigns.isEmpty,
            from: request.map { day($0.from) } ?? (query["from"] ?? ""),
            to: request.map { day($0.to.addingTimeInterval(-0.001)) } ?? (query["to"] ?? ""),
            timeZone: request?.timeZoneName ?? "",
            timeZones: TimeZoneName.all.map { LabelledOptionView(value: $0, label: $0, selected: $0 == (request?.timeZoneName ?? query["timeZone"])) },
            problem: problem,
            columns: columns.map { ReportPageView.Column(label: $0.label) }, rows: rows, empty: rows.isEmpty && problem == nil, csvHref: csvHref)
        return try render(page(session, title: "Reports", section: "reports", view))
    }

    /// A figure as the table shows it: counts whole, durations in seconds with up to one decimal, a dash for none.
    static func reportFigure(_ value: Double?, unit: ReportColumn.Unit) -> String {
        guard let value else { return "–" }
        if value == value.rounded() { return String(Int64(value)) }
        return String(format: "%.1f", value)
    }
}
