// Benchmark runner: parses every file of a corpus with MailMessage and builds the full
// `mailroom parse` summary (decoded headers, bodies, attachment sizes and SHA-256), best of
// ROUNDS passes in process CPU time. Built in release by benchmarks/mime/run.sh.
// MODE: "crypto" hashes attachments with swift-crypto, as `mailroom` does; "portable" with
// MailMessage's own SHA-256; "nohash" skips the digests (sizes still exact). Prints one line:
// name messages seconds bytes.
import Crypto
import Foundation
import MailMessage

/// CPU time of this process: on a shared machine wall time measures the neighbours too.
func cpuNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// The same adapter as MailroomWorkers' `AttachmentDigester.swiftCrypto`, repeated here so
/// that the benchmark links MailMessage and swift-crypto only.
struct CryptoSHA256Hasher: SHA256Hashing {
    var hasher = Crypto.SHA256()
    mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
    mutating func finalize() -> [UInt8] { Array(hasher.finalize()) }
}

@main
struct BenchmarkRunner {
    static func main() throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: mailroom-bench-mime CORPUSDIR [ROUNDS] [crypto|portable|nohash]\n".utf8))
            exit(64)
        }
        let corpus = arguments[1]
        let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 3 : 3
        let mode = arguments.count > 3 ? arguments[3] : "crypto"
        var options = ParseOptions.default
        switch mode {
        case "crypto": options.digester = AttachmentDigester(name: "swift-crypto") { CryptoSHA256Hasher() }
        case "portable", "nohash": options.digester = .portable
        default:
            FileHandle.standardError.write(Data("unknown mode \(mode); use crypto, portable or nohash\n".utf8))
            exit(64)
        }
        let digests = mode != "nohash"
        let names = try FileManager.default.contentsOfDirectory(atPath: corpus).sorted()
        let messages = try names.map { try MessageFile.read(path: corpus + "/" + $0) }
        let totalBytes = messages.reduce(0) { $0 + $1.count }
        if mode == "crypto" {
            // Untimed: the two digesters must agree on every attachment of the corpus.
            for (name, raw) in zip(names, messages) {
                let fast = MessageSummary(MIMEMessage(parsing: raw, options: options)).attachments.map(\.sha256)
                let portable = MessageSummary(MIMEMessage(parsing: raw)).attachments.map(\.sha256)
                guard fast == portable else {
                    FileHandle.standardError.write(Data("\(name): swift-crypto and portable SHA-256 disagree\n".utf8))
                    exit(1)
                }
            }
        }
        var best = Double.infinity
        var checksum = 0
        for _ in 0..<rounds {
            let start = cpuNanoseconds()
            for raw in messages {
                let summary = MessageSummary(MIMEMessage(parsing: raw, options: options), attachmentDigests: digests)
                checksum &+= summary.attachments.count &+ (summary.text?.utf8.count ?? 0) &+ (summary.subject?.utf8.count ?? 0)
                    &+ Int(summary.attachments.first?.sha256.utf8.first ?? 0)
            }
            let elapsed = Double(cpuNanoseconds() - start) / 1e9
            best = min(best, elapsed)
        }
        print(String(format: "mailmessage-%@ %d %.6f %d checksum=%d", mode, messages.count, best, totalBytes, checksum))
    }
}
