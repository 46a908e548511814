import ExchangeClient
import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// EWS with an OAuth2 bearer token (application access: the mailbox named by impersonation),
/// built from the account as `mailroom serve` builds it: fetching, and streaming notifications
/// bringing new mail without waiting for the interval.
@Suite(.enabled(if: ExchangeServers.available)) struct EWSBearerPushTests {
    static func bearerAccount(_ mailbox: String) throws -> Account {
        let token = try ExchangeServers.token()
        return try ExchangeServers.ewsAccount(mailbox) {
            $0.incoming.connection.auth = ServerAuth(method: .oauth2, username: mailbox,
                                                     oauth2: OAuth2Settings(email: mailbox, clientId: "mailroom-test",
                                                                            accessToken: Secret(token)))
            $0.incoming.fetchIntervalSeconds = 120
        }
    }

    @Test func streamingNotificationsWorkWithABearerToken() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let mailbox = ExchangeServers.newMailbox()
            try await ExchangeServers.add(GraphFetcherTests.messages(1...1, tag: "Bearer")[0], to: mailbox)
            let account = try await store.accounts.create(try Self.bearerAccount(mailbox))
            let source = EWSMailboxSource(account: account, credentials: AccountCredentialSource(accounts: store.accounts))
            let fetcher = ExchangeFetcher(account: account, source: source, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                          fetchState: store.fetchState, quarantine: store.quarantine, status: AccountStatusBoard(),
                                          logger: quietLogger)
            let task = Task { await fetcher.run() }
            defer { task.cancel() }
            #expect(try await EWSFetcherTests.waitFor(1, messagesOf: account.id, in: store), "the first round with the bearer token")
            try await Task.sleep(for: .milliseconds(500))  // the subscription and its stream are in place
            for round in 1...2 {
                try await ExchangeServers.add(GraphFetcherTests.messages(2...2, tag: "Bearer push \(round)")[0], to: mailbox)
                // waitFor gives up after 15 s, well before the two-minute interval.
                #expect(try await EWSFetcherTests.waitFor(1 + round, messagesOf: account.id, in: store), "pushed message \(round)")
            }
        }
    }
}
