import Foundation
import MailroomStore
import MailroomWeb
import NIOCore

/// Everything `mailroom serve` is told, from flags first and the environment second.
public struct MailroomConfiguration: Sendable {
    public var dataDirectory: String
    public var database: DatabaseLocation
    public var httpHost: String
    public var httpPort: Int
    public var adminToken: String?
    public var secretKey: String?
    /// Slow-client limits: `MAILROOM_HTTP_HEADER_TIMEOUT` and `MAILROOM_HTTP_BODY_TIMEOUT`, in seconds.
    public var httpLimits = HTTPConnectionLimits()
    /// `MAILROOM_API_RATE_LIMIT` (`N/SECONDS` per token, or `off`) and `MAILROOM_SIGNIN_LIMITS`
    /// (`PER_ADDRESS/PER_CLIENT/WINDOW_SECONDS` failed sign-ins).
    public var web = WebSettings()
    /// `MAILROOM_OAUTH2_REFRESH_RATE`: token refreshes per second this node asks of a provider, at most.
    public var oauth2RefreshRate: Double = 10
    /// `MAILROOM_MIN_FREE_MB` (64): below this much free space on the data directory's file system, new work is refused.
    public var minimumFreeBytes: Int64 = 64 << 20

    public static let defaultDataDirectory = "./mailroom-data"
    public static let defaultHTTP = "127.0.0.1:8080"

    /// - Parameters: the flag values (nil when not given) and the process environment.
    public init(dataDirectory: String?, databaseURL: String?, http: String?, environment: [String: String]) throws {
        let dataDirectory = dataDirectory ?? environment["MAILROOM_DATA_DIR"].nonEmpty ?? Self.defaultDataDirectory
        self.dataDirectory = dataDirectory
        if let url = databaseURL ?? environment["MAILROOM_DATABASE_URL"].nonEmpty {
            self.database = try DatabaseLocation(url: url)
        } else {
            let path = URL(fileURLWithPath: dataDirectory).appendingPathComponent("mailroom.sqlite").path
            self.database = .sqlite(path: path)
        }
        let http = http ?? environment["MAILROOM_HTTP"].nonEmpty ?? Self.defaultHTTP
        (self.httpHost, self.httpPort) = try Self.parseAddress(http)
        self.adminToken = environment["MAILROOM_ADMIN_TOKEN"].nonEmpty
        self.secretKey = environment["MAILROOM_SECRET_KEY"].nonEmpty
        if let seconds = try Self.seconds(environment, "MAILROOM_HTTP_HEADER_TIMEOUT") { httpLimits.headerTimeout = seconds }
        if let seconds = try Self.seconds(environment, "MAILROOM_HTTP_BODY_TIMEOUT") { httpLimits.bodyTimeout = seconds }
        if let text = environment["MAILROOM_API_RATE_LIMIT"].nonEmpty {
            if text.lowercased() == "off" { web.apiRateLimit = nil } else {
                guard let limit = RateLimit(text: text) else {
                    throw ConfigurationError("MAILROOM_API_RATE_LIMIT must be REQUESTS/SECONDS such as 600/60, or off; not '\(text)'")
                }
                web.apiRateLimit = limit
            }
        }
        if let text = environment["MAILROOM_MIN_FREE_MB"].nonEmpty {
            guard let megabytes = Int64(text), megabytes >= 0, megabytes <= 1 << 20 else {
                throw ConfigurationError("MAILROOM_MIN_FREE_MB must be a number of megabytes from 0 to 1048576, not '\(text)'")
            }
            minimumFreeBytes = megabytes << 20
        }
        if let text = environment["MAILROOM_SIGNIN_LIMITS"].nonEmpty {
            let parts = text.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 3, parts.allSatisfy({ $0 > 0 }), parts[2] <= 86_400 else {
                throw ConfigurationError("MAILROOM_SIGNIN_LIMITS must be PER_ADDRESS/PER_CLIENT/WINDOW_SECONDS such as 5/20/900; not '\(text)'")
            }
            web.signInLimits = SignInThrottle.Limits(perAddress: parts[0], perClient: parts[1], window: TimeInterval(parts[2]))
        }
        if let text = environment["MAILROOM_OAUTH2_REFRESH_RATE"].nonEmpty {
            guard let rate = Double(text), rate >= 0.1, rate <= 1_000 else {
                throw ConfigurationError("MAILROOM_OAUTH2_REFRESH_RATE must be token refreshes per second from 0.1 to 1000, such as 10; not '\(text)'")
            }
            oauth2RefreshRate = rate
        }
    }

    static func seconds(_ environment: [String: String], _ name: String) throws -> TimeAmount? {
        guard let text = environment[name].nonEmpty else { return nil }
        guard let value = Double(text), value > 0, value <= 86_400 else {
            throw ConfigurationError("\(name) must be a number of seconds from 0 to 86400, not '\(text)'")
        }
        return .milliseconds(Int64(value * 1000))
    }

    static func parseAddress(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":") else {
            throw ConfigurationError("--http must be host:port, as in 127.0.0.1:8080, not '\(text)'")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else {
            throw ConfigurationError("--http must be host:port with a port from 1 to 65535, not '\(text)'")
        }
        return (host, port)
    }
}

public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Optional where Wrapped == String {
    var nonEmpty: String? {
        guard let self, !self.isEmpty else { return nil }
        return self
    }
}
