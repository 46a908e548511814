import ClientTestSupport
import Foundation
import MailroomCore
@testable import MailroomWorkers
import Testing

/// The fuzz target covers MailMessage; ingest does more with each message on its parse threads
/// (header filters with regular expressions, VERP look-ups, resolver input, subject
/// normalisation), and a crash there would take the server down on every restart. Mutated copies
/// of the MIME fixtures go through all of it; `MUTATION_ITERATIONS` runs more (30,000 ran clean
/// when this was written), `MUTATION_SEED` another sequence.
@Suite struct MutatedMailTests {
    @Test func mutatedMailNeverCrashesTheIngestPreparation() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MailMessageTests/Fixtures")
        let files = try FileManager.default.contentsOfDirectory(atPath: fixtures.path).sorted()
        let corpus = try files.map { Array(try Data(contentsOf: fixtures.appendingPathComponent($0))) }.filter { $0.count < 200_000 }
        try #require(corpus.count > 20)
        let environment = ProcessInfo.processInfo.environment
        // The same mutations on every run for a seed.
        var rng = SplitMix(seed: UInt64(environment["MUTATION_SEED"] ?? "") ?? 20261124)
        var account = Account(key: "FZ", name: "Fuzz", fromAddress: "desk@example.com")
        account.incoming.headerFilters = [HeaderFilter(header: "Subject", match: .regex, value: "(a+)+b", action: .tag, tag: "x"),
                                          HeaderFilter(header: "X-Spam", match: .contains, value: "yes", action: .skip)]
        let tokens: [[UInt8]] = ["\r\n", "\n", ":", "=?", "?=", "=?utf-8?B?", "=?iso-8859-1?Q?", "--", "boundary=", "Content-Type: multipart/mixed; boundary=x\r\n",
                                 "Content-Transfer-Encoding: base64\r\n", "Subject: Re: AW: [Ticket#12", "<", ">", "@", "\"", "\\", "\u{0}", "\u{FF}", "+", ";", ",",
                                 "Delivered-To: bounce+abc@x\r\n", "From: =?utf-8?q?=C3?= <a@b>\r\n", "References: <a@b> <c@d>\r\n", "\t", " "].map { Array($0.utf8) }
        let iterations = Int(environment["MUTATION_ITERATIONS"] ?? "") ?? 500
        for i in 0..<iterations {
            var bytes = corpus[i % corpus.count]
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes.insert(contentsOf: tokens.randomElement(using: &rng)!, at: at)
                case 1: if !bytes.isEmpty { bytes[at] = UInt8.random(in: 0...255, using: &rng) }
                case 2: if !bytes.isEmpty { bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...64, using: &rng))) }
                default: if !bytes.isEmpty { bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + Int.random(in: 1...200, using: &rng))], at: at) }
                }
            }
            if let mail = try? InboundMailParser.parse(bytes) {
                _ = IngestPipeline.ParsedMail(mail, account: account)
                _ = SubjectNormalizer.normalise(mail.subject, accountPrefix: "[Support]")
            }
            _ = InboundMailParser.peekHeaders(bytes)
        }
    }
}
