import Foundation
import MailroomCore
import SQLKit

/// Webhook deliveries: written when a rule fires, claimed by a sender under a lease (so two nodes
/// never post the same delivery at once), retried by `WebhookRetryPolicy` until delivered or given up.
public struct SQLWebhookStore: WebhookDeliveryRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    static let columns: SQLQueryString = """
        id, url, event, ticket_id, rule_ids, payload, state, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at
        """

    @discardableResult
    public func enqueue(url: String, event: String, ticketId: String?, ruleIds: [String], payload: JSONValue,
                        now: Date = Date()) async throws -> WebhookDelivery {
        let delivery = WebhookDelivery(id: Identifier.make(at: now), url: url, event: event, ticketId: ticketId, ruleIds: ruleIds,
                                       payload: payload, nextAttemptAt: now, createdAt: now)
        try await database.withConnection { db in
            try await db.raw("""
                INSERT INTO webhook_deliveries (id, url, event, ticket_id, rule_ids, payload, state, attempts, next_attempt_at,
                                                lease_owner, lease_expires_at, last_status, last_error, created_at, delivered_at)
                VALUES (\(bind: delivery.id), \(bind: url), \(bind: event), \(bind: ticketId), \(bind: try StoredJSON.encode(ruleIds)),
                        \(bind: try StoredJSON.encode(payload)), 'pending', 0, \(bind: Timestamp.from(now)), NULL, NULL, NULL, NULL,
                        \(bind: Timestamp.from(now)), NULL)
                """).run()
        }
        return delivery
    }

    /// Takes up to `limit` due deliveries for `owner` until `leaseSeconds` from now; one whose
    /// sender died mid-post is taken again when its lease lapses.
    public func claimDue(owner: String, limit: Int, leaseSeconds: TimeInterval, now: Date = Date()) async throws -> [WebhookDelivery] {
        let nowMillis = Timestamp.from(now)
        let expires = Timestamp.from(now.addingTimeInterval(leaseSeconds))
        let lock: SQLQueryString = database.kind == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
        return try await database.transaction { db in
            let ids = try await db.raw("""
                SELECT id FROM webhook_deliveries
                WHERE (state = 'pending' AND next_attempt_at <= \(bind: nowMillis))
                   OR (state = 'sending' AND lease_expires_at < \(bind: nowMillis))
                ORDER BY next_attempt_at, id LIMIT \(literal: max(1, limit)) \(lock)
                """).all().map { try $0.decode(column: "id", as: String.self) }
            guard !ids.isEmpty else { return [] }
            try await db.raw("""
                UPDATE webhook_deliveries SET state = 'sending', lease_owner = \(bind: owner), lease_expires_at = \(bind: expires)
                WHERE id IN (\(binds: ids))
                """).run()
            return try await db.raw("SELECT \(Self.columns) FROM webhook_deliveries WHERE id IN (\(binds: ids)) ORDER BY next_attempt_at, id")
                .all().map(Self.delivery(from:))
        }
    }

    /// Records how an attempt ended. Only the lease holder may record, so a sender whose lease
    /// lapsed cannot overwrite a newer result.
    @discardableResult
    public func record(id: String, owner: String, result: WebhookAttemptResult, verdict: WebhookVerdict, now: Date = Date()) async throws -> Bool {
        let status: Int? = if case .status(let code) = result { code } else { nil }
        let (state, next, error): (WebhookDeliveryState, Int64?, String?) = switch verdict {
        case .delivered: (.delivered, nil, nil)
        case .retry(let at, let reason): (.pending, Timestamp.from(at), reason)
        case .giveUp(let reason): (.failed, nil, reason)
        }
        return try await database.withConnection { db in
            let updated = try await db.raw("""
                UPDATE webhook_deliveries SET state = \(bind: state.rawValue), attempts = attempts + 1, next_attempt_at = \(bind: next),
                    lease_owner = NULL, lease_expires_at = NULL, last_status = \(bind: status), last_error = \(bind: error),
                    delivered_at = \(bind: state == .delivered ? Timestamp.from(now) : nil)
                WHERE id = \(bind: id) AND lease_owner = \(bind: owner) AND state = 'sending'
                RETURNING id
                """).all()
            return !updated.isEmpty
        }
    }

    public func deliveries(state: WebhookDeliveryState? = nil, limit: Int = 200) async throws -> [WebhookDelivery] {
        let clause: SQLQueryString = state.map { "WHERE state = \(bind: $0.rawValue)" } ?? ""
        return try await database.withConnection { db in
            try await db.raw("""
                SELECT \(Self.columns) FROM webhook_deliveries \(clause) ORDER BY created_at DESC, id DESC LIMIT \(literal: max(1, limit))
                """).all().map(Self.delivery(from:))
        }
    }

    public func delivery(id: String) async throws -> WebhookDelivery? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(Self.columns) FROM webhook_deliveries WHERE id = \(bind: id)").first().map(Self.delivery(from:))
        }
    }

    /// Sends a failed delivery again from its first retry step; false when it is not failed.
    public func retry(id: String, now: Date = Date()) async throws -> Bool {
        try await database.withConnection { db in
            let updated = try await db.raw("""
                UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = \(bind: Timestamp.from(now))
                WHERE id = \(bind: id) AND state = 'failed'
                RETURNING id
                """).all()
            return !updated.isEmpty
        }
    }

    /// The earliest time a pending delivery is due, for the sender's sleep.
    public func nextDue() async throws -> Date? {
        try await database.withConnection { db in
            let row = try await db.raw("""
                SELECT MIN(next_attempt_at) AS due FROM webhook_deliveries WHERE state = 'pending'
                """).first()
            guard let row, try !row.decodeNil(column: "due") else { return nil }
            return Timestamp.date(try row.decode(column: "due", as: Int64.self))
        }
    }

    static func delivery(from row: any SQLRow) throws -> WebhookDelivery {
        func optionalInt(_ column: String) throws -> Int64? {
            try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: Int64.self)
        }
        let ruleIds = try JSONCoding.decoder.decode([String].self, from: Data(try row.decode(column: "rule_ids", as: String.self).utf8))
        let payload = try JSONCoding.decoder.decode(JSONValue.self, from: Data(try row.decode(column: "payload", as: String.self).utf8))
        return WebhookDelivery(
            id: try row.decode(column: "id", as: String.self),
            url: try row.decode(column: "url", as: String.self),
            event: try row.decode(column: "event", as: String.self),
            ticketId: try row.decode(column: "ticket_id", as: String?.self),
            ruleIds: ruleIds, payload: payload,
            state: WebhookDeliveryState(rawValue: try row.decode(column: "state", as: String.self)) ?? .pending,
            attempts: try row.decode(column: "attempts", as: Int.self),
            nextAttemptAt: try optionalInt("next_attempt_at").map(Timestamp.date),
            lastStatus: try optionalInt("last_status").map { Int($0) },
            lastError: try row.decode(column: "last_error", as: String?.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            deliveredAt: try optionalInt("delivered_at").map(Timestamp.date))
    }
}
