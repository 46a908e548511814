// Benchmark driver for Mailroom's protocol clients (see benchmarks/clients/run.sh).
//   mailroom-client-bench imap HOST PORT USER PASSWORD [BATCH]   fetch every message of INBOX
//   mailroom-client-bench smtp HOST PORT COUNT SIZE              send COUNT messages of SIZE bytes
// Prints one JSON object: {"client", "messages", "bytes", "seconds"}.
#if canImport(Glibc)
import Glibc
#endif
import IMAPClient
import MailTransport
import NIOCore
import SMTPClient

/// Called one at a time by the connection (never concurrently), so plain fields suffice.
final class CountingSink: IMAPFetchSink, @unchecked Sendable {
    var messages = 0
    var bytes = 0
    func begin(_ start: IMAPSectionStart) {}
    func write(_ chunk: ByteBuffer) { bytes += chunk.readableBytes }
    func end(_ message: IMAPFetchedAttributes) { messages += 1 }
}

extension SMTPConnection {
    /// The sending loop runs on the connection's own executor (as an outbox sender holding one
    /// connection would), so each message costs no thread hop.
    func sendRepeatedly(count: Int, message: [UInt8]) async throws {
        for _ in 0..<count {
            _ = try await send(from: "bench@example.test", to: ["sink@example.test"], message: message)
        }
    }
}

extension IMAPConnection {
    /// The fetch loop runs on the connection's own executor, as a fetcher holding one
    /// connection would.
    func fetchAll(_ uids: [IMAPUID], batch: Int, into sink: CountingSink) async throws {
        try await uidFetch(IMAPUIDSet(uids), items: IMAPFetchItems("UID BODY.PEEK[]"), batchSize: batch, into: sink)
    }
}

func seconds(_ d: Duration) -> Double { d.milliseconds / 1000 }

let args = CommandLine.arguments
guard args.count >= 2 else {
    print("usage: mailroom-client-bench imap HOST PORT USER PASSWORD [BATCH] | smtp HOST PORT COUNT SIZE")
    exit(2)
}

switch args[1] {
case "imap":
    let endpoint = MailEndpoint(host: args[2], port: Int(args[3])!, security: .none, commandTimeout: .seconds(300))
    let batch = args.count > 6 ? Int(args[6])! : 500
    let start = ContinuousClock.now
    let imap = try await IMAPConnection.connect(to: endpoint, credentials: .password(args[4], args[5]))
    _ = try await imap.examine("INBOX")
    let uids = try await imap.uidSearch(.all)
    let sink = CountingSink()
    try await withTaskExecutorPreference(imap.connection.taskExecutor) {
        try await imap.fetchAll(uids, batch: batch, into: sink)
    }
    await imap.logout()
    let elapsed = ContinuousClock.now - start
    print("{\"client\": \"mailroom-imap\", \"messages\": \(sink.messages), \"bytes\": \(sink.bytes), \"seconds\": \(seconds(elapsed))}")
case "smtp":
    let endpoint = MailEndpoint(host: args[2], port: Int(args[3])!, security: .none)
    let count = Int(args[4])!
    let size = Int(args[5])!
    var message = Array("From: <bench@example.test>\r\nTo: <sink@example.test>\r\nSubject: benchmark\r\n\r\n".utf8)
    let line = Array(String(repeating: "x", count: 70).utf8) + [13, 10]
    while message.count < size { message += line }
    let start = ContinuousClock.now
    let smtp = try await SMTPConnection.connect(to: endpoint, credentials: nil)
    try await withTaskExecutorPreference(smtp.connection.taskExecutor) {
        try await smtp.sendRepeatedly(count: count, message: message)
    }
    await smtp.quit()
    let elapsed = ContinuousClock.now - start
    print("{\"client\": \"mailroom-smtp\", \"messages\": \(count), \"bytes\": \(count * message.count), \"seconds\": \(seconds(elapsed))}")
default:
    print("unknown mode \(args[1])")
    exit(2)
}
