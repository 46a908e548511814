import NIOCore

/// One step of a connection check ("resolve", "connect", "tls", "greeting", "starttls",
/// "authenticate", "openFolder", "ehlo").
public struct ConnectionCheckStep: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable { case ok, failed }
    public var name: String
    public var outcome: Outcome
    public var durationMilliseconds: Int
    /// The server's message on success, or what went wrong and what to do on failure.
    /// Never contains credentials.
    public var message: String?
    /// For failures: the error kind (`unknownHost`, `timeout`, `tls`, `authenticationFailed`, ...).
    public var errorKind: String?
    /// For TLS failures: `expired`, `selfSigned`, `wrongHost`, ...
    public var tlsReason: String?
    public var replyCode: Int?
    public var enhancedStatus: String?
    /// The step in words for people ("Sign in"); `name` stays the identifier programs match on.
    public var label: String?

    public init(name: String, outcome: Outcome, durationMilliseconds: Int, message: String? = nil, errorKind: String? = nil,
                tlsReason: String? = nil, replyCode: Int? = nil, enhancedStatus: String? = nil) {
        self.name = name
        self.outcome = outcome
        self.durationMilliseconds = durationMilliseconds
        self.message = message
        self.errorKind = errorKind
        self.tlsReason = tlsReason
        self.replyCode = replyCode
        self.enhancedStatus = enhancedStatus
        self.label = Self.label(for: name)
    }

    public var ok: Bool { outcome == .ok }

    /// The words for a step's identifier; an identifier without words of its own is shown as it is.
    public static func label(for name: String) -> String {
        switch name {
        case "resolve": "Find the server"
        case "connect": "Connect"
        case "tls": "Secure the connection (TLS)"
        case "greeting": "Server greeting"
        case "starttls": "Switch to TLS (STARTTLS)"
        case "ehlo": "Introduce to the server (EHLO)"
        case "authenticate": "Sign in"
        case "openFolder": "Open the folder"
        case "token": "Get an access token"
        case "credentials": "Check the credentials"
        case "mailbox": "Open the mailbox"
        case "folder": "Open the folder"
        case "send": "Send mail"
        default: name
        }
    }
}

/// The answer of a connection check, for the API's "test connection".
public struct ConnectionCheckReport: Sendable, Hashable, Codable {
    public var protocolName: String
    public var host: String
    public var port: Int
    public var security: MailSecurity
    public var ok: Bool
    public var steps: [ConnectionCheckStep]
    public var totalMilliseconds: Int

    public init(protocolName: String, endpoint: MailEndpoint, steps: [ConnectionCheckStep], totalMilliseconds: Int) {
        self.protocolName = protocolName
        self.host = endpoint.host
        self.port = endpoint.port
        self.security = endpoint.security
        self.steps = steps
        self.ok = !steps.isEmpty && steps.allSatisfy(\.ok)
        self.totalMilliseconds = totalMilliseconds
    }
}

/// Runs steps in order, timing each, stopping at the first failure. For the clients' checks.
public final class ConnectionCheckRunner {
    public private(set) var steps: [ConnectionCheckStep] = []
    public private(set) var failed = false
    private let started = ContinuousClock.now

    public init() {}

    /// Runs `body` as step `name` unless an earlier step failed; `body` answers its value and
    /// the message to show.
    public func step<T>(_ name: String, _ body: () async throws -> (T, String?)) async -> T? {
        guard !failed else { return nil }
        let start = ContinuousClock.now
        do {
            let (value, message) = try await body()
            record(name, .ok, since: start, message: message)
            return value
        } catch let error as MailTransportError {
            failed = true
            var step = ConnectionCheckStep(name: name, outcome: .failed, durationMilliseconds: Self.ms(ContinuousClock.now - start),
                                           message: Self.advice(for: error), errorKind: error.kind.rawValue)
            step.tlsReason = error.tlsReason?.code
            step.replyCode = error.replyCode
            step.enhancedStatus = error.enhancedStatus?.description
            steps.append(step)
            return nil
        } catch {
            failed = true
            steps.append(ConnectionCheckStep(name: name, outcome: .failed, durationMilliseconds: Self.ms(ContinuousClock.now - start),
                                             message: ErrorWords.describe(error), errorKind: "internal"))
            return nil
        }
    }

    /// Records a step measured elsewhere.
    public func record(_ name: String, _ outcome: ConnectionCheckStep.Outcome, duration: Duration, message: String?) {
        steps.append(ConnectionCheckStep(name: name, outcome: outcome, durationMilliseconds: Self.ms(duration), message: message))
    }

    private func record(_ name: String, _ outcome: ConnectionCheckStep.Outcome, since start: ContinuousClock.Instant, message: String?) {
        record(name, outcome, duration: ContinuousClock.now - start, message: message)
    }

    public func report(protocolName: String, endpoint: MailEndpoint) -> ConnectionCheckReport {
        // A TLS attempt on a plain port: the advice names this protocol's TLS port.
        let named = steps.map { step -> ConnectionCheckStep in
            guard step.tlsReason == TLSFailureReason.plainPort.code else { return step }
            var step = step
            step.message = TLSFailureReason.plainPortMessage(protocolName: protocolName)
            return step
        }
        return ConnectionCheckReport(protocolName: protocolName, endpoint: endpoint, steps: named,
                                     totalMilliseconds: Self.ms(ContinuousClock.now - started))
    }

    static func ms(_ d: Duration) -> Int { Int(d.milliseconds.rounded()) }

    /// The error's text plus what a user can do about it.
    public static func advice(for error: MailTransportError) -> String {
        switch error.kind {
        case .unknownHost: return "\(error.message): check the server name"
        case .connectionRefused: return "\(error.message): check the port and that the server accepts connections from here"
        case .timeout: return "\(error.message): check host, port and firewalls, or raise the timeout"
        case .tls: return error.message
        case .authenticationFailed: return "\(error.message): check the user name and password (or token), and that the account allows this kind of access"
        default: return error.message
        }
    }
}

extension MailConnection {
    /// The transport steps of a check: resolve, connect and, for implicit TLS, the handshake.
    public static func checkedConnect(_ endpoint: MailEndpoint, runner: ConnectionCheckRunner) async -> MailConnection? {
        guard let address = await runner.step("resolve", { () async throws -> (SocketAddress, String?) in
            let address = try await resolve(endpoint)
            return (address, "\(endpoint.host) is \(ipText(address))")
        }) else { return nil }
        let started = ContinuousClock.now
        var tcp: Duration?
        do {
            let connection = try await connect(to: endpoint, address: address, implicitTLS: endpoint.security == .tls) { tcp = $0 }
            runner.record("connect", .ok, duration: tcp ?? .zero, message: "connected to port \(endpoint.port)")
            if endpoint.security == .tls {
                runner.record("tls", .ok, duration: ContinuousClock.now - started - (tcp ?? .zero), message: tlsMessage(endpoint))
            }
            return connection
        } catch let error as MailTransportError {
            if let tcp {
                runner.record("connect", .ok, duration: tcp, message: "connected to port \(endpoint.port)")
                _ = await runner.step("tls") { () async throws -> ((), String?) in throw error }
            } else {
                _ = await runner.step("connect") { () async throws -> ((), String?) in throw error }
            }
            return nil
        } catch {
            _ = await runner.step("connect") { () async throws -> ((), String?) in throw MailTransportError.connectionFailed(endpoint.host, endpoint.port, ErrorWords.describe(error)) }
            return nil
        }
    }

    public static func tlsMessage(_ endpoint: MailEndpoint) -> String {
        endpoint.acceptAnyCertificate ? "TLS established (certificate not verified: \"accept any certificate\" is on)" : "TLS established, certificate verified"
    }

    private static func ipText(_ address: SocketAddress) -> String {
        address.ipAddress ?? "\(address)"
    }
}
