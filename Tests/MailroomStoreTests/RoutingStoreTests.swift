import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Synchronization
import Testing

/// Account keys unique within the test process (at most 5 characters; random ones collided when a
/// test made many accounts in one store).
private let nextAccountNumber = Mutex(0)
private func uniqueAccountKey() -> String {
    let number = nextAccountNumber.withLock { value in
        value += 1
        return value
    }
    let digits = String(number, radix: 36, uppercase: true)
    return "RT" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
}

/// Queues, presence and routing machines, the same on SQLite and PostgreSQL.
@Suite struct RoutingStoreTests {
    static func ticket(_ store: SQLStore, subject: String = "Help") async throws -> (Account, String) {
        let account = try await store.accounts.create(Account(key: uniqueAccountKey(), name: "Routing \(UUID().uuidString.prefix(6))",
                                                              fromAddress: "desk@example.com"))
        let mail = InboundMail(rawSha256: "raw-\(UUID().uuidString)", rawSize: 10, contentHash: "hash-\(UUID().uuidString)", messageId: nil,
                               subject: subject, from: [EmailAddress(address: "ann@example.com")], date: nil, text: "Hi", html: nil)
        let outcome = try await store.ingest.ingest(mail, raw: Array("Subject: \(subject)\r\n\r\nHi\r\n".utf8), account: account, position: nil)
        return (account, try #require(outcome.ticketId))
    }

    static func agent(_ store: SQLStore, _ name: String, capacity: Int = 10) async throws -> User {
        try await store.users.create(User(name: name, email: "\(name)-\(UUID().uuidString.prefix(6))@example.com".lowercased(), role: .agent,
                                          capacity: capacity), passwordHash: nil)
    }

    @Test(arguments: TestDatabase.available)
    func queuesKeepMembersInOrderAndNamesUnique(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let ann = try await Self.agent(store, "ann")
            let bob = try await Self.agent(store, "bob")
            let (account, _) = try await Self.ticket(store)
            let created = try await store.routing.createQueue(AgentQueue(name: "Billing", strategy: .roundRobin, agentTimeoutSeconds: 20,
                                                                        members: [QueueMember(userId: bob.id, priority: 1), QueueMember(userId: ann.id)],
                                                                        accountIds: [account.id]))
            let found = try #require(try await store.routing.queue(id: created.id))
            #expect(found == created)
            #expect(found.members.map(\.userId) == [bob.id, ann.id])
            #expect(try await store.routing.queues(memberId: ann.id).map(\.id) == [created.id])
            await #expect(throws: DomainError.self) { _ = try await store.routing.createQueue(AgentQueue(name: "Billing")) }

            var changed = found
            changed.members = [QueueMember(userId: ann.id, priority: 2)]
            #expect(try await store.routing.updateQueue(changed))
            #expect(try await store.routing.queue(id: created.id)?.members == [QueueMember(userId: ann.id, priority: 2)])
            #expect(try await store.routing.queues(memberId: bob.id).isEmpty)

            try await store.accounts.delete(id: account.id, at: Date())
            #expect(try await store.routing.queue(id: created.id)?.accountIds == [], "deleting an account unlinks it from its queues")
            #expect(try await store.routing.deleteQueue(id: created.id))
            #expect(try await store.routing.queue(id: created.id) == nil)
            #expect(try await store.routing.deleteQueue(id: created.id) == false)
        }
    }

    @Test(arguments: TestDatabase.available)
    func presenceCapacityAndLoadMakeTheAgentsStatus(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let ann = try await Self.agent(store, "ann", capacity: 2)
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(try await store.routing.presence(userIds: [ann.id])[ann.id]?.state == .offline)
            let record = try await store.routing.setPresence(userId: ann.id, presence: .paused("lunch"), now: start)
            #expect(record == PresenceRecord(userId: ann.id, state: .paused, reason: "lunch", since: start))
            _ = try await store.routing.setPresence(userId: ann.id, presence: .online, now: start.addingTimeInterval(60))
            let (_, ticketId) = try await Self.ticket(store)
            _ = try await store.tickets.applyRouting(ticketId: ticketId, tags: [], priority: nil, queueId: nil, agentId: ann.id,
                                                     closeWithDisposition: nil)
            let status = try #require(try await store.routing.agentStatuses(userIds: [ann.id, "nobody"]).first { $0.userId == ann.id })
            #expect(status.presence == .online)
            #expect(status.capacity == 2)
            #expect(status.activeTickets == 1)
            #expect(status.idleSince == start.addingTimeInterval(60))
            let nobody = try #require(try await store.routing.agentStatuses(userIds: ["nobody"]).first)
            #expect(!nobody.isAvailable, "an unknown user is never offered anything")
        }
    }

    @Test(arguments: TestDatabase.available)
    func aCommitStoresTheMachineItsOffersAndTheTicketsAssignment(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let ann = try await Self.agent(store, "ann")
            let bob = try await Self.agent(store, "bob")
            let (account, ticketId) = try await Self.ticket(store)
            let queue = try await store.routing.createQueue(AgentQueue(name: "Q", members: [QueueMember(userId: ann.id), QueueMember(userId: bob.id)]))
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let context = RoutingContext(agents: [AgentStatus(userId: ann.id), AgentStatus(userId: bob.id)])
            var machine = TicketRouting(ticketId: ticketId)
            let actions = machine.start(.queue(queueId: queue.id), account: account, queues: [queue.id: queue], now: now, context: context)
            #expect(try await store.routing.commit(RoutingChange(ticketId: ticketId, expectedVersion: nil, previous: nil, machine: machine,
                                                                 actions: actions, closing: nil, now: now)))
            let stored = try #require(try await store.routing.routing(ticketId: ticketId))
            #expect(stored.machine == machine)
            #expect(stored.version == 1)
            #expect(try await store.routing.nextDeadline() == now.addingTimeInterval(30))
            #expect(try await store.routing.dueTickets(now: now).isEmpty)
            #expect(try await store.routing.dueTickets(now: now.addingTimeInterval(30)) == [ticketId])
            #expect(try await store.routing.openOffers(userId: ann.id, now: now).map(\.id) == [OfferView.id(ticketId: ticketId, index: 0)])
            #expect(try await store.tickets.ticket(id: ticketId)?.queueId == queue.id)
            #expect(try await store.routing.activeTickets(waitingFor: "someone", inQueues: [queue.id]) == [ticketId])

            // A second insert of a first machine loses, as does a stale version.
            #expect(try await store.routing.commit(RoutingChange(ticketId: ticketId, expectedVersion: nil, previous: nil, machine: machine,
                                                                 actions: [], closing: nil, now: now)) == false)
            var accepted = machine
            let acceptActions = accepted.offerAccepted(by: bob.id, at: now.addingTimeInterval(5), context: context)
            #expect(try await store.routing.commit(RoutingChange(ticketId: ticketId, expectedVersion: 7, previous: machine, machine: accepted,
                                                                 actions: acceptActions, closing: nil, now: now)) == false)
            #expect(try await store.routing.commit(RoutingChange(ticketId: ticketId, expectedVersion: 1, previous: machine, machine: accepted,
                                                                 actions: acceptActions, closing: nil, now: now.addingTimeInterval(5))))
            let ticket = try #require(try await store.tickets.ticket(id: ticketId))
            #expect(ticket.agentId == bob.id)
            #expect(ticket.status == .open)
            #expect(try await store.routing.offers(ticketId: ticketId).map(\.state).sorted { $0.rawValue < $1.rawValue } == [.accepted, .taken])
            #expect(try await store.routing.openOffers(userId: ann.id, now: now).isEmpty)
            #expect(try await store.routing.nextDeadline() == nil)
            #expect(try await store.routing.agentStatuses(userIds: [bob.id]).first?.idleSince == now.addingTimeInterval(5))
        }
    }

    /// Two accepts computed from the same version, committed at once: exactly one is stored.
    @Test(arguments: TestDatabase.available)
    func twoConcurrentAcceptsExactlyOneWins(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let ann = try await Self.agent(store, "ann")
            let bob = try await Self.agent(store, "bob")
            let queue = try await store.routing.createQueue(AgentQueue(name: "Race", members: [QueueMember(userId: ann.id), QueueMember(userId: bob.id)]))
            let context = RoutingContext(agents: [AgentStatus(userId: ann.id), AgentStatus(userId: bob.id)])
            let now = Date()
            for _ in 0..<10 {
                let (account, ticketId) = try await Self.ticket(store)
                var machine = TicketRouting(ticketId: ticketId)
                let actions = machine.start(.queue(queueId: queue.id), account: account, queues: [queue.id: queue], now: now, context: context)
                #expect(try await store.routing.commit(RoutingChange(ticketId: ticketId, expectedVersion: nil, previous: nil, machine: machine,
                                                                     actions: actions, closing: nil, now: now)))
                let offered = machine
                let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for agent in [ann.id, bob.id] {
                        group.addTask {
                            var mine = offered
                            let mineActions = mine.offerAccepted(by: agent, at: now, context: context)
                            return try await store.routing.commit(RoutingChange(ticketId: ticketId, expectedVersion: 1, previous: offered,
                                                                                machine: mine, actions: mineActions, closing: nil, now: now))
                        }
                    }
                    var results: [Bool] = []
                    for try await result in group { results.append(result) }
                    return results
                }
                #expect(wins.filter { $0 }.count == 1)
                let agentId = try #require(try await store.tickets.ticket(id: ticketId)?.agentId)
                #expect(try await store.routing.offers(ticketId: ticketId).filter { $0.state == .accepted }.map(\.userId) == [agentId])
            }
        }
    }
}
