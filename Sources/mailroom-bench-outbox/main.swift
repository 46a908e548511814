import Foundation
import Logging
import MailMessage
import MailroomCore
import MailroomStore
import MailroomWorkers

/// Outbox throughput: COUNT replies of about SIZE bytes queued in a fresh SQLite store, then sent
/// by the outbox sender (`sendAllDue`, as the service does) to an SMTP server over CONNECTIONS
/// connections. Prints one line of figures, with the CPU time of the sending phase per message.
/// Optional environment: MAILROOM_BENCH_BATCH (rows per claim, default 200), MAILROOM_BENCH_WINDOW
/// (unrecorded outcomes per connection, default the sender's).
/// Usage: mailroom-bench-outbox HOST PORT COUNT SIZE CONNECTIONS
@main
struct OutboxBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 6, let port = Int(arguments[2]), let count = Int(arguments[3]), let size = Int(arguments[4]),
              let connections = Int(arguments[5]) else {
            print("usage: mailroom-bench-outbox HOST PORT COUNT SIZE CONNECTIONS")
            exit(2)
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mr-bench-outbox-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try await MailroomDatabase.open(.sqlite(path: directory + "/bench.sqlite"), logger: logger)
        try await Migrator.migrate(database, logger: logger)
        let store = SQLStore(database: database, secrets: .random(), logger: logger)

        var account = Account(key: "B", name: "Bench", fromAddress: "desk@bench.example")
        account.outgoing = OutgoingServer(protocol: .smtp, connection: ServerConnection(
            host: arguments[1], port: port, security: .none, auth: ServerAuth(method: .none)))
        let stored = try await store.accounts.create(account)
        let customer = Array("From: Ann <ann@example.com>\r\nSubject: Question\r\nMessage-ID: <q@example.com>\r\n\r\nHello\r\n".utf8)
        let ticketId = try await store.ingest.ingest(try InboundMailParser.parse(customer), raw: customer, account: stored, position: nil).ticketId!

        // A realistic reply body: text lines of varying length up to SIZE bytes.
        let line = "Thank you for your message. We have looked into your order and it ships today. "
        let body = String(String(repeating: line + "\n", count: size / line.count + 1).prefix(size))
        for index in 0..<count {
            var builder = MessageBuilder(from: Mailbox(name: "Desk", address: "desk@bench.example"))
            builder.to = [Mailbox(address: "customer\(index)@example.com")]
            builder.subject = "Re: Question [Ticket#\(index)]"
            builder.text = body
            let raw = builder.withGeneratedMessageID().build()
            _ = try await store.outbox.enqueue(try InboundMailParser.parse(raw), raw: raw, ticketId: ticketId, sendingAccountId: stored.id,
                                               envelopeFrom: "desk@bench.example", recipients: ["customer\(index)@example.com"])
        }

        // On standard error, so a profiler can be attached to the sending phase alone.
        FileHandle.standardError.write(Data("queued \(count), sending (pid \(getpid()))\n".utf8))
        let environment = ProcessInfo.processInfo.environment
        let batchSize = environment["MAILROOM_BENCH_BATCH"].flatMap(Int.init) ?? 200
        let sender = if let window = environment["MAILROOM_BENCH_WINDOW"].flatMap(Int.init) {
            OutboxSender(store: store, logger: logger, owner: "bench", batchSize: batchSize, connectionsPerAccount: connections,
                         unrecordedPerConnection: window)
        } else {
            OutboxSender(store: store, logger: logger, owner: "bench", batchSize: batchSize, connectionsPerAccount: connections)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let cpuStart = Self.processCPUSeconds()
        await sender.sendAllDue()
        let cpu = Self.processCPUSeconds() - cpuStart
        let elapsed = clock.now - start
        FileHandle.standardError.write(Data("sent\n".utf8))
        let sent = try await store.outbox.items(state: .sent, limit: count + 1).count
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "mailroom-outbox connections=%d sent=%d seconds=%.2f msg/s=%.0f cpu-us/msg=%.0f", connections, sent, seconds,
                     Double(sent) / seconds, cpu * 1e6 / Double(max(1, sent))))
        await database.close()
    }

    /// User and system CPU time of this process so far (every thread).
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
