import Foundation
import Logging
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
    ///
    /// The body itself runs under ``ClosedConnectionGuard``: a query written to a connection the
    /// server has already closed never completes in PostgresNIO 1.33.2, so a body still running
    /// on a closed connection is given up as "database unreachable".
    static func leased<T: Sendable>(_ client: PostgresClient, within timeout: Duration, site: CallSite, logger: Logger,
                                    _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let race = LeaseRace()
        return try await withThrowingTaskGroup(of: LeaseOutcome<T>.self) { group in
            group.addTask {
                .value(try await client.withConnection { connection in
                    guard race.lease() else { throw CancellationError() }
                    return try await ClosedConnectionGuard(site: site, logger: logger)
                        .run(isClosed: { connection.isClosed }) { try await body(connection) }
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

/// Waits for a database call on one connection, and stops waiting when the connection has closed
/// under it and the call has not ended within `grace` after that.
///
/// PostgresNIO 1.33.2 writes each query to the connection's channel without a promise; once the
/// channel is closed and its handler removed, a query written to it is dropped and its result
/// never comes (seen after a PostgreSQL restart: bodies waiting for good on connections the
/// server had ended, with the pool showing every other connection idle). A call that is merely
/// slow on an open connection is waited for, and logged every `slowAfter` with where it was made.
/// The call given up on stays suspended; the connection it holds is closed, so the pool replaces it.
struct ClosedConnectionGuard: Sendable {
    let site: CallSite
    let logger: Logger
    var checkEvery: Duration = .seconds(1)
    var grace: Duration = .seconds(2)
    var slowAfter: Duration = .seconds(15)

    func run<T: Sendable>(isClosed: @escaping @Sendable () -> Bool,
                          _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let outcome = FirstOutcome<T>()
        let work = Task {
            do { outcome.resume(with: .success(try await body())) } catch { outcome.resume(with: .failure(error)) }
        }
        let watch = Task { [self] in
            let started = ContinuousClock.now
            var closedAt: ContinuousClock.Instant?
            var nextSlowNotice = started + slowAfter
            while !Task.isCancelled {
                try await Task.sleep(for: checkEvery)
                let now = ContinuousClock.now
                if closedAt == nil, isClosed() { closedAt = now }
                if let closedAt, now - closedAt >= grace {
                    logger.warning("gave up a database call on a connection the server closed", metadata: ["site": "\(site)"])
                    outcome.resume(with: .failure(StoreUnavailable(.databaseUnreachable,
                        detail: "the PostgreSQL connection closed during the call and the call did not end")))
                    return
                }
                if now >= nextSlowNotice {
                    logger.warning("a database call has not finished", metadata: [
                        "site": "\(site)", "seconds": "\((now - started).components.seconds)",
                    ])
                    nextSlowNotice = now + slowAfter
                }
            }
        }
        defer { watch.cancel() }
        return try await withTaskCancellationHandler {
            try await outcome.value
        } onCancel: {
            work.cancel()
        }
    }
}

/// A result that whichever comes first sets: the call's own, or the guard's.
private final class FirstOutcome<T: Sendable>: Sendable {
    private let state = Mutex<(result: Result<T, any Error>?, waiter: CheckedContinuation<T, any Error>?)>((nil, nil))

    func resume(with result: Result<T, any Error>) {
        let waiter: CheckedContinuation<T, any Error>? = state.withLock { state in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    var value: T {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<T, any Error>? = state.withLock { state in
                    if let result = state.result { return result }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
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

/// Where a database call was made, for the logs.
public struct CallSite: Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public init(file: String = #fileID, line: Int = #line) {
        self.file = file
        self.line = line
    }
    public var description: String { "\(file):\(line)" }
}
