import Foundation
import MailroomCore
import SQLKit

/// What an account's settings do to mail already in the outbox: an inactive account holds its
/// mail (claims skip it), and changed retry values move the retries already waiting.
extension SQLOutboxStore {
    /// Rows whose sending account is switched off (and not deleted: a deleted account's mail fails
    /// with its own reason). The claim leaves them alone; listings name the reason.
    static var heldByInactiveAccount: SQLQueryString {
        """
        account_id IN (SELECT id FROM accounts WHERE active = \(bind: false) AND deleted_at IS NULL)
        """
    }

    /// The listing's rows, each with ``OutboxItem/heldReason`` set where its account holds it.
    func annotateHeld(_ items: [OutboxItem]) async throws -> [OutboxItem] {
        let accountIds = Set(items.filter { [.queued, .retrying].contains($0.state) }.map(\.accountId))
        guard !accountIds.isEmpty else { return items }
        let inactive = try await database.withConnection { db in
            try await db.raw("""
                SELECT id FROM accounts WHERE id IN (\(binds: accountIds.sorted())) AND active = \(bind: false) AND deleted_at IS NULL
                """).all().map { try $0.decode(column: "id", as: String.self) }
        }
        guard !inactive.isEmpty else { return items }
        let held = Set(inactive)
        return items.map { item in
            var item = item
            if [.queued, .retrying].contains(item.state) && held.contains(item.accountId) { item.heldReason = OutboxItem.accountInactive }
            return item
        }
    }

    public typealias Rescheduled = OutboxRescheduled

    /// Applies an account's current retry settings to its mail already waiting for a retry: each
    /// waiting row's next attempt is worked out again from its last failure (``RetrySchedule/rescheduled(errorClass:failuresSoFar:lastFailureAt:settings:)``),
    /// so a shorter rate-limit wait lets it go sooner and a longer one holds it longer, without a restart.
    @discardableResult
    public func rescheduleRetries(accountId: String, settings: RetrySettings, now: Date = Date()) async throws -> Rescheduled {
        let nowMillis = Timestamp.from(now)
        return try await database.transaction { db in
            // Each waiting row with its latest failed attempt (the one that set its wait).
            let rows = try await db.raw("""
                SELECT o.id, o.ticket_id, o.attempts, o.next_attempt_at, a.error_class, a.attempted_at
                FROM outbox o JOIN outbox_attempts a ON a.outbox_id = o.id
                WHERE o.account_id = \(bind: accountId) AND o.state = 'retrying' AND a.outcome = 'failed'
                  AND a.attempted_at = (SELECT MAX(b.attempted_at) FROM outbox_attempts b WHERE b.outbox_id = o.id AND b.outcome = 'failed')
                """).all()
            var result = Rescheduled(moved: 0, failed: 0)
            var seen: Set<String> = []
            var failedTickets: Set<String> = []
            for row in rows {
                let id = try row.decode(column: "id", as: String.self)
                guard seen.insert(id).inserted,
                      let errorClass = try row.decode(column: "error_class", as: String?.self).flatMap(DeliveryErrorClass.init(rawValue:))
                else { continue }
                let failures = max(1, try row.decode(column: "attempts", as: Int.self))
                let lastFailure = Timestamp.date(try row.decode(column: "attempted_at", as: Int64.self))
                let current = try row.decode(column: "next_attempt_at", as: Int64?.self)
                switch RetrySchedule.rescheduled(errorClass: errorClass, failuresSoFar: failures, lastFailureAt: lastFailure, settings: settings) {
                case .retry(let at):
                    let next = Timestamp.from(at)
                    guard next != current else { continue }
                    try await db.raw("""
                        UPDATE outbox SET next_attempt_at = \(bind: next), updated_at = \(bind: nowMillis)
                        WHERE id = \(bind: id) AND state = 'retrying'
                        """).run()
                    result.moved += 1
                case .giveUp:
                    let reason = "no further attempt: the account's retry settings now allow none for a \(errorClass.rawValue) error"
                    try await db.raw("""
                        UPDATE outbox SET state = 'failed', next_attempt_at = NULL, last_error = \(bind: reason), updated_at = \(bind: nowMillis)
                        WHERE id = \(bind: id) AND state = 'retrying'
                        """).run()
                    failedTickets.insert(try row.decode(column: "ticket_id", as: String.self))
                    result.failed += 1
                }
            }
            if !failedTickets.isEmpty {
                // As a failure the sender records: a reply that will not reach the customer must not go unnoticed.
                try await db.raw("""
                    UPDATE tickets SET escalated = \(bind: true), unread = \(bind: true), updated_at = \(bind: nowMillis)
                    WHERE id IN (\(binds: failedTickets.sorted()))
                    """).run()
            }
            return result
        }
    }
}
