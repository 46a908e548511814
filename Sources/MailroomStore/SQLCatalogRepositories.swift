import Foundation
import Logging
import MailroomCore
import SQLKit

public struct SQLDispositionRepository: DispositionRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    public func create(_ disposition: Disposition) async throws -> Disposition {
        var disposition = disposition
        let now = Date()
        disposition.id = Identifier.make(at: now)
        disposition.createdAt = now
        disposition.updatedAt = now
        let stored = disposition
        try await database.withConnection { db in
            try await db.raw("""
                INSERT INTO dispositions (id, name, account_id, active, created_at, updated_at)
                VALUES (\(bind: stored.id), \(bind: stored.name), \(bind: stored.accountId), \(bind: stored.active),
                        \(bind: Timestamp.from(now)), \(bind: Timestamp.from(now)))
                """).run()
        }
        return try await find(id: stored.id) ?? stored
    }

    public func update(_ disposition: Disposition) async throws -> Disposition {
        try await database.withConnection { db in
            try await db.raw("""
                UPDATE dispositions SET name = \(bind: disposition.name), account_id = \(bind: disposition.accountId),
                    active = \(bind: disposition.active), updated_at = \(bind: Timestamp.now())
                WHERE id = \(bind: disposition.id)
                """).run()
        }
        guard let updated = try await find(id: disposition.id) else { throw DomainError.notFound("disposition \(disposition.id)") }
        return updated
    }

    public func find(id: String) async throws -> Disposition? {
        try await select("WHERE id = \(bind: id)").first
    }

    public func list(accountId: String?) async throws -> [Disposition] {
        if let accountId {
            return try await select("WHERE account_id IS NULL OR account_id = \(bind: accountId) ORDER BY name, id")
        }
        return try await select("ORDER BY name, id")
    }

    public func delete(id: String) async throws {
        try await database.withConnection { db in
            try await db.raw("DELETE FROM dispositions WHERE id = \(bind: id)").run()
        }
    }

    private func select(_ clause: SQLQueryString) async throws -> [Disposition] {
        let rows = try await database.withConnection { db in
            try await db.raw("SELECT id, name, account_id, active, created_at, updated_at FROM dispositions \(clause)").all()
        }
        return try rows.map { row in
            var disposition = Disposition(
                id: try row.decode(column: "id", as: String.self),
                name: try row.decode(column: "name", as: String.self),
                accountId: try row.decode(column: "account_id", as: String?.self),
                active: try row.decode(column: "active", as: Bool.self))
            disposition.createdAt = Timestamp.date(try row.decode(column: "created_at", as: Int64.self))
            disposition.updatedAt = Timestamp.date(try row.decode(column: "updated_at", as: Int64.self))
            return disposition
        }
    }
}

public struct SQLCannedAnswerRepository: CannedAnswerRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    public func create(_ answer: CannedAnswer) async throws -> CannedAnswer {
        var answer = answer
        let now = Date()
        answer.id = Identifier.make(at: now)
        let stored = answer
        try await database.withConnection { db in
            try await db.raw("""
                INSERT INTO canned_answers (id, name, body_text, body_html, account_id, active, created_at, updated_at)
                VALUES (\(bind: stored.id), \(bind: stored.name), \(bind: stored.text), \(bind: stored.html),
                        \(bind: stored.accountId), \(bind: stored.active), \(bind: Timestamp.from(now)), \(bind: Timestamp.from(now)))
                """).run()
        }
        return try await find(id: stored.id) ?? stored
    }

    public func update(_ answer: CannedAnswer) async throws -> CannedAnswer {
        try await database.withConnection { db in
            try await db.raw("""
                UPDATE canned_answers SET name = \(bind: answer.name), body_text = \(bind: answer.text),
                    body_html = \(bind: answer.html), account_id = \(bind: answer.accountId), active = \(bind: answer.active),
                    updated_at = \(bind: Timestamp.now())
                WHERE id = \(bind: answer.id)
                """).run()
        }
        guard let updated = try await find(id: answer.id) else { throw DomainError.notFound("canned answer \(answer.id)") }
        return updated
    }

    public func find(id: String) async throws -> CannedAnswer? {
        try await select("WHERE id = \(bind: id)").first
    }

    public func list(accountId: String?) async throws -> [CannedAnswer] {
        if let accountId {
            return try await select("WHERE account_id IS NULL OR account_id = \(bind: accountId) ORDER BY name, id")
        }
        return try await select("ORDER BY name, id")
    }

    public func delete(id: String) async throws {
        try await database.withConnection { db in
            try await db.raw("DELETE FROM canned_answers WHERE id = \(bind: id)").run()
        }
    }

    private func select(_ clause: SQLQueryString) async throws -> [CannedAnswer] {
        let rows = try await database.withConnection { db in
            try await db.raw("""
                SELECT id, name, body_text, body_html, account_id, active, created_at, updated_at FROM canned_answers \(clause)
                """).all()
        }
        return try rows.map { row in
            var answer = CannedAnswer(
                id: try row.decode(column: "id", as: String.self),
                name: try row.decode(column: "name", as: String.self),
                text: try row.decode(column: "body_text", as: String?.self),
                html: try row.decode(column: "body_html", as: String?.self),
                accountId: try row.decode(column: "account_id", as: String?.self),
                active: try row.decode(column: "active", as: Bool.self))
            answer.createdAt = Timestamp.date(try row.decode(column: "created_at", as: Int64.self))
            answer.updatedAt = Timestamp.date(try row.decode(column: "updated_at", as: Int64.self))
            return answer
        }
    }
}

/// Every repository over one database: what the rest of the system is handed.
public struct SQLStore: Sendable {
    public let database: MailroomDatabase
    public let accounts: SQLAccountRepository
    public let users: SQLUserRepository
    public let tokens: SQLTokenRepository
    public let dispositions: SQLDispositionRepository
    public let cannedAnswers: SQLCannedAnswerRepository
    public let settings: SQLSettingsRepository
    public let tickets: SQLTicketStore
    public let outbox: SQLOutboxStore

    public init(database: MailroomDatabase, secrets: SecretBox, logger: Logger) {
        self.database = database
        accounts = SQLAccountRepository(database: database, secrets: secrets, logger: logger)
        users = SQLUserRepository(database: database)
        tokens = SQLTokenRepository(database: database)
        dispositions = SQLDispositionRepository(database: database)
        cannedAnswers = SQLCannedAnswerRepository(database: database)
        settings = SQLSettingsRepository(database: database)
        tickets = SQLTicketStore(database: database)
        outbox = SQLOutboxStore(database: database)
    }
}
