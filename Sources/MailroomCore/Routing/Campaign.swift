import Foundation

/// Ameyo's campaign: a group of queues, agents and accounts (media profiles). An agent who belongs
/// to campaigns sees and is offered only the tickets of their campaigns' accounts (and those
/// assigned to them); an agent in no campaign is not limited by campaigns at all, so a contact
/// center that does not use them sees no change.
public struct Campaign: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var queueIds: [String]
    public var accountIds: [String]
    public var userIds: [String]
    public var createdAt: Date?
    public var updatedAt: Date?

    public init(id: String = "", name: String, queueIds: [String] = [], accountIds: [String] = [], userIds: [String] = []) {
        self.id = id
        self.name = name
        self.queueIds = queueIds
        self.accountIds = accountIds
        self.userIds = userIds
    }

    enum CodingKeys: String, CodingKey { case id, name, queueIds, accountIds, userIds, createdAt, updatedAt }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decodeIfPresent(String.self, forKey: .id) ?? "",
                  name: try c.decodeIfPresent(String.self, forKey: .name) ?? "",
                  queueIds: try c.decodeIfPresent([String].self, forKey: .queueIds) ?? [],
                  accountIds: try c.decodeIfPresent([String].self, forKey: .accountIds) ?? [],
                  userIds: try c.decodeIfPresent([String].self, forKey: .userIds) ?? [])
        createdAt = try c.decodeIfPresent(Date.self, forKey: .createdAt)
        updatedAt = try c.decodeIfPresent(Date.self, forKey: .updatedAt)
    }

    public static let maxNameLength = 100

    /// What is wrong with it on its own (names of queues, accounts and users are checked by whoever knows them).
    public func validate() -> [FieldError] {
        var errors: [FieldError] = []
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { errors.append(FieldError("name", "is required")) }
        if name.count > Self.maxNameLength { errors.append(FieldError("name", "must be at most \(Self.maxNameLength) characters")) }
        for (field, ids) in [("queueIds", queueIds), ("accountIds", accountIds), ("userIds", userIds)] {
            if ids.count > 1_000 { errors.append(FieldError(field, "may list at most 1000 entries")) }
            if Set(ids).count != ids.count { errors.append(FieldError(field, "lists an entry twice")) }
        }
        return errors
    }
}

/// What campaigns allow a user, worked out once from the campaigns they belong to.
public enum CampaignScope {
    /// The accounts whose tickets the user may see and be offered: nil when they belong to no
    /// campaign (no limit).
    public static func accountIds(forUser userId: String, in campaigns: [Campaign]) -> Set<String>? {
        let mine = campaigns.filter { $0.userIds.contains(userId) }
        guard !mine.isEmpty else { return nil }
        return Set(mine.flatMap(\.accountIds))
    }

    /// Of `userIds`, those whose campaigns do not take in `accountId`: they are not offered its tickets.
    public static func excluded(_ userIds: Set<String>, accountId: String, campaigns: [Campaign]) -> Set<String> {
        userIds.filter { userId in
            guard let allowed = accountIds(forUser: userId, in: campaigns) else { return false }
            return !allowed.contains(accountId)
        }
    }
}
