import Foundation

/// A ticket's offer state machine as stored, with the version its next change must name.
public struct StoredRouting: Sendable, Equatable {
    public var machine: TicketRouting
    public var version: Int64
    /// The agent's closing of the ticket, while a mandatory disposition is pending.
    public var closing: ClosingFlow?

    public init(machine: TicketRouting, version: Int64, closing: ClosingFlow?) {
        self.machine = machine
        self.version = version
        self.closing = closing
    }
}

/// One change of a ticket's routing: the new machine, what it asked for, and the version it was
/// computed from. Committing it is all or nothing, and only if nobody changed the machine meanwhile.
public struct RoutingChange: Sendable {
    public var ticketId: String
    /// nil: the ticket has no machine yet.
    public var expectedVersion: Int64?
    public var previous: TicketRouting?
    public var machine: TicketRouting
    public var actions: [RoutingAction]
    public var closing: ClosingFlow?
    public var now: Date
    /// The ticket's history lines this change makes (``TicketHistory/routing(ticketId:actions:cause:before:by:at:)``),
    /// written with it.
    public var history: [TicketHistoryEntry]

    public init(ticketId: String, expectedVersion: Int64?, previous: TicketRouting?, machine: TicketRouting, actions: [RoutingAction],
                closing: ClosingFlow?, now: Date, history: [TicketHistoryEntry] = []) {
        self.history = history
        self.ticketId = ticketId
        self.expectedVersion = expectedVersion
        self.previous = previous
        self.machine = machine
        self.actions = actions
        self.closing = closing
        self.now = now
    }
}
