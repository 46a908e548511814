import Foundation
import MailroomCore
import SQLKit

/// Campaigns (Ameyo): added to the routing store, whose queues and agents they group.
extension SQLRoutingStore {
    public func campaigns() async throws -> [Campaign] {
        try await selectCampaigns("ORDER BY name, id")
    }

    public func campaign(id: String) async throws -> Campaign? {
        try await selectCampaigns("WHERE id = \(bind: id)").first
    }

    /// The accounts whose tickets `userId` may see and be offered: nil when they are in no campaign.
    public func campaignAccountIds(userId: String) async throws -> Set<String>? {
        CampaignScope.accountIds(forUser: userId, in: try await campaigns())
    }

    public func createCampaign(_ campaign: Campaign, now: Date = Date()) async throws -> Campaign {
        var campaign = campaign
        campaign.id = Identifier.make(at: now)
        let stored = campaign
        try await database.transaction { db in
            try await Self.checkUniqueCampaignName(stored, db: db)
            try await db.raw("""
                INSERT INTO campaigns (id, name, queue_ids, account_ids, user_ids, created_at, updated_at)
                VALUES (\(bind: stored.id), \(bind: stored.name), \(bind: try StoredJSON.encode(stored.queueIds)),
                        \(bind: try StoredJSON.encode(stored.accountIds)), \(bind: try StoredJSON.encode(stored.userIds)),
                        \(bind: Timestamp.from(now)), \(bind: Timestamp.from(now)))
                """).run()
        }
        return try await self.campaign(id: campaign.id) ?? campaign
    }

    public func updateCampaign(_ campaign: Campaign, now: Date = Date()) async throws -> Campaign {
        let found = try await database.transaction { db -> Bool in
            try await Self.checkUniqueCampaignName(campaign, db: db)
            let rows = try await db.raw("""
                UPDATE campaigns SET name = \(bind: campaign.name), queue_ids = \(bind: try StoredJSON.encode(campaign.queueIds)),
                    account_ids = \(bind: try StoredJSON.encode(campaign.accountIds)), user_ids = \(bind: try StoredJSON.encode(campaign.userIds)),
                    updated_at = \(bind: Timestamp.from(now))
                WHERE id = \(bind: campaign.id) RETURNING id
                """).all()
            return !rows.isEmpty
        }
        guard found, let updated = try await self.campaign(id: campaign.id) else { throw DomainError.notFound("campaign \(campaign.id)") }
        return updated
    }

    public func deleteCampaign(id: String) async throws {
        let rows = try await database.transaction { db in
            try await db.raw("DELETE FROM campaigns WHERE id = \(bind: id) RETURNING id").all()
        }
        if rows.isEmpty { throw DomainError.notFound("campaign \(id)") }
    }

    /// A deleted account leaves the campaigns that grouped it.
    public func removeAccountFromCampaigns(_ accountId: String, now: Date = Date()) async throws {
        for var campaign in try await campaigns() where campaign.accountIds.contains(accountId) {
            campaign.accountIds.removeAll { $0 == accountId }
            _ = try await updateCampaign(campaign, now: now)
        }
    }

    private static func checkUniqueCampaignName(_ campaign: Campaign, db: any SQLDatabase) async throws {
        if try await db.raw("SELECT id FROM campaigns WHERE name = \(bind: campaign.name) AND id <> \(bind: campaign.id)").first() != nil {
            throw DomainError.conflict(FieldError("name", "'\(campaign.name.prefix(100))' is already the name of another campaign"))
        }
    }

    private func selectCampaigns(_ clause: SQLQueryString) async throws -> [Campaign] {
        try await database.withConnection { db in
            try await db.raw("SELECT id, name, queue_ids, account_ids, user_ids, created_at, updated_at FROM campaigns \(clause)").all().map { row in
                var campaign = Campaign(
                    id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
                    queueIds: try StoredJSON.decode(try row.decode(column: "queue_ids", as: String.self), as: [String].self),
                    accountIds: try StoredJSON.decode(try row.decode(column: "account_ids", as: String.self), as: [String].self),
                    userIds: try StoredJSON.decode(try row.decode(column: "user_ids", as: String.self), as: [String].self))
                campaign.createdAt = Timestamp.date(try row.decode(column: "created_at", as: Int64.self))
                campaign.updatedAt = Timestamp.date(try row.decode(column: "updated_at", as: Int64.self))
                return campaign
            }
        }
    }
}
