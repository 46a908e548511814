import Foundation
import MailroomTestSupport
import Testing

/// The OpenAPI document is the contract: Schemathesis (scripts/services/schemathesis installs a
/// pinned version) generates requests from `/api/v1/openapi.json` against a running
/// `mailroom serve` and checks every answer against the document: no server errors, only the
/// statuses, headers and bodies it describes, refusals of what it forbids, acceptance of what it
/// allows, 405 with `Allow` for methods a path does not take. A fixed seed and a bounded number of
/// examples per operation keep the run the same each time (about three minutes). Known mismatches
/// not fixed yet are listed in scripts/support/schemathesis-baseline.json; the 422s a schema cannot
/// rule out (ids that do not exist) are accepted for the operations scripts/support/schemathesis.toml names.
@Suite(.enabled(if: TestServers.shouldRun("MAILROOM_TEST_SCHEMATHESIS"))) struct APIContractTests {
    static let seed = "20261207"
    static let examples = "5"

    @Test func schemathesisFindsNoContractMismatch() async throws {
        let schemathesis = try TestServers.require("MAILROOM_TEST_SCHEMATHESIS")
        let token = "contract-test-token-\(UUID().uuidString.prefix(8))"
        // Rate limits off: the run sends far more requests than a client would, and a 429 would hide the answer being checked.
        let server = try await ServeCommandTests.startServe(adminToken: token, dataDirectoryPrefix: "mr-contract",
                                                            environment: ["MAILROOM_API_RATE_LIMIT": "off", "MAILROOM_SIGNIN_LIMITS": "1000000/1000000/1"])
        defer {
            server.process.terminate()
            server.process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: server.dataDirectory)
        }
        let base = "http://127.0.0.1:\(server.port)"
        let reportDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mr-schemathesis-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: reportDirectory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: schemathesis)
        let support = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/support").standardized.path
        process.arguments = ["--config-file", support + "/schemathesis.toml",
                             "run", base + "/api/v1/openapi.json", "--url", base,
                             "-H", "Authorization: Bearer \(token)",
                             "--checks", "all", "--seed", Self.seed, "--max-examples", Self.examples,
                             "--workers", "2", "--request-timeout", "30",
                             "--baseline", support + "/schemathesis-baseline.json",
                             "--no-color", "--report-dir", reportDirectory]
        process.currentDirectoryURL = URL(fileURLWithPath: FileManager.default.temporaryDirectory.path)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // The whole output goes to a file; the message keeps the end, where schemathesis sums up,
        // short enough that a CI excerpt of the run still shows it.
        let saved = FileManager.default.temporaryDirectory.appendingPathComponent("mr-schemathesis-\(UUID().uuidString).log").path
        if process.terminationStatus != 0 { FileManager.default.createFile(atPath: saved, contents: Data(text.utf8)) }
        #expect(process.terminationStatus == 0, "schemathesis found contract mismatches (whole output in \(saved)):\n\(text.suffix(3_000))")
    }
}
