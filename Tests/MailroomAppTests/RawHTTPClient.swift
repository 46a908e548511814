import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `mailroom serve` started from the built binary on a fresh data directory, for tests that talk to it over sockets.
final class ServedMailroom: @unchecked Sendable {
    let port: Int
    let process = Process()
    private let log = Pipe()
    private let dataDirectory: String

    init(environment extra: [String: String]) async throws {
        port = ServeCommandTests.freePort()
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mr-raw-\(UUID().uuidString)").path
        process.executableURL = URL(fileURLWithPath: try ServeCommandTests.binaryPath())
        process.arguments = ["serve", "--data-dir", dataDirectory, "--http", "127.0.0.1:\(port)"]
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardError = log
        process.standardOutput = log
        try process.run()
        for _ in 0..<150 {
            try await Task.sleep(for: .milliseconds(100))
            if await ServeCommandTests.get("http://127.0.0.1:\(port)/healthz")?.0 == 200 { return }
            if !process.isRunning { break }
        }
        stop()
        throw ServeCommandTests.Missing(description: "mailroom serve never answered /healthz")
    }

    /// Stops the server and answers what it wrote to its log.
    @discardableResult
    func stop() -> String {
        if process.isRunning {
            process.interrupt()
            let deadline = Date().addingTimeInterval(15)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { process.terminate() }
        }
        try? FileManager.default.removeItem(atPath: dataDirectory)
        return String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}

/// A plain TCP client that sends exactly the bytes a test gives it, slowly if asked, and tells when
/// the server closed the connection: what curl and urllib hide.
final class RawHTTPClient: @unchecked Sendable {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, connected == 0 else { throw ServeCommandTests.Missing(description: "cannot connect to 127.0.0.1:\(port)") }
    }

    deinit { close(fd) }

    /// Sends every byte; false when the server closed or reset the connection first.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads what is there within `timeout`; `closed` when the server ended the connection (FIN or reset).
    func read(timeout: Duration) -> (bytes: [UInt8], closed: Bool) {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline {
            let left = ContinuousClock.now.duration(to: deadline)
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = max(1, Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard poll(&poller, 1, milliseconds) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return (received, true) }
            received += buffer[0..<count]
        }
        return (received, false)
    }

    /// Sends `bytes` one at a time, `interval` apart, until all are sent or the server closes the
    /// connection; answers how many went out and how long it took.
    func trickle(_ bytes: [UInt8], interval: Duration) -> (sent: Int, closed: Bool, elapsed: Duration) {
        let start = ContinuousClock.now
        for (index, byte) in bytes.enumerated() {
            if !send([byte]) { return (index, true, start.duration(to: .now)) }
            if read(timeout: interval).closed { return (index + 1, true, start.duration(to: .now)) }
        }
        return (bytes.count, false, start.duration(to: .now))
    }
}

/// Runs blocking socket work off the test's cooperative threads.
func offThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}
