import Foundation

/// What kind of problem stopped a fetch, as far as the health of an account is concerned.
public enum FetchProblemKind: String, NamedValues {
    /// The server refused the login (password, token, or access not allowed).
    case authentication
    /// No answer in time.
    case timeout
    /// The server could not be reached, refused the connection or dropped it.
    case connection
    /// TLS could not be set up.
    case tls
    /// Anything else (a server's error reply, a protocol error, an internal error).
    case other
}

/// An account's fetching health, decided from the sequence of fetch outcomes: a value that the
/// fetchers feed and the pages and the API read.
///
/// A refused login stays the reported problem until a fetch succeeds: servers answer repeated
/// failing logins slowly (Dovecot's auth_failure_delay), so the next tries often time out, and
/// reporting those time-outs would make the status alternate between two causes when there is one.
public struct FetchHealth: Sendable, Equatable, Codable {
    public enum State: String, NamedValues {
        /// No fetch has finished yet.
        case unknown
        case ok
        case failing
    }

    public private(set) var state: State = .unknown
    public private(set) var problem: FetchProblemKind?
    /// The reported problem, in words.
    public private(set) var message: String?
    /// When the current run of failures began.
    public private(set) var failingSince: Date?
    /// Failures in a row (0 while fetching works).
    public private(set) var consecutiveFailures = 0
    /// When fetching last came back after failing (until it fails again).
    public private(set) var recoveredAt: Date?

    public init() {}

    public mutating func failed(_ kind: FetchProblemKind, message: String, at time: Date) {
        consecutiveFailures += 1
        recoveredAt = nil
        if state != .failing { failingSince = time }
        state = .failing
        if problem == .authentication && kind == .timeout { return }
        problem = kind
        self.message = message
    }

    public mutating func succeeded(at time: Date) {
        if state == .failing { recoveredAt = time }
        state = .ok
        problem = nil
        message = nil
        failingSince = nil
        consecutiveFailures = 0
    }

    /// The words for a list's state column: "failing: …", "recovered at …", "working".
    public func summary(formatTime: (Date) -> String) -> String {
        switch state {
        case .unknown: return "not fetched yet"
        case .failing:
            let since = failingSince.map { " since \(formatTime($0))" } ?? ""
            return "failing\(since)" + (consecutiveFailures > 1 ? " (\(consecutiveFailures) tries)" : "")
        case .ok:
            return recoveredAt.map { "working (recovered at \(formatTime($0)))" } ?? "working"
        }
    }
}
