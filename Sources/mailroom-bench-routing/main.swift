import Foundation
import Logging
import MailroomCore
import MailroomStore
import MailroomWorkers
import Synchronization

// Routing benchmark (BENCHMARKS.md "Routing"):
//  1. the pure state machine: start + accept decisions for N tickets over 50 queues and 1,000 agents;
//  2. the same decisions through RoutingService and the SQLite store (read machine and agents,
//     decide, conditional commit, offers, live events);
//  3. latency from an ingested ticket's commit to its offer event on the live event stream.
// Usage: mailroom-bench-routing [--tickets N] [--workers W] [--latency-samples S] [--dir PATH]

struct Options {
    var tickets = 100_000
    var workers = 4
    var latencySamples = 1_000
    var directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailroom-bench-routing-\(UUID().uuidString)").path
    let queues = 50
    let agents = 1_000

    init(arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--tickets": tickets = iterator.next().flatMap(Int.init) ?? tickets
            case "--workers": workers = iterator.next().flatMap(Int.init) ?? workers
            case "--latency-samples": latencySamples = iterator.next().flatMap(Int.init) ?? latencySamples
            case "--dir": directory = iterator.next() ?? directory
            default: FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8)); exit(2)
            }
        }
    }
}

let options = Options(arguments: CommandLine.arguments)
let logger: Logger = {
    var logger = Logger(label: "bench-routing")
    logger.logLevel = .error
    return logger
}()

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

let strategies: [QueueStrategy] = [.ringAll, .roundRobin, .leastRecent]

// MARK: 1. Pure state machine

func pureStateMachine() -> (starts: Double, accepts: Double) {
    let perQueue = options.agents / options.queues
    var queues: [AgentQueue] = []
    var contexts: [RoutingContext] = []
    for q in 0..<options.queues {
        let members = (0..<perQueue).map { QueueMember(userId: "agent-\(q * perQueue + $0)", priority: $0 % 2) }
        queues.append(AgentQueue(id: "queue-\(q)", name: "Queue \(q)", strategy: strategies[q % strategies.count], agentTimeoutSeconds: 300,
                                 members: members))
        contexts.append(RoutingContext(agents: members.map { AgentStatus(userId: $0.userId, capacity: 1_000_000,
                                                                          idleSince: Date(timeIntervalSince1970: Double($0.userId.hashValue & 0xffff))) }))
    }
    let now = Date()
    var machines: [TicketRouting] = []
    machines.reserveCapacity(options.tickets)
    var offered = 0
    let clock = ContinuousClock()
    let startTime = clock.measure {
        for index in 0..<options.tickets {
            var machine = TicketRouting(ticketId: "t\(index)")
            let q = index % options.queues
            var context = contexts[q]
            let actions = machine.offerToQueue(queues[q], now: now, context: context)
            for case .recordLastOffered(let queueId, let userId) in actions {
                context.lastOffered[queueId] = userId
                contexts[q] = context
            }
            offered += machine.openOffers.count
            machines.append(machine)
        }
    }
    var assigned = 0
    let acceptTime = clock.measure {
        for index in machines.indices {
            guard let first = machines[index].openOffers.first else { continue }
            let actions = machines[index].offerAccepted(by: first.userId, at: now, context: contexts[index % options.queues])
            if actions.contains(.assign(to: first.userId)) { assigned += 1 }
        }
    }
    precondition(assigned == options.tickets, "every ticket must be assigned, got \(assigned)")
    print(String(format: "pure state machine: %d tickets, %d offers made; start %.0f decisions/s, accept %.0f decisions/s",
                 options.tickets, offered, Double(options.tickets) / seconds(startTime), Double(options.tickets) / seconds(acceptTime)))
    return (Double(options.tickets) / seconds(startTime), Double(options.tickets) / seconds(acceptTime))
}

// MARK: 2. Service and SQLite store

/// Counts offer events without keeping them.
final class CountingPublisher: LiveEventPublisher {
    let counts = Mutex<[LiveEventType: Int]>([:])
    func publish(_ event: LiveEvent) { counts.withLock { $0[event.type, default: 0] += 1 } }
}

func setUp(_ store: SQLStore) async throws -> (Account, [AgentQueue]) {
    let account = try await store.accounts.create(Account(key: "BENCH", name: "Bench", fromAddress: "desk@bench.example"))
    var userIds: [String] = []
    let now = Date()
    for index in 0..<options.agents {
        let user = try await store.users.create(User(name: "Agent \(index)", email: "agent\(index)@bench.example", role: .agent,
                                                     capacity: 1_000), passwordHash: nil)
        _ = try await store.routing.setPresence(userId: user.id, presence: .online, now: now)
        userIds.append(user.id)
    }
    let perQueue = options.agents / options.queues
    var queues: [AgentQueue] = []
    for q in 0..<options.queues {
        let members = (0..<perQueue).map { QueueMember(userId: userIds[q * perQueue + $0], priority: $0 % 2) }
        queues.append(try await store.routing.createQueue(AgentQueue(name: "Queue \(q)", strategy: strategies[q % strategies.count],
                                                                    agentTimeoutSeconds: 300, members: members)))
    }
    return (account, queues)
}

/// Tickets written directly (not the part measured): one customer, N tickets, in one transaction.
func insertTickets(_ store: SQLStore, account: Account, count: Int) async throws -> [String] {
    let ids = (0..<count).map { _ in Identifier.make() }
    let millis = Int64(Date().timeIntervalSince1970 * 1000)
    try await store.database.transaction { db in
        try await db.raw("INSERT INTO customers (id, address, name, created_at) VALUES ('bench-customer', 'customer@bench.example', NULL, \(bind: millis))").run()
        for (index, id) in ids.enumerated() {
            try await db.raw("""
                INSERT INTO tickets (id, number, account_id, subject, normalized_subject, status, priority, customer_id, customer_address,
                    customer_name, queue_id, agent_id, tags, escalated, unread, message_count, created_at, updated_at, last_message_at, last_direction)
                VALUES (\(bind: id), \(bind: 100_000 + index), \(bind: account.id), 'Bench', 'bench', 'new', 'medium', 'bench-customer',
                    'customer@bench.example', NULL, NULL, NULL, '[]', \(bind: false), \(bind: true), 1, \(bind: millis), \(bind: millis), \(bind: millis), 'in')
                """).run()
        }
    }
    return ids
}

/// The first time each ticket was seen.
final class Times: Sendable {
    private let times = Mutex<[String: ContinuousClock.Instant]>([:])
    func record(_ ticketId: String) {
        let now = ContinuousClock.now
        times.withLock { if $0[ticketId] == nil { $0[ticketId] = now } }
    }
    var all: [String: ContinuousClock.Instant] { times.withLock { $0 } }
}

final class NextIndex: Sendable {
    private let value = Mutex(0)
    func take() -> Int {
        value.withLock { value in
            defer { value += 1 }
            return value
        }
    }
}

func inParallel(_ items: [String], workers: Int, _ body: @escaping @Sendable (Int, String) async throws -> Void) async throws {
    let next = NextIndex()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<max(1, workers) {
            group.addTask {
                while true {
                    let index = next.take()
                    guard index < items.count else { return }
                    try await body(index, items[index])
                }
            }
        }
        try await group.waitForAll()
    }
}

func serviceAndStore() async throws -> (starts: Double, accepts: Double) {
    let path = options.directory + "/service.sqlite"
    let database = try await MailroomDatabase.open(.sqlite(path: path), logger: logger)
    try await Migrator.migrate(database, logger: logger)
    let store = SQLStore(database: database, secrets: SecretBox.random(), logger: logger)
    let (account, queues) = try await setUp(store)
    let ticketIds = try await insertTickets(store, account: account, count: options.tickets)
    let publisher = CountingPublisher()
    let service = RoutingService(store: store, events: publisher, logger: logger)
    let clock = ContinuousClock()

    let startTime = try await clock.measure {
        try await inParallel(ticketIds, workers: options.workers) { index, ticketId in
            try await service.start(ticketId: ticketId, target: .queue(queueId: queues[index % queues.count].id))
        }
    }
    let offers = publisher.counts.withLock { $0[.offer] ?? 0 }
    let acceptTime = try await clock.measure {
        try await inParallel(ticketIds, workers: options.workers) { _, ticketId in
            guard let offer = try await store.routing.offers(ticketId: ticketId).first(where: { $0.state == .offered }) else {
                throw BenchError("ticket \(ticketId) has no open offer")
            }
            _ = try await service.accept(offerId: offer.id, by: offer.userId)
        }
    }
    let assigned = try await database.withConnection { db in
        try await db.raw("SELECT COUNT(*) AS n FROM tickets WHERE agent_id IS NOT NULL").first()?.decode(column: "n", as: Int.self) ?? 0
    }
    precondition(assigned == options.tickets, "every ticket must be assigned, got \(assigned)")
    await database.close()
    print(String(format: "service + SQLite (%d workers): %d tickets, %d offer events; start %.0f decisions/s (%.1f s), accept %.0f decisions/s (%.1f s)",
                 options.workers, options.tickets, offers, Double(options.tickets) / seconds(startTime), seconds(startTime),
                 Double(options.tickets) / seconds(acceptTime), seconds(acceptTime)))
    return (Double(options.tickets) / seconds(startTime), Double(options.tickets) / seconds(acceptTime))
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: 3. Commit to offer event

func commitToOffer() async throws -> (median: Double, p99: Double) {
    let path = options.directory + "/latency.sqlite"
    let database = try await MailroomDatabase.open(.sqlite(path: path), logger: logger)
    try await Migrator.migrate(database, logger: logger)
    let store = SQLStore(database: database, secrets: SecretBox.random(), logger: logger)
    let (account, queues) = try await setUp(store)
    _ = try await store.rules.create(try RoutingRule.decode(try JSONCoding.decoder.decode(JSONValue.self, from: Data("""
        {"accountId": "\(account.id)", "name": "Everything to queue 0", "actions": [{"type": "queue", "queueId": "\(queues[0].id)"}]}
        """.utf8))))
    let hub = LiveEventHub(historyLimit: 10, bufferLimit: 100_000)
    let service = RoutingService(store: store, events: hub, logger: logger)
    let step = RoutingStep(store: store, logger: logger, service: service)
    let committed = Times()
    let delivered = Times()
    let pipeline = IngestPipeline(tickets: store.tickets, logger: logger, afterCommit: { outcome, account in
        if let ticketId = outcome.ticketId { committed.record(ticketId) }
        await step.run(after: outcome, account: account)
    })
    let subscription = hub.subscribe()
    let listener = Task {
        for await event in subscription.events where event.type == .offer {
            guard case .string(let ticketId)? = event.data["ticketId"] else { continue }
            delivered.record(ticketId)
        }
    }
    for index in 0..<options.latencySamples {
        let raw = "From: Customer \(index) <c\(index)@bench.example>\r\nTo: desk@bench.example\r\nSubject: Question \(index)\r\n"
            + "Message-ID: <latency-\(index)@bench.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nHello \(index)\r\n"
        _ = try await pipeline.process(Array(raw.utf8), account: account, position: nil, source: "bench")
    }
    try await Task.sleep(for: .milliseconds(200))
    listener.cancel()
    let starts = committed.all
    let ends = delivered.all
    let samples = starts.compactMap { ticketId, start in ends[ticketId].map { seconds($0 - start) * 1000 } }.sorted()
    precondition(samples.count == options.latencySamples, "every ticket must reach the stream, got \(samples.count)")
    await database.close()
    let median = percentile(samples, 0.5)
    let p99 = percentile(samples, 0.99)
    print(String(format: "commit to offer event (%d tickets through ingest, rules, service, hub): median %.2f ms, p99 %.2f ms, max %.2f ms",
                 samples.count, median, p99, samples.last ?? .nan))
    return (median, p99)
}

try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: options.directory) }
print("routing benchmark: \(options.tickets) tickets, \(options.queues) queues, \(options.agents) agents (strategies ringAll/roundRobin/leastRecent in turn, 20 members each in two priorities)")
_ = pureStateMachine()
_ = try await commitToOffer()
_ = try await serviceAndStore()
