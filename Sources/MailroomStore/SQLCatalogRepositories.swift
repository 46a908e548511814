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

public struct SQLTemplateRepository: TemplateRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    public func create(_ template: MessageTemplate) async throws -> MessageTemplate {
        let now = Date()
        var stored = template
        stored.id = Identifier.make(at: now)
        let row = stored
        try await database.transaction { db in
            try await Self.checkUnique(row, db: db)
            try await db.raw("""
                INSERT INTO templates (id, key, kind, subject, body_text, body_html, created_at, updated_at)
                VALUES (\(bind: row.id), \(bind: row.key), \(bind: row.kind.rawValue), \(bind: row.subject), \(bind: row.text),
                        \(bind: row.html), \(bind: Timestamp.from(now)), \(bind: Timestamp.from(now)))
                """).run()
        }
        return try await find(id: row.id) ?? row
    }

    public func update(_ template: MessageTemplate) async throws -> MessageTemplate {
        try await database.transaction { db in
            try await Self.checkUnique(template, db: db)
            try await db.raw("""
                UPDATE templates SET key = \(bind: template.key), kind = \(bind: template.kind.rawValue), subject = \(bind: template.subject),
                    body_text = \(bind: template.text), body_html = \(bind: template.html), updated_at = \(bind: Timestamp.now())
                WHERE id = \(bind: template.id)
                """).run()
        }
        guard let updated = try await find(id: template.id) else { throw DomainError.notFound("template \(template.id)") }
        return updated
    }

    public func find(id: String) async throws -> MessageTemplate? { try await select("WHERE id = \(bind: id)").first }
    public func find(key: String) async throws -> MessageTemplate? { try await select("WHERE key = \(bind: key)").first }
    public func list() async throws -> [MessageTemplate] { try await select("ORDER BY key") }

    public func delete(id: String) async throws {
        try await database.withConnection { db in try await db.raw("DELETE FROM templates WHERE id = \(bind: id)").run() }
    }

    private static func checkUnique(_ template: MessageTemplate, db: any SQLDatabase) async throws {
        if try await db.raw("SELECT id FROM templates WHERE key = \(bind: template.key) AND id <> \(bind: template.id)").first() != nil {
            throw DomainError.conflict(FieldError("key", "'\(template.key)' is already used by another template"))
        }
    }

    private func select(_ clause: SQLQueryString) async throws -> [MessageTemplate] {
        let rows = try await database.withConnection { db in
            try await db.raw("SELECT id, key, kind, subject, body_text, body_html, created_at, updated_at FROM templates \(clause)").all()
        }
        return try rows.map { row in
            var template = MessageTemplate(
                id: try row.decode(column: "id", as: String.self), key: try row.decode(column: "key", as: String.self),
                kind: MessageTemplate.Kind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .reply,
                subject: try row.decode(column: "subject", as: String?.self), text: try row.decode(column: "body_text", as: String?.self),
                html: try row.decode(column: "body_html", as: String?.self))
            template.createdAt = Timestamp.date(try row.decode(column: "created_at", as: Int64.self))
            template.updatedAt = Timestamp.date(try row.decode(column: "updated_at", as: Int64.self))
            return template
        }
    }
}

/// Every repository over one database. The web layer and the workers see them as ``Repositories``
/// (protocols); tests and the application's assembly may use the SQL types directly.
public struct SQLStore: RepositoryProvider {
    public let database: MailroomDatabase
    public let accounts: SQLAccountRepository
    public let users: SQLUserRepository
    public let tokens: SQLTokenRepository
    public let dispositions: SQLDispositionRepository
    public let cannedAnswers: SQLCannedAnswerRepository
    public let settings: SQLSettingsRepository
    public let tickets: SQLTicketStore
    public let ingest: SQLIngestStore
    public let fetchState: SQLFetchStateStore
    public let quarantine: SQLQuarantineStore
    public let rawMail: SQLRawMailStore
    public let outbox: SQLOutboxStore
    public let templates: SQLTemplateRepository
    public let rules: SQLRuleRepository
    public let webhooks: SQLWebhookStore
    public let webhookEndpoints: SQLWebhookEndpointStore
    public let repositories: Repositories

    public init(database: MailroomDatabase, secrets: SecretBox, logger: Logger) {
        self.database = database
        accounts = SQLAccountRepository(database: database, secrets: secrets, logger: logger)
        users = SQLUserRepository(database: database)
        tokens = SQLTokenRepository(database: database)
        dispositions = SQLDispositionRepository(database: database)
        cannedAnswers = SQLCannedAnswerRepository(database: database)
        settings = SQLSettingsRepository(database: database)
        tickets = SQLTicketStore(database: database)
        ingest = SQLIngestStore(database: database)
        fetchState = SQLFetchStateStore(database: database)
        quarantine = SQLQuarantineStore(database: database)
        rawMail = SQLRawMailStore(database: database)
        outbox = SQLOutboxStore(database: database)
        templates = SQLTemplateRepository(database: database)
        rules = SQLRuleRepository(database: database)
        webhooks = SQLWebhookStore(database: database)
        webhookEndpoints = SQLWebhookEndpointStore(database: database, secrets: secrets)
        repositories = Repositories(
            accounts: accounts, oauth2: accounts.oauth2, users: users, tokens: tokens,
            sessions: SQLSessionRepository(database: database), people: SQLPeopleStore(database: database), settings: settings, dispositions: dispositions,
            cannedAnswers: cannedAnswers, templates: templates, rules: rules, routing: SQLRoutingStore(database: database),
            tickets: tickets, ingest: ingest, fetchState: fetchState, quarantine: quarantine, rawMail: rawMail,
            outbox: outbox, webhooks: webhooks, webhookEndpoints: webhookEndpoints, reports: SQLReportStore(database: database))
    }
}
