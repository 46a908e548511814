import Foundation

/// Motion's "Modern Authentication": the cloud provider and the OAuth client that grants tokens.
///
/// Two ways to get tokens: `providerId` names an administrator's `OAuth2Provider` and the tokens
/// come from signing in (stored apart from the account, see `OAuth2AccountGrant`); without it,
/// the client and a refresh token made elsewhere are pasted here (the older way, still accepted).
public struct OAuth2Settings: Sendable, Equatable {
    /// The provider an administrator set up (`/api/v1/oauth2/providers`); nil: the pasted settings below.
    public var providerId: String?
    public var provider: String
    public var email: String
    public var clientId: String
    public var tenantId: String?
    public var tokenURL: String?
    public var scope: String?
    public var clientSecret: Secret?
    public var refreshToken: Secret?
    public var accessToken: Secret?
    /// When `accessToken` expires, as the token endpoint said (nil: unknown; it is used until refused).
    public var accessTokenExpiresAt: Date?

    public init(providerId: String? = nil, provider: String = "outlook365", email: String = "", clientId: String = "", tenantId: String? = nil,
                tokenURL: String? = nil, scope: String? = nil, clientSecret: Secret? = nil,
                refreshToken: Secret? = nil, accessToken: Secret? = nil, accessTokenExpiresAt: Date? = nil) {
        self.providerId = providerId
        self.provider = provider
        self.email = email
        self.clientId = clientId
        self.tenantId = tenantId
        self.tokenURL = tokenURL
        self.scope = scope
        self.clientSecret = clientSecret
        self.refreshToken = refreshToken
        self.accessToken = accessToken
        self.accessTokenExpiresAt = accessTokenExpiresAt
    }
}

extension OAuth2Settings: Codable {
    enum CodingKeys: String, CodingKey {
        case providerId, provider, email, clientId, tenantId, tokenURL, scope, clientSecret, refreshToken, accessToken, accessTokenExpiresAt
        case clientSecretSet, refreshTokenSet, accessTokenSet
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            providerId: try c.decodeIfPresent(String.self, forKey: .providerId).nilIfBlank,
            provider: try c.decodeIfPresent(String.self, forKey: .provider) ?? "outlook365",
            email: try c.decodeIfPresent(String.self, forKey: .email) ?? "",
            clientId: try c.decodeIfPresent(String.self, forKey: .clientId) ?? "",
            tenantId: try c.decodeIfPresent(String.self, forKey: .tenantId).nilIfBlank,
            tokenURL: try c.decodeIfPresent(String.self, forKey: .tokenURL).nilIfBlank,
            scope: try c.decodeIfPresent(String.self, forKey: .scope).nilIfBlank,
            clientSecret: try c.decodeIfPresent(Secret.self, forKey: .clientSecret).nilIfEmpty,
            refreshToken: try c.decodeIfPresent(Secret.self, forKey: .refreshToken).nilIfEmpty,
            accessToken: try c.decodeIfPresent(Secret.self, forKey: .accessToken).nilIfEmpty,
            accessTokenExpiresAt: try c.decodeIfPresent(Date.self, forKey: .accessTokenExpiresAt)
        )
    }

    /// Writes whether each secret is set, never the secret.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(providerId, forKey: .providerId)
        try c.encode(provider, forKey: .provider)
        try c.encode(email, forKey: .email)
        try c.encode(clientId, forKey: .clientId)
        try c.encode(tenantId, forKey: .tenantId)
        try c.encode(tokenURL, forKey: .tokenURL)
        try c.encode(scope, forKey: .scope)
        try c.encode(clientSecret != nil, forKey: .clientSecretSet)
        try c.encode(refreshToken != nil, forKey: .refreshTokenSet)
        try c.encode(accessToken != nil, forKey: .accessTokenSet)
        try c.encodeIfPresent(accessTokenExpiresAt, forKey: .accessTokenExpiresAt)
    }
}
