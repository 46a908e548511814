import Foundation

/// One mailbox Mailroom reads and/or sends from, with all its settings
/// (Motion's "email account", Ameyo's "email media profile").
///
/// Decoding fills every absent field with its documented default, so the same
/// decoder serves a create request and a stored row. Encoding never writes a
/// credential (see `Secret`); `AccountSecrets` carries those to the store.
public struct Account: Sendable, Equatable {
    public var id: String
    public var key: String
    public var name: String
    public var service: MailService
    public var fromAddress: String
    public var fromName: String
    public var description: String
    /// Motion's "list of contact manager": the contact lists whose entries identify this account's customers.
    public var contactLists: [String]
    public var active: Bool
    /// Motion's "mark as unread": mail arriving on this account marks its ticket unread for the agent.
    /// On by default, as every account behaved before the setting took effect.
    public var markUnread: Bool
    public var waitForAgentSeconds: Int
    public var waitForQueueSeconds: Int
    public var subjectPrefix: String
    public var replyTo: String?
    /// Pins this account's fetcher to the node with this hostname (Motion's multi-server hostname).
    public var hostname: String?
    public var incoming: IncomingServer
    public var outgoing: OutgoingServer
    public var resolvers: [ResolverName]
    public var signature: Signature
    /// The logo and signature images, uploaded once; the template and signature show them as `cid:` names.
    public var inlineImages: [InlineImage]
    /// Mustache HTML wrapped around every message sent from this account (fonts, logo); `{{{body}}}` marks the message.
    public var template: String?
    /// The template's font and size, applied to every HTML mail sent from the account; nil: none set.
    public var font: MessageFont?
    public var notification: NotificationSettings
    public var transfer: TransferSettings
    public var mandatoryDisposition: MandatoryDisposition
    public var retry: RetrySettings
    /// The account replies are sent from (Ameyo's incoming-to-outgoing media profile mapping); nil: this account.
    public var outgoingAccountId: String?
    public var createdAt: Date?
    public var updatedAt: Date?
    /// Set when the account was deleted: it no longer fetches or sends, its tickets stay readable.
    public var deletedAt: Date?

    public static let defaultWaitSeconds = 10
    public static let waitSecondsRange = 1...2_147_483
    public static let maxKeyLength = 5
    public static let maxFromNameLength = 52

    public init(
        id: String = "",
        key: String,
        name: String,
        service: MailService = .custom,
        fromAddress: String = "",
        fromName: String = "",
        description: String = "",
        contactLists: [String] = [],
        active: Bool = true,
        markUnread: Bool = true,
        waitForAgentSeconds: Int = Account.defaultWaitSeconds,
        waitForQueueSeconds: Int = Account.defaultWaitSeconds,
        subjectPrefix: String = "",
        replyTo: String? = nil,
        hostname: String? = nil,
        incoming: IncomingServer = IncomingServer(),
        outgoing: OutgoingServer = OutgoingServer(),
        resolvers: [ResolverName] = ResolverName.defaultOrder,
        signature: Signature = Signature(),
        inlineImages: [InlineImage] = [],
        template: String? = nil,
        font: MessageFont? = nil,
        notification: NotificationSettings = NotificationSettings(),
        transfer: TransferSettings = TransferSettings(),
        mandatoryDisposition: MandatoryDisposition = MandatoryDisposition(),
        retry: RetrySettings = RetrySettings(),
        outgoingAccountId: String? = nil
    ) {
        self.id = id
        self.key = key
        self.name = name
        self.service = service
        self.fromAddress = fromAddress
        self.fromName = fromName
        self.description = description
        self.contactLists = contactLists
        self.active = active
        self.markUnread = markUnread
        self.waitForAgentSeconds = waitForAgentSeconds
        self.waitForQueueSeconds = waitForQueueSeconds
        self.subjectPrefix = subjectPrefix
        self.replyTo = replyTo
        self.hostname = hostname
        self.incoming = incoming
        self.outgoing = outgoing
        self.resolvers = resolvers
        self.signature = signature
        self.inlineImages = inlineImages
        self.template = template
        self.font = font
        self.notification = notification
        self.transfer = transfer
        self.mandatoryDisposition = mandatoryDisposition
        self.retry = retry
        self.outgoingAccountId = outgoingAccountId
    }

    /// Whether this account should be fetching mail now.
    public var fetches: Bool { active && deletedAt == nil && incoming.protocol != .none }
    /// Whether this account may send mail now.
    public var sends: Bool { deletedAt == nil && outgoing.protocol != .none }
}

extension Account: Codable {
    enum CodingKeys: String, CodingKey {
        case id, key, name, service, fromAddress, fromName, description, contactLists, active, markUnread
        case waitForAgentSeconds, waitForQueueSeconds, subjectPrefix, replyTo, hostname
        case incoming, outgoing, resolvers, signature, inlineImages, template, font, notification, transfer
        case mandatoryDisposition, retry, outgoingAccountId, createdAt, updatedAt, deletedAt
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decodeIfPresent(String.self, forKey: .id) ?? "",
            key: try c.decodeIfPresent(String.self, forKey: .key) ?? "",
            name: try c.decodeIfPresent(String.self, forKey: .name) ?? "",
            service: try c.decodeIfPresent(MailService.self, forKey: .service) ?? .custom,
            fromAddress: try c.decodeIfPresent(String.self, forKey: .fromAddress) ?? "",
            fromName: try c.decodeIfPresent(String.self, forKey: .fromName) ?? "",
            description: try c.decodeIfPresent(String.self, forKey: .description) ?? "",
            contactLists: try c.decodeIfPresent([String].self, forKey: .contactLists) ?? [],
            active: try c.decodeIfPresent(Bool.self, forKey: .active) ?? true,
            markUnread: try c.decodeIfPresent(Bool.self, forKey: .markUnread) ?? true,
            waitForAgentSeconds: try c.decodeIfPresent(Int.self, forKey: .waitForAgentSeconds) ?? Self.defaultWaitSeconds,
            waitForQueueSeconds: try c.decodeIfPresent(Int.self, forKey: .waitForQueueSeconds) ?? Self.defaultWaitSeconds,
            subjectPrefix: try c.decodeIfPresent(String.self, forKey: .subjectPrefix) ?? "",
            replyTo: try c.decodeIfPresent(String.self, forKey: .replyTo).nilIfBlank,
            hostname: try c.decodeIfPresent(String.self, forKey: .hostname).nilIfBlank,
            incoming: try c.decodeIfPresent(IncomingServer.self, forKey: .incoming) ?? IncomingServer(),
            outgoing: try c.decodeIfPresent(OutgoingServer.self, forKey: .outgoing) ?? OutgoingServer(),
            resolvers: try c.decodeIfPresent([ResolverName].self, forKey: .resolvers) ?? ResolverName.defaultOrder,
            signature: try c.decodeIfPresent(Signature.self, forKey: .signature) ?? Signature(),
            inlineImages: try c.decodeIfPresent([InlineImage].self, forKey: .inlineImages) ?? [],
            template: try c.decodeIfPresent(String.self, forKey: .template).nilIfBlank,
            font: try c.decodeIfPresent(MessageFont.self, forKey: .font),
            notification: try c.decodeIfPresent(NotificationSettings.self, forKey: .notification) ?? NotificationSettings(),
            transfer: try c.decodeIfPresent(TransferSettings.self, forKey: .transfer) ?? TransferSettings(),
            mandatoryDisposition: try c.decodeIfPresent(MandatoryDisposition.self, forKey: .mandatoryDisposition) ?? MandatoryDisposition(),
            retry: try c.decodeIfPresent(RetrySettings.self, forKey: .retry) ?? RetrySettings(),
            outgoingAccountId: try c.decodeIfPresent(String.self, forKey: .outgoingAccountId).nilIfBlank
        )
        self.createdAt = try c.decodeIfPresent(Date.self, forKey: .createdAt)
        self.updatedAt = try c.decodeIfPresent(Date.self, forKey: .updatedAt)
        self.deletedAt = try c.decodeIfPresent(Date.self, forKey: .deletedAt)
    }
}

/// A provider whose servers Mailroom knows; `custom` takes the hosts as given.
public enum MailService: String, NamedValues {
    case custom, gmail, outlook365, yahoo, hotmail
}

public enum IncomingProtocol: String, NamedValues {
    /// `ews`: Exchange Web Services (Exchange Server); `graph`: Microsoft Graph (Exchange Online).
    case none, imap, pop3, ews, graph

    /// Spoken over HTTPS to Exchange: the connection's `url` / `baseURL` instead of host and port.
    public var isExchange: Bool { self == .ews || self == .graph }
}

public enum OutgoingProtocol: String, NamedValues {
    case none, smtp, ews, graph

    public var isExchange: Bool { self == .ews || self == .graph }
}

/// How the connection is protected: TLS from the first byte, STARTTLS upgrade, or plain.
public enum ConnectionSecurity: String, NamedValues {
    case tls, starttls, none
}

public enum AuthMethod: String, NamedValues {
    /// No authentication (an internal relay that trusts the network).
    case none
    case password
    /// Modern authentication: XOAUTH2 / OAUTHBEARER with an access token obtained from a refresh token.
    case oauth2
}

public struct ServerAuth: Sendable, Equatable {
    public var method: AuthMethod
    public var username: String
    public var password: Secret?
    public var oauth2: OAuth2Settings?

    public init(method: AuthMethod = .password, username: String = "", password: Secret? = nil, oauth2: OAuth2Settings? = nil) {
        self.method = method
        self.username = username
        self.password = password
        self.oauth2 = oauth2
    }
}

extension ServerAuth: Codable {
    enum CodingKeys: String, CodingKey { case method, username, password, oauth2, passwordSet }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            method: try c.decodeIfPresent(AuthMethod.self, forKey: .method) ?? .password,
            username: try c.decodeIfPresent(String.self, forKey: .username) ?? "",
            password: try c.decodeIfPresent(Secret.self, forKey: .password).nilIfEmpty,
            oauth2: try c.decodeIfPresent(OAuth2Settings.self, forKey: .oauth2)
        )
    }

    /// Writes `passwordSet`, never the password.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(username, forKey: .username)
        try c.encode(password != nil, forKey: .passwordSet)
        try c.encodeIfPresent(oauth2, forKey: .oauth2)
    }
}

/// What both directions share: where the server is and how to reach and log in to it.
public struct ServerConnection: Sendable, Equatable {
    public var host: String
    public var port: Int?
    public var security: ConnectionSecurity
    public var acceptAnyCertificate: Bool
    public var auth: ServerAuth
    public var connectionTimeoutSeconds: Int
    public var authTimeoutSeconds: Int
    /// EWS: the endpoint (`https://mail.example.com/EWS/Exchange.asmx`); nil: built from `host`.
    public var url: String?
    /// Graph: the API's base (nil: `https://graph.microsoft.com/v1.0`).
    public var baseURL: String?
    /// Graph and EWS: the mailbox to open when it is not the account's from address (a shared mailbox).
    public var mailboxAddress: String?

    public static let defaultConnectionTimeoutSeconds = 10
    public static let defaultAuthTimeoutSeconds = 5

    public init(host: String = "", port: Int? = nil, security: ConnectionSecurity = .tls, acceptAnyCertificate: Bool = false,
                auth: ServerAuth = ServerAuth(), connectionTimeoutSeconds: Int = ServerConnection.defaultConnectionTimeoutSeconds,
                authTimeoutSeconds: Int = ServerConnection.defaultAuthTimeoutSeconds) {
        self.host = host
        self.port = port
        self.security = security
        self.acceptAnyCertificate = acceptAnyCertificate
        self.auth = auth
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.authTimeoutSeconds = authTimeoutSeconds
    }

    public static let defaultGraphBaseURL = "https://graph.microsoft.com/v1.0"

    /// The EWS endpoint: `url`, or a `host` given as a URL (accounts made before `url`), or the usual
    /// path on `host`; empty when neither is set (Autodiscover finds it from the mailbox address).
    public var ewsURL: String {
        if let url, !url.isEmpty { return url }
        if host.isEmpty { return "" }
        if host.contains("://") { return host }
        return "https://\(host)\(port.map { ":\($0)" } ?? "")/EWS/Exchange.asmx"
    }

    public var graphBaseURL: String { baseURL.flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultGraphBaseURL }
}

private enum ConnectionKeys: String, CodingKey {
    case `protocol`, host, port, security, acceptAnyCertificate, auth, connectionTimeoutSeconds, authTimeoutSeconds
    case url, baseURL, mailboxAddress
    case mailbox, fetchIntervalSeconds, fetchLastDays, deleteOnFetch, headerFilters, maxMessageBytes, sentFolder, verp
}

extension ServerConnection {
    /// Decodes the shared fields; `impliedSecurity` is what a protocol alias (`imaps`) asked for.
    fileprivate init(from c: KeyedDecodingContainer<ConnectionKeys>, impliedSecurity: ConnectionSecurity?) throws {
        let security = try c.decodeIfPresent(ConnectionSecurity.self, forKey: .security)
        self.init(
            host: (try c.decodeIfPresent(String.self, forKey: .host) ?? "").trimmingCharacters(in: .whitespaces),
            port: try c.decodeIfPresent(Int.self, forKey: .port),
            security: impliedSecurity ?? security ?? .tls,
            acceptAnyCertificate: try c.decodeIfPresent(Bool.self, forKey: .acceptAnyCertificate) ?? false,
            auth: try c.decodeIfPresent(ServerAuth.self, forKey: .auth) ?? ServerAuth(),
            connectionTimeoutSeconds: try c.decodeIfPresent(Int.self, forKey: .connectionTimeoutSeconds) ?? Self.defaultConnectionTimeoutSeconds,
            authTimeoutSeconds: try c.decodeIfPresent(Int.self, forKey: .authTimeoutSeconds) ?? Self.defaultAuthTimeoutSeconds
        )
        url = try c.decodeIfPresent(String.self, forKey: .url).nilIfBlank?.trimmingCharacters(in: .whitespaces)
        baseURL = try c.decodeIfPresent(String.self, forKey: .baseURL).nilIfBlank?.trimmingCharacters(in: .whitespaces)
        mailboxAddress = try c.decodeIfPresent(String.self, forKey: .mailboxAddress).nilIfBlank?.trimmingCharacters(in: .whitespaces)
    }

    fileprivate func encode(into c: inout KeyedEncodingContainer<ConnectionKeys>) throws {
        try c.encode(host, forKey: .host)
        try c.encode(port, forKey: .port)
        try c.encode(security, forKey: .security)
        try c.encode(acceptAnyCertificate, forKey: .acceptAnyCertificate)
        try c.encode(auth, forKey: .auth)
        try c.encode(connectionTimeoutSeconds, forKey: .connectionTimeoutSeconds)
        try c.encode(authTimeoutSeconds, forKey: .authTimeoutSeconds)
        try c.encodeIfPresent(url, forKey: .url)
        try c.encodeIfPresent(baseURL, forKey: .baseURL)
        try c.encodeIfPresent(mailboxAddress, forKey: .mailboxAddress)
    }
}

/// Reads a protocol name, accepting the seeds' spellings that fold security into the name (`imaps`).
private func decodeProtocolName<P: RawRepresentable & CaseIterable>(
    _ c: KeyedDecodingContainer<ConnectionKeys>, aliases: [String: (P, ConnectionSecurity)]
) throws -> (P?, ConnectionSecurity?) where P.RawValue == String {
    guard let raw = try c.decodeIfPresent(String.self, forKey: .protocol) else { return (nil, nil) }
    let name = raw.lowercased()
    if let value = P(rawValue: name) { return (value, nil) }
    if let (value, security) = aliases[name] { return (value, security) }
    let names = (P.allCases.map(\.rawValue) + aliases.keys.sorted()).map { "'\($0)'" }.joined(separator: ", ")
    throw DecodingError.dataCorruptedError(
        forKey: .protocol, in: c, debugDescription: "must be one of \(names), not '\(raw.prefix(64))'")
}

public struct IncomingServer: Sendable, Equatable {
    public var `protocol`: IncomingProtocol
    public var connection: ServerConnection
    public var mailbox: String
    public var fetchIntervalSeconds: Int
    /// Only mail received in the last N days is fetched (nil: no limit).
    public var fetchLastDays: Int?
    public var deleteOnFetch: Bool
    public var headerFilters: [HeaderFilter]
    public var maxMessageBytes: Int

    public static let defaultMailbox = "INBOX"
    public static let defaultFetchIntervalSeconds = 10
    public static let defaultMaxMessageBytes = 26_214_400

    public init(protocol: IncomingProtocol = .none, connection: ServerConnection = ServerConnection(),
                mailbox: String = IncomingServer.defaultMailbox, fetchIntervalSeconds: Int = IncomingServer.defaultFetchIntervalSeconds,
                fetchLastDays: Int? = nil, deleteOnFetch: Bool = false, headerFilters: [HeaderFilter] = [],
                maxMessageBytes: Int = IncomingServer.defaultMaxMessageBytes) {
        self.protocol = `protocol`
        self.connection = connection
        self.mailbox = mailbox
        self.fetchIntervalSeconds = fetchIntervalSeconds
        self.fetchLastDays = fetchLastDays
        self.deleteOnFetch = deleteOnFetch
        self.headerFilters = headerFilters
        self.maxMessageBytes = maxMessageBytes
    }

    /// The port to use: the configured one, or the protocol's standard port for the security chosen.
    public var effectivePort: Int? {
        if let port = connection.port { return port }
        switch (`protocol`, connection.security) {
        case (.imap, .tls): return 993
        case (.imap, _): return 143
        case (.pop3, .tls): return 995
        case (.pop3, _): return 110
        case (.ews, _), (.graph, _): return 443
        case (.none, _): return nil
        }
    }
}

extension IncomingServer: Codable {
    static let aliases: [String: (IncomingProtocol, ConnectionSecurity)] = [
        "imaps": (.imap, .tls), "impas": (.imap, .tls), "pop3s": (.pop3, .tls), "pops": (.pop3, .tls),
    ]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: ConnectionKeys.self)
        let (proto, implied) = try decodeProtocolName(c, aliases: Self.aliases)
        self.init(
            protocol: proto ?? .none,
            connection: try ServerConnection(from: c, impliedSecurity: implied),
            mailbox: try c.decodeIfPresent(String.self, forKey: .mailbox).nilIfBlank ?? Self.defaultMailbox,
            fetchIntervalSeconds: try c.decodeIfPresent(Int.self, forKey: .fetchIntervalSeconds) ?? Self.defaultFetchIntervalSeconds,
            fetchLastDays: try c.decodeIfPresent(Int.self, forKey: .fetchLastDays),
            deleteOnFetch: try c.decodeIfPresent(Bool.self, forKey: .deleteOnFetch) ?? false,
            headerFilters: try c.decodeIfPresent([HeaderFilter].self, forKey: .headerFilters) ?? [],
            maxMessageBytes: try c.decodeIfPresent(Int.self, forKey: .maxMessageBytes) ?? Self.defaultMaxMessageBytes
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: ConnectionKeys.self)
        try c.encode(`protocol`, forKey: .protocol)
        try connection.encode(into: &c)
        try c.encode(mailbox, forKey: .mailbox)
        try c.encode(fetchIntervalSeconds, forKey: .fetchIntervalSeconds)
        try c.encode(fetchLastDays, forKey: .fetchLastDays)
        try c.encode(deleteOnFetch, forKey: .deleteOnFetch)
        try c.encode(headerFilters, forKey: .headerFilters)
        try c.encode(maxMessageBytes, forKey: .maxMessageBytes)
    }
}

public struct OutgoingServer: Sendable, Equatable {
    public var `protocol`: OutgoingProtocol
    public var connection: ServerConnection
    /// IMAP folder a copy of each sent message is appended to (nil: none).
    public var sentFolder: String?
    /// Send each message with its own return path (`local+mr-ID@domain`) so bounces are matched to it
    /// even without a delivery-status report. Needs a mailbox that accepts plus addresses.
    public var verp: Bool

    public init(protocol: OutgoingProtocol = .none, connection: ServerConnection = ServerConnection(), sentFolder: String? = nil,
                verp: Bool = false) {
        self.protocol = `protocol`
        self.connection = connection
        self.sentFolder = sentFolder
        self.verp = verp
    }

    public var effectivePort: Int? {
        if let port = connection.port { return port }
        switch (`protocol`, connection.security) {
        case (.smtp, .tls): return 465
        case (.smtp, .starttls): return 587
        case (.smtp, .none): return 25
        case (.ews, _), (.graph, _): return 443
        case (.none, _): return nil
        }
    }
}

extension OutgoingServer: Codable {
    static let aliases: [String: (OutgoingProtocol, ConnectionSecurity)] = ["smtps": (.smtp, .tls)]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: ConnectionKeys.self)
        let (proto, implied) = try decodeProtocolName(c, aliases: Self.aliases)
        self.init(
            protocol: proto ?? .none,
            connection: try ServerConnection(from: c, impliedSecurity: implied),
            sentFolder: try c.decodeIfPresent(String.self, forKey: .sentFolder).nilIfBlank,
            verp: try c.decodeIfPresent(Bool.self, forKey: .verp) ?? false
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: ConnectionKeys.self)
        try c.encode(`protocol`, forKey: .protocol)
        try connection.encode(into: &c)
        try c.encode(sentFolder, forKey: .sentFolder)
        try c.encode(verp, forKey: .verp)
    }
}

/// Motion's "filter incoming email by IMAP headers", used with antispam and antivirus scanners.
public struct HeaderFilter: Codable, Sendable, Equatable {
    public enum Match: String, NamedValues { case equals, contains, regex }
    public enum Action: String, NamedValues { case skip, quarantine, tag }

    public var header: String
    public var match: Match
    public var value: String
    public var action: Action
    /// The tag put on the ticket when `action` is `tag`.
    public var tag: String?

    public init(header: String, match: Match, value: String, action: Action, tag: String? = nil) {
        self.header = header
        self.match = match
        self.value = value
        self.action = action
        self.tag = tag
    }
}

public struct Signature: Codable, Sendable, Equatable {
    /// The placeholders the signature editor offers (Ameyo's "insert placeholder"); each renders a
    /// value on every message (`TemplateRenderer.context`), which a test checks one by one.
    public static let placeholders = ["agent.name", "agent.alias", "account.name", "account.fromAddress",
                                      "ticket.number", "ticket.subject", "customer.name", "customer.address"]

    /// HTML with placeholders in `{{ }}`.
    public var html: String
    /// Ameyo's "insert this signature before quoted text in replies".
    public var beforeQuote: Bool

    public init(html: String = "", beforeQuote: Bool = false) {
        self.html = html
        self.beforeQuote = beforeQuote
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.html = try c.decodeIfPresent(String.self, forKey: .html) ?? ""
        self.beforeQuote = try c.decodeIfPresent(Bool.self, forKey: .beforeQuote) ?? false
    }
}

/// How an agent is told about a new interaction on this account.
public struct NotificationSettings: Codable, Sendable, Equatable {
    public var sound: Bool
    public var shake: Bool
    /// Mustache text shown in the notification (source, sender, queue...).
    public var template: String?

    public init(sound: Bool = true, shake: Bool = false, template: String? = nil) {
        self.sound = sound
        self.shake = shake
        self.template = template
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.sound = try c.decodeIfPresent(Bool.self, forKey: .sound) ?? true
        self.shake = try c.decodeIfPresent(Bool.self, forKey: .shake) ?? false
        self.template = try c.decodeIfPresent(String.self, forKey: .template).nilIfBlank
    }
}

/// Whether agents may transfer this account's tickets, and how long a transfer waits to be accepted.
/// Motion's mandatory disposition: closing requires a disposition, and the agent is paused while disposing.
public struct MandatoryDisposition: Codable, Sendable, Equatable {
    public var enabled: Bool
    /// The pause reason applied to the agent while disposing (nil: the agent is not paused).
    public var pauseStatus: String?

    public init(enabled: Bool = false, pauseStatus: String? = nil) {
        self.enabled = enabled
        self.pauseStatus = pauseStatus
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? false
        self.pauseStatus = try c.decodeIfPresent(String.self, forKey: .pauseStatus).nilIfBlank
    }
}

extension Optional where Wrapped == String {
    /// Treats an empty or all-blank string like an absent one.
    var nilIfBlank: String? {
        guard let self, !self.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return self
    }
}

extension Optional where Wrapped == Secret {
    var nilIfEmpty: Secret? {
        guard let self, !self.isEmpty else { return nil }
        return self
    }
}
