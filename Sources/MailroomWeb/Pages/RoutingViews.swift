import Foundation
import MailroomCore

/// What the pages read about queues, presence and offers, from the routing store.
struct RoutingViews: Sendable {
    let store: Repositories

    struct QueueView: Sendable {
        let id: String
        let name: String
    }

    struct OfferView: Sendable {
        let id: String
        let ticketId: String
        let deadline: Date?
    }

    /// The queues `userId` is a member of, whole (members and linked accounts).
    func memberQueues(_ userId: String) async throws -> [AgentQueue] {
        try await store.routing.queues(memberId: userId)
    }

    func queues() async throws -> [QueueView] {
        try await store.routing.queues().map { QueueView(id: $0.id, name: $0.name) }
    }

    /// Every queue with its members and linked accounts (the administration screen edits them).
    func fullQueues() async throws -> [AgentQueue] {
        try await store.routing.queues()
    }

    func openOffers(_ userId: String) async throws -> [OfferView] {
        try await store.routing.openOffers(userId: userId).map { OfferView(id: $0.id, ticketId: $0.ticketId, deadline: $0.deadline) }
    }

    /// The user's presence as `(state, reason)`; nil when unknown.
    func presence(_ userId: String) async throws -> (state: String, reason: String?)? {
        guard let record = try await store.routing.presence(userIds: [userId])[userId] else { return nil }
        return (record.state.rawValue, record.reason)
    }

    /// Several users' presence records (users who never set one are missing: offline).
    func presence(of userIds: [String]) async throws -> [String: PresenceRecord] {
        try await store.routing.presence(userIds: userIds)
    }
}
