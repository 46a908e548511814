// Benchmark runner: parses every file of a corpus with MailMessage and builds the full
// `mailroom parse` summary (decoded headers, bodies, attachment sizes and SHA-256), best of
// ROUNDS passes in process CPU time. Compiled together with Sources/MailMessage by benchmarks/mime/run.sh.
// MODE "nohash" skips the attachment SHA-256 (sizes still exact). Prints one line:
// name messages seconds bytes.
import Foundation

/// CPU time of this process: on a shared machine wall time measures the neighbours too.
func cpuNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

@main
struct BenchmarkRunner {
    static func main() throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: runner CORPUSDIR [ROUNDS] [full|nohash]\n".utf8))
            exit(64)
        }
        let corpus = arguments[1]
        let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 3 : 3
        let digests = arguments.count > 3 ? arguments[3] != "nohash" : true
        let names = try FileManager.default.contentsOfDirectory(atPath: corpus).sorted()
        let messages = try names.map { try MessageFile.read(path: corpus + "/" + $0) }
        let totalBytes = messages.reduce(0) { $0 + $1.count }
        var best = Double.infinity
        var checksum = 0
        for _ in 0..<rounds {
            let start = cpuNanoseconds()
            for raw in messages {
                let summary = MessageSummary(MIMEMessage(parsing: raw), attachmentDigests: digests)
                checksum &+= summary.attachments.count &+ (summary.text?.utf8.count ?? 0) &+ (summary.subject?.utf8.count ?? 0)
            }
            let elapsed = Double(cpuNanoseconds() - start) / 1e9
            best = min(best, elapsed)
        }
        print(String(format: "mailmessage %d %.6f %d checksum=%d", messages.count, best, totalBytes, checksum))
    }
}
