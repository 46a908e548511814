import Foundation

/// What the caller does when an agent closes a ticket.
public enum ClosingAction: Sendable, Equatable {
    /// Motion's mandatory disposition: pause the agent with the account's pause status while they dispose.
    case pauseAgent(userId: String, reason: String)
    /// Put the agent back to how they were before disposing.
    case restorePresence(userId: String, presence: AgentPresence)
    case closeTicket(ticketId: String, dispositionId: String?)
}

/// Closing one ticket by one agent, with Motion's mandatory disposition.
///
/// `beginDisposing` is called when the agent starts closing (opens the disposition form, or
/// their tab closes): with mandatory disposition on and a pause status set, the agent is paused
/// with it, so no new offers reach them meanwhile. `close` then needs a disposition when the
/// account requires one and refuses otherwise, naming `dispositionId`. A direct `close` (the
/// API with a disposition in the request) goes through without a pause.
public struct ClosingFlow: Sendable, Equatable, Codable {
    public enum State: Sendable, Equatable, Codable {
        case working
        /// `previousPresence` is nil when the agent was not paused for disposing.
        case disposing(previousPresence: AgentPresence?)
        case closed(dispositionId: String?)
    }

    public let ticketId: String
    public let agentId: String
    public let policy: MandatoryDisposition
    public private(set) var state: State = .working

    public init(ticketId: String, agentId: String, policy: MandatoryDisposition) {
        self.ticketId = ticketId
        self.agentId = agentId
        self.policy = policy
    }

    public mutating func beginDisposing(currentPresence: AgentPresence) -> [ClosingAction] {
        guard case .working = state else { return [] }
        guard policy.enabled, let pause = policy.pauseStatus else {
            state = .disposing(previousPresence: nil)
            return []
        }
        state = .disposing(previousPresence: currentPresence)
        return [.pauseAgent(userId: agentId, reason: pause)]
    }

    /// Closes the ticket; throws `DomainError.invalid` naming `dispositionId` when the account
    /// requires a disposition and none (or a blank one) was given. The ticket stays open then,
    /// and the agent stays paused for disposing.
    public mutating func close(dispositionId: String?) throws(DomainError) -> [ClosingAction] {
        let disposition = dispositionId.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        if case .closed = state {
            throw .conflict(FieldError("status", "the ticket is already closed"))
        }
        if policy.enabled && disposition == nil {
            throw .invalid([FieldError("dispositionId", "is required: this account requires a disposition to close a ticket; choose one of the account's dispositions")])
        }
        var actions: [ClosingAction] = [.closeTicket(ticketId: ticketId, dispositionId: disposition)]
        if case .disposing(let previous?) = state {
            actions.append(.restorePresence(userId: agentId, presence: previous))
        }
        state = .closed(dispositionId: disposition)
        return actions
    }

    /// The agent left the disposition form without closing.
    public mutating func cancelDisposing() -> [ClosingAction] {
        guard case .disposing(let previous) = state else { return [] }
        state = .working
        return previous.map { [.restorePresence(userId: agentId, presence: $0)] } ?? []
    }
}
