import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MailroomApp
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

/// `mailroom serve` as an administrator starts it: the built binary, a data directory, a port, then SIGTERM.
@Suite(.serialized) struct ServeCommandTests {

    static func binaryPath() throws -> String {
        // swift test runs from the build directory's test bundle; the executable sits beside it.
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("mailroom"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("mailroom"),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mailroom"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw Missing(description: "the mailroom executable is not built next to the tests (looked in \(candidates.map(\.path)))")
        }
        return found.path
    }

    struct Missing: Error, CustomStringConvertible { let description: String }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func get(_ url: String) async -> (Int, String)? {
        guard let url = URL(string: url) else { return nil }
        var request = URLRequest(url: url)
        request.timeoutInterval = 2
        guard let (data, response) = try? await URLSession.shared.data(for: request),
              let http = response as? HTTPURLResponse else { return nil }
        return (http.statusCode, String(decoding: data, as: UTF8.self))
    }

    func runServe(arguments: [String], environment extra: [String: String] = [:]) async throws {
        let port = Self.freePort()
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mr-serve-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binaryPath())
        process.arguments = ["serve", "--data-dir", dataDirectory, "--http", "127.0.0.1:\(port)"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["MAILROOM_ADMIN_TOKEN"] = "serve-test-token"
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        let log = Pipe()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        var health: (Int, String)?
        for _ in 0..<150 where health == nil {
            try await Task.sleep(for: .milliseconds(100))
            health = await Self.get("http://127.0.0.1:\(port)/healthz")
            if !process.isRunning { break }
        }
        #expect(health?.0 == 200, "healthz never answered; the server said: \(String(decoding: log.fileHandleForReading.availableData, as: UTF8.self))")
        let unauthenticated = await Self.get("http://127.0.0.1:\(port)/api/v1/accounts")
        #expect(unauthenticated?.0 == 401)
        // An open event stream (an agent's screen) must not hold up the shutdown below.
        let stream = try SSEReader(port: port, headers: ["Authorization": "Bearer serve-test-token"])
        _ = try await stream.next(timeout: .milliseconds(500))
        #expect(stream.status == 200)
        #expect(stream.comments.contains("connected"))

        process.interrupt()
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!process.isRunning, "serve did not stop within 15 s of SIGINT")
        #expect(process.terminationStatus == 0)
        let output = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!output.contains("serve-test-token"), "the admin token is never logged")
    }

    @Test func servesOnSQLiteInTheDataDirectory() async throws {
        try await runServe(arguments: [])
    }

    @Test(.enabled(if: TestServers.shouldRun(TestDatabase.postgresVariable)))
    func servesOnPostgreSQL() async throws {
        let url = try TestServers.require(TestDatabase.postgresVariable)
        try await runServe(arguments: ["--database", url])
        // And the environment variable works the same as the flag.
        try await runServe(arguments: [], environment: ["MAILROOM_DATABASE_URL": url])
    }
}

@Suite struct ConfigurationTests {
    @Test func flagsWinOverTheEnvironmentWhichWinsOverDefaults() throws {
        let defaults = try MailroomConfiguration(dataDirectory: nil, databaseURL: nil, http: nil, environment: [:])
        #expect(defaults.dataDirectory == "./mailroom-data")
        #expect(defaults.httpHost == "127.0.0.1" && defaults.httpPort == 8080)
        if case .sqlite(let path) = defaults.database { #expect(path.hasSuffix("mailroom-data/mailroom.sqlite")) } else { Issue.record("not sqlite") }

        let environment = ["MAILROOM_DATA_DIR": "/srv/mr", "MAILROOM_HTTP": "0.0.0.0:9000",
                           "MAILROOM_DATABASE_URL": "postgres://u:p@db:5432/mr", "MAILROOM_ADMIN_TOKEN": "t"]
        let fromEnvironment = try MailroomConfiguration(dataDirectory: nil, databaseURL: nil, http: nil, environment: environment)
        #expect(fromEnvironment.dataDirectory == "/srv/mr")
        #expect(fromEnvironment.httpPort == 9000)
        #expect(fromEnvironment.adminToken == "t")
        #expect(fromEnvironment.database == .postgres(url: "postgres://u:p@db:5432/mr"))

        let flags = try MailroomConfiguration(dataDirectory: "/data", databaseURL: "sqlite:///x.sqlite", http: "[::1]:81", environment: environment)
        #expect(flags.dataDirectory == "/data")
        #expect(flags.database == .sqlite(path: "/x.sqlite"))
        #expect(flags.httpHost == "::1" && flags.httpPort == 81)
        #expect(throws: ConfigurationError.self) { _ = try MailroomConfiguration(dataDirectory: nil, databaseURL: nil, http: "8080", environment: [:]) }
        #expect(throws: (any Error).self) { _ = try MailroomConfiguration(dataDirectory: nil, databaseURL: "mysql://x", http: nil, environment: [:]) }
    }
}

/// `mailroom import --account KEY PATH` and `mailroom parse`, as an administrator runs them.
@Suite struct CommandLineTests {
    func run(_ arguments: [String], input: Data? = nil) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServeCommandTests.binaryPath())
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// A data directory with an account "IMP" to import into, created through the store the server uses.
    func dataDirectoryWithAnAccount() async throws -> ScratchDirectory {
        let scratch = try ScratchDirectory("mr-cli")
        let (database, store) = try await scratch.openStore()
        _ = try await store.accounts.create(Account(key: "IMP", name: "Import", fromAddress: "desk@example.com"))
        await database.close()
        return scratch
    }

    @Test func importIngestsThroughThePipeline() async throws {
        let scratch = try await dataDirectoryWithAnAccount()
        defer { scratch.remove() }
        let (directory, dataDirectory) = (scratch.path, scratch.dataDirectory)
        let mbox = "From a@example.com Mon Nov 23 10:00:00 2026\nFrom: Ann <ann@example.com>\nSubject: First\nMessage-ID: <i1@x>\n\nOne\n\n"
            + "From b@example.com Mon Nov 23 10:00:00 2026\nFrom: Bob <bob@example.com>\nSubject: Second\nMessage-ID: <i2@x>\n\nTwo\n"
        try mbox.write(toFile: directory + "/in.mbox", atomically: true, encoding: .utf8)
        let first = try run(["import", "--data-dir", dataDirectory, "--account", "IMP", directory + "/in.mbox"])
        #expect(first.0 == 0, "\(first.2)")
        #expect(first.1.contains("\"created\":2"), "\(first.1)")
        let again = try run(["import", "--data-dir", dataDirectory, "--account", "IMP", directory + "/in.mbox"])
        #expect(again.1.contains("\"duplicates\":2"), "\(again.1)")
        let unknown = try run(["import", "--data-dir", dataDirectory, "--account", "NOPE", directory + "/in.mbox"])
        #expect(unknown.0 != 0)
        #expect(unknown.2.contains("NOPE"))
    }

    /// Two imports into one data directory at once (as an import beside a running server): every
    /// stored message's raw mail is its own, although both processes append to the same packs.
    @Test func twoImportsAtOnceKeepEveryRawMessageIntact() async throws {
        let scratch = try await dataDirectoryWithAnAccount()
        defer { scratch.remove() }
        let (directory, dataDirectory) = (scratch.path, scratch.dataDirectory)
        for name in ["a", "b"] {
            let mbox = (0..<300).map { index in
                "From \(name)@example.com Mon Nov 23 10:00:00 2026\nFrom: \(name)\(index)@example.com\nSubject: \(name) \(index)\n"
                    + "Message-ID: <\(name)-\(index)@x>\n\n" + String(repeating: "\(name)\(index) body line\n", count: 20 + index % 50) + "\n"
            }.joined()
            try mbox.write(toFile: "\(directory)/\(name).mbox", atomically: true, encoding: .utf8)
        }
        let imports = try ["a", "b"].map { name in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try ServeCommandTests.binaryPath())
            process.arguments = ["import", "--data-dir", dataDirectory, "--account", "IMP", "\(directory)/\(name).mbox"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        for process in imports {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
        let (reopened, stored) = try await scratch.openStore()
        let rows = try await reopened.withConnection { db in
            try await db.raw("SELECT message_id, raw_sha256 FROM messages").all().map {
                (try $0.decode(column: "message_id", as: String.self), try $0.decode(column: "raw_sha256", as: String.self))
            }
        }
        #expect(rows.count == 600)
        for (messageId, sha256) in rows {
            let raw = try #require(try await stored.rawMail.blob(sha256: sha256), "\(messageId)")
            #expect(String(decoding: raw, as: UTF8.self).contains("Message-ID: <\(messageId)>"), "\(messageId)")
        }
        await reopened.close()
    }

    @Test func parsePrintsTheDesignJSON() throws {
        let message = "From: Ann <ann@example.com>\r\nSubject: =?UTF-8?B?SGFsbMO2?=\r\nMessage-ID: <p1@example.com>\r\n\r\nHi\r\n"
        let result = try run(["parse", "-"], input: Data(message.utf8))
        #expect(result.0 == 0)
        let json = try JSONSerialization.jsonObject(with: Data(result.1.utf8)) as? [String: Any]
        #expect(json?["messageId"] as? String == "p1@example.com")
        #expect(json?["subject"] as? String == "Hallö")
        #expect(try run(["parse", "/nonexistent/file.eml"]).0 != 0)
    }
}

extension ServeCommandTests {
    /// `mailroom serve` on a fresh data directory and a free port, started and answering /healthz;
    /// the caller stops the process and removes the directory.
    static func startServe(adminToken: String, dataDirectoryPrefix: String,
                           environment extra: [String: String] = [:]) async throws -> (process: Process, port: Int, dataDirectory: String) {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("\(dataDirectoryPrefix)-\(UUID().uuidString)").path
        let port = freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binaryPath())
        process.arguments = ["serve", "--data-dir", dataDirectory, "--http", "127.0.0.1:\(port)", "--log-level", "error"]
        var environment = ProcessInfo.processInfo.environment
        environment["MAILROOM_ADMIN_TOKEN"] = adminToken
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 where await get("http://127.0.0.1:\(port)/healthz")?.0 != 200 {
            try await Task.sleep(for: .milliseconds(50))
        }
        return (process, port, dataDirectory)
    }
}
