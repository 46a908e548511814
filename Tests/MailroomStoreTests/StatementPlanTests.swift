import Foundation
import MailroomCore
@testable import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// The statements an ingest runs for every message are compiled once. SQLite compiles a cached
/// statement again when it judges its plan may depend on the values bound (a rules query with
/// ORDER BY did, on every new ticket), which cost more than running it.
@Suite struct StatementPlanTests {
    @Test func theStatementsOfAnIngestAreNotCompiledAgainForEveryMessage() async throws {
        try await TestDatabase.sqlite.withDatabase { database in
            let store = SQLStore(database: database, secrets: TestDatabase.secrets, logger: TestDatabase.logger)
            var account = sampleAccount(key: "A1", name: "Desk 1")
            account.resolvers = [.caseId, .subjectAndCustomer]
            account = try await store.accounts.create(account)
            let before = try await database.recompilations()
            for n in 0..<6 {
                let mail = inbound(from: "c\(n % 3)@example.com", subject: n < 3 ? "Question \(n)" : "Re: Question \(n - 3)",
                                   messageId: "m\(n)@example.com", inReplyTo: n < 3 ? [] : ["m\(n - 3)@example.com"])
                let outcome = try await store.ingest.ingest(mail, raw: Array("raw \(n)".utf8), account: account, position: nil)
                // What routing reads for each of them.
                _ = try await store.rules.rules(for: account.id)
                _ = try await store.routing.routing(ticketId: try #require(outcome.ticketId))
                _ = try await store.tickets.ticket(id: try #require(outcome.ticketId))
            }
            let after = try await database.recompilations()
            let recompiled = after.filter { sql, count in count > (before[sql] ?? 0) }
            #expect(recompiled.isEmpty, "compiled again: \(recompiled)")
        }
    }
}
