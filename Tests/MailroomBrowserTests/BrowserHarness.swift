import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import IMAPClient
import MailTransport
import MailroomTestSupport
import Testing

/// `mailroom serve` on a free port with a fresh data directory, a WebDriver session, and helpers
/// for what the browser tests do again and again.
final class BrowserHarness: @unchecked Sendable {
    static let adminToken = "browser-test-admin-token"
    let process: Process
    let base: String
    let driver: WebDriver
    let dataDirectory: String
    let artifacts: URL

    static var enabled: Bool {
        TestServers.shouldRun("MAILROOM_TEST_WEBDRIVER_URL") && TestServers.shouldRun("MAILROOM_TEST_IMAP_PORT")
    }

    private init(process: Process, base: String, driver: WebDriver, dataDirectory: String, artifacts: URL) {
        self.process = process
        self.base = base
        self.driver = driver
        self.dataDirectory = dataDirectory
        self.artifacts = artifacts
    }

    /// - Parameters:
    ///   - adminToken: nil starts the server as a newcomer would, without one.
    ///   - logFile: where the server's log goes (otherwise nowhere).
    static func start(adminToken: String? = BrowserHarness.adminToken, databaseURL: String? = nil, logFile: URL? = nil,
                      logLevel: String = "error") async throws -> BrowserHarness {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mr-browser-\(UUID().uuidString)").path
        let port = freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binaryPath())
        process.arguments = ["serve", "--data-dir", dataDirectory, "--http", "127.0.0.1:\(port)", "--log-level", logLevel]
            + (databaseURL.map { ["--database", $0] } ?? [])
        var environment = ProcessInfo.processInfo.environment
        environment["MAILROOM_ADMIN_TOKEN"] = adminToken
        environment["MAILROOM_DATABASE_URL"] = nil
        process.environment = environment
        if let logFile {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
            let handle = try FileHandle(forWritingTo: logFile)
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        let base = "http://127.0.0.1:\(port)"
        for _ in 0..<300 where await (try? api("GET", base + "/healthz").0) != 200 {
            try await Task.sleep(for: .milliseconds(50))
        }
        let driver: WebDriver
        do {
            driver = try await WebDriver.start(url: try TestServers.require("MAILROOM_TEST_WEBDRIVER_URL"),
                                               binary: TestServers.value("MAILROOM_TEST_CHROMIUM_BINARY"))
        } catch {
            process.terminate()
            throw error
        }
        let directory = ProcessInfo.processInfo.environment["MAILROOM_TEST_ARTIFACTS"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.currentDirectoryPath + "/.build/test-artifacts"
        let artifacts = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        return BrowserHarness(process: process, base: base, driver: driver, dataDirectory: dataDirectory, artifacts: artifacts)
    }

    func stop() async {
        await driver.quit()
        if process.isRunning {
            process.interrupt()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    /// Runs `body` with a started harness and always stops it.
    static func run(_ body: (BrowserHarness) async throws -> Void) async throws {
        let harness = try await start()
        do {
            try await body(harness)
        } catch {
            try? await harness.screenshot("failure-\(UUID().uuidString.prefix(6))")
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    // MARK: Browser

    func go(_ path: String) async throws { try await driver.go(base + path) }

    func screenshot(_ name: String) async throws {
        let png = try await driver.screenshot()
        try png.write(to: artifacts.appendingPathComponent("\(name).png"))
    }

    func fill(_ css: String, _ text: String) async throws { try await revealed(css).fill(text) }
    func click(_ css: String) async throws { try await revealed(css).click() }

    /// Waits for the element, unfolds the `<details>` sections around it and scrolls it to the
    /// middle of the window, as a person opens a folded section (the account form's) and brings a
    /// field out from under a sticky action bar before using it.
    @discardableResult
    func revealed(_ css: String) async throws -> WebDriver.Element {
        let element = try await driver.waitFor(css)
        _ = try await driver.execute("""
            const el = arguments[0];
            for (let box = el.closest('details'); box; box = box.parentElement && box.parentElement.closest('details')) box.open = true;
            const r = el.getBoundingClientRect();
            if (r.height > 0 && !el.closest('.action-bar') && (r.top < 0 || r.bottom > window.innerHeight - 160)) el.scrollIntoView({ block: 'center' });
            """, [[WebDriver.Element.key: element.id]])
        return element
    }

    /// Chooses an option of a select by its value (and tells the page, as a person's choice would).
    func select(_ css: String, value: String) async throws {
        let element = try await revealed(css)
        try await driver.execute("""
            const el = arguments[0]; el.value = arguments[1];
            el.dispatchEvent(new Event('change', { bubbles: true }));
            """, [[WebDriver.Element.key: element.id], value])
    }

    func setChecked(_ css: String, _ checked: Bool) async throws {
        let element = try await revealed(css)
        if (try await element.property("checked") as? Bool) != checked { try await element.click() }
    }

    func text(_ css: String) async throws -> String { try await revealed(css).text() }

    func signIn(_ email: String, _ password: String) async throws {
        try await go("/login")
        try await fill("#email", email)
        try await fill("#password", password)
        try await click("button[type=submit]")
        try await driver.waitUntil("signed in") { try await driver.currentURL().contains("/login") == false }
    }

    func signOut() async throws {
        try await click("form[action='/logout'] button")
        try await driver.waitUntil("signed out") { try await driver.currentURL().contains("/login") }
    }

    /// Waits for the page the form's script went to after saving.
    func waitForURL(containing part: String) async throws {
        try await driver.waitUntil("the URL contains \(part)") { try await driver.currentURL().contains(part) }
    }

    // MARK: API (setting up what the test is not about)

    @discardableResult
    func api(_ method: String, _ path: String, json: String? = nil) async throws -> (Int, [String: Any]) {
        try await Self.api(method, base + path, json: json)
    }

    static func api(_ method: String, _ url: String, json: String? = nil) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = 10
        request.setValue("Bearer \(adminToken)", forHTTPHeaderField: "Authorization")
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(json.utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, object)
    }

    /// The new user's id.
    @discardableResult
    func createUser(name: String, email: String, role: String, password: String = "password-123") async throws -> String {
        let (status, body) = try await api("POST", "/api/v1/users", json: """
            {"name": "\(name)", "email": "\(email)", "role": "\(role)", "password": "\(password)"}
            """)
        #expect(status == 201, "\(body)")
        return try #require(body["id"] as? String)
    }

    /// A `GET` from inside the page, with the browser's session cookie: the status it gets.
    func statusInPage(_ path: String) async throws -> Int? {
        try await driver.execute("""
            const x = new XMLHttpRequest(); x.open('GET', arguments[0], false); x.send(); return x.status;
            """, [path]) as? Int
    }

    /// Presses a key on an element, as a keyboard user would (WebDriver key codes, e.g. Enter).
    func press(_ css: String, key: String) async throws {
        try await driver.waitFor(css).type(key)
    }

    static let enterKey = "\u{E007}"

    /// Form controls of the current page that no label names (nor aria-label / aria-labelledby),
    /// and buttons without text: what a screen reader could not name.
    func unlabelledControls() async throws -> [String] {
        let found = try await driver.execute("""
            return Array.from(document.querySelectorAll('input, select, textarea, button')).filter((el) => {
              if (el.type === 'hidden') return false;
              if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
              if (el.tagName === 'BUTTON') return el.textContent.trim() === '';
              return !(el.labels && Array.from(el.labels).some((l) => l.textContent.trim() !== ''));
            }).map((el) => el.outerHTML.slice(0, 160));
            """)
        return found as? [String] ?? ["(the check did not run)"]
    }

    /// Polls `GET path` until `condition` holds on the items.
    func waitForItems(_ path: String, timeout: Duration = .seconds(30), _ condition: ([[String: Any]]) -> Bool) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let items = (try await api("GET", path).1["items"] as? [[String: Any]]) ?? []
            if condition(items) { return items }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw WebDriver.Failure(description: "timed out waiting for \(path)")
    }

    // MARK: Mail servers

    /// A new Dovecot mailbox (any user name works with the test password) with `messages` in its INBOX.
    static func mailbox(_ messages: [String]) async throws -> (user: String, password: String, port: String) {
        let user = "web-\(UUID().uuidString.prefix(8).lowercased())"
        let password = try TestServers.require("MAILROOM_TEST_DOVECOT_PASSWORD")
        let port = try TestServers.require("MAILROOM_TEST_IMAP_PORT")
        try await deliver(messages, user: user)
        return (user, password, port)
    }

    static func deliver(_ messages: [String], user: String) async throws {
        guard !messages.isEmpty else { return }
        let password = try TestServers.require("MAILROOM_TEST_DOVECOT_PASSWORD")
        let port = try TestServers.require("MAILROOM_TEST_IMAP_PORT")
        let endpoint = MailEndpoint(host: "127.0.0.1", port: Int(port)!, security: .none, authTimeout: .seconds(30))
        let imap = try await IMAPConnection.connect(to: endpoint, credentials: .password(user, password))
        for message in messages {
            _ = try await imap.append(to: "INBOX", message: Array(message.replacingOccurrences(of: "\n", with: "\r\n").utf8), flags: [])
        }
        await imap.logout()
    }

    /// Files the SMTP sink wrote, as text.
    static func sinkMessages() -> [String] {
        guard let directory = TestServers.value("MAILROOM_TEST_SMTP_SINK_DUMP_DIR"),
              let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.compactMap { try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8) }
    }

    // MARK: Process helpers

    static func binaryPath() throws -> String {
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("mailroom"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("mailroom"),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mailroom"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw WebDriver.Failure(description: "the mailroom executable is not built next to the tests (looked in \(candidates.map(\.path)))")
        }
        return found.path
    }

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
}

/// A loopback HTTP listener that counts every request it gets: proof that a page loaded nothing
/// from elsewhere (python3 is already needed by the other test servers).
final class HitCounter: @unchecked Sendable {
    let port: Int
    let process: Process
    let log: URL

    init(page: String = "") throws {
        port = BrowserHarness.freePort()
        log = FileManager.default.temporaryDirectory.appendingPathComponent("hits-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let script = """
            import http.server, sys
            log = open(sys.argv[2], 'a', buffering=1)
            page = sys.argv[3].encode()
            class H(http.server.BaseHTTPRequestHandler):
                def hit(self):
                    log.write(self.command + ' ' + self.path + '\\n')
                    self.send_response(200)
                    self.send_header('Content-Type', 'text/html' if self.path.startswith('/page') else 'image/gif')
                    self.end_headers()
                    if self.path.startswith('/page'): self.wfile.write(page)
                def do_GET(self): self.hit()
                def do_POST(self): self.hit()
                def log_message(self, *a): pass
            http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
            """
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", script, String(port), log.path, page]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        process = server
        try server.run()
        // Python starts slowly on a busy machine: wait until the port takes connections.
        for _ in 0..<150 where !Self.accepts(port: port) { Thread.sleep(forTimeInterval: 0.1) }
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } } == 0
    }

    /// Requests received, except the test's own page loads.
    var hits: [String] {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init).filter { !$0.hasPrefix("GET /page") }
    }

    func stop() {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: log)
    }
}
