import Foundation
import MailTransport

/// Access to the servers the test command started (`scripts/services/*`), by environment variable.
///
/// Without a variable a test is skipped, unless `MAILROOM_TEST_REQUIRE_SERVERS=1`, in which case
/// it runs and fails naming the missing variable.
public enum TestServers {
    public static var environment: [String: String] { ProcessInfo.processInfo.environment }

    public static var requireServers: Bool { environment["MAILROOM_TEST_REQUIRE_SERVERS"] == "1" }

    /// For `.enabled(if:)`: true when all variables are set, or when servers are required.
    public static func available(_ names: String...) -> Bool {
        requireServers || names.allSatisfy { environment[$0] != nil }
    }

    public struct Missing: Error, CustomStringConvertible {
        public var name: String
        public var description: String { "environment variable \(name) is not set: start the test servers (scripts/services/*) or run scripts/test" }
    }

    public static func value(_ name: String) throws -> String {
        guard let value = environment[name], !value.isEmpty else { throw Missing(name: name) }
        return value
    }

    public static func port(_ name: String) throws -> Int {
        guard let port = Int(try value(name)) else { throw Missing(name: name) }
        return port
    }

    public static var host: String { environment["MAILROOM_TEST_IMAP_HOST"] ?? "127.0.0.1" }

    public static func dovecotPassword() throws -> String { try value("MAILROOM_TEST_DOVECOT_PASSWORD") }

    /// A fresh user name, so parallel tests never share a mailbox.
    public static func uniqueUser(_ prefix: String = "user") -> String {
        "\(prefix)-\(UInt64.random(in: 0...UInt64.max).hex)@example.test"
    }

    public static func endpoint(port variable: String, security: MailSecurity, acceptAnyCertificate: Bool = true,
                                commandTimeout: Duration = .seconds(60)) throws -> MailEndpoint {
        MailEndpoint(host: "127.0.0.1", port: try port(variable), security: security, acceptAnyCertificate: acceptAnyCertificate,
                     connectionTimeout: .seconds(10), authTimeout: .seconds(10), commandTimeout: commandTimeout)
    }
}

extension UInt64 {
    var hex: String { String(self, radix: 16) }
}

/// Feeds bytes whole, byte by byte and in random chunks.
public enum Chunking: CaseIterable, Sendable, CustomStringConvertible {
    case whole, byteByByte, random

    public func split(_ bytes: [UInt8], seed: UInt64 = 42) -> [[UInt8]] {
        switch self {
        case .whole: return [bytes]
        case .byteByByte: return bytes.map { [$0] }
        case .random:
            var generator = SplitMix(seed: seed)
            var out: [[UInt8]] = []
            var i = 0
            while i < bytes.count {
                let n = Int(generator.next() % 17) + 1
                out.append(Array(bytes[i..<min(bytes.count, i + n)]))
                i += n
            }
            return out
        }
    }

    public var description: String {
        switch self {
        case .whole: return "whole"
        case .byteByByte: return "byte by byte"
        case .random: return "random chunks"
        }
    }
}

public struct SplitMix: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Loads a fixture transcript; `\n` line ends become CRLF.
public func fixtureBytes(_ url: URL) throws -> [UInt8] {
    let text = try String(contentsOf: url, encoding: .utf8)
    var out: [UInt8] = []
    for byte in text.utf8 {
        if byte == UInt8(ascii: "\n") { out += [13, 10] } else { out.append(byte) }
    }
    return out
}
