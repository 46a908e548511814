import Foundation
import MailroomCore

/// The reports (`GET /api/v1/reports/{name}`) in the document: the parameters as
/// ``ReportRequest`` checks them, the table's shape, and the CSV answer.
extension OpenAPIDocument {
    static let reportsPath = "/api/v1/reports/{name}"

    static let reportOperation = Operation(
        method: "get", path: reportsPath,
        summary: "A report: volume, responseTimes, backlog or offers per day, week or month (of the installation's time zone unless timeZone says), "
            + "split by groupBy, limited to one campaign's accounts and queues by campaignId; format=csv answers a download. "
            + "sla answers 422 until SLA policies can be configured. from and to: a date (to counts that day whole) or a date-time; "
            + "without them the last 7 days; by day at most 366 days, otherwise at most 3660. Groups: a ticket's account, queue, assigned agent "
            + "(offers: the agent offered), each of its tags, each campaign whose accounts or queues hold it. responseTimes: the tickets created "
            + "in the period, first response = the first reply an agent wrote, resolution = closing; backlog: tickets open at the end of the period "
            + "(or now), by age",
        access: .supervisor, response: "Report",
        query: ["from", "to", "interval", "groupBy", "campaignId", "timeZone", "format"])

    /// Schemas of the reports' path and query parameters; nil for other operations.
    static func reportParameterSchema(_ name: String, path: String) -> JSONValue? {
        guard path == reportsPath else { return nil }
        func names<T: NamedValues>(_ type: T.Type) -> JSONValue { .object(["enum": .array(T.allCases.map { .string($0.rawValue) })]) }
        switch name {
        case "name": return names(ReportName.self)
        case "interval": return names(ReportInterval.self)
        case "groupBy": return names(ReportGrouping.self)
        case "format": return names(ReportFormat.self)
        case "timeZone": return .object(["$ref": .string("#/components/schemas/TimeZoneName")])
        case "campaignId": return .object(["type": .string("string"), "minLength": .number(1), "maxLength": .number(100)])
        case "from", "to":
            return .object([
                "type": .string("string"),
                "pattern": .string(#"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9]))?$"#),
                "description": .string("a date such as 2026-03-01 (a day of the report's time zone) or a date-time with its offset"),
            ])
        default: return nil
        }
    }

    /// The report's success answer: the table as JSON, or as CSV with format=csv.
    static func addReportFormats(to paths: inout [String: [String: JSONValue]]) {
        guard case .object(var operation) = paths[reportsPath]?["get"], case .object(var responses) = operation["responses"],
              case .object(var success) = responses["200"], case .object(var content) = success["content"] else { return }
        content["text/csv"] = .object(["schema": .object(["type": .string("string"),
                                                          "description": .string("a header row, then one line per row; sent as an attachment")])])
        success["content"] = .object(content)
        success["headers"] = .object(["Content-Disposition": .object([
            "description": .string("format=csv: attachment; filename=\"NAME-FROM-TO.csv\""), "schema": .object(["type": .string("string")])])])
        responses["200"] = .object(success)
        operation["responses"] = .object(responses)
        paths[reportsPath]?["get"] = .object(operation)
    }

    static let reportSchemaText = #"""
    {"Report": {"type": "object", "required": ["name", "from", "to", "interval", "groupBy", "campaignId", "timeZone", "columns", "rows"],
      "properties": {
        "name": {"enum": ["volume", "responseTimes", "backlog", "offers"]},
        "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time", "description": "the first instant not counted"},
        "interval": {"enum": ["day", "week", "month"]},
        "groupBy": {"enum": ["account", "queue", "agent", "tag", "campaign", null]},
        "campaignId": {"type": ["string", "null"]},
        "timeZone": {"type": "string", "description": "the IANA zone whose days, weeks (Monday to Sunday) and months make the periods"},
        "columns": {"type": "array", "items": {"type": "object", "required": ["key", "label", "unit"], "properties": {
          "key": {"type": "string"}, "label": {"type": "string"}, "unit": {"enum": ["count", "seconds"]}}}},
        "rows": {"type": "array", "description": "every group with every period, groups by name",
          "items": {"type": "object", "required": ["group", "period", "values"], "properties": {
            "group": {"type": "object", "required": ["id", "name"], "properties": {
              "id": {"type": ["string", "null"], "description": "null: no queue, nobody assigned, no tag, or no split"}, "name": {"type": "string"}}},
            "period": {"type": "object", "required": ["label", "start", "end"], "properties": {
              "label": {"type": "string", "description": "2026-03-29 (a day, or the Monday of a week) or 2026-03 (a month)"},
              "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"}}},
            "values": {"type": "object", "description": "one number per column key; null where nothing was measured",
              "additionalProperties": {"type": ["number", "null"]}}}}}}}}
    """#

    static func addReportSchemas(to schemas: inout [String: JSONValue]) {
        guard case .object(let added) = (try? JSONCoding.decoder.decode(JSONValue.self, from: Data(reportSchemaText.utf8))) ?? .null else { return }
        for (name, schema) in added { schemas[name] = schema }
    }
}
