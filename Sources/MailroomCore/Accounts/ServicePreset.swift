/// The servers of a well-known provider, filled in when an account names that service.
public struct ServicePreset: Sendable, Equatable {
    public struct Endpoint: Sendable, Equatable {
        public let host: String
        public let port: Int
        public let security: ConnectionSecurity
    }

    public let imap: Endpoint
    public let pop3: Endpoint
    public let smtp: Endpoint

    /// The providers' published settings for mail clients.
    public static func forService(_ service: MailService) -> ServicePreset? {
        switch service {
        case .custom:
            return nil
        case .gmail:
            return ServicePreset(
                imap: .init(host: "imap.gmail.com", port: 993, security: .tls),
                pop3: .init(host: "pop.gmail.com", port: 995, security: .tls),
                smtp: .init(host: "smtp.gmail.com", port: 465, security: .tls))
        case .outlook365:
            return ServicePreset(
                imap: .init(host: "outlook.office365.com", port: 993, security: .tls),
                pop3: .init(host: "outlook.office365.com", port: 995, security: .tls),
                smtp: .init(host: "smtp.office365.com", port: 587, security: .starttls))
        case .yahoo:
            return ServicePreset(
                imap: .init(host: "imap.mail.yahoo.com", port: 993, security: .tls),
                pop3: .init(host: "pop.mail.yahoo.com", port: 995, security: .tls),
                smtp: .init(host: "smtp.mail.yahoo.com", port: 465, security: .tls))
        case .hotmail:
            return ServicePreset(
                imap: .init(host: "outlook.office365.com", port: 993, security: .tls),
                pop3: .init(host: "outlook.office365.com", port: 995, security: .tls),
                smtp: .init(host: "smtp-mail.outlook.com", port: 587, security: .starttls))
        }
    }
}

extension Account {
    /// Fills what the account leaves to defaults: a preset's servers (which replace any given,
    /// as the Motion form hides the server fields for a preset), standard ports, and the
    /// preset's login name (the mail address).
    public mutating func applyDefaults() {
        if let preset = ServicePreset.forService(service) {
            switch incoming.protocol {
            case .imap: incoming.connection.apply(preset.imap)
            case .pop3: incoming.connection.apply(preset.pop3)
            case .none, .ews, .graph: break
            }
            if outgoing.protocol == .smtp { outgoing.connection.apply(preset.smtp) }
            for keyPath in [\Account.incoming.connection.auth, \Account.outgoing.connection.auth]
            where self[keyPath: keyPath].username.isEmpty {
                self[keyPath: keyPath].username = fromAddress
            }
        }
        if incoming.connection.port == nil { incoming.connection.port = incoming.effectivePort }
        if outgoing.connection.port == nil { outgoing.connection.port = outgoing.effectivePort }
        // A direction that is off keeps no port, unless the port is out of range: the validator
        // then refuses it by name instead of the request being taken with it silently dropped.
        let valid = { (port: Int?) in port.map(AccountValidator.portRange.contains) ?? true }
        if incoming.protocol == .none && incoming.connection.host.isEmpty && valid(incoming.connection.port) { incoming.connection.port = nil }
        if outgoing.protocol == .none && outgoing.connection.host.isEmpty && valid(outgoing.connection.port) { outgoing.connection.port = nil }
        for keyPath in [\Account.incoming.connection.auth, \Account.outgoing.connection.auth] {
            self[keyPath: keyPath].dropUnusedSecrets()
        }
    }
}

extension ServerConnection {
    mutating func apply(_ endpoint: ServicePreset.Endpoint) {
        host = endpoint.host
        port = endpoint.port
        security = endpoint.security
        acceptAnyCertificate = false
    }
}

extension ServerAuth {
    /// Switching the method away from password or OAuth2 forgets the credentials it used.
    mutating func dropUnusedSecrets() {
        if method != .password { password = nil }
        if method != .oauth2 { oauth2 = nil }
    }
}
