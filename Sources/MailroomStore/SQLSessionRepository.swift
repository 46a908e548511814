import Foundation
import MailroomCore
import SQLKit


/// Sign-in sessions of the web application (migration 11).
public struct SQLSessionRepository: SessionRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    public func create(_ session: WebSession) async throws {
        try await database.withConnection { db in
            try await db.raw("""
                INSERT INTO web_sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
                VALUES (\(bind: session.idHash), \(bind: session.userId), \(bind: session.csrfToken),
                        \(bind: Timestamp.from(session.createdAt)), \(bind: Timestamp.from(session.lastSeenAt)),
                        \(bind: Timestamp.from(session.expiresAt)))
                """).run()
        }
    }

    /// The session and its user, when the session is neither past its absolute end nor idle since
    /// before `idleCutoff`, and the user is still active.
    public func find(idHash: String, now: Date, idleCutoff: Date) async throws -> (WebSession, User)? {
        let row = try await database.withConnection { db in
            try await db.raw("""
                SELECT s.id_hash AS s_id_hash, s.user_id AS s_user_id, s.csrf_token AS s_csrf_token,
                       s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at, s.expires_at AS s_expires_at,
                       u.id AS u_id, u.name AS u_name, u.email AS u_email, u.role AS u_role, u.alias AS u_alias,
                       u.capacity AS u_capacity, u.active AS u_active, u.time_zone AS u_time_zone, u.created_at AS u_created_at, u.updated_at AS u_updated_at
                FROM web_sessions s JOIN users u ON u.id = s.user_id
                WHERE s.id_hash = \(bind: idHash) AND s.expires_at > \(bind: Timestamp.from(now))
                  AND s.last_seen_at >= \(bind: Timestamp.from(idleCutoff))
                """).first()
        }
        guard let row else { return nil }
        let user = try SQLUserRepository.user(from: row, prefix: "u_")
        guard user.active else { return nil }
        let session = WebSession(
            idHash: try row.decode(column: "s_id_hash", as: String.self),
            userId: try row.decode(column: "s_user_id", as: String.self),
            csrfToken: try row.decode(column: "s_csrf_token", as: String.self),
            createdAt: Timestamp.date(try row.decode(column: "s_created_at", as: Int64.self)),
            lastSeenAt: Timestamp.date(try row.decode(column: "s_last_seen_at", as: Int64.self)),
            expiresAt: Timestamp.date(try row.decode(column: "s_expires_at", as: Int64.self)))
        return (session, user)
    }

    /// Records activity, which pushes the idle timeout back.
    public func touch(idHash: String, at date: Date) async throws {
        try await database.withConnection { db in
            try await db.raw("UPDATE web_sessions SET last_seen_at = \(bind: Timestamp.from(date)) WHERE id_hash = \(bind: idHash)").run()
        }
    }

    public func delete(idHash: String) async throws {
        try await database.withConnection { db in
            try await db.raw("DELETE FROM web_sessions WHERE id_hash = \(bind: idHash)").run()
        }
    }

    /// Signs a user out everywhere.
    public func deleteAll(userId: String) async throws {
        try await database.withConnection { db in
            try await db.raw("DELETE FROM web_sessions WHERE user_id = \(bind: userId)").run()
        }
    }

    /// Removes sessions that can no longer be used; returns how many.
    @discardableResult
    public func deleteExpired(now: Date, idleCutoff: Date) async throws -> Int {
        try await database.withConnection { db in
            let rows = try await db.raw("""
                SELECT COUNT(*) AS n FROM web_sessions
                WHERE expires_at <= \(bind: Timestamp.from(now)) OR last_seen_at < \(bind: Timestamp.from(idleCutoff))
                """).first()
            try await db.raw("""
                DELETE FROM web_sessions
                WHERE expires_at <= \(bind: Timestamp.from(now)) OR last_seen_at < \(bind: Timestamp.from(idleCutoff))
                """).run()
            return try rows?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    public func count(userId: String) async throws -> Int {
        try await database.withConnection { db in
            try await db.raw("SELECT COUNT(*) AS n FROM web_sessions WHERE user_id = \(bind: userId)").first()?
                .decode(column: "n", as: Int.self) ?? 0
        }
    }
}
