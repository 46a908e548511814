import Foundation
import MailroomCore
import PostgresNIO
import Synchronization

extension MailroomDatabase {
    /// Runs `body` on a pooled connection, waiting at most `timeout` for one.
    ///
    /// PostgresNIO's pool (1.33.2) can leave a request waiting for good: after a PostgreSQL
    /// restart, requests queued while new connections were being refused were not handed the
    /// connections that opened later, while requests made afterwards took those connections at
    /// once (the soak: replies queued after the restart stayed unsent and 64 mailboxes unfetched
    /// for 15 minutes, with six idle connections; OutboxDatabaseRestartTests reproduces it).
    /// A request that gets no connection within `timeout` is withdrawn (cancelling it takes it out
    /// of the pool's queue) and fails as "database unreachable", so the caller's next try, a new
    /// request, is served. Exactly one of the lease and the timeout wins, so a body that started
    /// always finishes and its outcome is never reported as a failure.
    static func leased<T: Sendable>(_ client: PostgresClient, within timeout: Duration,
                                    _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let race = LeaseRace()
        return try await withThrowingTaskGroup(of: LeaseOutcome<T>.self) { group in
            group.addTask {
                .value(try await client.withConnection { connection in
                    guard race.lease() else { throw CancellationError() }
                    return try await body(connection)
                })
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                guard race.giveUp() else { return .leased }
                // Withdrawn because the caller stopped waiting, not because the pool did not answer.
                if Task.isCancelled { throw CancellationError() }
                return .timedOut
            }
            while let outcome = try await group.next() {
                switch outcome {
                case .value(let value):
                    group.cancelAll()
                    return value
                case .timedOut:
                    group.cancelAll()
                    throw StoreUnavailable(.databaseUnreachable,
                                           detail: "no pooled PostgreSQL connection within \(timeout) (the pool did not serve the request)")
                case .leased:
                    continue
                }
            }
            throw CancellationError()
        }
    }
}

private enum LeaseOutcome<T: Sendable>: Sendable {
    case value(T)
    case timedOut
    /// The timer ended after the lease: the body's result is awaited.
    case leased
}

/// Who came first: the connection or the timeout.
private final class LeaseRace: Sendable {
    private let state = Atomic<Int>(0) // 0 waiting, 1 leased, 2 given up

    /// True when the lease came first (the body may run).
    func lease() -> Bool { state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged }

    /// True when the timeout came first (the request is withdrawn).
    func giveUp() -> Bool { state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged }
}
