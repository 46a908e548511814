import Foundation
import MailroomCore
@testable import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

/// The account's stored form is the store's own type: rows written before it (the API's JSON of
/// the account) still read, new rows hold only settings, and a row missing newer fields gets the
/// account's defaults.
@Suite struct StoredAccountTests {
    @Test(arguments: TestDatabase.available)
    func rowsWrittenAsTheAPIsJSONStillReadBack(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            var account = try await store.accounts.create(sampleAccount())
            account.markUnread = true
            account.subjectPrefix = "[Support]"
            account.retry.maxRetryCount = 9
            let saved = try await store.accounts.update(account)
            // What a Mailroom before the stored form wrote into the column: the account's API encoding.
            let apiJSON = String(decoding: try JSONCoding.encoder.encode(saved), as: UTF8.self)
            try await store.database.withConnection { db in
                try await db.raw("UPDATE accounts SET config = \(bind: apiJSON) WHERE id = \(bind: saved.id)").run()
            }
            let read = try await store.accounts.find(id: saved.id)
            #expect(read?.markUnread == true)
            #expect(read?.subjectPrefix == "[Support]")
            #expect(read?.retry.maxRetryCount == 9)
            #expect(read?.incoming == saved.incoming)
        }
    }

    @Test(arguments: TestDatabase.available)
    func newRowsHoldSettingsOnlyWithTheirFormat(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await store.accounts.create(sampleAccount())
            let config = try await store.database.withConnection { db in
                try await db.raw("SELECT config FROM accounts WHERE id = \(bind: account.id)").first()?
                    .decode(column: "config", as: String.self)
            }
            let text = try #require(config)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(object["format"] as? Int == StoredAccountConfig.currentFormat)
            // Identity, name, the switch and the dates live in columns; credentials in the sealed column.
            for column in ["id", "key", "name", "active", "createdAt", "updatedAt", "deletedAt"] {
                #expect(object[column] == nil, "\(column) is a column of its own")
            }
            #expect(!text.contains("incoming-password"))
        }
    }

    @Test func aRowMissingNewerFieldsGetsTheDefaults() throws {
        let stored = try JSONCoding.decoder.decode(StoredAccountConfig.self, from: Data(#"{"fromAddress":"desk@example.com"}"#.utf8))
        let account = stored.account(id: "a1", key: "DESK", name: "Desk", active: false)
        #expect(account.fromAddress == "desk@example.com")
        #expect(account.active == false)
        #expect(account.waitForAgentSeconds == Account.defaultWaitSeconds)
        #expect(account.resolvers == ResolverName.defaultOrder)
        #expect(account.retry == RetrySettings())
        #expect(account.incoming == IncomingServer())
    }

    @Test func everySettingSurvivesTheStoredForm() throws {
        var account = sampleAccount()
        account.id = "a1"
        account.description = "Parcels"
        account.contactLists = ["vip"]
        account.markUnread = true
        account.waitForAgentSeconds = 30
        account.waitForQueueSeconds = 40
        account.subjectPrefix = "[P]"
        account.replyTo = "reply@example.com"
        account.hostname = "mx.example.com"
        account.template = "branded"
        account.outgoingAccountId = "a2"
        account.resolvers = Array(ResolverName.defaultOrder.reversed())
        account.retry.maxRetryCount = 3
        let encoded = try JSONCoding.encoder.encode(StoredAccountConfig(account))
        let decoded = try JSONCoding.decoder.decode(StoredAccountConfig.self, from: encoded)
        var expected = account
        // Credentials are not part of the stored form: the repository seals them apart.
        expected.incoming.connection.auth.password = nil
        expected.outgoing.connection.auth.password = nil
        var read = decoded.account(id: "a1", key: account.key, name: account.name, active: account.active)
        read.incoming.connection.auth.password = nil
        read.outgoing.connection.auth.password = nil
        #expect(read == expected)
    }
}
