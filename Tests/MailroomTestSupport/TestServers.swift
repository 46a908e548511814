import Foundation

/// The servers `scripts/test` started, as the environment it passes to `swift test`.
public enum TestServers {
    /// Set by `scripts/test`: a missing server is then a failure, not a reason to skip.
    public static var required: Bool {
        ProcessInfo.processInfo.environment["MAILROOM_TEST_REQUIRE_SERVERS"] == "1"
    }

    public static func value(_ name: String) -> String? {
        let value = ProcessInfo.processInfo.environment[name]
        return value?.isEmpty == false ? value : nil
    }

    /// Whether tests that need `name` should run: it is set, or the run requires every server.
    public static func shouldRun(_ name: String) -> Bool {
        value(name) != nil || required
    }

    /// The variable's value, or an error that names it (when the run requires servers).
    public static func require(_ name: String) throws -> String {
        guard let value = value(name) else { throw MissingServer(variable: name) }
        return value
    }

    public struct MissingServer: Error, CustomStringConvertible {
        public let variable: String
        public var description: String {
            "\(variable) is not set: run the tests with scripts/test, which starts the servers they need"
        }
    }
}
