import Foundation
import Testing

/// Keeps the local Graph and EWS test servers honest: runs the pytest checks in
/// Tests/ExchangeServers (exchangelib and the Microsoft Graph SDK against the servers, unchanged,
/// and the failure modes over plain HTTP) in the venv that scripts/services/exchange built, and
/// fails with pytest's output when they fail.
///
/// Skipped without the servers' variables, unless MAILROOM_TEST_REQUIRE_SERVERS=1 (scripts/test),
/// as the other server tests do; this target depends on nothing but Foundation and Testing.
@Suite("Exchange test servers")
struct ExchangeServerChecks {
    static let variables = [
        "MAILROOM_TEST_GRAPH_URL", "MAILROOM_TEST_GRAPH_CONTROL_URL", "MAILROOM_TEST_EWS_URL",
        "MAILROOM_TEST_EWS_CONTROL_URL", "MAILROOM_TEST_EXCHANGE_TOKEN", "MAILROOM_TEST_EXCHANGE_PASSWORD",
        "MAILROOM_TEST_EXCHANGE_CA", "MAILROOM_TEST_EXCHANGE_PYTHON",
    ]

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static var enabled: Bool {
        environment["MAILROOM_TEST_REQUIRE_SERVERS"] == "1" || variables.allSatisfy { environment[$0]?.isEmpty == false }
    }

    @Test("exchangelib, msgraph-sdk and the failure modes pass against the local servers",
          .enabled(if: enabled, "needs scripts/services/exchange (scripts/test starts it)"), .timeLimit(.minutes(10)))
    func pytestChecks() async throws {
        let missing = Self.variables.filter { Self.environment[$0]?.isEmpty != false }
        guard missing.isEmpty else {
            Issue.record("not set: \(missing.joined(separator: ", ")); start scripts/services/exchange or run scripts/test")
            return
        }
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("ExchangeServers")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("exchange-checks-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let output = try FileHandle(forWritingTo: log)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.environment["MAILROOM_TEST_EXCHANGE_PYTHON"]!)
        process.arguments = ["-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider", directory.path]
        process.currentDirectoryURL = directory
        var environment = Self.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = environment
        process.standardOutput = output
        process.standardError = output
        // Waits without holding a thread of the (two-thread) cooperative pool for the whole run.
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try output.close()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? "(no output)"
        #expect(status == 0, "pytest in \(directory.path) exited with \(status):\n\(text)")
    }
}
