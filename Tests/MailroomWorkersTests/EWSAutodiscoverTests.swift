import ExchangeClient
import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWorkers
import Testing

/// POX Autodiscover against the local EWS server's `/autodiscover/autodiscover.xml`: from a mailbox
/// address to the EWS endpoint, with redirections and errors; an account without an endpoint is
/// tested and fetched through what Autodiscover finds.
@Suite(.enabled(if: ExchangeServers.available)) struct EWSAutodiscoverTests {
    static func autodiscoverURL() throws -> String {
        try ExchangeServers.ewsURL().replacingOccurrences(of: "/EWS/Exchange.asmx", with: "/autodiscover/autodiscover.xml")
    }

    /// The standard places are on the mailbox's domain, which does not resolve here: a port
    /// nothing listens on stands for the first, the local server for the second.
    static func candidates() throws -> @Sendable (String) -> [String] {
        let local = try autodiscoverURL()
        return { _ in ["https://127.0.0.1:1/autodiscover/autodiscover.xml", local] }
    }

    static func autodiscover(_ mailbox: String, password: String? = nil) throws -> EWSAutodiscover {
        let basic = "Basic " + Data("\(mailbox):\(try password ?? ExchangeServers.password())".utf8).base64EncodedString()
        return EWSAutodiscover(acceptAnyCertificate: true, candidates: try candidates()) { _ in basic }
    }

    @Test func theMailboxAddressLeadsToTheEWSEndpoint() async throws {
        let mailbox = ExchangeServers.newMailbox()
        let found = try await Self.autodiscover(mailbox).discover(address: mailbox)
        #expect(found.ewsURL == (try ExchangeServers.ewsURL()))
        #expect(found.foundAt == (try Self.autodiscoverURL()), "the unreachable first place was passed over")
    }

    @Test func aRedirectedAddressIsFollowed() async throws {
        let mailbox = ExchangeServers.newMailbox()
        let alias = "alias-\(UUID().uuidString.prefix(8).lowercased())@elsewhere.test"
        try await ExchangeServers.control(.POST, "/autodiscover", ["address": alias, "redirectAddr": mailbox], server: "ews")
        let found = try await Self.autodiscover(mailbox).discover(address: alias)
        #expect(found.address == mailbox)
        #expect(found.ewsURL == (try ExchangeServers.ewsURL()))
    }

    @Test func anUnknownAddressAndAWrongPasswordSayWhy() async throws {
        let stranger = "nobody-\(UUID().uuidString.prefix(8).lowercased())@elsewhere.test"
        do {
            _ = try await Self.autodiscover(ExchangeServers.newMailbox()).discover(address: stranger)
            Issue.record("an address the server does not know has no endpoint")
        } catch let error as ExchangeError {
            #expect(error.kind == .mailboxNotFound)
            #expect(error.message.contains("can't be found") && error.message.contains("127.0.0.1:1"), "\(error.message)")
        }
        let mailbox = ExchangeServers.newMailbox()
        do {
            _ = try await Self.autodiscover(mailbox, password: "wrong-password-456").discover(address: mailbox)
            Issue.record("a wrong password must be refused")
        } catch let error as ExchangeError {
            #expect(error.kind == .unauthorized)
            #expect(!error.description.contains("wrong-password-456"))
        }
    }

    @Test func anAccountWithoutAnEndpointIsTestedAndFetchedThroughAutodiscover() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            for mime in GraphFetcherTests.messages(1...3, tag: "Discovered") { try await ExchangeServers.add(mime, to: mailbox) }
            let draft = try ExchangeServers.ewsAccount(mailbox) {
                $0.incoming.connection.url = nil
                $0.outgoing.connection.url = nil
            }
            #expect(AccountValidator.validate(draft).isEmpty, "no endpoint is allowed: Autodiscover finds it")
            #expect(draft.incoming.connection.ewsURL == "")
            let account = try await store.accounts.create(draft)
            let ewsURL = try ExchangeServers.ewsURL()
            try await EWSAutodiscover.$candidatesOverride.withValue(try Self.candidates()) { () async throws -> Void in
                let report = await ExchangeConnectionTest.ews(account, incoming: true)
                #expect(report.ok, "\(report.steps.map { "\($0.name): \($0.message ?? "")" })")
                #expect(report.steps.map(\.name) == ["autodiscover", "credentials", "folder"])
                #expect(report.steps.first?.message == "found \(ewsURL) for \(mailbox)")
                let fetcher = ExchangeFetcher(account: account,
                                              source: EWSMailboxSource(account: account, credentials: AccountCredentialSource(accounts: store.accounts)),
                                              pipeline: IngestPipeline(store: store.ingest, logger: quietLogger), fetchState: store.fetchState,
                                              quarantine: store.quarantine, status: AccountStatusBoard(), logger: quietLogger)
                let taken = try await fetcher.round()
                #expect(taken == 3)
            }
        }
    }
}
