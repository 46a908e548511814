import Foundation

public enum PresenceState: String, NamedValues {
    case online, paused, offline
}

/// Whether an agent takes work now; a pause carries its reason ("lunch", "disposing").
public struct AgentPresence: Sendable, Equatable, Codable {
    public var state: PresenceState
    public var reason: String?

    public init(_ state: PresenceState, reason: String? = nil) {
        self.state = state
        self.reason = state == .paused ? reason : nil
    }

    public static let online = AgentPresence(.online)
    public static let offline = AgentPresence(.offline)
    public static func paused(_ reason: String?) -> AgentPresence { AgentPresence(.paused, reason: reason) }

    public static let maxReasonLength = 100

    /// A reason is kept only for a pause, as the initialiser does.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let reason = try c.decodeIfPresent(String.self, forKey: .reason)
        // Checked whatever the state, as the API document states it (a reason with another state is then dropped).
        if let reason, reason.count > Self.maxReasonLength {
            throw DomainError.invalid([FieldError("reason", "must be at most \(Self.maxReasonLength) characters")])
        }
        self.init(try c.decode(PresenceState.self, forKey: .state),
                  reason: reason.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 })
    }

    /// Checks a `PUT /users/{id}/presence` body.
    public func validate() -> [FieldError] {
        if let reason, reason.count > Self.maxReasonLength {
            return [FieldError("reason", "must be at most \(Self.maxReasonLength) characters")]
        }
        return []
    }
}

/// One agent as routing sees it at a moment: presence, capacity and load.
public struct AgentStatus: Sendable, Equatable {
    public var userId: String
    public var presence: AgentPresence
    /// Concurrent email tickets the agent handles (`User.capacity`).
    public var capacity: Int
    /// Open email tickets assigned to the agent now.
    public var activeTickets: Int
    /// Offers of other tickets the agent has not answered yet, still within their deadline.
    public var openOffers: Int
    /// Since when the agent has had nothing new: the later of their last accepted ticket and
    /// going online. Nil: never, which counts as idle longest.
    public var idleSince: Date?

    public init(userId: String, presence: AgentPresence = .online, capacity: Int = User.defaultCapacity,
                activeTickets: Int = 0, openOffers: Int = 0, idleSince: Date? = nil) {
        self.userId = userId
        self.presence = presence
        self.capacity = capacity
        self.activeTickets = activeTickets
        self.openOffers = openOffers
        self.idleSince = idleSince
    }

    /// Room to take one more ticket: what accepting an offer needs.
    public var hasFreeCapacity: Bool { activeTickets < capacity }
    /// Room for one more offer: an offer the agent may still accept counts as load, so a burst of
    /// new tickets spreads over the queue instead of all going to the agent idle longest.
    public var hasRoomForAnOffer: Bool { activeTickets + openOffers < capacity }
    /// Online with room for one more offer: the only agents offers go to.
    public var isAvailable: Bool { presence.state == .online && hasRoomForAnOffer }
}

/// The state of the world routing needs at each event, read by the caller from the store:
/// every relevant agent's status and each round-robin queue's memory.
public struct RoutingContext: Sendable, Equatable {
    public var agents: [String: AgentStatus]
    /// Per round-robin queue, the member offered last (`recordLastOffered` keeps it current).
    public var lastOffered: [String: String]

    public init(agents: [AgentStatus], lastOffered: [String: String] = [:]) {
        self.agents = Dictionary(agents.map { ($0.userId, $0) }, uniquingKeysWith: { _, last in last })
        self.lastOffered = lastOffered
    }

    public func isAvailable(_ userId: String) -> Bool { agents[userId]?.isAvailable ?? false }
}
