import Foundation

/// An OAuth 2.0 authorization server that accounts sign in with, set once for the installation
/// by an administrator: the endpoints, the scopes, and the client Mailroom is registered as.
///
/// Microsoft and Google fill in their well-known endpoints and the scopes IMAP, POP and SMTP
/// need; a generic provider names its own. The client secret is write-only: encoding writes
/// `clientSecretSet`, never the secret (see `Secret`).
public struct OAuth2Provider: Sendable, Equatable {
    public enum Kind: String, NamedValues {
        case microsoft, google, generic
    }

    public var id: String
    public var name: String
    public var kind: Kind
    public var clientId: String
    public var clientSecret: Secret?
    /// Microsoft's directory: a tenant id or domain, or `common` / `organizations` / `consumers`.
    public var tenant: String?
    public var authorizationURL: String
    public var tokenURL: String
    public var revocationURL: String?
    public var introspectionURL: String?
    /// Where the signed-in address is read when the token answer has no ID token (OpenID Connect user info).
    public var userInfoURL: String?
    public var scopes: [String]
    public var createdAt: Date?
    public var updatedAt: Date?

    public init(id: String = "", name: String, kind: Kind, clientId: String = "", clientSecret: Secret? = nil,
                tenant: String? = nil, authorizationURL: String = "", tokenURL: String = "", revocationURL: String? = nil,
                introspectionURL: String? = nil, userInfoURL: String? = nil, scopes: [String] = []) {
        self.id = id
        self.name = name
        self.kind = kind
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.tenant = tenant
        self.authorizationURL = authorizationURL
        self.tokenURL = tokenURL
        self.revocationURL = revocationURL
        self.introspectionURL = introspectionURL
        self.userInfoURL = userInfoURL
        self.scopes = scopes
    }

    public static let maxNameLength = 100
    public static let defaultMicrosoftTenant = "common"

    /// Scopes for IMAP, POP and SMTP AUTH with Microsoft 365 (one token serves all three), plus a
    /// refresh token and the signed-in address. Graph needs a token of its own resource, so its
    /// scopes are not mixed in (see `microsoftGraphScopes`).
    public static let microsoftMailScopes = [
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/POP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
        "offline_access", "openid", "email",
    ]
    /// For the Graph protocol (issue "Exchange"): a token for graph.microsoft.com.
    public static let microsoftGraphScopes = [
        "https://graph.microsoft.com/Mail.ReadWrite", "https://graph.microsoft.com/Mail.Send",
        "offline_access", "openid", "email",
    ]
    /// Google's one scope for IMAP, POP and SMTP (and the Gmail API), plus the signed-in address.
    public static let googleMailScopes = ["https://mail.google.com/", "openid", "email"]

    /// Fills what the kind determines and the administrator left out: endpoints and scopes.
    public mutating func applyWellKnownValues() {
        switch kind {
        case .microsoft:
            let tenant = self.tenant ?? Self.defaultMicrosoftTenant
            self.tenant = tenant
            let base = "https://login.microsoftonline.com/\(tenant)/oauth2/v2.0"
            if authorizationURL.isEmpty { authorizationURL = "\(base)/authorize" }
            if tokenURL.isEmpty { tokenURL = "\(base)/token" }
            if scopes.isEmpty { scopes = Self.microsoftMailScopes }
        case .google:
            if authorizationURL.isEmpty { authorizationURL = "https://accounts.google.com/o/oauth2/v2/auth" }
            if tokenURL.isEmpty { tokenURL = "https://oauth2.googleapis.com/token" }
            if revocationURL == nil { revocationURL = "https://oauth2.googleapis.com/revoke" }
            if userInfoURL == nil { userInfoURL = "https://openidconnect.googleapis.com/v1/userinfo" }
            if scopes.isEmpty { scopes = Self.googleMailScopes }
        case .generic:
            break
        }
    }

    /// Parameters the provider needs on the authorization request beyond RFC 6749's.
    public var extraAuthorizationParameters: [(String, String)] {
        switch kind {
        // Without both, Google grants no refresh token on a second sign-in.
        case .google: return [("access_type", "offline"), ("prompt", "consent")]
        case .microsoft: return [("prompt", "select_account")]
        case .generic: return []
        }
    }

    /// Every problem with the settings, by field.
    public func validate() -> [FieldError] {
        var errors: [FieldError] = []
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { errors.append(FieldError("name", "is required")) }
        if name.count > Self.maxNameLength { errors.append(FieldError("name", "must be at most \(Self.maxNameLength) characters")) }
        if clientId.trimmingCharacters(in: .whitespaces).isEmpty {
            errors.append(FieldError("clientId", "is required: the application (client) id the provider gave when Mailroom was registered"))
        } else if clientId.count > 500 || clientId.contains(where: { $0.isNewline }) {
            errors.append(FieldError("clientId", "must be one line of at most 500 characters"))
        }
        if let secret = clientSecret, secret.revealed.count > 2_000 {
            errors.append(FieldError("clientSecret", "must be at most 2000 characters"))
        }
        if let tenant {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-."))
            if tenant.isEmpty || tenant.count > 200 || !tenant.unicodeScalars.allSatisfy(allowed.contains) {
                errors.append(FieldError("tenant", "must be a tenant id, a domain, or common, organizations or consumers"))
            }
        }
        func checkURL(_ value: String?, _ field: String, required: Bool) {
            guard let value, !value.isEmpty else {
                if required { errors.append(FieldError(field, "is required for a generic provider")) }
                return
            }
            if let problem = Self.urlProblem(value) { errors.append(FieldError(field, problem)) }
        }
        checkURL(authorizationURL, "authorizationURL", required: true)
        checkURL(tokenURL, "tokenURL", required: true)
        checkURL(revocationURL, "revocationURL", required: false)
        checkURL(introspectionURL, "introspectionURL", required: false)
        checkURL(userInfoURL, "userInfoURL", required: false)
        if scopes.isEmpty { errors.append(FieldError("scopes", "must name at least one scope")) }
        for (index, scope) in scopes.enumerated() where scope.isEmpty || scope.count > 300 || scope.contains(where: { $0 == " " || $0 == "\"" || $0 == "\\" || $0.isNewline }) {
            errors.append(FieldError("scopes[\(index)]", "must be one scope without spaces or quotes"))
        }
        if scopes.count > 50 { errors.append(FieldError("scopes", "must list at most 50 scopes")) }
        return errors
    }

    /// Why an endpoint address cannot be used: https, or http on this machine only (a local test provider).
    static func urlProblem(_ value: String) -> String? {
        guard value.count <= 2_000, let url = URL(string: value), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty
        else { return "must be an address such as https://login.example.com/oauth2/token" }
        if url.fragment != nil { return "must not have a #fragment" }
        switch scheme {
        case "https": return nil
        case "http": return ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased()) ? nil : "must use https (http only on this machine)"
        default: return "must use https"
        }
    }
}

extension OAuth2Provider: Codable {
    enum CodingKeys: String, CodingKey {
        case id, name, kind, clientId, clientSecret, tenant, authorizationURL, tokenURL, revocationURL, introspectionURL
        case userInfoURL, scopes, createdAt, updatedAt, clientSecretSet
    }

    /// Reads a create request or a stored row; a missing kind is `generic`, and scopes may be one
    /// space-separated string (as providers write them) or a list.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var scopes: [String] = []
        if let list = try? c.decodeIfPresent([String].self, forKey: .scopes) {
            scopes = list
        } else if let text = try c.decodeIfPresent(String.self, forKey: .scopes) {
            scopes = text.split(whereSeparator: { $0 == " " || $0 == "," || $0.isNewline }).map(String.init)
        }
        self.init(
            id: try c.decodeIfPresent(String.self, forKey: .id) ?? "",
            name: try c.decodeIfPresent(String.self, forKey: .name) ?? "",
            kind: try c.decodeIfPresent(Kind.self, forKey: .kind) ?? .generic,
            clientId: (try c.decodeIfPresent(String.self, forKey: .clientId) ?? "").trimmingCharacters(in: .whitespaces),
            clientSecret: try c.decodeIfPresent(Secret.self, forKey: .clientSecret).nilIfEmpty,
            tenant: try c.decodeIfPresent(String.self, forKey: .tenant).nilIfBlank?.trimmingCharacters(in: .whitespaces),
            authorizationURL: (try c.decodeIfPresent(String.self, forKey: .authorizationURL) ?? "").trimmingCharacters(in: .whitespaces),
            tokenURL: (try c.decodeIfPresent(String.self, forKey: .tokenURL) ?? "").trimmingCharacters(in: .whitespaces),
            revocationURL: try c.decodeIfPresent(String.self, forKey: .revocationURL).nilIfBlank,
            introspectionURL: try c.decodeIfPresent(String.self, forKey: .introspectionURL).nilIfBlank,
            userInfoURL: try c.decodeIfPresent(String.self, forKey: .userInfoURL).nilIfBlank,
            scopes: scopes.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        )
        createdAt = try c.decodeIfPresent(Date.self, forKey: .createdAt)
        updatedAt = try c.decodeIfPresent(Date.self, forKey: .updatedAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(kind, forKey: .kind)
        try c.encode(clientId, forKey: .clientId)
        try c.encode(clientSecret != nil, forKey: .clientSecretSet)
        try c.encode(tenant, forKey: .tenant)
        try c.encode(authorizationURL, forKey: .authorizationURL)
        try c.encode(tokenURL, forKey: .tokenURL)
        try c.encode(revocationURL, forKey: .revocationURL)
        try c.encode(introspectionURL, forKey: .introspectionURL)
        try c.encode(userInfoURL, forKey: .userInfoURL)
        try c.encode(scopes, forKey: .scopes)
        try c.encodeIfPresent(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(updatedAt, forKey: .updatedAt)
    }
}

/// Reads and stores providers (the SQL store implements it).
public protocol OAuth2ProviderRepository: Sendable {
    func create(_ provider: OAuth2Provider) async throws -> OAuth2Provider
    func update(_ provider: OAuth2Provider) async throws -> OAuth2Provider
    func find(id: String) async throws -> OAuth2Provider?
    func list() async throws -> [OAuth2Provider]
    func delete(id: String) async throws
}

/// Creating and editing providers from JSON documents, as the API receives them.
public enum OAuth2ProviderEditor {
    /// A new provider from a create request: well-known values filled in, then checked.
    public static func newProvider(from document: JSONValue) throws -> OAuth2Provider {
        var provider = try document.decode(OAuth2Provider.self)
        provider.id = ""
        provider.applyWellKnownValues()
        let errors = provider.validate()
        guard errors.isEmpty else { throw DomainError.invalid(errors) }
        return provider
    }

    /// `current` with the fields of `patch` applied; a secret left out stays as it was, and a
    /// `clientSecret` of "" or null clears it.
    public static func edited(_ current: OAuth2Provider, with patch: JSONValue) throws -> OAuth2Provider {
        guard case .object(let fields) = patch else { throw DomainError.invalid([FieldError("", "must be a JSON object")]) }
        if let kind = fields["kind"], case .string(let name) = kind, name != current.kind.rawValue {
            throw DomainError.conflict(FieldError("kind", "cannot change after creation; create another provider"))
        }
        let base = try JSONValue(encoding: current)
        var provider = try base.merging(patch).decode(OAuth2Provider.self)
        provider.id = current.id
        provider.createdAt = current.createdAt
        provider.clientSecret = fields.keys.contains("clientSecret") ? provider.clientSecret : current.clientSecret
        provider.applyWellKnownValues()
        let errors = provider.validate()
        guard errors.isEmpty else { throw DomainError.invalid(errors) }
        return provider
    }
}
