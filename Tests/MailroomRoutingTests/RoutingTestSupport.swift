import Foundation
import Logging
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Synchronization
import Testing

let quietLogger: Logger = {
    var logger = Logger(label: "routing-test")
    logger.logLevel = .critical
    return logger
}()

/// A clock moved by hand: `sleep(until:)` returns once `advance` passes the deadline.
final class ManualClock: RoutingClock {
    private struct Sleeper {
        let deadline: Date
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Date
        var sleepers: [UInt64: Sleeper] = [:]
        var next: UInt64 = 0
    }

    private let state: Mutex<State>

    init(_ start: Date = Date(timeIntervalSince1970: 1_900_000_000)) {
        state = Mutex(State(now: start))
    }

    func now() -> Date { state.withLock { $0.now } }

    func advance(by seconds: TimeInterval) {
        let due = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now = state.now.addingTimeInterval(seconds)
            let now = state.now
            let keys = state.sleepers.filter { $0.value.deadline <= now }.map(\.key)
            return keys.compactMap { state.sleepers.removeValue(forKey: $0)?.continuation }
        }
        for continuation in due { continuation.resume() }
    }

    var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    func sleep(until deadline: Date) async throws {
        let key = state.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if deadline <= state.now || Task.isCancelled { return true }
                    state.sleepers[key] = Sleeper(deadline: deadline, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: key) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}

/// Keeps every published event for the test to look at.
final class RecordingPublisher: LiveEventPublisher {
    private let recorded = Mutex<[LiveEvent]>([])

    func publish(_ event: LiveEvent) { recorded.withLock { $0.append(event) } }

    var events: [LiveEvent] { recorded.withLock { $0 } }

    func clear() { recorded.withLock { $0.removeAll() } }

    func of(_ type: LiveEventType, to userId: String? = nil) -> [LiveEvent] {
        events.filter { event in
            guard event.type == type else { return false }
            guard let userId else { return true }
            if case .users(let ids) = event.audience { return ids.contains(userId) }
            return false
        }
    }
}

/// A store, a routing service on a manual clock, and helpers to make agents, queues and tickets.
struct RoutingFixture: Sendable {
    let store: SQLStore
    let clock: ManualClock
    let events: RecordingPublisher
    let service: RoutingService

    init(store: SQLStore) {
        self.store = store
        clock = ManualClock()
        events = RecordingPublisher()
        service = RoutingService(store: store, events: events, clock: clock, logger: quietLogger)
    }

    static func run(_ kind: TestDatabase = .sqlite, _ body: @escaping @Sendable (RoutingFixture) async throws -> Void) async throws {
        try await kind.withStore { store in try await body(RoutingFixture(store: store)) }
    }

    func account(key: String = "DESK", configure: (inout Account) -> Void = { _ in }) async throws -> Account {
        var account = Account(key: key, name: "Desk \(key)", fromAddress: "\(key.lowercased())@desk.example")
        account.waitForAgentSeconds = 10
        account.waitForQueueSeconds = 20
        configure(&account)
        return try await store.accounts.create(account)
    }

    func agent(_ name: String, presence: AgentPresence? = .online, capacity: Int = 10, role: Role = .agent) async throws -> User {
        let user = try await store.users.create(User(name: name, email: "\(name)-\(UUID().uuidString.prefix(6))@example.com".lowercased(),
                                                     role: role, capacity: capacity), passwordHash: nil)
        if let presence { _ = try await store.routing.setPresence(userId: user.id, presence: presence, now: clock.now()) }
        return user
    }

    func queue(_ name: String, _ strategy: QueueStrategy = .ringAll, timeout: Int = 30, members: [User], accounts: [Account] = []) async throws -> AgentQueue {
        try await store.routing.createQueue(AgentQueue(name: name, strategy: strategy, agentTimeoutSeconds: timeout,
                                                       members: members.map { QueueMember(userId: $0.id) }, accountIds: accounts.map(\.id)))
    }

    /// A new ticket from a customer, through the store's ingest.
    func ticket(_ account: Account, subject: String = "Help", from: String = "ann@example.com") async throws -> Ticket {
        let mail = InboundMail(rawSha256: "raw-\(UUID().uuidString)", rawSize: 10, contentHash: "hash-\(UUID().uuidString)", messageId: nil,
                               subject: subject, from: [EmailAddress(address: from)], date: nil, text: "Hi", html: nil)
        let outcome = try await store.ingest.ingest(mail, raw: Array("Subject: \(subject)\r\n\r\nHi\r\n".utf8), account: account, position: nil)
        let ticketId = try #require(outcome.ticketId)
        return try #require(try await store.tickets.ticket(id: ticketId))
    }

    func reload(_ ticket: Ticket) async throws -> Ticket {
        try #require(try await store.tickets.ticket(id: ticket.id))
    }

    func openOffers(_ user: User) async throws -> [OfferView] {
        try await store.routing.openOffers(userId: user.id, now: clock.now())
    }

    /// Moves the clock and lets the timer do what is due.
    func pass(_ seconds: TimeInterval) async {
        clock.advance(by: seconds)
        await service.tickDue()
    }
}

/// Polls until `condition` holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(20), _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(25))
    }
    return try await condition()
}
