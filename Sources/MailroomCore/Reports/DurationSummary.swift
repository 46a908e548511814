import Foundation

/// Count, median, 90th percentile and average of a set of durations in seconds. Percentiles
/// interpolate between the two nearest values (PostgreSQL's `percentile_cont`), so the median of
/// 10 and 20 is 15; with no values every figure but the count is nil.
public struct DurationSummary: Sendable, Equatable {
    public var count: Int
    public var median: Double?
    public var p90: Double?
    public var average: Double?

    public init(count: Int, median: Double?, p90: Double?, average: Double?) {
        self.count = count
        self.median = median
        self.p90 = p90
        self.average = average
    }

    public init(_ values: [Double]) {
        let sorted = values.sorted()
        count = sorted.count
        median = Self.percentile(0.5, sorted)
        p90 = Self.percentile(0.9, sorted)
        average = sorted.isEmpty ? nil : sorted.reduce(0, +) / Double(sorted.count)
    }

    /// The `fraction` percentile of values sorted ascending.
    public static func percentile(_ fraction: Double, _ sorted: [Double]) -> Double? {
        guard let first = sorted.first else { return nil }
        guard sorted.count > 1 else { return first }
        let position = fraction * Double(sorted.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, sorted.count - 1)
        let weight = position - Double(below)
        return sorted[below] + (sorted[above] - sorted[below]) * weight
    }
}
