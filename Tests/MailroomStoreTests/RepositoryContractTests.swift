import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import SQLKit
import Testing

func sampleAccount(key: String = "SUP", name: String = "Support") -> Account {
    var account = Account(key: key, name: name, fromAddress: "support@example.com", fromName: "Support")
    account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(
        host: "imap.example.com", port: 993, security: .tls,
        auth: ServerAuth(method: .password, username: "support", password: Secret("incoming-password-\(key)"))))
    account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(
        host: "smtp.example.com", port: 587, security: .starttls,
        auth: ServerAuth(method: .password, username: "support", password: Secret("outgoing-password-\(key)"))))
    return account
}

/// Every repository operation, run against SQLite and against PostgreSQL, so the two cannot drift.
@Suite struct RepositoryContractTests {
    @Test(arguments: TestDatabase.available)
    func migrationsRunOnceAndRecordTheirVersion(_ kind: TestDatabase) async throws {
        try await kind.withDatabase { database in
            let applied = try await Migrator.migrate(database, logger: TestDatabase.logger)
            #expect(applied.isEmpty)
            let version = try await Migrator.currentVersion(database)
            #expect(version == Migrator.latestVersion)
        }
    }

    @Test(arguments: TestDatabase.available)
    func accountsCreateFindListUpdate(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let created = try await store.accounts.create(sampleAccount())
            #expect(!created.id.isEmpty)
            #expect(created.createdAt != nil)
            #expect(try await store.accounts.find(id: created.id) == created)
            #expect(try await store.accounts.find(key: "SUP") == created)
            #expect(try await store.accounts.find(id: "missing") == nil)
            #expect(created.incoming.connection.auth.password?.revealed == "incoming-password-SUP")

            var changed = created
            changed.name = "Support desk"
            changed.incoming.connection.auth.password = Secret("rotated")
            changed.retry.maxRetryCount = 7
            let updated = try await store.accounts.update(changed)
            #expect(updated.name == "Support desk")
            #expect(updated.retry.maxRetryCount == 7)
            #expect(updated.incoming.connection.auth.password?.revealed == "rotated")

            let second = try await store.accounts.create(sampleAccount(key: "SALES", name: "Sales"))
            #expect(try await store.accounts.list(includeDeleted: false).map(\.id) == [created.id, second.id])
        }
    }

    @Test(arguments: TestDatabase.available)
    func credentialsAreEncryptedAtRest(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            _ = try await store.accounts.create(sampleAccount())
            let raw = try await store.database.withConnection { db in
                try await db.raw("SELECT config, secrets FROM accounts").all().map { row in
                    (try row.decode(column: "config", as: String.self)) + (try row.decode(column: "secrets", as: String.self))
                }.joined()
            }
            #expect(!raw.contains("incoming-password-SUP"))
            #expect(!raw.contains("outgoing-password-SUP"))
            #expect(raw.contains("v1:"))
        }
    }

    @Test(arguments: TestDatabase.available)
    func keysAndNamesAreUniqueAmongLiveAccounts(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let first = try await store.accounts.create(sampleAccount())
            await #expect(throws: DomainError.conflict(FieldError("key", "'SUP' is already used by another account"))) {
                _ = try await store.accounts.create(sampleAccount(key: "SUP", name: "Other"))
            }
            await #expect(throws: DomainError.self) {
                _ = try await store.accounts.create(sampleAccount(key: "OTHER", name: "Support"))
            }
            let second = try await store.accounts.create(sampleAccount(key: "B", name: "B"))
            var renamed = second
            renamed.key = "SUP"
            await #expect(throws: DomainError.self) { _ = try await store.accounts.update(renamed) }

            // Once deleted, the key and name are free again; the old account stays readable.
            try await store.accounts.delete(id: first.id, at: Date())
            let reused = try await store.accounts.create(sampleAccount())
            #expect(reused.id != first.id)
        }
    }

    @Test(arguments: TestDatabase.available)
    func deletingAnAccountKeepsItReadableAndDisablesWhatUsedIt(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let sender = try await store.accounts.create(sampleAccount(key: "OUT", name: "Outgoing"))
            var mapped = sampleAccount(key: "IN", name: "Incoming")
            mapped.outgoingAccountId = sender.id
            let incoming = try await store.accounts.create(mapped)
            let disposition = try await store.dispositions.create(Disposition(name: "Solved", accountId: sender.id))
            let answer = try await store.cannedAnswers.create(CannedAnswer(name: "Hello", text: "Hi", accountId: sender.id))
            let globalDisposition = try await store.dispositions.create(Disposition(name: "Spam"))

            try await store.accounts.delete(id: sender.id, at: Date())

            let deleted = try #require(try await store.accounts.find(id: sender.id))
            #expect(deleted.deletedAt != nil)
            #expect(!deleted.active)
            #expect(!deleted.fetches && !deleted.sends)
            #expect(try await store.accounts.find(key: "OUT") == nil)
            #expect(try await store.accounts.list(includeDeleted: false).map(\.id) == [incoming.id])
            #expect(try await store.accounts.list(includeDeleted: true).count == 2)
            #expect(try await store.accounts.find(id: incoming.id)?.outgoingAccountId == nil)
            #expect(try await store.dispositions.find(id: disposition.id)?.active == false)
            #expect(try await store.cannedAnswers.find(id: answer.id)?.active == false)
            #expect(try await store.dispositions.find(id: globalDisposition.id)?.active == true)
            await #expect(throws: DomainError.notFound("account \(sender.id)")) {
                try await store.accounts.delete(id: sender.id, at: Date())
            }
        }
    }

    @Test(arguments: TestDatabase.available)
    func users(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            #expect(try await store.users.count() == 0)
            let ann = try await store.users.create(User(name: "Ann", email: "ann@example.com", role: .agent), passwordHash: "hash-1")
            #expect(try await store.users.find(email: "ANN@example.com") == ann)
            #expect(try await store.users.passwordHash(userId: ann.id) == "hash-1")
            await #expect(throws: DomainError.self) {
                _ = try await store.users.create(User(name: "Other Ann", email: "ann@example.com", role: .admin), passwordHash: nil)
            }
            var changed = ann
            changed.role = .supervisor
            changed.capacity = 3
            let updated = try await store.users.update(changed, passwordHash: nil)
            #expect(updated.role == .supervisor && updated.capacity == 3)
            #expect(try await store.users.passwordHash(userId: ann.id) == "hash-1", "nil keeps the password")
            _ = try await store.users.update(changed, passwordHash: "hash-2")
            #expect(try await store.users.passwordHash(userId: ann.id) == "hash-2")
            _ = try await store.users.create(User(name: "Bob", email: "bob@example.com", role: .admin), passwordHash: nil)
            #expect(try await store.users.list().map(\.name) == ["Ann", "Bob"])
            #expect(try await store.users.count() == 2)
        }
    }

    @Test(arguments: TestDatabase.available)
    func tokens(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let ann = try await store.users.create(User(name: "Ann", email: "ann@example.com", role: .agent), passwordHash: nil)
            let now = Date()
            let token = try await store.tokens.create(APIToken(id: "", userId: ann.id, name: "cli", createdAt: now), hash: "h1")
            let expiring = try await store.tokens.create(
                APIToken(id: "", userId: ann.id, name: "short", createdAt: now, expiresAt: now.addingTimeInterval(60)), hash: "h2")
            #expect(try await store.tokens.lookup(hash: "h1", now: now)?.1.id == ann.id)
            #expect(try await store.tokens.lookup(hash: "h2", now: now)?.0.id == expiring.id)
            #expect(try await store.tokens.lookup(hash: "h2", now: now.addingTimeInterval(61)) == nil, "expired")
            #expect(try await store.tokens.lookup(hash: "nope", now: now) == nil)
            #expect(try await store.tokens.list(userId: ann.id).map(\.id).sorted() == [token.id, expiring.id].sorted())
            try await store.tokens.delete(id: token.id)
            #expect(try await store.tokens.lookup(hash: "h1", now: now) == nil)
            var inactive = ann
            inactive.active = false
            _ = try await store.users.update(inactive, passwordHash: nil)
            #expect(try await store.tokens.lookup(hash: "h2", now: now) == nil, "a deactivated user's tokens stop working")
        }
    }

    @Test(arguments: TestDatabase.available)
    func dispositionsAndCannedAnswers(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let account = try await store.accounts.create(sampleAccount())
            let global = try await store.dispositions.create(Disposition(name: "Answered"))
            let local = try await store.dispositions.create(Disposition(name: "Billing", accountId: account.id))
            #expect(try await store.dispositions.list(accountId: nil).count == 2)
            #expect(try await store.dispositions.list(accountId: account.id).map(\.id).sorted() == [global.id, local.id].sorted())
            #expect(try await store.dispositions.list(accountId: "other").map(\.id) == [global.id])
            var renamed = local
            renamed.name = "Billing question"
            #expect(try await store.dispositions.update(renamed).name == "Billing question")
            try await store.dispositions.delete(id: global.id)
            #expect(try await store.dispositions.find(id: global.id) == nil)

            let answer = try await store.cannedAnswers.create(CannedAnswer(name: "Thanks", text: "Thank you, {{ customer.name }}", accountId: account.id))
            #expect(try await store.cannedAnswers.find(id: answer.id)?.text == "Thank you, {{ customer.name }}")
            var html = answer
            html.html = "<p>Thanks</p>"
            html.text = nil
            let updated = try await store.cannedAnswers.update(html)
            #expect(updated.html == "<p>Thanks</p>" && updated.text == nil)
            #expect(try await store.cannedAnswers.list(accountId: "other").isEmpty)
            try await store.cannedAnswers.delete(id: answer.id)
            #expect(try await store.cannedAnswers.list(accountId: nil).isEmpty)
        }
    }

    @Test(arguments: TestDatabase.available)
    func globalSettings(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            #expect(try await store.settings.globalSettings() == GlobalSettings())
            let changed = GlobalSettings(failureMailSenders: ["postmaster@example.com"], invitationTemplateKey: "invite",
                                         invitationLinkBaseAddress: "https://desk.example.com")
            try await store.settings.save(changed)
            try await store.settings.save(changed)
            #expect(try await store.settings.globalSettings() == changed)
        }
    }
}

@Suite struct SecretBoxTests {
    @Test func sealsAndOpens() throws {
        let box = SecretBox.random()
        let sealed = try box.seal(Data("password".utf8))
        #expect(!sealed.contains("password"))
        #expect(try box.open(sealed) == Data("password".utf8))
        #expect(throws: SecretKeyError.self) { try SecretBox.random().open(sealed) }
    }

    @Test func theKeyFileIsCreatedPrivateAndReused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mr-key-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try SecretBox.load(environmentValue: nil, dataDirectory: directory)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/secret.key")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let sealed = try first.seal(Data("x".utf8))
        #expect(try SecretBox.load(environmentValue: nil, dataDirectory: directory).open(sealed) == Data("x".utf8))
    }

    @Test func theEnvironmentKeyWinsAndShortKeysAreRefused() throws {
        let passphrase = "a long enough passphrase"
        let sealed = try SecretBox.load(environmentValue: passphrase, dataDirectory: "/nonexistent").seal(Data("x".utf8))
        #expect(try SecretBox.load(environmentValue: passphrase, dataDirectory: "/nonexistent").open(sealed) == Data("x".utf8))
        #expect(throws: SecretKeyError.self) { _ = try SecretBox.load(environmentValue: "short", dataDirectory: "/nonexistent") }
    }

    @Test func passwordsHashSlowlyAndVerify() throws {
        let hash = try PasswordHasher.hash(Secret("correct horse"))
        #expect(hash.hasPrefix("scrypt$"))
        #expect(PasswordHasher.verify(Secret("correct horse"), against: hash))
        #expect(!PasswordHasher.verify(Secret("wrong horse"), against: hash))
        #expect(!PasswordHasher.verify(Secret("correct horse"), against: "garbage"))
    }

    @Test func databaseURLsNeverShowPasswords() throws {
        let location = try DatabaseLocation(url: "postgres://mailroom:hunter2@db.example.com:5432/mailroom")
        #expect(!location.description.contains("hunter2"))
        #expect(throws: DatabaseError.self) { _ = try DatabaseLocation(url: "mysql://x") }
        #expect(try DatabaseLocation(url: "sqlite:///var/lib/mailroom.sqlite") == .sqlite(path: "/var/lib/mailroom.sqlite"))
    }
}
