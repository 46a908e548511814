import Foundation
import Testing
@testable import MailroomCore

@Suite struct AccountEditorTests {
    @Test(arguments: [
        (MailService.gmail, "imap.gmail.com", 993, ConnectionSecurity.tls, "smtp.gmail.com", 465, ConnectionSecurity.tls),
        (.outlook365, "outlook.office365.com", 993, .tls, "smtp.office365.com", 587, .starttls),
        (.yahoo, "imap.mail.yahoo.com", 993, .tls, "smtp.mail.yahoo.com", 465, .tls),
        (.hotmail, "outlook.office365.com", 993, .tls, "smtp-mail.outlook.com", 587, .starttls),
    ])
    func presetsFillTheProvidersServers(
        service: MailService, imapHost: String, imapPort: Int, imapSecurity: ConnectionSecurity,
        smtpHost: String, smtpPort: Int, smtpSecurity: ConnectionSecurity
    ) throws {
        let account = try AccountEditor.newAccount(from: .object([
            "key": .string("G"), "name": .string("Mailbox"), "service": .string(service.rawValue),
            "fromAddress": .string("desk@example.com"),
            "incoming": .object(["host": .string("ignored.example.com"), "port": .number(1), "auth": .object(["password": .string("app-password")])]),
            "outgoing": .object(["auth": .object(["password": .string("app-password")])]),
        ]))
        #expect(account.incoming.protocol == .imap)
        #expect(account.incoming.connection.host == imapHost)
        #expect(account.incoming.connection.port == imapPort)
        #expect(account.incoming.connection.security == imapSecurity)
        #expect(account.outgoing.protocol == .smtp)
        #expect(account.outgoing.connection.host == smtpHost)
        #expect(account.outgoing.connection.port == smtpPort)
        #expect(account.outgoing.connection.security == smtpSecurity)
        #expect(account.incoming.connection.auth.username == "desk@example.com", "a preset logs in with the mail address")
    }

    @Test func presetWithPOP3UsesThePOP3Server() throws {
        let account = try AccountEditor.newAccount(from: .object([
            "key": .string("G"), "name": .string("Mailbox"), "service": .string("gmail"),
            "fromAddress": .string("desk@example.com"),
            "incoming": .object(["protocol": .string("pop3"), "auth": .object(["password": .string("pw")])]),
            "outgoing": .object(["protocol": .string("none")]),
        ]))
        #expect(account.incoming.connection.host == "pop.gmail.com")
        #expect(account.incoming.connection.port == 995)
        #expect(account.outgoing.protocol == .none)
    }

    @Test func customTakesWhatIsGiven() throws {
        let account = try AccountEditor.newAccount(from: validAccountDocument(["incoming": .object([
            "host": .string("10.0.0.5"), "port": .number(1143), "security": .string("none"), "acceptAnyCertificate": .bool(true),
        ])]))
        #expect(account.incoming.connection.host == "10.0.0.5")
        #expect(account.incoming.connection.port == 1143)
        #expect(account.incoming.connection.security == ConnectionSecurity.none)
        #expect(account.incoming.connection.acceptAnyCertificate)
    }

    @Test(arguments: [
        ("incoming", "protocol", JSONValue.string("pop3")),
        ("outgoing", "protocol", JSONValue.string("none")),
        ("incoming", "mailbox", JSONValue.string("Support")),
        ("outgoing", "sentFolder", JSONValue.string("Sent")),
    ])
    func protocolsAndFoldersAreFixedAfterCreation(side: String, field: String, value: JSONValue) throws {
        var current = try AccountEditor.newAccount(from: validAccountDocument())
        current.id = "a1"
        #expect(throws: DomainError.self) {
            _ = try AccountEditor.updated(current, with: .object([side: .object([field: value])]))
        }
        do {
            _ = try AccountEditor.updated(current, with: .object([side: .object([field: value])]))
        } catch DomainError.conflict(let error) {
            #expect(error.field == "\(side).\(field)")
            #expect(error.message.contains("cannot change"))
        }
    }

    @Test func sameProtocolSpelledDifferentlyIsNoChange() throws {
        var current = try AccountEditor.newAccount(from: validAccountDocument())
        current.id = "a1"
        let updated = try AccountEditor.updated(current, with: .object(["incoming": .object(["protocol": .string("imaps")])]))
        #expect(updated.incoming.protocol == .imap)
    }

    @Test func anUpdateKeepsCredentialsItDoesNotMention() throws {
        var current = try AccountEditor.newAccount(from: validAccountDocument())
        current.id = "a1"
        let updated = try AccountEditor.updated(current, with: .object([
            "name": .string("Renamed"), "incoming": .object(["host": .string("imap2.example.com")]),
        ]))
        #expect(updated.name == "Renamed")
        #expect(updated.incoming.connection.host == "imap2.example.com")
        #expect(updated.incoming.connection.auth.password?.revealed == "s3cret-in")
        #expect(updated.outgoing.connection.auth.password?.revealed == "s3cret-out")
        let changed = try AccountEditor.updated(current, with: .object([
            "outgoing": .object(["auth": .object(["password": .string("new-one")])]),
        ]))
        #expect(changed.outgoing.connection.auth.password?.revealed == "new-one")
    }

    @Test func anUpdateCannotChangeIdentityOrTimestamps() throws {
        var current = try AccountEditor.newAccount(from: validAccountDocument())
        current.id = "a1"
        current.createdAt = Date(timeIntervalSince1970: 100)
        let updated = try AccountEditor.updated(current, with: .object([
            "id": .string("other"), "createdAt": .string("2020-01-01T00:00:00Z"), "deletedAt": .string("2020-01-01T00:00:00Z"),
        ]))
        #expect(updated.id == "a1")
        #expect(updated.createdAt == Date(timeIntervalSince1970: 100))
        #expect(updated.deletedAt == nil)
    }

    @Test func encodingNeverWritesACredential() throws {
        let account = try AccountEditor.newAccount(from: validAccountDocument(["incoming": .object(["auth": .object([
            "method": .string("oauth2"),
            "oauth2": .object(["clientId": .string("app"), "clientSecret": .string("client-secret-value"),
                               "refreshToken": .string("refresh-token-value"), "accessToken": .string("access-token-value")]),
        ])])]))
        let json = String(decoding: try JSONCoding.encoder.encode(account), as: UTF8.self)
        for secret in ["s3cret-in", "s3cret-out", "client-secret-value", "refresh-token-value", "access-token-value"] {
            #expect(!json.contains(secret))
        }
        #expect(json.contains(#""passwordSet":true"#))
        #expect(json.contains(#""refreshTokenSet":true"#))
        #expect("\(account)".contains("s3cret") == false, "descriptions do not show secrets either")
    }

    @Test func secretsRoundTripThroughTheirOwnValue() throws {
        let account = try AccountEditor.newAccount(from: validAccountDocument())
        var readBack = try JSONCoding.decoder.decode(Account.self, from: JSONCoding.encoder.encode(account))
        #expect(readBack.incoming.connection.auth.password == nil)
        AccountSecrets(of: account).restore(into: &readBack)
        #expect(readBack == account)
    }
}

@Suite struct JSONValueTests {
    @Test func mergePatchFollowsRFC7396() {
        let target: JSONValue = .object(["a": .string("b"), "c": .object(["d": .string("e"), "f": .string("g")])])
        let patch: JSONValue = .object(["a": .string("z"), "c": .object(["f": .null])])
        #expect(target.merging(patch) == .object(["a": .string("z"), "c": .object(["d": .string("e")])]))
        #expect(JSONValue.object(["a": .array([.number(1)])]).merging(.object(["a": .array([])])) == .object(["a": .array([])]))
    }
}

@Suite struct GlobalSettingsTests {
    @Test func defaultsListTheMailerDaemonsOfGmailAndYahoo() {
        let settings = GlobalSettings()
        #expect(settings.isFailureMailSender("MAILER-DAEMON@googlemail.com"))
        #expect(settings.isFailureMailSender("mailer-daemon@yahoo.com"))
        #expect(!settings.isFailureMailSender("customer@example.com"))
    }

    @Test func validation() {
        var settings = GlobalSettings(failureMailSenders: ["postmaster@example.com", "bad"])
        settings.invitationLinkBaseAddress = "ftp://x"
        #expect(settings.validate().map(\.field) == ["failureMailSenders[1]", "invitationLinkBaseAddress"])
    }
}
