import ExchangeClient
import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWorkers
import Testing

/// Graph keeps a Sent Items copy of every MIME sendMail; the account's sent folder decides what
/// happens to it after the send: kept (`sentitems`), deleted for good (none), or moved (another folder).
@Suite(.enabled(if: ExchangeServers.available)) struct GraphSentCopyTests {
    @Test func thePolicyFollowsTheSentFolder() {
        #expect(GraphSentCopyPolicy(sentFolder: "sentitems") == .keep)
        #expect(GraphSentCopyPolicy(sentFolder: "Sent Items") == .keep)
        #expect(GraphSentCopyPolicy(sentFolder: nil) == .delete)
        #expect(GraphSentCopyPolicy(sentFolder: "  ") == .delete)
        #expect(GraphSentCopyPolicy(sentFolder: "Replies/Europe") == .move(folder: "Replies/Europe"))
    }

    func send(_ store: SQLStore, desk: String, sentFolder: String?) async throws {
        let account = try ExchangeServers.graphAccount(desk) { $0.outgoing.sentFolder = sentFolder }
        let (_, item, _) = try await ExchangeSendTests().queued(store, account: account, to: ExchangeServers.newMailbox())
        #expect(await OutboxSender(store: store, logger: quietLogger, owner: "test").sendDue() == 1)
        #expect(try await store.outbox.item(id: item.id)?.state == .sent)
    }

    @Test func withoutASentFolderTheCopyIsDeletedForGood() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let desk = ExchangeServers.newMailbox()
            try await send(store, desk: desk, sentFolder: nil)
            #expect(try await eventually { try await ExchangeServers.messages(in: desk, folder: "sentitems").isEmpty })
            #expect(try await ExchangeServers.messages(in: desk, folder: "deleteditems").isEmpty, "not moved to Deleted Items")
        }
    }

    @Test func anotherSentFolderGetsTheCopy() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let desk = ExchangeServers.newMailbox()
            try await ExchangeServers.control(.POST, "/mailboxes/\(ExchangeServers.quoted(desk))/folders", ["name": "Replies"])
            try await send(store, desk: desk, sentFolder: "Replies")
            #expect(try await eventually { try await ExchangeServers.messages(in: desk, folder: "Replies").count == 1 })
            #expect(try await ExchangeServers.messages(in: desk, folder: "sentitems").isEmpty)
        }
    }
}
