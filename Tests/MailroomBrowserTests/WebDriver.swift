import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A small W3C WebDriver client: enough to drive headless Chromium through chromedriver.
struct WebDriver: Sendable {
    let base: URL
    let sessionId: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// An element reference as WebDriver hands it out.
    struct Element: Sendable {
        static let key = "element-6066-11e4-a52e-4f735466cecf"
        let id: String
        let driver: WebDriver

        func click() async throws { _ = try await driver.call("POST", "element/\(id)/click", [:]) }
        func clear() async throws { _ = try await driver.call("POST", "element/\(id)/clear", [:]) }
        func type(_ text: String) async throws { _ = try await driver.call("POST", "element/\(id)/value", ["text": text]) }
        func text() async throws -> String { try await driver.call("GET", "element/\(id)/text") as? String ?? "" }
        func property(_ name: String) async throws -> Any? { try await driver.call("GET", "element/\(id)/property/\(name)") }
        func attribute(_ name: String) async throws -> String? { try await driver.call("GET", "element/\(id)/attribute/\(name)") as? String }
        func isDisplayed() async throws -> Bool { try await driver.call("GET", "element/\(id)/displayed") as? Bool ?? false }

        /// Replaces the field's value, as a person selecting all and typing would.
        func fill(_ text: String) async throws {
            try await clear()
            if !text.isEmpty { try await type(text) }
        }
    }

    /// Starts headless Chromium. `--no-sandbox` because the tests run as root in a container.
    static func start(url: String, binary: String?) async throws -> WebDriver {
        guard let base = URL(string: url) else { throw Failure(description: "bad WebDriver URL \(url)") }
        var options: [String: Any] = [
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1366,900",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--autoplay-policy=no-user-gesture-required"],
        ]
        if let binary { options["binary"] = binary }
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": options]]]
        let value = try await Self.send("POST", base.appendingPathComponent("session"), capabilities)
        guard let object = value as? [String: Any], let id = object["sessionId"] as? String else {
            throw Failure(description: "chromedriver did not start a session: \(String(describing: value))")
        }
        return WebDriver(base: base, sessionId: id)
    }

    func quit() async {
        _ = try? await Self.send("DELETE", base.appendingPathComponent("session/\(sessionId)"), nil)
    }

    // MARK: Navigation and pages

    func go(_ url: String) async throws { _ = try await call("POST", "url", ["url": url]) }
    func currentURL() async throws -> String { try await call("GET", "url") as? String ?? "" }
    func title() async throws -> String { try await call("GET", "title") as? String ?? "" }
    func source() async throws -> String { try await call("GET", "source") as? String ?? "" }

    func find(_ css: String) async throws -> Element {
        let value = try await call("POST", "element", ["using": "css selector", "value": css])
        guard let object = value as? [String: Any], let id = object[Element.key] as? String else {
            throw Failure(description: "no element matches \(css)")
        }
        return Element(id: id, driver: self)
    }

    func findAll(_ css: String) async throws -> [Element] {
        let value = try await call("POST", "elements", ["using": "css selector", "value": css])
        return (value as? [[String: Any]] ?? []).compactMap { ($0[Element.key] as? String).map { Element(id: $0, driver: self) } }
    }

    /// Waits until an element matches (pages load and live regions refresh asynchronously).
    func waitFor(_ css: String, timeout: Duration = .seconds(20)) async throws -> Element {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            do { return try await find(css) } catch { lastError = error }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "timed out waiting for \(css): \(String(describing: lastError))")
    }

    /// Waits until `condition` holds, checking every 100 ms.
    func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "timed out waiting until \(what)")
    }

    @discardableResult
    func execute(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await call("POST", "execute/sync", ["script": script, "args": arguments])
    }

    /// A PNG of the viewport.
    func screenshot() async throws -> Data {
        guard let base64 = try await call("GET", "screenshot") as? String, let data = Data(base64Encoded: base64) else {
            throw Failure(description: "no screenshot")
        }
        return data
    }

    func setWindow(width: Int, height: Int) async throws {
        _ = try await call("POST", "window/rect", ["width": width, "height": height])
    }

    // MARK: Transport

    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        try await Self.send(method, base.appendingPathComponent("session/\(sessionId)/\(path)"), body ?? (method == "POST" ? [:] : nil))
    }

    /// Sent with curl: FoundationNetworking's URLSession fails on chromedriver's replies here
    /// ("Failed writing header"), while curl reads them fine.
    static func send(_ method: String, _ url: URL, _ body: [String: Any]?) async throws -> Any? {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let (data, status) = try await Task.detached { () throws -> (Data, Int) in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            var arguments = ["curl", "-sS", "-m", "120", "-X", method, "-w", "\n%{http_code}"]
            if payload != nil { arguments += ["-H", "Content-Type: application/json; charset=utf-8", "--data-binary", "@-"] }
            process.arguments = arguments + [url.absoluteString]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            if let payload { input.fileHandleForWriting.write(payload) }
            try input.fileHandleForWriting.close()
            let all = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard let newline = all.lastIndex(of: UInt8(ascii: "\n")) else { return (all, 0) }
            let code = Int(String(decoding: all[(newline + 1)...], as: UTF8.self)) ?? 0
            return (Data(all[..<newline]), code)
        }.value
        let object = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any]
        let value = object?["value"]
        guard (200..<300).contains(status) else {
            let error = (value as? [String: Any]).map { "\($0["error"] ?? ""): \($0["message"] ?? "")" } ?? String(decoding: data, as: UTF8.self)
            throw Failure(description: "WebDriver \(method) \(url.path) answered \(status): \(error.prefix(500))")
        }
        return value is NSNull ? nil : value
    }
}
