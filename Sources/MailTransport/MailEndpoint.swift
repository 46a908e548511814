/// How a connection is protected.
public enum MailSecurity: String, Sendable, Codable, Hashable, CaseIterable {
    /// TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465).
    case tls
    /// Plain connection upgraded with STARTTLS / STLS before authenticating.
    case starttls
    /// No encryption at all.
    case none
}

/// Where and how to connect: the transport part of an account's incoming or outgoing settings.
public struct MailEndpoint: Sendable, Codable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var security: MailSecurity
    /// Skip certificate chain and host name verification. Only when the account says so.
    public var acceptAnyCertificate: Bool
    /// Limit for resolving, connecting and the TLS handshake, each.
    public var connectionTimeout: Duration
    /// Limit for each authentication step (one server answer).
    public var authTimeout: Duration
    /// Limit for any other single server answer (a fetch chunk, a DATA reply).
    public var commandTimeout: Duration

    public init(
        host: String,
        port: Int,
        security: MailSecurity,
        acceptAnyCertificate: Bool = false,
        connectionTimeout: Duration = .seconds(10),
        authTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(120)
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.acceptAnyCertificate = acceptAnyCertificate
        self.connectionTimeout = connectionTimeout
        self.authTimeout = authTimeout
        self.commandTimeout = commandTimeout
    }

    public var description: String {
        "\(host):\(port) (\(security.rawValue)\(acceptAnyCertificate ? ", any certificate" : ""))"
    }
}
