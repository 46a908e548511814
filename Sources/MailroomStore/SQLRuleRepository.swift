import Foundation
import MailroomCore
import SQLKit

/// Routing rules: the rule as its JSON document, with the columns rules are selected and ordered by.
public struct SQLRuleRepository: RuleRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    public func create(_ rule: RoutingRule) async throws -> RoutingRule {
        var rule = rule
        let now = Date()
        rule.id = Identifier.make(at: now)
        let stored = rule
        try await database.withConnection { db in
            try await db.raw("""
                INSERT INTO rules (id, account_id, position, enabled, document, created_at, updated_at)
                VALUES (\(bind: stored.id), \(bind: stored.accountId), \(bind: stored.position), \(bind: stored.enabled),
                        \(bind: try StoredJSON.encode(stored)), \(bind: Timestamp.from(now)), \(bind: Timestamp.from(now)))
                """).run()
        }
        return stored
    }

    public func update(_ rules: [RoutingRule]) async throws {
        let now = Timestamp.now()
        try await database.transaction { db in
            for rule in rules {
                try await db.raw("""
                    UPDATE rules SET account_id = \(bind: rule.accountId), position = \(bind: rule.position), enabled = \(bind: rule.enabled),
                        document = \(bind: try StoredJSON.encode(rule)), updated_at = \(bind: now)
                    WHERE id = \(bind: rule.id)
                    """).run()
            }
        }
    }

    public func find(id: String) async throws -> RoutingRule? {
        try await select("WHERE id = \(bind: id)").first
    }

    /// One account's rules (or, with nil, the global ones), in order.
    public func list(accountId: String?) async throws -> [RoutingRule] {
        if let accountId { return try await select("WHERE account_id = \(bind: accountId) ORDER BY position, id") }
        return try await select("WHERE account_id IS NULL ORDER BY position, id")
    }

    public func all() async throws -> [RoutingRule] {
        try await select("ORDER BY account_id, position, id")
    }

    /// What runs for an account's mail: its own rules, then the global ones.
    public func rules(for accountId: String) async throws -> [RoutingRule] {
        // Read for every new ticket: a fixed statement (see FixedSQL).
        let rows = try await database.withConnection { db in try await db.all(Self.accountRules, .text(accountId)) }
        return try rows.map(Self.rule(from:))
    }

    private static let accountRules = FixedSQL("SELECT id, document FROM rules WHERE account_id = ? OR account_id IS NULL ORDER BY position, id")

    public func delete(id: String) async throws {
        try await database.withConnection { db in try await db.raw("DELETE FROM rules WHERE id = \(bind: id)").run() }
    }

    /// A deleted account's rules stop running (they stay, disabled, for the record).
    public func disable(accountId: String) async throws {
        var rules = try await list(accountId: accountId)
        for index in rules.indices { rules[index].enabled = false }
        try await update(rules)
    }

    private func select(_ clause: SQLQueryString) async throws -> [RoutingRule] {
        let rows = try await database.withConnection { db in
            try await db.raw("SELECT id, document FROM rules \(clause)").all()
        }
        return try rows.map(Self.rule(from:))
    }

    private static func rule(from row: any SQLRow) throws -> RoutingRule {
        var rule = try JSONCoding.decoder.decode(RoutingRule.self, from: Data(try row.decode(column: "document", as: String.self).utf8))
        rule.id = try row.decode(column: "id", as: String.self)
        return rule
    }
}
