import Foundation

/// Motion's transfer section: whether agents may hand this account's tickets to a queue and/or to
/// another agent (two switches), and how long a transfer waits to be accepted before the ticket
/// returns to its agent as unread. `enabled` (either switch) is kept for clients written before the two.
public struct TransferSettings: Codable, Sendable, Equatable {
    public var toQueue: Bool
    public var toAgent: Bool
    public var timeoutSeconds: Int

    public static let defaultTimeoutSeconds = 30

    /// Either kind of transfer is allowed.
    public var enabled: Bool { toQueue || toAgent }

    /// - Parameters:
    ///   - enabled: both switches, unless `toQueue` or `toAgent` says otherwise.
    public init(enabled: Bool = false, timeoutSeconds: Int = TransferSettings.defaultTimeoutSeconds,
                toQueue: Bool? = nil, toAgent: Bool? = nil) {
        self.toQueue = toQueue ?? enabled
        self.toAgent = toAgent ?? enabled
        self.timeoutSeconds = timeoutSeconds
    }

    /// Whether a transfer to this kind of target is allowed.
    public func allows(_ target: TransferTarget) -> Bool {
        switch target {
        case .queue: return toQueue
        case .agent: return toAgent
        }
    }

    enum CodingKeys: String, CodingKey { case enabled, toQueue, toAgent, timeoutSeconds }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? false
        self.init(enabled: enabled,
                  timeoutSeconds: try c.decodeIfPresent(Int.self, forKey: .timeoutSeconds) ?? Self.defaultTimeoutSeconds,
                  toQueue: try c.decodeIfPresent(Bool.self, forKey: .toQueue), toAgent: try c.decodeIfPresent(Bool.self, forKey: .toAgent))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(enabled, forKey: .enabled)
        try c.encode(toQueue, forKey: .toQueue)
        try c.encode(toAgent, forKey: .toAgent)
        try c.encode(timeoutSeconds, forKey: .timeoutSeconds)
    }
}
