import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// Motion's "Active" (issue 24), the fetching side, against the real Dovecot: an inactive account
/// is not fetched (its mail stays on the server, no ticket), switching it on fetches what waited,
/// and switching an account off stops its fetcher without a restart. (The sending side is in
/// OutboxSenderTests: replies wait with "account inactive".)
@Suite(.enabled(if: Dovecot.available)) struct InactiveAccountFetchTests {
    @Test func anInactiveAccountIsNotFetchedUntilItIsSwitchedOn() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let activeUser = Dovecot.newUser()
            let sleepingUser = Dovecot.newUser()
            try await Dovecot.deliver([mailText(subject: "To the active one", messageId: "active-\(activeUser)@x")], to: activeUser)
            try await Dovecot.deliver([mailText(subject: "To the sleeping one", messageId: "sleeping-\(sleepingUser)@x")], to: sleepingUser)
            let active = try await store.accounts.create(try Dovecot.account(user: activeUser, key: "ACT"))
            var sleeping = try await store.accounts.create(try Dovecot.account(user: sleepingUser, key: "OFF") { $0.active = false })
            #expect(sleeping.active == false)
            let (activeId, sleepingId) = (active.id, sleeping.id)

            let supervisor = FetcherSupervisor(store: store, pipeline: IngestPipeline(store: store.ingest, logger: quietLogger),
                                               status: AccountStatusBoard(), logger: quietLogger, reconcileInterval: .milliseconds(200))
            let task = Task { try await supervisor.run() }
            defer { task.cancel() }

            #expect(try await eventually { try await messageCount(store, accountId: activeId) == 1 })
            // Several rounds later (the fetch interval is one second) the inactive account has fetched nothing.
            try await Task.sleep(for: .seconds(3))
            #expect(try await messageCount(store, accountId: sleeping.id) == 0, "an inactive account is not fetched")
            #expect(await supervisor.runningAccounts == [active.id])
            #expect(try await Dovecot.inboxUIDs(sleepingUser).count == 1, "its mail waits on the server")

            // Switched on, it fetches what waited; switched off, the other one stops.
            sleeping.active = true
            sleeping = try await store.accounts.update(sleeping)
            supervisor.wake()
            #expect(try await eventually { try await messageCount(store, accountId: sleepingId) == 1 })

            var stopped = active
            stopped.active = false
            stopped = try await store.accounts.update(stopped)
            supervisor.wake()
            #expect(try await eventually { await supervisor.runningAccounts == [sleepingId] })
            try await Dovecot.deliver([mailText(subject: "After switching off", messageId: "late-\(activeUser)@x")], to: activeUser)
            try await Task.sleep(for: .seconds(3))
            #expect(try await messageCount(store, accountId: stopped.id) == 1, "mail after switching off is not fetched")
        }
    }
}
