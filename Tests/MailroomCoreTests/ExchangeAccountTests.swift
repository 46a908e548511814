import Foundation
import Testing
@testable import MailroomCore

@Suite struct ExchangeAccountTests {
    static let oauth: JSONValue = .object(["method": .string("oauth2"), "username": .string("support@example.com"),
                                           "oauth2": .object(["clientId": .string("app"), "refreshToken": .string("r")])])

    static func graph(_ incoming: [String: JSONValue] = [:]) -> JSONValue {
        validAccountDocument([
            "incoming": .object(["protocol": .string("graph"), "host": .string(""), "auth": oauth].merging(incoming) { $1 }),
            "outgoing": .object(["protocol": .string("graph"), "host": .string(""), "auth": oauth]),
        ])
    }

    @Test func aGraphAccountNeedsATokenButNoHost() throws {
        let account = try AccountEditor.newAccount(from: Self.graph())
        #expect(account.incoming.protocol == .graph && account.outgoing.protocol == .graph)
        #expect(account.incoming.connection.graphBaseURL == "https://graph.microsoft.com/v1.0")
        let password = Self.graph(["auth": .object(["method": .string("password"), "username": .string("u"), "password": .string("p")])])
        #expect(fieldErrors { try AccountEditor.newAccount(from: password) }.map(\.field) == ["incoming.auth.method"])
    }

    @Test(arguments: [
        ("baseURL", "ftp://graph.example.com", "incoming.baseURL"), ("baseURL", "https://graph.example.com/v1.0", nil),
        ("baseURL", "http://graph.example.com/v1.0", "incoming.baseURL"), ("baseURL", "http://127.0.0.1:8443/v1.0", nil),
        ("mailboxAddress", "not an address", "incoming.mailboxAddress"), ("mailboxAddress", "shared@example.com", nil),
    ] as [(String, String, String?)])
    func graphFieldsAreChecked(field: String, value: String, error: String?) {
        let errors = fieldErrors { try AccountEditor.newAccount(from: Self.graph([field: .string(value)])) }.map(\.field)
        #expect(errors == (error.map { [$0] } ?? []))
    }

    @Test func anEWSAccountTakesAnHTTPSEndpointOrNoneForAutodiscover() throws {
        func ews(_ fields: [String: JSONValue]) -> JSONValue {
            validAccountDocument(["incoming": .object(["protocol": .string("ews"), "host": .string("")].merging(fields) { $1 }),
                                  "outgoing": .object(["protocol": .string("none")])])
        }
        // Neither url nor host: Autodiscover finds the endpoint from the mailbox address.
        let discovered = try AccountEditor.newAccount(from: ews([:]))
        #expect(discovered.incoming.connection.ewsURL == "")
        #expect(fieldErrors { try AccountEditor.newAccount(from: ews(["url": .string("http://mail.example.com/EWS/Exchange.asmx")])) }
            .map(\.field) == ["incoming.url"])
        let account = try AccountEditor.newAccount(from: ews(["url": .string("https://mail.example.com/EWS/Exchange.asmx")]))
        #expect(account.incoming.connection.ewsURL == "https://mail.example.com/EWS/Exchange.asmx")
        // Accounts made before `url` named the server in `host`.
        let older = try AccountEditor.newAccount(from: ews(["host": .string("mail.example.com")]))
        #expect(older.incoming.connection.ewsURL == "https://mail.example.com:443/EWS/Exchange.asmx")
    }

    @Test func theNewFieldsRoundTripAndTheProtocolStaysFixed() throws {
        let account = try AccountEditor.newAccount(from: Self.graph(["mailboxAddress": .string("shared@example.com"),
                                                                     "baseURL": .string("https://graph.example.com/v1.0")]))
        let decoded = try JSONDecoder().decode(Account.self, from: JSONEncoder().encode(account))
        #expect(decoded.incoming.connection.mailboxAddress == "shared@example.com")
        #expect(decoded.incoming.connection.baseURL == "https://graph.example.com/v1.0")
        var changed = account
        changed.incoming.protocol = .ews
        #expect(AccountValidator.immutableChange(from: account, to: changed)?.field == "incoming.protocol")
    }
}
