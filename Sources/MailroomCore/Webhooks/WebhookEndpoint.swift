import Foundation

/// A webhook receiver's URL with the secret Mailroom signs its deliveries with. The secret itself
/// is never part of this value: it is shown once, in `WebhookEndpointSecret`, when made.
public struct WebhookEndpoint: Sendable, Equatable, Codable {
    public var id: String
    public var url: String
    public var createdAt: Date
    /// When the secret was last replaced.
    public var rotatedAt: Date?
    /// Until then the secret before the last rotation still signs every delivery too.
    public var previousSecretExpiresAt: Date?

    public init(id: String, url: String, createdAt: Date, rotatedAt: Date? = nil, previousSecretExpiresAt: Date? = nil) {
        self.id = id
        self.url = url
        self.createdAt = createdAt
        self.rotatedAt = rotatedAt
        self.previousSecretExpiresAt = previousSecretExpiresAt
    }

    public static let maxURLLength = 2_048
    /// How long the old secret may keep signing after a rotation: a week at most.
    public static let overlapRange: ClosedRange<Int> = 0...604_800
    public static let defaultOverlapSeconds = 86_400

    /// An http(s) URL with a host, as the sender can post to.
    public static func validate(url: String) -> [FieldError] {
        guard !url.isEmpty else { return [FieldError("url", "is required")] }
        guard url.utf8.count <= maxURLLength else { return [FieldError("url", "must be at most \(maxURLLength) characters")] }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parsed.host, !host.isEmpty else {
            return [FieldError("url", "must be an http or https URL with a host")]
        }
        guard parsed.user == nil, parsed.password == nil else {
            return [FieldError("url", "must not carry a user name or password; the signature authenticates Mailroom")]
        }
        return []
    }
}

/// The answer of creating or rotating an endpoint: the only time its new secret is shown.
public struct WebhookEndpointSecret: Sendable, Encodable {
    public var endpoint: WebhookEndpoint
    public var secret: Secret

    public init(endpoint: WebhookEndpoint, secret: Secret) {
        self.endpoint = endpoint
        self.secret = secret
    }

    enum CodingKeys: String, CodingKey { case secret }

    /// The endpoint's fields with `secret` beside them.
    public func encode(to encoder: any Encoder) throws {
        try endpoint.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(secret.revealed, forKey: .secret)
    }
}
