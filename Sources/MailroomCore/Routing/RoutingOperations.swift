import Foundation

/// Where routing's timers get the time and wait for it; tests move a manual clock by hand.
public protocol RoutingClock: WallClock {
    /// Returns at `deadline` (or at once when it has passed); throws when the task is cancelled.
    func sleep(until deadline: Date) async throws
}

public struct SystemRoutingClock: RoutingClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(until deadline: Date) async throws {
        let seconds = deadline.timeIntervalSinceNow
        if seconds > 0 { try await Task.sleep(for: .milliseconds(Int64((seconds * 1000).rounded(.up)))) }
    }
}

/// One offer as the API and the live events show it. The id is the ticket's id and the offer's
/// position in its ticket's offer history, so it is stable and needs no lookup table.
public struct OfferView: Sendable, Equatable, Codable {
    public var id: String
    public var ticketId: String
    public var userId: String
    public var state: OfferState
    public var offeredAt: Date
    public var deadline: Date

    public init(id: String, ticketId: String, userId: String, state: OfferState, offeredAt: Date, deadline: Date) {
        self.id = id
        self.ticketId = ticketId
        self.userId = userId
        self.state = state
        self.offeredAt = offeredAt
        self.deadline = deadline
    }

    public static func id(ticketId: String, index: Int) -> String { "\(ticketId)-\(index)" }

    /// Splits an offer id into its ticket id and offer index; nil for anything this server did not make.
    public static func parse(_ id: String) -> (ticketId: String, index: Int)? {
        guard let dash = id.lastIndex(of: "-"), let index = Int(id[id.index(after: dash)...]), index >= 0 else { return nil }
        let ticketId = String(id[..<dash])
        return ticketId.isEmpty ? nil : (ticketId, index)
    }
}

/// Where a ticket action sends the ticket (`POST /tickets/{id}/transfer`): exactly one of the three.
public enum TransferDestination: Sendable, Equatable {
    case queue(String)
    case agent(String)
    case account(String, noticeTemplateId: String?)
}

/// An agent's presence as stored: with the time it took effect.
public struct PresenceRecord: Sendable, Equatable, Codable {
    public var userId: String
    public var state: PresenceState
    public var reason: String?
    public var since: Date?

    public init(userId: String, state: PresenceState, reason: String? = nil, since: Date? = nil) {
        self.userId = userId
        self.state = state
        self.reason = reason
        self.since = since
    }

    public var presence: AgentPresence { AgentPresence(state, reason: reason) }

    /// Users who never set a presence are offline.
    public static func offline(_ userId: String) -> PresenceRecord { PresenceRecord(userId: userId, state: .offline) }
}

/// What the HTTP layer asks of the routing service. Refusals are `DomainError`s: `conflict` for a
/// lost or expired offer (409), `invalid` naming the field (422), `notFound` (404).
public protocol RoutingOperations: Sendable {
    /// Gives the offer's ticket to the agent; the updated ticket.
    func accept(offerId: String, by userId: String) async throws -> Ticket
    func reject(offerId: String, by userId: String) async throws
    /// "Take it" (`actorId` == `userId`) or a supervisor's "Assign to…": the accept rules without an offer; the updated ticket.
    func take(ticketId: String, for userId: String, by actorId: String?) async throws -> Ticket
    /// Stores the presence, tells everyone, and offers waiting tickets to an agent who became available.
    func setPresence(userId: String, presence: AgentPresence) async throws -> PresenceRecord
    /// The agent's capacity or load changed: tickets waiting for them or in their queues may be offered now.
    func agentsChanged(userId: String) async
    /// Moves a ticket to a queue, an agent or another account. `by` is the acting user (nil: the
    /// administrator's bootstrap token).
    func transfer(ticketId: String, to destination: TransferDestination, by userId: String?) async throws -> Ticket
    /// Closes a ticket with the account's mandatory-disposition rules.
    func close(ticketId: String, dispositionId: String?, by userId: String?) async throws -> Ticket
    /// A queue was edited or deleted (nil queue): tickets waiting in it follow.
    func queueChanged(id: String, queue: AgentQueue?) async
    /// Publishes a ticket's new state to those who see it (read marks, tags, priority).
    func ticketChanged(_ ticket: Ticket) async
}

/// The live events routing publishes, in one place so the stream's shapes stay the same everywhere.
public enum RoutingEvents {
    public static func ticketAudience(_ ticket: Ticket) -> LiveEventAudience {
        .ticket(queueId: ticket.queueId, agentId: ticket.agentId, accountId: ticket.accountId)
    }

    /// An offer to one agent, with the ticket and the account's notification settings (sound, shake, template).
    public static func offer(_ offer: OfferView, ticket: Ticket, notification: NotificationSettings, at now: Date) -> LiveEvent {
        var data: [String: JSONValue] = [
            "id": .string(offer.id), "ticketId": .string(ticket.id), "deadline": .string(ISO8601.format(offer.deadline)),
            "offeredAt": .string(ISO8601.format(offer.offeredAt)),
        ]
        data["ticket"] = ticket.jsonValue
        data["notification"] = try? JSONValue(encoding: notification)
        return LiveEvent(type: .offer, audience: .users([offer.userId]), data: .object(data), occurredAt: now)
    }

    /// An offer the agents saw is gone: `reason` is `taken` (with `by`), `expired`, `waitEnded` or `cancelled`.
    public static func offerGone(ticketId: String, offerIds: [String: String], reason: String, by: String?, at now: Date) -> [LiveEvent] {
        offerIds.sorted { $0.key < $1.key }.map { userId, offerId in
            var data: [String: JSONValue] = ["id": .string(offerId), "ticketId": .string(ticketId), "reason": .string(reason)]
            if let by { data["by"] = .string(by) }
            return LiveEvent(type: .offerTaken, audience: .users([userId]), data: .object(data), occurredAt: now)
        }
    }

    public static func ticket(_ ticket: Ticket, at now: Date, alsoTo previousAgent: String? = nil) -> [LiveEvent] {
        let data = ticket.jsonValue
        var events = [LiveEvent(type: .ticket, audience: ticketAudience(ticket), data: data, occurredAt: now)]
        // The agent who just lost the ticket must learn it left their list.
        if let previousAgent, previousAgent != ticket.agentId {
            events.append(LiveEvent(type: .ticket, audience: .users([previousAgent]), data: data, occurredAt: now))
        }
        return events
    }

    public static func message(ticket: Ticket, messageId: String, direction: MessageDirection, at now: Date) -> LiveEvent {
        var data: [String: JSONValue] = ["ticketId": .string(ticket.id), "messageId": .string(messageId), "direction": .string(direction.rawValue)]
        data["ticket"] = ticket.jsonValue
        return LiveEvent(type: .message, audience: ticketAudience(ticket), data: .object(data), occurredAt: now)
    }

    public static func presence(_ record: PresenceRecord, at now: Date) -> LiveEvent {
        var data: [String: JSONValue] = ["userId": .string(record.userId), "state": .string(record.state.rawValue)]
        data["reason"] = record.reason.map(JSONValue.string) ?? .null
        data["since"] = record.since.map { .string(ISO8601.format($0)) } ?? .null
        return LiveEvent(type: .presence, audience: .everyone, data: .object(data), occurredAt: now)
    }
}
