import Foundation
import IMAPClient
import MailTransport
import MailroomCore
import POP3Client
import SMTPClient

/// Motion's "Verify connection": checks the account's incoming and outgoing servers step by step.
public enum AccountConnectionTest {
    /// `{"ok", "incoming": report | null, "outgoing": report | null}`; each report lists its steps
    /// with their outcome, time and server message. Never includes a credential.
    public static func run(_ account: Account) async -> JSONValue {
        async let incoming = incomingReport(account)
        async let outgoing = outgoingReport(account)
        let (inReport, outReport) = await (incoming, outgoing)
        let ok = (inReport?.ok ?? true) && (outReport?.ok ?? true)
        return .object([
            "ok": .bool(ok),
            "incoming": (try? inReport.map { try JSONValue(encoding: $0) }) ?? .null,
            "outgoing": (try? outReport.map { try JSONValue(encoding: $0) }) ?? .null,
        ])
    }

    static func incomingReport(_ account: Account) async -> ConnectionCheckReport? {
        switch account.incoming.protocol {
        case .none:
            return nil
        case .imap:
            return await IMAPConnection.check(account.incomingEndpoint, credentials: account.incomingCredentials,
                                              mailbox: account.incoming.mailbox)
        case .pop3:
            return await POP3Connection.check(account.incomingEndpoint, credentials: account.incomingCredentials)
        case .ews:
            return await ExchangeConnectionTest.ews(account, incoming: true)
        case .graph:
            return await ExchangeConnectionTest.graph(account, incoming: true)
        }
    }

    static func outgoingReport(_ account: Account) async -> ConnectionCheckReport? {
        switch account.outgoing.protocol {
        case .none:
            return nil
        case .smtp:
            let domain = account.fromAddress.split(separator: "@").last.map(String.init) ?? "localhost"
            return await SMTPConnection.check(account.outgoingEndpoint, credentials: account.outgoingCredentials, heloName: domain)
        case .ews:
            return await ExchangeConnectionTest.ews(account, incoming: false)
        case .graph:
            return await ExchangeConnectionTest.graph(account, incoming: false)
        }
    }
}
