import Foundation

/// The store cannot do its work for now, for a reason outside the request: the database does not
/// answer (a PostgreSQL restart, a network cut) or the disk holding the data is full. The store
/// throws it instead of its driver's error, so the API answers 503 with these words and a
/// `Retry-After` instead of a 500, and workers know to wait rather than to fail the work.
public struct StoreUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Equatable {
        case databaseUnreachable = "database unreachable"
        case diskFull = "disk full"
    }

    public let reason: Reason
    /// The driver's words, for the log (never shown to API clients: they may name hosts and files).
    public let detail: String

    public init(_ reason: Reason, detail: String) {
        self.reason = reason
        self.detail = detail
    }

    /// What a client or the status page is told.
    public var message: String {
        switch reason {
        case .databaseUnreachable: return "the database is not reachable; try again in a few seconds"
        case .diskFull: return "the disk holding Mailroom's data is full; new work is refused until space is freed"
        }
    }

    /// How long a client should wait before trying again.
    public var retryAfterSeconds: Int {
        switch reason {
        case .databaseUnreachable: return 5
        case .diskFull: return 60
        }
    }

    public var description: String { "\(message) (\(detail))" }
}
