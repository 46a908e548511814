import Foundation

public enum OfferState: String, NamedValues {
    case offered, accepted, rejected, expired
    /// Another agent accepted first (ring all).
    case taken
    /// Routing moved on without an answer: the wait ended, or the ticket was rerouted or closed.
    case withdrawn
}

/// One offer of the ticket to one agent. The caller stores these; an agent may be offered the
/// same ticket again later, so the latest offer for an agent is the one that counts.
public struct Offer: Sendable, Equatable, Codable {
    public var userId: String
    public var offeredAt: Date
    public var deadline: Date
    public var state: OfferState

    public init(userId: String, offeredAt: Date, deadline: Date, state: OfferState = .offered) {
        self.userId = userId
        self.offeredAt = offeredAt
        self.deadline = deadline
        self.state = state
    }
}

/// Why an accept did not give the agent the ticket (the API answers 409 with it).
public enum AcceptRefusal: Sendable, Equatable {
    /// This agent has no open offer for the ticket.
    case notOffered
    /// The offer's deadline passed before the accept arrived.
    case expired
    /// Someone else accepted first.
    case alreadyTaken(by: String)
    /// The agent is at capacity; the offer stays open until its deadline.
    case atCapacity
    /// Routing of this ticket ended (rules are running again, or it was closed or rerouted).
    case routingEnded
}

public enum WithdrawReason: String, Sendable, Equatable {
    case expired
    /// The wait for the agent or queue ended and routing moved on.
    case waitEnded
    /// The ticket was rerouted, transferred or closed.
    case cancelled
}

/// What the caller must do after an event. Apply them in order.
public enum RoutingAction: Sendable, Equatable {
    /// Store an offer and push an `offer` event to the agent.
    case sendOffer(to: String, deadline: Date)
    /// Mark the agent's open offer closed and remove it from their screen.
    case withdrawOffer(from: String, reason: WithdrawReason)
    /// Ring all: tell these agents (`offerTaken` event) that `by` accepted; their offers are closed.
    case notifyTaken(agents: [String], by: String)
    /// The ticket belongs to this agent now.
    case assign(to: String)
    /// Set the ticket's queue (and clear its agent): it is now offered within that queue.
    case moveToQueue(queueId: String)
    /// Nobody in the queue can take it now: the ticket waits, listed under the queue, and is
    /// offered again on `agentsChanged` or when a declined agent's cool-down ends.
    case waitInQueue(queueId: String)
    /// Round robin: remember the member offered last, and put it in the next `RoutingContext`.
    case recordLastOffered(queueId: String, userId: String)
    /// Call `tick(now:context:)` at this time (a later action replaces an earlier one).
    case scheduleTimer(at: Date)
    /// The seeds' "proceed with the action plan": run the rules again on this ticket.
    case runRulesAgain
    /// Put the ticket in the unassigned view (never hidden).
    case leaveUnassigned
    case markUnread
    case acceptRefused(by: String, reason: AcceptRefusal)
}

/// Where a transfer sends the ticket.
public enum TransferTarget: Sendable, Equatable {
    case queue(AgentQueue)
    case agent(userId: String)
}

/// What happens when an offer stage ends without an accept.
public indirect enum RoutingFallback: Sendable, Equatable, Codable {
    /// Offer within the queue; nil `waitSeconds` waits there for as long as it takes.
    case queue(AgentQueue, waitSeconds: Int?, then: RoutingFallback)
    case runRulesAgain
    case unassigned
    /// Transfers: back to the agent who had it, as unread.
    case returnTo(userId: String)
}

/// The offers of one ticket, driven by time: a state machine in the style of STYLE.md. Each
/// event method first applies what the passage of time implies (expired offers, ended
/// waits), then the event, and returns the actions for the caller to carry out. The caller
/// persists the value between events (it is `Codable`: store it as JSON with the ticket) and
/// calls the methods for one ticket one at a time (a row lock), which is what makes "two
/// accepts at once: exactly one wins" hold.
///
/// ```swift
/// var routing = TicketRouting(ticketId: ticket.id)
/// perform(routing.offerToQueue(queue, now: clock.now(), context: context))
/// // later, from the API, the timer worker and presence changes:
/// perform(routing.offerAccepted(by: userId, at: clock.now(), context: context))
/// perform(routing.tick(now: clock.now(), context: context))
/// ```
public struct TicketRouting: Sendable, Equatable, Codable {
    public enum Phase: Sendable, Equatable, Codable {
        case idle
        case waitingForAgent(userId: String, deadline: Date)
        case inQueue(queueId: String, deadline: Date?)
        case assigned(userId: String)
        case rulesAgain
        case unassigned
        case cancelled
    }

    struct AgentWait: Sendable, Equatable, Codable {
        var userId: String
        var deadline: Date
        /// The agent already holds the ticket (a new message on it), so capacity does not apply.
        var ownsTicket: Bool
        var onFailure: RoutingFallback
    }

    struct QueueStage: Sendable, Equatable, Codable {
        var queue: AgentQueue
        var deadline: Date?
        var onDeadline: RoutingFallback
        /// Agents who declined or let an offer expire, and when they may be offered again.
        var excludedUntil: [String: Date]
        var announcedWaiting: Bool
    }

    enum Stage: Sendable, Equatable, Codable {
        case idle
        case agent(AgentWait)
        case queue(QueueStage)
        case finished(Phase)
    }

    public let ticketId: String
    /// Every offer made for this ticket, oldest first.
    public internal(set) var offers: [Offer] = []
    var stage: Stage = .idle
    private var scheduledTimer: Date?

    public init(ticketId: String) {
        self.ticketId = ticketId
    }

    public var phase: Phase {
        switch stage {
        case .idle: .idle
        case .agent(let wait): .waitingForAgent(userId: wait.userId, deadline: wait.deadline)
        case .queue(let stage): .inQueue(queueId: stage.queue.id, deadline: stage.deadline)
        case .finished(let phase): phase
        }
    }

    public var openOffers: [Offer] { offers.filter { $0.state == .offered } }

    /// When `tick` must be called next; nil when nothing is pending on time.
    public var nextDeadline: Date? {
        switch stage {
        case .agent(let wait):
            return wait.deadline
        case .queue(let stage):
            var times = openOffers.map(\.deadline)
            if let deadline = stage.deadline { times.append(deadline) }
            // A declined agent's cool-down ending matters when the queue waits, and to a ring in progress.
            if openOffers.isEmpty || stage.queue.strategy == .ringAll { times += stage.excludedUntil.values }
            return times.min()
        case .idle, .finished:
            return nil
        }
    }

    // MARK: Starting

    /// The rules chose a queue: offer within it and wait there until someone accepts.
    public mutating func offerToQueue(_ queue: AgentQueue, now: Date, context: RoutingContext) -> [RoutingAction] {
        var actions = restart()
        actions += enterQueue(queue, deadline: nil, onDeadline: .unassigned, now: now, context: context)
        return scheduled(actions)
    }

    /// The rules chose one agent: offer to them (as soon as they are available) for
    /// `timeoutSeconds`; if they decline or time runs out, the ticket goes to the unassigned view.
    public mutating func offerToAgent(_ userId: String, timeoutSeconds: Int, now: Date, context: RoutingContext) -> [RoutingAction] {
        var actions = restart()
        let wait = AgentWait(userId: userId, deadline: now.addingTimeInterval(TimeInterval(timeoutSeconds)), ownsTicket: false,
                             onFailure: .unassigned)
        actions += enterAgentWait(wait, now: now, context: context)
        return scheduled(actions)
    }

    /// Starts what a rule run decided. `queues` resolves queue ids; an unknown queue or no route
    /// leaves the ticket in the unassigned view.
    public mutating func start(_ target: RoutingTarget, account: Account, queues: [String: AgentQueue], now: Date,
                               context: RoutingContext) -> [RoutingAction] {
        switch target {
        case .queue(let queueId):
            if let queue = queues[queueId] { return offerToQueue(queue, now: now, context: context) }
        case .agent(let userId, let timeout):
            return offerToAgent(userId, timeoutSeconds: timeout ?? account.waitForAgentSeconds, now: now, context: context)
        case .unrouted:
            break
        }
        var actions = restart()
        stage = .finished(.unassigned)
        actions.append(.leaveUnassigned)
        return scheduled(actions)
    }

    /// The seeds' rule for a new message on a ticket whose agent holds it: if the agent is
    /// online it is theirs at once; if logged out or paused, wait `waitForAgentSeconds` for them
    /// to accept; on timeout or reject, move to `agentQueue` (the agent's queue) and wait
    /// `waitForQueueSeconds` for an agent there; then run the rules again. Without a queue the
    /// rules run again straight after the agent's wait. A further message while the ticket is
    /// still being offered changes nothing: the waits already running go on.
    public mutating func newMessageForAssignedAgent(_ userId: String, agentQueue: AgentQueue?, account: Account, now: Date,
                                                    context: RoutingContext) -> [RoutingAction] {
        switch stage {
        case .agent, .queue: return scheduled(advance(to: now, context: context))
        case .idle, .finished: break
        }
        var actions = restart()
        if context.agents[userId]?.presence.state == .online {
            stage = .finished(.assigned(userId: userId))
            actions.append(.assign(to: userId))
            return scheduled(actions)
        }
        let fallback: RoutingFallback = agentQueue.map { .queue($0, waitSeconds: account.waitForQueueSeconds, then: .runRulesAgain) }
            ?? .runRulesAgain
        let wait = AgentWait(userId: userId, deadline: now.addingTimeInterval(TimeInterval(account.waitForAgentSeconds)),
                             ownsTicket: true, onFailure: fallback)
        actions += enterAgentWait(wait, now: now, context: context)
        return scheduled(actions)
    }

    /// Motion's transfer: the agent holding the ticket hands it to a queue or another agent. If
    /// nobody accepts within the account's transfer timeout, it returns to them as unread.
    public mutating func transfer(from userId: String, to target: TransferTarget, settings: TransferSettings, now: Date,
                                  context: RoutingContext) throws(DomainError) -> [RoutingAction] {
        guard settings.enabled else {
            throw .conflict(FieldError("transfer", "this account does not allow transfers; an administrator can enable them in the account's transfer settings"))
        }
        guard settings.allows(target) else {
            let kind = if case .queue = target { "to a queue" } else { "to another agent" }
            throw .conflict(FieldError("transfer", "this account does not allow transfers \(kind); an administrator can allow them in the account's transfer settings"))
        }
        let deadline = now.addingTimeInterval(TimeInterval(settings.timeoutSeconds))
        var actions: [RoutingAction]
        switch target {
        case .agent(let targetId):
            if targetId == userId {
                throw .invalid([FieldError("userId", "is the agent who holds the ticket; choose another agent or a queue")])
            }
            actions = restart()
            actions += enterAgentWait(AgentWait(userId: targetId, deadline: deadline, ownsTicket: false, onFailure: .returnTo(userId: userId)),
                                      now: now, context: context)
        case .queue(let queue):
            actions = restart()
            actions += enterQueue(queue, deadline: deadline, onDeadline: .returnTo(userId: userId), now: now, context: context,
                                  excluding: [userId: deadline])
        }
        return scheduled(actions)
    }

    // MARK: Events

    public mutating func offerAccepted(by userId: String, at now: Date, context: RoutingContext) -> [RoutingAction] {
        var actions = advance(to: now, context: context)
        switch stage {
        case .idle:
            actions.append(.acceptRefused(by: userId, reason: .notOffered))
        case .finished(.assigned(let winner)):
            if winner != userId { actions.append(.acceptRefused(by: userId, reason: .alreadyTaken(by: winner))) }
        case .finished:
            actions.append(.acceptRefused(by: userId, reason: .routingEnded))
        case .agent(let wait):
            guard wait.userId == userId else {
                actions.append(.acceptRefused(by: userId, reason: refusalForMissingOffer(userId)))
                break
            }
            if !wait.ownsTicket && !(context.agents[userId]?.hasFreeCapacity ?? false) {
                actions.append(.acceptRefused(by: userId, reason: .atCapacity))
                break
            }
            // An accept from the awaited agent counts even before the offer reached their screen.
            if let index = latestOpenOffer(userId) {
                offers[index].state = .accepted
            } else {
                offers.append(Offer(userId: userId, offeredAt: now, deadline: wait.deadline, state: .accepted))
            }
            stage = .finished(.assigned(userId: userId))
            actions.append(.assign(to: userId))
        case .queue:
            guard let index = latestOpenOffer(userId) else {
                actions.append(.acceptRefused(by: userId, reason: refusalForMissingOffer(userId)))
                break
            }
            guard context.agents[userId]?.hasFreeCapacity ?? false else {
                actions.append(.acceptRefused(by: userId, reason: .atCapacity))
                break
            }
            offers[index].state = .accepted
            let others = closeOpenOffers(as: .taken)
            stage = .finished(.assigned(userId: userId))
            actions.append(.assign(to: userId))
            if !others.isEmpty { actions.append(.notifyTaken(agents: others, by: userId)) }
        }
        return scheduled(actions)
    }

    public mutating func offerRejected(by userId: String, at now: Date, context: RoutingContext) -> [RoutingAction] {
        var actions = advance(to: now, context: context)
        if let index = latestOpenOffer(userId) {
            offers[index].state = .rejected
        } else if case .agent(let wait) = stage, wait.userId == userId {
            // Like an accept, a refusal from the awaited agent counts before the offer reached them.
            offers.append(Offer(userId: userId, offeredAt: now, deadline: wait.deadline, state: .rejected))
        } else {
            // A reject without an open offer (late, or a second click) changes nothing.
            return scheduled(actions)
        }
        switch stage {
        case .agent(let wait) where wait.userId == userId:
            actions += enter(wait.onFailure, now: now, context: context, declined: userId)
        case .queue(var queueStage):
            queueStage.excludedUntil[userId] = now.addingTimeInterval(TimeInterval(queueStage.queue.agentTimeoutSeconds))
            stage = .queue(queueStage)
            actions += offerRound(now: now, context: context)
        default:
            break
        }
        return scheduled(actions)
    }

    /// The timer fired (or the timer worker swept). Safe to call at any time, any number of times.
    public mutating func tick(now: Date, context: RoutingContext) -> [RoutingAction] {
        scheduled(advance(to: now, context: context))
    }

    /// Presence or load changed for some agents: offer to those who became available.
    public mutating func agentsChanged(now: Date, context: RoutingContext) -> [RoutingAction] {
        var actions = advance(to: now, context: context)
        switch stage {
        case .agent(let wait):
            let available = context.agents[wait.userId].map { wait.ownsTicket ? $0.presence.state == .online : $0.isAvailable } ?? false
            if available && latestOpenOffer(wait.userId) == nil {
                actions.append(makeOffer(to: wait.userId, deadline: wait.deadline, now: now))
            }
        case .queue:
            actions += offerRound(now: now, context: context)
        case .idle, .finished:
            break
        }
        return scheduled(actions)
    }

    /// The queue the ticket waits in was edited (members, priorities, strategy, timeout): the
    /// new settings apply from now on, and offers to agents who left the queue are withdrawn.
    /// Offers already open keep their deadlines.
    public mutating func queueChanged(_ queue: AgentQueue, now: Date, context: RoutingContext) -> [RoutingAction] {
        var actions = advance(to: now, context: context)
        guard case .queue(var queueStage) = stage, queueStage.queue.id == queue.id else { return scheduled(actions) }
        queueStage.queue = queue
        stage = .queue(queueStage)
        for index in offers.indices where offers[index].state == .offered && !queue.isMember(offers[index].userId) {
            offers[index].state = .withdrawn
            actions.append(.withdrawOffer(from: offers[index].userId, reason: .cancelled))
        }
        actions += offerRound(now: now, context: context)
        return scheduled(actions)
    }

    /// The ticket was closed, rerouted by hand or moved to another account: withdraw every open offer.
    public mutating func cancel(now: Date) -> [RoutingAction] {
        let actions = closeOpenOffers(as: .withdrawn).map { RoutingAction.withdrawOffer(from: $0, reason: .cancelled) }
        if case .finished = stage {} else { stage = .finished(.cancelled) }
        return scheduled(actions)
    }

    // MARK: Internals

    /// Applies everything due at `now`: expired offers, then an ended wait.
    mutating func advance(to now: Date, context: RoutingContext) -> [RoutingAction] {
        var actions: [RoutingAction] = []
        switch stage {
        case .agent(let wait):
            guard now >= wait.deadline else { break }
            for userId in closeOpenOffers(as: .expired) { actions.append(.withdrawOffer(from: userId, reason: .expired)) }
            actions += enter(wait.onFailure, now: now, context: context, declined: nil)
        case .queue(var queueStage):
            for index in offers.indices where offers[index].state == .offered && offers[index].deadline <= now {
                offers[index].state = .expired
                queueStage.excludedUntil[offers[index].userId] = now.addingTimeInterval(TimeInterval(queueStage.queue.agentTimeoutSeconds))
                actions.append(.withdrawOffer(from: offers[index].userId, reason: .expired))
            }
            stage = .queue(queueStage)
            if let deadline = queueStage.deadline, now >= deadline {
                for userId in closeOpenOffers(as: .withdrawn) { actions.append(.withdrawOffer(from: userId, reason: .waitEnded)) }
                actions += enter(queueStage.onDeadline, now: now, context: context, declined: nil)
            } else {
                actions += offerRound(now: now, context: context)
            }
        case .idle, .finished:
            break
        }
        return actions
    }

    private mutating func enter(_ fallback: RoutingFallback, now: Date, context: RoutingContext, declined: String?) -> [RoutingAction] {
        switch fallback {
        case .queue(let queue, let waitSeconds, let then):
            let deadline = waitSeconds.map { now.addingTimeInterval(TimeInterval($0)) }
            // Whoever just declined is not offered the ticket again in this queue right away.
            let excluded = declined.map { [$0: now.addingTimeInterval(TimeInterval(queue.agentTimeoutSeconds))] } ?? [:]
            return enterQueue(queue, deadline: deadline, onDeadline: then, now: now, context: context, excluding: excluded)
        case .runRulesAgain:
            stage = .finished(.rulesAgain)
            return [.runRulesAgain]
        case .unassigned:
            stage = .finished(.unassigned)
            return [.leaveUnassigned]
        case .returnTo(let userId):
            stage = .finished(.assigned(userId: userId))
            return [.assign(to: userId), .markUnread]
        }
    }

    private mutating func enterAgentWait(_ wait: AgentWait, now: Date, context: RoutingContext) -> [RoutingAction] {
        stage = .agent(wait)
        guard let agent = context.agents[wait.userId] else { return [] }
        let available = wait.ownsTicket ? agent.presence.state == .online : agent.isAvailable
        return available ? [makeOffer(to: wait.userId, deadline: wait.deadline, now: now)] : []
    }

    private mutating func enterQueue(_ queue: AgentQueue, deadline: Date?, onDeadline: RoutingFallback, now: Date,
                                     context: RoutingContext, excluding: [String: Date] = [:]) -> [RoutingAction] {
        stage = .queue(QueueStage(queue: queue, deadline: deadline, onDeadline: onDeadline, excludedUntil: excluding, announcedWaiting: false))
        return [.moveToQueue(queueId: queue.id)] + offerRound(now: now, context: context)
    }

    /// Offers to the next candidates when no offer is open. While a ring-all round is open,
    /// members of the same or a better priority who became available join it, with the
    /// round's deadline; other strategies wait for the open offer.
    private mutating func offerRound(now: Date, context: RoutingContext) -> [RoutingAction] {
        guard case .queue(var queueStage) = stage else { return [] }
        let open = openOffers
        if !open.isEmpty {
            return queueStage.queue.strategy == .ringAll ? widenRing(open, queueStage, now: now, context: context) : []
        }
        queueStage.excludedUntil = queueStage.excludedUntil.filter { $0.value > now }
        let candidates = QueueSelector.candidates(in: queueStage.queue, context: context, excluding: Set(queueStage.excludedUntil.keys))
        var actions: [RoutingAction] = []
        if candidates.isEmpty {
            if !queueStage.announcedWaiting {
                queueStage.announcedWaiting = true
                actions.append(.waitInQueue(queueId: queueStage.queue.id))
            }
            stage = .queue(queueStage)
            return actions
        }
        queueStage.announcedWaiting = false
        stage = .queue(queueStage)
        var deadline = now.addingTimeInterval(TimeInterval(queueStage.queue.agentTimeoutSeconds))
        if let stageDeadline = queueStage.deadline { deadline = min(deadline, stageDeadline) }
        for userId in candidates {
            actions.append(makeOffer(to: userId, deadline: deadline, now: now))
        }
        if queueStage.queue.strategy == .roundRobin, let userId = candidates.last {
            actions.append(.recordLastOffered(queueId: queueStage.queue.id, userId: userId))
        }
        return actions
    }

    private mutating func widenRing(_ open: [Offer], _ queueStage: QueueStage, now: Date, context: RoutingContext) -> [RoutingAction] {
        var queueStage = queueStage
        queueStage.excludedUntil = queueStage.excludedUntil.filter { $0.value > now }
        stage = .queue(queueStage)
        let queue = queueStage.queue
        let ringing = Set(open.map(\.userId))
        let priority = { (userId: String) in queue.members.first { $0.userId == userId }?.priority ?? Int.max }
        guard let ringPriority = ringing.map(priority).min(), let deadline = open.map(\.deadline).min() else { return [] }
        let excluded = ringing.union(queueStage.excludedUntil.keys)
        let joiners = QueueSelector.candidates(in: queue, context: context, excluding: excluded).filter { priority($0) <= ringPriority }
        return joiners.map { makeOffer(to: $0, deadline: deadline, now: now) }
    }

    private mutating func makeOffer(to userId: String, deadline: Date, now: Date) -> RoutingAction {
        offers.append(Offer(userId: userId, offeredAt: now, deadline: deadline))
        return .sendOffer(to: userId, deadline: deadline)
    }

    func latestOpenOffer(_ userId: String) -> Int? {
        offers.lastIndex { $0.userId == userId && $0.state == .offered }
    }

    private func refusalForMissingOffer(_ userId: String) -> AcceptRefusal {
        offers.last { $0.userId == userId }?.state == .expired ? .expired : .notOffered
    }

    /// Closes every open offer with `state` and returns whose they were.
    mutating func closeOpenOffers(as state: OfferState) -> [String] {
        var closed: [String] = []
        for index in offers.indices where offers[index].state == .offered {
            offers[index].state = state
            closed.append(offers[index].userId)
        }
        return closed
    }

    /// Starting anew withdraws what an earlier start left open.
    private mutating func restart() -> [RoutingAction] {
        closeOpenOffers(as: .withdrawn).map { .withdrawOffer(from: $0, reason: .cancelled) }
    }

    /// Appends a timer request when the next deadline moved.
    mutating func scheduled(_ actions: [RoutingAction]) -> [RoutingAction] {
        let next = nextDeadline
        defer { scheduledTimer = next }
        if let next, next != scheduledTimer { return actions + [.scheduleTimer(at: next)] }
        return actions
    }
}

// MARK: What the caller must read before an event

extension TicketRouting {
    /// Every agent whose status the next event may look at: the awaited agent, the members of the
    /// queue the ticket waits in and of the queues later fallbacks lead to, and whoever holds an
    /// open offer. The caller reads their `AgentStatus` into the `RoutingContext`.
    public var involvedAgentIds: Set<String> {
        var ids = Set(openOffers.map(\.userId))
        for queue in involvedQueues { ids.formUnion(queue.members.map(\.userId)) }
        switch stage {
        case .agent(let wait):
            ids.insert(wait.userId)
            if case .returnTo(let userId) = wait.onFailure { ids.insert(userId) }
        case .queue(let queueStage):
            if case .returnTo(let userId) = queueStage.onDeadline { ids.insert(userId) }
        case .idle, .finished:
            break
        }
        return ids
    }

    /// The queue the ticket waits in and the queues its fallbacks lead to (round robin needs their memory).
    public var involvedQueues: [AgentQueue] {
        func queues(in fallback: RoutingFallback) -> [AgentQueue] {
            if case .queue(let queue, _, let then) = fallback { return [queue] + queues(in: then) }
            return []
        }
        switch stage {
        case .agent(let wait): return queues(in: wait.onFailure)
        case .queue(let queueStage): return [queueStage.queue] + queues(in: queueStage.onDeadline)
        case .idle, .finished: return []
        }
    }

    /// The agent the ticket waits for, when it waits for one agent (not a queue).
    public var awaitedAgentId: String? {
        if case .agent(let wait) = stage { return wait.userId }
        return nil
    }

    /// True while offers may still be made or answered (waiting for an agent or in a queue).
    public var isActive: Bool {
        switch stage {
        case .agent, .queue: return true
        case .idle, .finished: return false
        }
    }

    /// The offer a `sendOffer` action just made: the latest open one for that agent.
    public func latestOfferIndex(for userId: String) -> Int? {
        offers.lastIndex { $0.userId == userId }
    }
}
