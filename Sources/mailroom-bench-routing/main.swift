import Foundation
import Hummingbird
import Logging
import MailroomCore
import MailroomStore
import MailroomWeb
import MailroomWorkers
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Routing benchmark (BENCHMARKS.md "Routing"):
//  1. the pure state machine: start + accept decisions for N tickets over 50 queues and 1,000 agents;
//  2. the same decisions through RoutingService and the SQLite store (read machine and agents,
//     decide, conditional commit, offers, live events);
//  3. latency from an ingested ticket's commit to its offer event on the live event stream, as the
//     in-process hub hands it over and as an agent's HTTP client reads it from `GET /api/v1/events`.
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

/// Agents' capacities are set as high as in the pure run: with nobody accepting during the start
/// phase, least recent offers all of its queue's tickets to the member idle longest, who would
/// otherwise hit a realistic capacity in the accept phase.
func setUp(_ store: SQLStore) async throws -> (Account, [AgentQueue]) {
    let account = try await store.accounts.create(Account(key: "BENCH", name: "Bench", fromAddress: "desk@bench.example"))
    var userIds: [String] = []
    let now = Date()
    for index in 0..<options.agents {
        let user = try await store.users.create(User(name: "Agent \(index)", email: "agent\(index)@bench.example", role: .agent,
                                                     capacity: 1_000_000), passwordHash: nil)
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
    func record(_ ticketId: String, at now: ContinuousClock.Instant = .now) {
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
            // Any one of the open offers (ring all offers a ticket to several agents), so the accepted
            // tickets spread over the members as they would and no agent runs into their capacity.
            guard let offer = try await store.routing.offers(ticketId: ticketId).filter({ $0.state == .offered }).randomElement() else {
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

/// An agent's event stream read over HTTP on a plain blocking socket, on a thread of its own (so
/// the reader never waits behind the server's tasks): records when each offer's ticket id arrives.
final class HTTPStreamReader: @unchecked Sendable {
    let times: Times
    private let fd: Int32

    init(port: Int, token: String) throws {
        let times = Times()
        self.times = times
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw BenchError("cannot connect to the event stream on port \(port)") }
        var noDelay: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        let request = "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nAccept: text/event-stream\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        self.fd = fd
        let descriptor = fd
        let thread = Thread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let marker = Array(#""ticketId":""#.utf8)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count <= 0 { return }
                let now = ContinuousClock.now
                pending.append(contentsOf: buffer[0..<count])
                // Offer events carry `"ticketId":"…"` in their data line; chunk headers never contain it.
                var searchFrom = 0
                while let start = findBytes(marker, in: pending, from: searchFrom) {
                    let valueStart = start + marker.count
                    guard let end = pending[valueStart...].firstIndex(of: UInt8(ascii: "\"")) else { break }
                    let eventStart = findBytesBackwards(Array("event: ".utf8), in: pending, before: start)
                    if let eventStart, pending[eventStart...].starts(with: Array("event: offer\n".utf8)) {
                        times.record(String(decoding: pending[valueStart..<end], as: UTF8.self), at: now)
                    }
                    searchFrom = end
                }
                pending.removeFirst(min(searchFrom, pending.count))
            }
        }
        thread.start()
    }

    func close() { shutdown(fd, Int32(SHUT_RDWR)); Glibc.close(fd) }
}

func findBytes(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
    guard haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
    for index in from...(haystack.count - needle.count) where haystack[index] == needle[0] {
        if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
    }
    return nil
}

func findBytesBackwards(_ needle: [UInt8], in haystack: [UInt8], before: Int) -> Int? {
    var index = before - needle.count
    while index >= 0 {
        if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
        index -= 1
    }
    return nil
}

struct LatencyFigures {
    var median: Double
    var p99: Double
    var max: Double
    var count: Int
}

func latencies(from starts: [String: ContinuousClock.Instant], to ends: [String: ContinuousClock.Instant]) -> LatencyFigures {
    let samples = starts.compactMap { ticketId, start in ends[ticketId].map { seconds($0 - start) * 1000 } }.sorted()
    return LatencyFigures(median: percentile(samples, 0.5), p99: percentile(samples, 0.99), max: samples.last ?? .nan, count: samples.count)
}

/// The server's own log: cancelling it at the end reports the open stream as an error.
let quietLogger: Logger = {
    var logger = Logger(label: "bench-routing-server")
    logger.logLevel = .critical
    return logger
}()

func commitToOffer() async throws {
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
    let handedOver = Times()
    let pipeline = IngestPipeline(store: store.ingest, logger: logger, afterCommit: { outcome, account in
        if let ticketId = outcome.ticketId { committed.record(ticketId) }
        await step.run(after: outcome, account: account)
    })

    // The server an agent's screen talks to, with the same router `mailroom serve` builds.
    let agentId = queues[0].members[0].userId
    let secret = TokenHasher.newToken()
    _ = try await store.tokens.create(APIToken(id: "", userId: agentId, name: "bench", createdAt: Date()), hash: TokenHasher.hash(secret))
    let router = APIRouter.build(WebDependencies(store: store, adminToken: nil, metricsText: { "" }, events: hub, routing: service))
    let boundPort = Mutex<Int?>(nil)
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "bench"),
                          onServerRunning: { channel in boundPort.withLock { $0 = channel.localAddress?.port } }, logger: quietLogger)
    let server = Task { try await app.runService(gracefulShutdownSignals: []) }
    var port: Int?
    for _ in 0..<500 where port == nil {
        try await Task.sleep(for: .milliseconds(10))
        port = boundPort.withLock { $0 }
    }
    guard let port else { throw BenchError("the HTTP server did not start") }
    let reader = try HTTPStreamReader(port: port, token: secret)

    let subscription = hub.subscribe()
    let listener = Task {
        for await event in subscription.events where event.type == .offer {
            guard case .string(let ticketId)? = event.data["ticketId"] else { continue }
            handedOver.record(ticketId)
        }
    }
    try await Task.sleep(for: .milliseconds(300))
    for index in 0..<options.latencySamples {
        let raw = "From: Customer \(index) <c\(index)@bench.example>\r\nTo: desk@bench.example\r\nSubject: Question \(index)\r\n"
            + "Message-ID: <latency-\(index)@bench.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nHello \(index)\r\n"
        _ = try await pipeline.process(Array(raw.utf8), account: account, position: nil, source: "bench")
        // One message at a time, as mail arrives: each offer is measured on a quiet stream.
        try await Task.sleep(for: .milliseconds(5))
    }
    try await Task.sleep(for: .milliseconds(500))
    listener.cancel()
    reader.close()
    server.cancel()
    _ = try? await server.value
    let starts = committed.all
    let hubFigures = latencies(from: starts, to: handedOver.all)
    let streamFigures = latencies(from: starts, to: reader.times.all)
    precondition(hubFigures.count == options.latencySamples, "every ticket must reach the hub, got \(hubFigures.count)")
    precondition(streamFigures.count == options.latencySamples, "every offer must reach the HTTP stream, got \(streamFigures.count)")
    await database.close()
    print(String(format: "commit to offer event handed over by the hub (%d tickets through ingest, rules, service): median %.2f ms, p99 %.2f ms, max %.2f ms",
                 hubFigures.count, hubFigures.median, hubFigures.p99, hubFigures.max))
    print(String(format: "commit to offer event read by the agent's HTTP client from GET /api/v1/events: median %.2f ms, p99 %.2f ms, max %.2f ms",
                 streamFigures.median, streamFigures.p99, streamFigures.max))
}

try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: options.directory) }
print("routing benchmark: \(options.tickets) tickets, \(options.queues) queues, \(options.agents) agents (strategies ringAll/roundRobin/leastRecent in turn, 20 members each in two priorities)")
_ = pureStateMachine()
try await commitToOffer()
_ = try await serviceAndStore()
