import Foundation
import Logging
import MailroomCore
import MailroomStore
import MailroomTestSupport
@testable import MailroomWorkers
import Synchronization
import Testing

@Suite struct WebhookSignatureTests {
    static let body = Data(#"{"event":"ticket.routed","ticket":{"id":"t1"}}"#.utf8)

    /// Computed independently with Python's `hmac.new(secret, b"1765000000." + body, hashlib.sha256).hexdigest()`.
    @Test func matchesAnIndependentHMACImplementation() {
        let header = WebhookSignature.sign(body: Self.body, timestamp: 1_765_000_000, secrets: [Secret("whsec_test-secret-0123456789")])
        #expect(header == "t=1765000000,v1=8164834de14d1257edeff038613a102a1183fec4bc5c57d7c88f7f714d8497a9")
    }

    @Test func aReceiverRefusesOtherSecretsOtherBodiesAndOldTimestamps() {
        let secret = Secret("whsec_a"), now = Date(timeIntervalSince1970: 1_765_000_000)
        let header = WebhookSignature.sign(body: Self.body, timestamp: 1_765_000_000, secrets: [secret])
        #expect(WebhookSignature.verify(header: header, body: Self.body, secret: secret, now: now) == .valid)
        #expect(WebhookSignature.verify(header: header, body: Self.body, secret: Secret("whsec_b"), now: now) == .mismatch)
        #expect(WebhookSignature.verify(header: header, body: Data("{}".utf8), secret: secret, now: now) == .mismatch)
        // The same call replayed six minutes later is recognisable from its signed timestamp.
        #expect(WebhookSignature.verify(header: header, body: Self.body, secret: secret, now: now.addingTimeInterval(360)) == .outsideTolerance)
        // A changed timestamp breaks the signature instead of passing the window check.
        let moved = header.replacingOccurrences(of: "t=1765000000", with: "t=1765000360")
        #expect(WebhookSignature.verify(header: moved, body: Self.body, secret: secret, now: now.addingTimeInterval(360)) == .mismatch)
        #expect(WebhookSignature.verify(header: "v1=00", body: Self.body, secret: secret, now: now) == .malformed)
    }

    /// Creation, a rotation with overlap (both signatures, each verifying with its own secret), a
    /// rotation without overlap (only the new one), and no secret in any log line of the sender.
    @Test func deliveriesAreSignedThroughARotationAndNoSecretIsLogged() async throws {
        let receiver = WebhookReceiver(answers: [200, 200, 500, 200])
        let logs = LogLines()
        let logger = Logger(label: "webhook-signature-test") { _ in LogLinesHandler(lines: logs) }
        try await receiver.run { port in
            try await TestDatabase.sqlite.withStore { store in
                let url = "http://127.0.0.1:\(port)/hook"
                let created = try await store.webhookEndpoints.create(url: url)
                let first = created.secret
                let sender = WebhookSender(store: store, logger: logger)
                func deliver() async throws -> WebhookReceiver.Received {
                    let count = receiver.received.count
                    try await store.webhooks.enqueue(url: url, event: "ticket.routed", ticketId: "t1", ruleIds: ["r1"],
                                                     payload: .object(["n": .number(Double(count))]))
                    await sender.sendDue()
                    return try #require(receiver.received.last)
                }

                let signed = try await deliver()
                let header = try #require(signed.signature)
                #expect(WebhookSignature.verify(header: header, body: Data(signed.body.utf8), secret: first) == .valid)

                let rotated = try #require(try await store.webhookEndpoints.rotate(id: created.endpoint.id, overlapSeconds: 3_600))
                let second = rotated.secret
                #expect(second != first)
                let during = try await deliver()
                let duringHeader = try #require(during.signature)
                #expect(duringHeader.components(separatedBy: "v1=").count == 3, "\(duringHeader)")
                #expect(WebhookSignature.verify(header: duringHeader, body: Data(during.body.utf8), secret: first) == .valid)
                #expect(WebhookSignature.verify(header: duringHeader, body: Data(during.body.utf8), secret: second) == .valid)
                // And as a receiver written in another language checks it (the README's example).
                if let python = Self.python {
                    for secret in [first, second] {
                        #expect(try Self.pythonVerifies(python, header: duringHeader, body: during.body, secret: secret))
                    }
                    #expect(try !Self.pythonVerifies(python, header: duringHeader, body: during.body + " ", secret: first))
                }

                // The receiver fails once (500): the retry is signed anew, and still verifies.
                let third = try #require(try await store.webhookEndpoints.rotate(id: created.endpoint.id, overlapSeconds: 0)).secret
                let failed = try await deliver()
                #expect(failed.signature.map { WebhookSignature.verify(header: $0, body: Data(failed.body.utf8), secret: third) } == .valid)
                let pending = try await store.webhooks.deliveries(state: .pending)
                #expect(pending.count == 1)
                _ = await sender.sendDue(now: Date().addingTimeInterval(60))
                let after = try #require(receiver.received.last)
                let afterHeader = try #require(after.signature)
                #expect(afterHeader.components(separatedBy: "v1=").count == 2, "no overlap: only the newest secret signs")
                #expect(WebhookSignature.verify(header: afterHeader, body: Data(after.body.utf8), secret: third) == .valid)
                #expect(WebhookSignature.verify(header: afterHeader, body: Data(after.body.utf8), secret: second) == .mismatch)

                // Sealed at rest: the table holds no secret in clear.
                let rows = try await store.database.withConnection { db in
                    try await db.raw("SELECT secret_sealed, previous_secret_sealed FROM webhook_endpoints").all()
                }
                let stored = try rows.map { "\(try $0.decode(column: "secret_sealed", as: String.self)) \(try $0.decode(column: "previous_secret_sealed", as: String?.self) ?? "")" }
                let deliveries = String(decoding: try JSONCoding.clientJSON(try await store.webhooks.deliveries()), as: UTF8.self)
                for secret in [first, second, third] {
                    #expect(!stored.joined().contains(secret.revealed))
                    #expect(!logs.text.contains(secret.revealed))
                    #expect(!deliveries.contains(secret.revealed))
                }
                #expect(!logs.text.isEmpty, "the sender's log lines were captured")
            }
        }
    }

    static let python: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Python's `hmac`, independent of swift-crypto: the body on stdin, the header and secret as arguments.
    static func pythonVerifies(_ python: String, header: String, body: String, secret: Secret) throws -> Bool {
        let script = """
            import hashlib, hmac, sys, time
            header, secret, body = sys.argv[1], sys.argv[2], sys.stdin.buffer.read()
            fields = [part.split("=", 1) for part in header.split(",")]
            t = next(v for k, v in fields if k == "t")
            expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
            ok = abs(time.time() - int(t)) <= 300 and any(k == "v1" and hmac.compare_digest(v, expected) for k, v in fields)
            print("ok" if ok else "no")
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, header, secret.revealed]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(body.utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "ok"
    }

    /// A URL nobody registered is still posted, without a signature (rules made before signing existed).
    @Test func anUnregisteredURLIsPostedUnsigned() async throws {
        let receiver = WebhookReceiver(answers: [200])
        try await receiver.run { port in
            try await TestDatabase.sqlite.withStore { store in
                try await store.webhooks.enqueue(url: "http://127.0.0.1:\(port)/hook", event: "ticket.routed", ticketId: nil, ruleIds: [], payload: .object([:]))
                await WebhookSender(store: store, logger: Logger(label: "t")).sendDue()
                let got = try #require(receiver.received.first)
                #expect(got.signature == nil)
            }
        }
    }
}

final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

struct LogLinesHandler: LogHandler {
    let lines: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lines.append("\(event.level) \(event.message) \(event.metadata ?? [:])")
    }
}
