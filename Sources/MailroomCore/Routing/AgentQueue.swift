import Foundation

public enum QueueStrategy: String, NamedValues {
    /// Offer to every available member of the best priority at once; the first to accept wins.
    case ringAll
    /// Offer to one member at a time, starting after the member offered last.
    case roundRobin
    /// Offer to the member who has been idle longest.
    case leastRecent
}

public struct QueueMember: Codable, Sendable, Equatable {
    public var userId: String
    /// Lower numbers are offered first; members of equal priority share by the queue's strategy.
    public var priority: Int

    public init(userId: String, priority: Int = 0) {
        self.userId = userId
        self.priority = priority
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        userId = try c.decode(String.self, forKey: .userId)
        priority = try c.decodeIfPresent(Int.self, forKey: .priority) ?? 0
    }
}

/// A group of agents tickets are offered to (`POST /api/v1/queues`).
public struct AgentQueue: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var strategy: QueueStrategy
    /// How long each offer waits for its agent.
    public var agentTimeoutSeconds: Int
    /// In the order round robin walks them.
    public var members: [QueueMember]
    /// The accounts this queue serves (Ameyo links queues to media profiles). Their tickets that no
    /// rule routed are visible to the queue's members; deleting an account removes its link.
    public var accountIds: [String]

    public static let defaultAgentTimeoutSeconds = 30
    public static let agentTimeoutRange = 1...2_147_483
    public static let maxMembers = 5_000

    public init(id: String = "", name: String, strategy: QueueStrategy = .ringAll,
                agentTimeoutSeconds: Int = AgentQueue.defaultAgentTimeoutSeconds, members: [QueueMember] = [],
                accountIds: [String] = []) {
        self.id = id
        self.accountIds = accountIds
        self.name = name
        self.strategy = strategy
        self.agentTimeoutSeconds = agentTimeoutSeconds
        self.members = members
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        name = try c.decode(String.self, forKey: .name)
        strategy = try c.decodeIfPresent(QueueStrategy.self, forKey: .strategy) ?? .ringAll
        agentTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .agentTimeoutSeconds) ?? Self.defaultAgentTimeoutSeconds
        members = try c.decodeIfPresent([QueueMember].self, forKey: .members) ?? []
        accountIds = try c.decodeIfPresent([String].self, forKey: .accountIds) ?? []
    }

    public func validate() -> [FieldError] {
        var errors: [FieldError] = []
        if name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { errors.append(FieldError("name", "is required")) }
        if name.count > 200 { errors.append(FieldError("name", "must be at most 200 characters")) }
        if !Self.agentTimeoutRange.contains(agentTimeoutSeconds) {
            errors.append(FieldError("agentTimeoutSeconds", "must be between \(Self.agentTimeoutRange.lowerBound) and \(Self.agentTimeoutRange.upperBound) seconds"))
        }
        var seen = Set<String>()
        for (index, member) in members.enumerated() {
            if member.userId.trimmingCharacters(in: .whitespaces).isEmpty {
                errors.append(FieldError("members[\(index)].userId", "is required"))
            } else if !seen.insert(member.userId).inserted {
                errors.append(FieldError("members[\(index)].userId", "is already a member of this queue"))
            }
            if member.priority < 0 { errors.append(FieldError("members[\(index)].priority", "must be 0 or more")) }
        }
        if members.count > Self.maxMembers { errors.append(FieldError("members", "must have at most \(Self.maxMembers) members")) }
        for (index, accountId) in accountIds.enumerated() where accountIds.firstIndex(of: accountId) != index {
            errors.append(FieldError("accountIds[\(index)]", "is listed twice"))
        }
        return errors
    }

    public func isMember(_ userId: String) -> Bool { members.contains { $0.userId == userId } }
}

/// Who a queue offers a ticket to next: pure functions of the queue, the agents' state and the
/// agents to leave out (those already offered, or who declined recently).
public enum QueueSelector {
    /// The agents to offer to now, in offer order; empty when nobody is available.
    ///
    /// Only the best (lowest) priority that has an available, not-excluded member is used;
    /// within it, `ringAll` takes everyone, `roundRobin` the first member after the one offered
    /// last (in member order, wrapping), `leastRecent` the member idle longest (ties in member order).
    public static func candidates(in queue: AgentQueue, context: RoutingContext, excluding: Set<String> = []) -> [String] {
        let eligible = queue.members.filter { !excluding.contains($0.userId) && context.isAvailable($0.userId) }
        guard let best = eligible.map(\.priority).min() else { return [] }
        let tier = eligible.filter { $0.priority == best }
        switch queue.strategy {
        case .ringAll:
            return tier.map(\.userId)
        case .roundRobin:
            let tierIds = Set(tier.map(\.userId))
            let order = queue.members.map(\.userId)
            let start = context.lastOffered[queue.id].flatMap { order.firstIndex(of: $0) }.map { $0 + 1 } ?? 0
            for step in 0..<order.count {
                let userId = order[(start + step) % order.count]
                if tierIds.contains(userId) { return [userId] }
            }
            return []
        case .leastRecent:
            let idle = tier.enumerated().min { lhs, rhs in
                let left = context.agents[lhs.element.userId]?.idleSince ?? .distantPast
                let right = context.agents[rhs.element.userId]?.idleSince ?? .distantPast
                return (left, lhs.offset) < (right, rhs.offset)
            }
            return idle.map { [$0.element.userId] } ?? []
        }
    }
}
