import Foundation
import Testing
@testable import MailroomCore

/// A valid custom account with IMAP and SMTP, as JSON, that each test bends one field of.
func validAccountDocument(_ changes: [String: JSONValue] = [:]) -> JSONValue {
    let base: JSONValue = .object([
        "key": .string("SUP"),
        "name": .string("Support"),
        "fromAddress": .string("support@example.com"),
        "fromName": .string("Example Support"),
        "incoming": .object([
            "protocol": .string("imap"), "host": .string("mail.example.com"), "security": .string("tls"),
            "auth": .object(["method": .string("password"), "username": .string("support"), "password": .string("s3cret-in")]),
        ]),
        "outgoing": .object([
            "protocol": .string("smtp"), "host": .string("smtp.example.com"), "security": .string("starttls"),
            "auth": .object(["method": .string("password"), "username": .string("support"), "password": .string("s3cret-out")]),
        ]),
    ])
    return base.merging(.object(changes))
}

func fieldErrors(_ body: () throws -> Account) -> [FieldError] {
    do {
        _ = try body()
        return []
    } catch DomainError.invalid(let errors) {
        return errors
    } catch {
        return [FieldError("?", "\(error)")]
    }
}

@Suite struct AccountValidationTests {
    @Test func aValidAccountPassesAndGetsDefaults() throws {
        let account = try AccountEditor.newAccount(from: validAccountDocument())
        #expect(account.waitForAgentSeconds == 10)
        #expect(account.waitForQueueSeconds == 10)
        #expect(account.incoming.connection.connectionTimeoutSeconds == 10)
        #expect(account.incoming.connection.authTimeoutSeconds == 5)
        #expect(account.outgoing.connection.connectionTimeoutSeconds == 10)
        #expect(account.outgoing.connection.authTimeoutSeconds == 5)
        #expect(account.incoming.fetchIntervalSeconds == 10)
        #expect(account.incoming.mailbox == "INBOX")
        #expect(account.incoming.maxMessageBytes == 26_214_400)
        #expect(account.incoming.connection.port == 993)
        #expect(account.outgoing.connection.port == 587)
        #expect(account.retry.maxRetryCount == 3)
        #expect(account.retry.rateLimitRetrySeconds == 86_400)
        #expect(account.retry.progressiveRetryIntervalSeconds == 300)
        #expect(account.active)
    }

    @Test(arguments: [
        ("A", true), ("ABCDE", true), ("ABCDEF", false), ("", false), ("AB CD", false), ("ÄÖÜßé", true), ("ÄÖÜßéx", false),
    ])
    func keyIsOneToFiveCharacters(key: String, valid: Bool) {
        let errors = fieldErrors { try AccountEditor.newAccount(from: validAccountDocument(["key": .string(key)])) }
        #expect(errors.contains { $0.field == "key" } == !valid, "\(errors)")
    }

    @Test(arguments: [(0, true), (51, true), (52, true), (53, false)])
    func fromNameIsAtMost52Characters(length: Int, valid: Bool) {
        let name = String(repeating: "é", count: length)
        let errors = fieldErrors { try AccountEditor.newAccount(from: validAccountDocument(["fromName": .string(name)])) }
        #expect(errors.contains { $0.field == "fromName" } == !valid, "\(errors)")
    }

    @Test(arguments: ["waitForAgentSeconds", "waitForQueueSeconds"],
          [(0, false), (1, true), (10, true), (2_147_483, true), (2_147_484, false), (-1, false)])
    func waitTimeoutsAreOneTo2147483(field: String, value: (Int, Bool)) {
        let errors = fieldErrors { try AccountEditor.newAccount(from: validAccountDocument([field: .number(Double(value.0))])) }
        #expect(errors.contains { $0.field == field } == !value.1, "\(errors)")
    }

    @Test(arguments: ["incoming", "outgoing"], [(0, false), (1, true), (993, true), (65_535, true), (65_536, false), (-5, false)])
    func portsAreOneTo65535(side: String, value: (Int, Bool)) {
        let document = validAccountDocument([side: .object(["port": .number(Double(value.0))])])
        let errors = fieldErrors { try AccountEditor.newAccount(from: document) }
        #expect(errors.contains { $0.field == "\(side).port" } == !value.1, "\(errors)")
    }

    @Test(arguments: ["connectionTimeoutSeconds", "authTimeoutSeconds"], [(0, false), (1, true), (3_600, true), (3_601, false)])
    func timeoutsHaveBounds(field: String, value: (Int, Bool)) {
        let document = validAccountDocument(["incoming": .object([field: .number(Double(value.0))])])
        let errors = fieldErrors { try AccountEditor.newAccount(from: document) }
        #expect(errors.contains { $0.field == "incoming.\(field)" } == !value.1, "\(errors)")
    }

    @Test(arguments: [(0, false), (1, true), (86_400, true), (86_401, false)])
    func fetchIntervalHasBounds(value: Int, valid: Bool) {
        let document = validAccountDocument(["incoming": .object(["fetchIntervalSeconds": .number(Double(value))])])
        let errors = fieldErrors { try AccountEditor.newAccount(from: document) }
        #expect(errors.contains { $0.field == "incoming.fetchIntervalSeconds" } == !valid, "\(errors)")
    }

    @Test func hostIsRequiredWhereTheProtocolNeedsIt() {
        let errors = fieldErrors {
            try AccountEditor.newAccount(from: validAccountDocument(["incoming": .object(["host": .string("")])]))
        }
        #expect(errors.map(\.field) == ["incoming.host"])
        // No protocol, no host needed.
        let receiveOnly = validAccountDocument(["outgoing": .object(["protocol": .string("none"), "host": .string("")])])
        #expect(fieldErrors { try AccountEditor.newAccount(from: receiveOnly) }.isEmpty)
    }

    @Test func credentialsAreRequiredForPasswordAuthentication() {
        let noPassword = validAccountDocument(["incoming": .object(["auth": .object(["password": .null])])])
        #expect(fieldErrors { try AccountEditor.newAccount(from: noPassword) }.map(\.field) == ["incoming.auth.password"])
        let noUser = validAccountDocument(["outgoing": .object(["auth": .object(["username": .string("")])])])
        #expect(fieldErrors { try AccountEditor.newAccount(from: noUser) }.map(\.field) == ["outgoing.auth.username"])
        let noAuth = validAccountDocument(["outgoing": .object(["auth": .object(["method": .string("none"), "username": .string("")])])])
        #expect(fieldErrors { try AccountEditor.newAccount(from: noAuth) }.isEmpty)
    }

    @Test func modernAuthenticationNeedsAClientAndAToken() {
        let oauth = validAccountDocument(["incoming": .object(["auth": .object([
            "method": .string("oauth2"), "oauth2": .object(["provider": .string("outlook365"), "email": .string("support@example.com")]),
        ])])])
        let fields = fieldErrors { try AccountEditor.newAccount(from: oauth) }.map(\.field)
        #expect(fields == ["incoming.auth.oauth2.clientId", "incoming.auth.oauth2.refreshToken"])
        let complete = validAccountDocument(["incoming": .object(["auth": .object([
            "method": .string("oauth2"),
            "oauth2": .object(["clientId": .string("app"), "refreshToken": .string("r-token")]),
        ])])])
        let account = try? AccountEditor.newAccount(from: complete)
        #expect(account?.incoming.connection.auth.password == nil, "switching to OAuth2 forgets the password")
        #expect(account?.incoming.connection.auth.oauth2?.refreshToken?.revealed == "r-token")
    }

    @Test(arguments: [
        ("imaps", IncomingProtocol.imap, ConnectionSecurity.tls, 993),
        // Ameyo's fetch protocol list spells it "impas"; an account copied from there must work.
        ("impas", .imap, .tls, 993),
        ("IMPAS", .imap, .tls, 993),
        ("pop3s", .pop3, .tls, 995),
        ("pop3", .pop3, .tls, 995),
        ("imap", .imap, .tls, 993),
    ])
    func sealedProtocolNamesMeanTLS(name: String, proto: IncomingProtocol, security: ConnectionSecurity, port: Int) throws {
        let document = validAccountDocument(["incoming": .object(["protocol": .string(name), "security": .null])])
        let account = try AccountEditor.newAccount(from: document)
        #expect(account.incoming.protocol == proto)
        #expect(account.incoming.connection.security == security)
        #expect(account.incoming.connection.port == port)
    }

    @Test func smtpsMeansSMTPOverTLS() throws {
        let document = validAccountDocument(["outgoing": .object(["protocol": .string("smtps"), "security": .string("starttls")])])
        let account = try AccountEditor.newAccount(from: document)
        #expect(account.outgoing.protocol == .smtp)
        #expect(account.outgoing.connection.security == .tls)
        #expect(account.outgoing.connection.port == 465)
    }

    @Test func unknownEnumValuesNameTheFieldAndTheChoices() {
        let errors = fieldErrors { try AccountEditor.newAccount(from: validAccountDocument(["service": .string("aol")])) }
        #expect(errors.first?.field == "service")
        #expect(errors.first?.message.contains("'gmail'") == true)
        let security = fieldErrors {
            try AccountEditor.newAccount(from: validAccountDocument(["incoming": .object(["security": .string("ssl3")])]))
        }
        #expect(security.first?.field == "incoming.security")
        let resolver = fieldErrors {
            try AccountEditor.newAccount(from: validAccountDocument(["resolvers": .array([.string("caseId"), .string("nope")])]))
        }
        #expect(resolver.first?.field == "resolvers[1]")
    }

    @Test func wrongTypesNameTheField() {
        let errors = fieldErrors { try AccountEditor.newAccount(from: validAccountDocument(["waitForAgentSeconds": .string("ten")])) }
        #expect(errors == [FieldError("waitForAgentSeconds", "must be a number")])
        let nested = fieldErrors {
            try AccountEditor.newAccount(from: validAccountDocument(["incoming": .object(["port": .bool(true)])]))
        }
        #expect(nested.first?.field == "incoming.port")
    }

    @Test func retrySettingsAndErrorPolicies() throws {
        let document = validAccountDocument(["retry": .object([
            "maxRetryCount": .number(5), "errorPolicies": .object(["mailbox": .string("noRetry")]),
        ])])
        let account = try AccountEditor.newAccount(from: document)
        #expect(account.retry.maxRetryCount == 5)
        #expect(account.retry.policy(for: .mailbox) == .noRetry)
        #expect(account.retry.policy(for: .networkRouting) == .rateLimitRetry)
        let unknownClass = validAccountDocument(["retry": .object(["errorPolicies": .object(["dns": .string("noRetry")])])])
        #expect(fieldErrors { try AccountEditor.newAccount(from: unknownClass) }.first?.field == "retry.errorPolicies.dns")
        let unknownPolicy = validAccountDocument(["retry": .object(["errorPolicies": .object(["mailbox": .string("later")])])])
        #expect(fieldErrors { try AccountEditor.newAccount(from: unknownPolicy) }.first?.field == "retry.errorPolicies.mailbox")
    }

    @Test func theAmeyoTableIsTheDefaultMapping() {
        let expected: [DeliveryErrorClass: RetryPolicyKind] = [
            .unidentified: .defaultRetry, .addressing: .noRetry, .mailbox: .progressiveRetry, .mailSystem: .progressiveRetry,
            .networkRouting: .rateLimitRetry, .mailDeliveryProtocol: .noRetry, .messageContent: .noRetry,
            .securityPolicy: .progressiveRetry, .noSuchProvider: .noRetry, .connection: .progressiveRetry,
            .unknownHost: .noRetry, .internal: .noRetry,
        ]
        #expect(RetrySettings().effectivePolicies == expected)
    }

    @Test func headerFiltersAreChecked() {
        let bad = validAccountDocument(["incoming": .object(["headerFilters": .array([
            .object(["header": .string("X-Spam-Flag"), "match": .string("equals"), "value": .string("YES"), "action": .string("skip")]),
            .object(["header": .string("X Bad"), "match": .string("regex"), "value": .string("(["), "action": .string("tag")]),
        ])])])
        let fields = fieldErrors { try AccountEditor.newAccount(from: bad) }.map(\.field)
        #expect(fields == ["incoming.headerFilters[1].header", "incoming.headerFilters[1].value", "incoming.headerFilters[1].tag"])
    }

    @Test func duplicateResolversAreRefused() {
        let document = validAccountDocument(["resolvers": .array([.string("caseId"), .string("customer"), .string("caseId")])])
        #expect(fieldErrors { try AccountEditor.newAccount(from: document) }.map(\.field) == ["resolvers[2]"])
    }

    @Test func addressesAreChecked() {
        #expect(fieldErrors { try AccountEditor.newAccount(from: validAccountDocument(["fromAddress": .string("not an address")])) }
            .map(\.field) == ["fromAddress"])
        #expect(fieldErrors { try AccountEditor.newAccount(from: validAccountDocument(["replyTo": .string("a@b@c")])) }
            .map(\.field) == ["replyTo"])
    }
}
