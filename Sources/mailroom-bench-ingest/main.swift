// Raw IMAP fetch for the ingest benchmark (benchmarks/ingest/run.sh): the ceiling that
// `mailroom serve` ingest is compared with. Uses the project's own IMAPClient the way the
// fetcher does (UID SEARCH, then UID FETCH (UID BODY.PEEK[]) in batches,
// each message collected whole), but stores nothing and parses nothing.
//
// Usage: mailroom-bench-ingest HOST PORT USER PASSWORD [BATCH]
// Prints one line: raw-fetch <messages> <bytes> <seconds> <batch>
import Foundation
import IMAPClient
import MailTransport

@main
struct RawFetchBenchmark {
    static func main() async throws {
        let args = CommandLine.arguments
        guard args.count >= 5, let port = Int(args[2]) else {
            FileHandle.standardError.write(Data("usage: mailroom-bench-ingest HOST PORT USER PASSWORD [BATCH]\n".utf8))
            exit(2)
        }
        let batch = args.count > 5 ? Int(args[5]) ?? 100 : 100
        let endpoint = MailEndpoint(host: args[1], port: port, security: .none,
                                    connectionTimeout: .seconds(30), authTimeout: .seconds(30), commandTimeout: .seconds(300))
        let clock = ContinuousClock()
        let start = clock.now
        let imap = try await IMAPConnection.connect(to: endpoint, credentials: .password(args[3], args[4]))
        _ = try await imap.select("INBOX")
        let uids = try await imap.uidSearch(.all)
        var messages = 0
        var bytes = 0
        for first in stride(from: 0, to: uids.count, by: batch) {
            let set = IMAPUIDSet(uids[first..<min(first + batch, uids.count)])
            let fetched = try await imap.uidFetchMessages(set, items: .wholeMessagePeek)
            for message in fetched {
                messages += 1
                bytes += message.bytes.count
            }
        }
        let elapsed = clock.now - start
        await imap.logout()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("raw-fetch \(messages) \(bytes) \(String(format: "%.3f", seconds)) \(batch)")
    }
}
