import Foundation

/// Comma-separated values as spreadsheets read them (RFC 4180): CRLF line ends, a cell quoted
/// when it holds a comma, quote or line break, quotes doubled. A cell that starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a leading apostrophe, so a spreadsheet shows a
/// customer's subject or a tag as text instead of running it as a formula. Numbers are written by
/// as ``Cell/number(_:)`` and never pass through that guard, so a negative figure stays a number.
public struct CSVWriter: Sendable {
    public enum Cell: Sendable, Equatable {
        case text(String)
        /// Nil is an empty cell (no value: no response yet, nothing to average).
        case number(Double?)
    }

    public private(set) var text = ""

    public init() {}

    /// Adds one row.
    public mutating func row(_ cells: [Cell]) {
        text += cells.map { cell in
            switch cell {
            case .text(let value): return Self.cell(value)
            case .number(let value): return Self.number(value)
            }
        }.joined(separator: ",")
        text += "\r\n"
    }

    /// Adds one row of text cells (a header).
    public mutating func row(_ cells: [String]) {
        row(cells.map(Cell.text))
    }

    /// One text cell, guarded and quoted as needed.
    public static func cell(_ value: String) -> String {
        var value = value
        if let first = value.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) {
            value = "'" + value
        }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A figure as a cell: whole numbers without a fraction, others with up to three decimals; nil is empty.
    public static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.3f", value)
    }
}
