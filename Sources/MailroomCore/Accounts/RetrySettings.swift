/// What went wrong with a send, in the classes of the Ameyo document's error table
/// (RFC 3463 enhanced status classes plus the client's own failures).
public enum DeliveryErrorClass: String, NamedValues {
    case unidentified
    case addressing
    case mailbox
    case mailSystem
    case networkRouting
    case mailDeliveryProtocol
    case messageContent
    case securityPolicy
    case noSuchProvider
    case connection
    case unknownHost
    case `internal`

    /// The policy the Ameyo document gives this class out of the box.
    public var defaultPolicy: RetryPolicyKind {
        switch self {
        case .unidentified: return .defaultRetry
        case .addressing, .mailDeliveryProtocol, .messageContent, .noSuchProvider, .unknownHost, .internal: return .noRetry
        case .mailbox, .mailSystem, .securityPolicy, .connection: return .progressiveRetry
        case .networkRouting: return .rateLimitRetry
        }
    }
}

/// The four retry policies of the Ameyo document.
public enum RetryPolicyKind: String, NamedValues {
    /// Again at once, up to `maxRetryCount` times.
    case defaultRetry
    /// Again after `rateLimitRetrySeconds` (the server's rate limit was breached).
    case rateLimitRetry
    /// Again after waits that grow by `progressiveRetryIntervalSeconds` each attempt.
    case progressiveRetry
    /// Never again: the failure is final.
    case noRetry
}

/// An account's retry configuration; editable, applied without a restart.
public struct RetrySettings: Sendable, Equatable {
    public var maxRetryCount: Int
    public var rateLimitRetrySeconds: Int
    public var progressiveRetryIntervalSeconds: Int
    /// Overrides of the default class-to-policy mapping; classes not named use `defaultPolicy`.
    public var errorPolicies: [DeliveryErrorClass: RetryPolicyKind]

    public static let defaultMaxRetryCount = 3
    public static let defaultRateLimitRetrySeconds = 86_400
    public static let defaultProgressiveRetryIntervalSeconds = 300

    public init(maxRetryCount: Int = RetrySettings.defaultMaxRetryCount,
                rateLimitRetrySeconds: Int = RetrySettings.defaultRateLimitRetrySeconds,
                progressiveRetryIntervalSeconds: Int = RetrySettings.defaultProgressiveRetryIntervalSeconds,
                errorPolicies: [DeliveryErrorClass: RetryPolicyKind] = [:]) {
        self.maxRetryCount = maxRetryCount
        self.rateLimitRetrySeconds = rateLimitRetrySeconds
        self.progressiveRetryIntervalSeconds = progressiveRetryIntervalSeconds
        self.errorPolicies = errorPolicies
    }

    public func policy(for errorClass: DeliveryErrorClass) -> RetryPolicyKind {
        errorPolicies[errorClass] ?? errorClass.defaultPolicy
    }

    /// The full mapping, defaults included, as shown to administrators.
    public var effectivePolicies: [DeliveryErrorClass: RetryPolicyKind] {
        Dictionary(uniqueKeysWithValues: DeliveryErrorClass.allCases.map { ($0, policy(for: $0)) })
    }
}

extension RetrySettings: Codable {
    enum CodingKeys: String, CodingKey {
        case maxRetryCount, rateLimitRetrySeconds, progressiveRetryIntervalSeconds, errorPolicies
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            maxRetryCount: try c.decodeIfPresent(Int.self, forKey: .maxRetryCount) ?? Self.defaultMaxRetryCount,
            rateLimitRetrySeconds: try c.decodeIfPresent(Int.self, forKey: .rateLimitRetrySeconds) ?? Self.defaultRateLimitRetrySeconds,
            progressiveRetryIntervalSeconds: try c.decodeIfPresent(Int.self, forKey: .progressiveRetryIntervalSeconds)
                ?? Self.defaultProgressiveRetryIntervalSeconds,
            errorPolicies: [:]
        )
        let named = try c.decodeIfPresent([String: RetryPolicyKind].self, forKey: .errorPolicies) ?? [:]
        for (name, policy) in named {
            guard let errorClass = DeliveryErrorClass(rawValue: name) else {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: c.codingPath + [CodingKeys.errorPolicies, AnyKey(name)],
                    debugDescription: "is not an error class; expected one of \(DeliveryErrorClass.allowedNames)"))
            }
            // Only departures from the document's table are kept, so equal settings compare equal.
            if policy != errorClass.defaultPolicy { errorPolicies[errorClass] = policy }
        }
    }

    /// Writes the effective mapping so that a reader sees every class and its policy.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(maxRetryCount, forKey: .maxRetryCount)
        try c.encode(rateLimitRetrySeconds, forKey: .rateLimitRetrySeconds)
        try c.encode(progressiveRetryIntervalSeconds, forKey: .progressiveRetryIntervalSeconds)
        let named = Dictionary(uniqueKeysWithValues: effectivePolicies.map { ($0.key.rawValue, $0.value) })
        try c.encode(named, forKey: .errorPolicies)
    }
}

/// A coding key made from any string, for errors that name a dictionary entry.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { self.stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}
