import Foundation
import MailroomCore
import MailroomStore

/// What the pages read about queues, presence and offers. The routing store (#6) owns that data;
/// until it is in this build, agents belong to no queue and have no offers.
struct RoutingViews: Sendable {
    let store: SQLStore

    struct QueueView: Sendable {
        let id: String
        let name: String
    }

    struct OfferView: Sendable {
        let id: String
        let ticketId: String
        let deadline: Date?
    }

    /// The queues `userId` is a member of.
    func memberQueueIds(_ userId: String?) async throws -> Set<String> {
        []
    }

    func queues() async throws -> [QueueView] {
        []
    }

    func openOffers(_ userId: String) async throws -> [OfferView] {
        []
    }

    /// The user's presence as `(state, reason)`; nil when unknown.
    func presence(_ userId: String) async throws -> (state: String, reason: String?)? {
        nil
    }
}
