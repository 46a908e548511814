import ExchangeClient
import Foundation
import MailroomCore
import MailroomTestSupport
import MailTransport
@testable import MailroomWorkers
import Testing

/// The account page's "Test connection" for Graph and EWS accounts, against the local servers:
/// each step's words when it works, and what to do when it does not.
@Suite(.enabled(if: ExchangeServers.available)) struct ExchangeConnectionTestTests {
    static func steps(_ report: ConnectionCheckReport) -> [String] {
        report.steps.map { "\($0.name) \($0.outcome.rawValue): \($0.message ?? "")" }
    }

    static func failure(_ report: ConnectionCheckReport) -> ConnectionCheckStep? {
        report.steps.first { !$0.ok }
    }

    @Test func aWorkingGraphAccountPassesEveryStepInWords() async throws {
        let mailbox = ExchangeServers.newMailbox()
        try await ExchangeServers.add(GraphFetcherTests.messages(1...2, tag: "Test")[0], to: mailbox)
        try await ExchangeServers.add(GraphFetcherTests.messages(1...2, tag: "Test")[1], to: mailbox)
        let account = try ExchangeServers.graphAccount(mailbox)
        let incoming = await ExchangeConnectionTest.graph(account, incoming: true)
        #expect(incoming.ok, "\(Self.steps(incoming))")
        #expect(incoming.steps.map(\.name) == ["token", "mailbox", "folder"])
        #expect(incoming.steps[1].message?.contains("opened \(mailbox)") == true)
        #expect(incoming.steps[2].message == "Inbox: 2 messages", "\(Self.steps(incoming))")
        #expect(incoming.protocolName == "Graph" && incoming.host == "127.0.0.1")
        let outgoing = await ExchangeConnectionTest.graph(account, incoming: false)
        #expect(outgoing.ok)
        #expect(outgoing.steps.map(\.name) == ["token", "mailbox", "send"])
        #expect(outgoing.steps[2].message?.contains("Mail.Send") == true)
    }

    @Test func aRefusedTokenSaysToSignInAgainWithoutTheToken() async throws {
        let mailbox = ExchangeServers.newMailbox()
        let account = try ExchangeServers.graphAccount(mailbox) { $0.incoming.connection.auth.oauth2?.accessToken = Secret("not-a-token-at-all") }
        let report = await ExchangeConnectionTest.graph(account, incoming: true)
        #expect(!report.ok)
        let failed = try #require(Self.failure(report))
        #expect(failed.name == "mailbox")
        #expect(failed.message?.contains("Exchange refused the credentials: sign in again") == true, "\(failed.message ?? "")")
        #expect(failed.message?.contains("not-a-token-at-all") == false)
        #expect(report.steps.count == 2, "the steps stop at the first failure")
    }

    /// A mailbox the token's tenant does not have (an address of another organisation) is not found.
    @Test func aMailboxOutsideTheTenantIsNotFoundAndTheAdviceNamesTheTenant() async throws {
        let account = try ExchangeServers.graphAccount("someone@elsewhere.test")
        let report = await ExchangeConnectionTest.graph(account, incoming: true)
        let failed = try #require(Self.failure(report))
        #expect(failed.name == "mailbox")
        let message = failed.message ?? ""
        #expect(message.contains("ErrorInvalidUser") && message.contains("does not exist") && message.contains("tenant"), "\(message)")
    }

    @Test func anotherUsersMailboxIsAccessDenied() async throws {
        let owner = ExchangeServers.newMailbox()
        let other = ExchangeServers.newMailbox()
        _ = try await ExchangeServers.messages(in: other)
        let issued = try await ExchangeServers.control(.POST, "/tokens", ["expiresIn": 600, "user": owner]) as? [String: Any]
        let token = try #require(issued?["token"] as? String)
        let account = try ExchangeServers.graphAccount(other) { $0.incoming.connection.auth.oauth2?.accessToken = Secret(token) }
        let report = await ExchangeConnectionTest.graph(account, incoming: true)
        let failed = try #require(Self.failure(report))
        #expect(failed.name == "mailbox")
        #expect(failed.message?.contains("may not open the mailbox") == true, "\(failed.message ?? "")")
    }

    @Test(arguments: ["graph", "ews"])
    func aFolderThatIsNotThereIsNamed(protocolName: String) async throws {
        let mailbox = ExchangeServers.newMailbox()
        _ = try await ExchangeServers.messages(in: mailbox)
        let account = protocolName == "graph"
            ? try ExchangeServers.graphAccount(mailbox) { $0.incoming.mailbox = "Orders/Europe" }
            : try ExchangeServers.ewsAccount(mailbox) { $0.incoming.mailbox = "Orders/Europe" }
        let report = protocolName == "graph" ? await ExchangeConnectionTest.graph(account, incoming: true)
                                             : await ExchangeConnectionTest.ews(account, incoming: true)
        let failed = try #require(Self.failure(report), "\(Self.steps(report))")
        #expect(failed.name == "folder")
        let message = failed.message ?? ""
        #expect(message.contains("does not exist") && message.contains("Orders"), "\(message)")
    }

    @Test func aWorkingEWSAccountPassesEveryStepInWords() async throws {
        let mailbox = ExchangeServers.newMailbox()
        try await ExchangeServers.add(GraphFetcherTests.messages(1...1, tag: "Test")[0], to: mailbox)
        let account = try ExchangeServers.ewsAccount(mailbox)
        let incoming = await ExchangeConnectionTest.ews(account, incoming: true)
        #expect(incoming.ok, "\(Self.steps(incoming))")
        #expect(incoming.steps.map(\.name) == ["credentials", "folder"])
        #expect(incoming.steps[0].message == "Basic over TLS")
        #expect(incoming.steps[1].message?.contains("\(mailbox): Inbox, 1 items") == true, "\(Self.steps(incoming))")
        let outgoing = await ExchangeConnectionTest.ews(account, incoming: false)
        #expect(outgoing.ok, "\(Self.steps(outgoing))")
        #expect(outgoing.steps.last?.message?.contains("SendAndSaveCopy") == true)
    }

    @Test func aWrongEWSPasswordAndAnUnreachableServerSayWhatToDo() async throws {
        let mailbox = ExchangeServers.newMailbox()
        let wrong = try ExchangeServers.ewsAccount(mailbox) { $0.incoming.connection.auth.password = Secret("wrong-password-123") }
        let refused = await ExchangeConnectionTest.ews(wrong, incoming: true)
        let failed = try #require(Self.failure(refused))
        #expect(failed.message?.contains("Exchange refused the credentials") == true, "\(failed.message ?? "")")
        #expect(failed.message?.contains("wrong-password-123") == false)

        let unreachable = try ExchangeServers.ewsAccount(mailbox) { $0.incoming.connection.url = "https://127.0.0.1:1/EWS/Exchange.asmx" }
        let down = await ExchangeConnectionTest.ews(unreachable, incoming: true)
        #expect(Self.failure(down)?.message?.contains("cannot reach the Exchange server") == true, "\(Self.steps(down))")
    }
}
