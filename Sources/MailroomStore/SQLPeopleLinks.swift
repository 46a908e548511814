import Foundation
import MailMessage
import MailroomCore
import SQLKit

/// Invitation and password-reset links, the audit trail, and the first administrator (issue 26).
public struct SQLPeopleStore: PeopleRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    // MARK: First run

    /// Whether an administrator was ever made (a deactivated one counts: the first-run page does not
    /// come back, the same rule `createFirstAdministrator` applies).
    public func administratorExists() async throws -> Bool {
        try await database.withConnection { db in
            try await db.raw("SELECT id FROM users WHERE role = 'admin' LIMIT 1").first() != nil
        }
    }

    /// Creates the first administrator, or answers nil when one exists already. The check and the
    /// insert are one transaction under a lock (SQLite's one writer, PostgreSQL's advisory lock),
    /// so two setup forms sent at once cannot both succeed.
    public func createFirstAdministrator(_ user: User, passwordHash: String) async throws -> User? {
        var user = user
        let now = Date()
        user.id = Identifier.make(at: now)
        user.role = .admin
        user.active = true
        let created = user
        let kind = database.kind
        let made = try await database.transaction { db -> Bool in
            if kind == .postgres { try await db.raw("SELECT pg_advisory_xact_lock(727026)").run() }
            if try await db.raw("SELECT id FROM users WHERE role = 'admin' LIMIT 1").first() != nil { return false }
            if try await db.raw("SELECT id FROM users WHERE email = \(bind: created.email)").first() != nil {
                throw DomainError.conflict(FieldError("email", "is already used by another user"))
            }
            try await db.raw("""
                INSERT INTO users (id, name, email, role, alias, capacity, active, password_hash, created_at, updated_at)
                VALUES (\(bind: created.id), \(bind: created.name), \(bind: created.email), 'admin', \(bind: created.alias),
                        \(bind: created.capacity), \(bind: true), \(bind: passwordHash), \(bind: Timestamp.from(now)), \(bind: Timestamp.from(now)))
                """).run()
            return true
        }
        return made ? try await SQLUserRepository(database: database).find(id: created.id) : nil
    }

    // MARK: Links

    /// Stores a new link for `userId` (its token's hash only) and revokes the user's earlier unused
    /// links of the same purpose: a new invitation makes the old one useless.
    public func createLink(userId: String, purpose: UserLinkPurpose, tokenHash: String, lifetime: TimeInterval,
                           createdBy: String?, now: Date) async throws -> UserLink {
        let link = UserLink(id: Identifier.make(at: now), userId: userId, purpose: purpose, createdAt: now,
                            expiresAt: now.addingTimeInterval(lifetime), createdBy: createdBy)
        try await database.transaction { db in
            try await db.raw("""
                UPDATE user_links SET revoked_at = \(bind: Timestamp.from(now))
                WHERE user_id = \(bind: userId) AND purpose = \(bind: purpose.rawValue) AND used_at IS NULL AND revoked_at IS NULL
                """).run()
            try await db.raw("""
                INSERT INTO user_links (id, user_id, purpose, token_hash, created_at, expires_at, used_at, revoked_at, outbox_id, created_by)
                VALUES (\(bind: link.id), \(bind: userId), \(bind: purpose.rawValue), \(bind: tokenHash), \(bind: Timestamp.from(now)),
                        \(bind: Timestamp.from(link.expiresAt)), NULL, NULL, NULL, \(bind: createdBy))
                """).run()
        }
        return link
    }

    public func attachOutbox(linkId: String, outboxId: String) async throws {
        try await database.withConnection { db in
            try await db.raw("UPDATE user_links SET outbox_id = \(bind: outboxId) WHERE id = \(bind: linkId)").run()
        }
    }

    /// The link a token's hash names, whatever its standing (the page says why it cannot be used).
    public func link(tokenHash: String) async throws -> UserLink? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(Self.columns) FROM user_links WHERE token_hash = \(bind: tokenHash)").first().map(Self.link(from:))
        }
    }

    /// Marks the link used, and sets the password, in one transaction; nil when the link was used,
    /// revoked or expired meanwhile (two tabs sending the same form: only one wins). Other unused
    /// links of the user for the same purpose are revoked; `endSessions` signs the user out everywhere.
    public func consume(tokenHash: String, passwordHash: String, endSessions: Bool, now: Date) async throws -> UserLink? {
        let nowMillis = Timestamp.from(now)
        return try await database.transaction { db -> UserLink? in
            guard let row = try await db.raw("""
                UPDATE user_links SET used_at = \(bind: nowMillis)
                WHERE token_hash = \(bind: tokenHash) AND used_at IS NULL AND revoked_at IS NULL AND expires_at > \(bind: nowMillis)
                RETURNING \(Self.columns)
                """).first() else { return nil }
            let link = try Self.link(from: row)
            try await db.raw("""
                UPDATE users SET password_hash = \(bind: passwordHash), updated_at = \(bind: nowMillis)
                WHERE id = \(bind: link.userId) AND active = \(bind: true)
                """).run()
            try await db.raw("""
                UPDATE user_links SET revoked_at = \(bind: nowMillis)
                WHERE user_id = \(bind: link.userId) AND used_at IS NULL AND revoked_at IS NULL
                """).run()
            if endSessions { try await db.raw("DELETE FROM web_sessions WHERE user_id = \(bind: link.userId)").run() }
            return link
        }
    }

    /// Each user's newest invitation, with its mail's delivery state and last error (the users page).
    public func latestInvitations() async throws -> [String: InvitationRecord] {
        try await database.withConnection { db in
            let rows = try await db.raw("""
                SELECT \(Self.prefixedColumns), o.state AS mail_state, o.last_error AS mail_error
                FROM user_links l LEFT JOIN outbox o ON o.id = l.outbox_id
                WHERE l.purpose = 'invitation' ORDER BY l.created_at, l.id
                """).all()
            var result: [String: InvitationRecord] = [:]
            for row in rows {
                let link = try Self.link(from: row)
                let state = try row.decode(column: "mail_state", as: String?.self).flatMap(DeliveryState.init(rawValue:))
                result[link.userId] = InvitationRecord(link: link, state: state, lastError: try row.decode(column: "mail_error", as: String?.self))
            }
            return result
        }
    }

    // MARK: Audit trail

    public func record(_ event: AuditEvent) async throws {
        let details = String(decoding: try JSONCoding.encoder.encode(event.details), as: UTF8.self)
        let id = event.id.isEmpty ? Identifier.make(at: event.at) : event.id
        try await database.withConnection { db in
            try await db.raw("""
                INSERT INTO audit_events (id, at, actor_id, actor_name, action, target_type, target_id, details)
                VALUES (\(bind: id), \(bind: Timestamp.from(event.at)), \(bind: event.actorId), \(bind: event.actorName),
                        \(bind: event.action), \(bind: event.targetType), \(bind: event.targetId), \(bind: details))
                """).run()
        }
    }

    /// The newest first.
    public func auditEvents(limit: Int, before: Date?) async throws -> [AuditEvent] {
        try await database.withConnection { db in
            var clause: SQLQueryString = ""
            if let before { clause = "WHERE at < \(bind: Timestamp.from(before))" }
            return try await db.raw("""
                SELECT id, at, actor_id, actor_name, action, target_type, target_id, details FROM audit_events \(clause)
                ORDER BY at DESC, id DESC LIMIT \(literal: max(1, min(limit, 1_000)))
                """).all().map { row in
                let details = try row.decode(column: "details", as: String.self)
                return AuditEvent(
                    id: try row.decode(column: "id", as: String.self), at: Timestamp.date(try row.decode(column: "at", as: Int64.self)),
                    actorId: try row.decode(column: "actor_id", as: String?.self), actorName: try row.decode(column: "actor_name", as: String.self),
                    action: try row.decode(column: "action", as: String.self), targetType: try row.decode(column: "target_type", as: String.self),
                    targetId: try row.decode(column: "target_id", as: String?.self),
                    details: (try? JSONCoding.decoder.decode([String: String].self, from: Data(details.utf8))) ?? [:])
            }
        }
    }

    static let columns: SQLQueryString = "id, user_id, purpose, created_at, expires_at, used_at, revoked_at, outbox_id, created_by"
    static let prefixedColumns: SQLQueryString =
        "l.id, l.user_id, l.purpose, l.created_at, l.expires_at, l.used_at, l.revoked_at, l.outbox_id, l.created_by"

    static func link(from row: any SQLRow) throws -> UserLink {
        UserLink(id: try row.decode(column: "id", as: String.self), userId: try row.decode(column: "user_id", as: String.self),
                 purpose: UserLinkPurpose(rawValue: try row.decode(column: "purpose", as: String.self)) ?? .invitation,
                 createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
                 expiresAt: Timestamp.date(try row.decode(column: "expires_at", as: Int64.self)),
                 usedAt: try row.decode(column: "used_at", as: Int64?.self).map(Timestamp.date),
                 revokedAt: try row.decode(column: "revoked_at", as: Int64?.self).map(Timestamp.date),
                 outboxId: try row.decode(column: "outbox_id", as: String?.self),
                 createdBy: try row.decode(column: "created_by", as: String?.self))
    }
}

extension SQLOutboxStore: SystemMailQueue {
    /// Queues Mailroom's own mail (`purpose` says what for): the outbox's retry policy and attempt
    /// log apply, but the row belongs to no ticket, so nothing threads it into a conversation.
    public func enqueueSystem(raw: [UInt8], accountId: String, envelopeFrom: String, recipients: [String], purpose: String,
                              now: Date = Date()) async throws -> OutboxItem {
        let sha = MailMessage.SHA256.hex(MailMessage.SHA256.hash(raw))
        let id = Identifier.make(at: now)
        var item = OutboxItem(id: id, ticketId: "", messageId: "", accountId: accountId, nextAttemptAt: now, envelopeFrom: envelopeFrom,
                              recipients: recipients, rawSha256: sha, createdAt: now)
        item.purpose = purpose
        try await database.transaction { db in
            try await SQLRawMailStore.putBlob(raw, sha256: sha, db: db, now: now)
            try await db.raw("""
                INSERT INTO outbox (id, ticket_id, message_id, account_id, state, attempts, next_attempt_at, lease_owner, lease_expires_at,
                                    envelope_from, recipients, raw_sha256, last_error, created_at, updated_at, sent_at, purpose)
                VALUES (\(bind: id), NULL, NULL, \(bind: accountId), 'queued', 0, \(bind: Timestamp.from(now)), NULL, NULL,
                        \(bind: envelopeFrom), \(bind: try StoredJSON.encode(recipients)), \(bind: sha), NULL,
                        \(bind: Timestamp.from(now)), \(bind: Timestamp.from(now)), NULL, \(bind: purpose))
                """).run()
        }
        return item
    }
}
