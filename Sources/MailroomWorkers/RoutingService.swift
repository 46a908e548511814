import Foundation
import Logging
import MailroomCore
import Metrics
import ServiceLifecycle
import Synchronization

/// Carries out what each ticket's `TicketRouting` decides: stores offers, assigns and queues
/// tickets, runs the rules again, and publishes every change as a live event.
///
/// Each event is one read-decide-write round: read the machine (with its version) and the
/// agents it concerns, let the machine decide, then commit the machine and its effects in one
/// transaction only if the version is unchanged. A commit that loses (another accept, another
/// node's timer) replays the event on the state that won, so two accepts never both win and two
/// nodes never both act on one ticket. Live events are published after the commit.
///
/// `run()` is the timer: it sleeps until the earliest deadline of any machine (the store keeps
/// it in an indexed column) or until `wake()`, then ticks the machines that are due.
public final class RoutingService: Service, RoutingOperations, Sendable {
    let store: Repositories
    let events: any LiveEventPublisher
    let clock: any RoutingClock
    let logger: Logger
    let rules: RuleRunner
    /// How long the timer sleeps when no machine waits on time (a sweep for deadlines set by other nodes).
    let idleSweep: TimeInterval
    /// The timer: a round ticks what is due and says when the next deadline comes.
    private let timer: PeriodicWork<RoutingTimerClock>
    /// Sends an account transfer's notice to the customer; set by the composition root.
    let sendNotice: @Sendable (Ticket, MessageTemplate, Account) async throws -> Void

    public init(store: some RepositoryProvider, events: any LiveEventPublisher, clock: any RoutingClock = SystemRoutingClock(), logger: Logger,
                idleSweep: TimeInterval = 5,
                sendNotice: @escaping @Sendable (Ticket, MessageTemplate, Account) async throws -> Void = { _, _, _ in }) {
        self.store = store.repositories
        self.events = events
        self.clock = clock
        self.logger = logger
        self.rules = RuleRunner(store: store.repositories)
        self.idleSweep = idleSweep
        self.sendNotice = sendNotice
        timer = PeriodicWork(every: .seconds(idleSweep), clock: RoutingTimerClock(base: clock))
    }

    enum Event: Sendable {
        case start(RoutingTarget)
        case newMessage(agentId: String)
        case accept(String)
        /// "Take it" or "Assign to…": the ticket becomes this agent's without an offer.
        case take(String, replacingHolder: Bool)
        case reject(String)
        case tick
        case agentsChanged
        case queueChanged(AgentQueue)
        /// Withdraws open offers; `unassign` also takes the ticket out of its queue.
        case cancel(unassign: Bool)
        case transfer(from: String, to: TransferTarget, settings: TransferSettings)
    }

    /// What a round did: the machine's actions and the ticket as committed.
    struct Outcome: Sendable {
        var actions: [RoutingAction]
        var ticket: Ticket
    }

    // MARK: The timer

    /// Makes the timer look at the deadlines now (a machine scheduled an earlier one).
    public func wake() { timer.wake() }

    public func run() async throws {
        await timer.runScheduled { await self.timerRound() }
    }

    /// Ticks what is due; how long until the earliest deadline left (the store keeps them in an
    /// indexed column), at most the idle sweep, which catches deadlines set by other nodes.
    func timerRound() async -> Duration {
        await tickDue()
        let now = clock.now()
        let next = (try? await store.routing.nextDeadline()) ?? now.addingTimeInterval(idleSweep)
        // A deadline still in the past was just ticked and did not move: look again later, do not spin.
        let wait = next <= now ? 1 : min(next.timeIntervalSince(now), idleSweep)
        return .seconds(wait)
    }

    /// Ticks every machine whose deadline has come; returns how many it ticked.
    @discardableResult
    public func tickDue() async -> Int {
        var seen = Set<String>()
        while true {
            let due: [String]
            do {
                due = try await store.routing.dueTickets(now: clock.now(), limit: 200)
            } catch {
                logger.error("cannot read due routing timers", metadata: ["error": "\(error)"])
                break
            }
            let fresh = due.filter { !seen.contains($0) }
            if fresh.isEmpty { break }
            for ticketId in fresh {
                seen.insert(ticketId)
                do {
                    try await transition(ticketId, .tick)
                } catch {
                    logger.error("routing timer failed", metadata: ["ticket": "\(ticketId)", "error": "\(error)"])
                }
            }
        }
        return seen.count
    }

    // MARK: Starting and new messages

    /// Starts what the rules decided for a ticket (a queue, an agent, or the unassigned view).
    /// `account`, when the caller holds the ticket's account already (ingest), spares reading it again.
    /// `newTicket`: the ticket as just created (it has no routing yet), so it need not be read back.
    public func start(ticketId: String, target: RoutingTarget, account: Account? = nil, newTicket: Ticket? = nil) async throws {
        try await transition(ticketId, .start(target), account: account, newTicket: newTicket.flatMap { $0.id == ticketId ? $0 : nil })
    }

    /// A message joined a ticket. Publishes it to those who see the ticket; when the ticket's
    /// agent is paused or offline, starts the seeds' wait for them (then their queue, then the
    /// rules). Returns true when nobody holds the ticket and the rules should route it.
    public func newMessage(ticketId: String, messageId: String) async -> Bool {
        do {
            guard let ticket = try await store.tickets.ticket(id: ticketId) else { return false }
            events.publish(RoutingEvents.message(ticket: ticket, messageId: messageId, direction: .inbound, at: clock.now()))
            guard ticket.isOpen else { return false }
            if let agentId = ticket.agentId {
                try await transition(ticketId, .newMessage(agentId: agentId))
                return false
            }
            guard let queueId = ticket.queueId else { return true }
            // A ticket listed under a queue that nothing offers any more is offered there again.
            if let stored = try await store.routing.routing(ticketId: ticketId), stored.machine.isActive { return false }
            try await transition(ticketId, .start(.queue(queueId: queueId)))
            return false
        } catch {
            logger.error("routing a new message failed", metadata: ["ticket": "\(ticketId)", "error": "\(error)"])
            return false
        }
    }

    /// The seeds' "proceed with the action plan": the rules run on the ticket's latest message.
    func runRulesAgain(_ ticketId: String) async {
        do {
            guard let ticket = try await store.tickets.ticket(id: ticketId), ticket.isOpen,
                  let account = try await store.accounts.find(id: ticket.accountId),
                  let message = try await store.tickets.latestInboundMessage(ticketId: ticketId) else { return }
            let (decision, _) = try await rules.decide(message: message, account: account, isNew: false)
            try await store.tickets.applyRouting(ticketId: ticketId, tags: decision.tags, priority: decision.priority, queueId: nil,
                                                 agentId: nil, closeWithDisposition: decision.closeWithDispositionId)
            if decision.closeWithDispositionId != nil {
                try await transition(ticketId, .cancel(unassign: false))
            } else {
                try await transition(ticketId, .start(decision.route))
            }
        } catch {
            logger.error("running the rules again failed; the ticket stays where it is", metadata: ["ticket": "\(ticketId)", "error": "\(error)"])
        }
    }

    // MARK: Offers

    public func accept(offerId: String, by userId: String) async throws -> Ticket {
        let offer = try await ownOffer(offerId, userId: userId)
        let outcome = try await transition(offer.ticketId, .accept(userId), actor: userId)
        for case .acceptRefused(let by, let reason) in outcome.actions where by == userId {
            throw DomainError.conflict(FieldError("id", Self.explain(reason)))
        }
        guard outcome.ticket.agentId == userId else {
            throw DomainError.conflict(FieldError("id", Self.explain(.routingEnded)))
        }
        return outcome.ticket
    }

    /// "Take it" (`actorId` is the agent) or "Assign to…" (a supervisor for `userId`), under the rules
    /// of accepting an offer: capacity, and the first to take it wins. Who may do it is checked by
    /// the caller (``TicketDeskRules``).
    public func take(ticketId: String, for userId: String, by actorId: String?) async throws -> Ticket {
        let (ticket, _) = try await openTicket(ticketId)
        guard let user = try await store.users.find(id: userId), user.active else {
            throw DomainError.invalid([FieldError("userId", "names no active user")])
        }
        let replacing = actorId != userId
        if let holder = ticket.agentId, holder == userId || !replacing {
            throw DomainError.conflict(FieldError("ticket", try await takenText(holder: holder, taker: userId)))
        }
        let outcome = try await transition(ticketId, .take(userId, replacingHolder: replacing), actor: actorId)
        for case .acceptRefused(let by, let reason) in outcome.actions where by == userId {
            switch reason {
            case .alreadyTaken(let holder): throw DomainError.conflict(FieldError("ticket", try await takenText(holder: holder, taker: userId)))
            case .atCapacity:
                let whose = replacing ? "\(user.name) has" : "you have"
                throw DomainError.conflict(FieldError("ticket", "cannot be taken: \(whose) as many open tickets as \(replacing ? "their" : "your") capacity (\(user.capacity)); close one first"))
            default: throw DomainError.conflict(FieldError("ticket", Self.explain(reason)))
            }
        }
        guard outcome.ticket.agentId == userId else {
            throw DomainError.conflict(FieldError("ticket", "is no longer waiting: it was rerouted, transferred or closed meanwhile"))
        }
        return outcome.ticket
    }

    private func takenText(holder: String, taker: String) async throws -> String {
        if holder == taker { return "is held by this agent already" }
        let name = try await store.users.find(id: holder)?.name ?? "another agent"
        return "was taken by \(name) already"
    }

    public func reject(offerId: String, by userId: String) async throws {
        let offer = try await ownOffer(offerId, userId: userId)
        guard offer.state == .offered else {
            throw DomainError.conflict(FieldError("id", "the offer is \(offer.state.rawValue) already"))
        }
        try await transition(offer.ticketId, .reject(userId))
    }

    private func ownOffer(_ offerId: String, userId: String) async throws -> OfferView {
        // Someone else's offer answers as missing, as if it did not exist.
        guard OfferView.parse(offerId) != nil, let offer = try await store.routing.offer(id: offerId), offer.userId == userId else {
            throw DomainError.notFound("offer \(offerId)")
        }
        return offer
    }

    static func explain(_ refusal: AcceptRefusal) -> String {
        switch refusal {
        case .notOffered: return "is not an offer open for you"
        case .expired: return "expired before it was accepted; the ticket went on to others"
        case .alreadyTaken: return "was accepted by another agent first"
        case .atCapacity: return "cannot be accepted: you have as many open tickets as your capacity; close one, then accept"
        case .routingEnded: return "is no longer open: the ticket was rerouted, transferred or closed"
        }
    }

    // MARK: Agents

    public func setPresence(userId: String, presence: AgentPresence) async throws -> PresenceRecord {
        let errors = presence.validate()
        guard errors.isEmpty else { throw DomainError.invalid(errors) }
        let record = try await store.routing.setPresence(userId: userId, presence: presence, now: clock.now())
        events.publish(RoutingEvents.presence(record, at: clock.now()))
        if record.state == .online { await agentsChanged(userId: userId) }
        return record
    }

    /// The agent's presence or load changed: tickets waiting for them, or in their queues, may be offered now.
    public func agentsChanged(userId: String) async {
        do {
            let queues = try await store.routing.queues(memberId: userId)
            for ticketId in try await store.routing.activeTickets(waitingFor: userId, inQueues: queues.map(\.id)) {
                do {
                    try await transition(ticketId, .agentsChanged)
                } catch {
                    logger.error("offering to an agent who became available failed", metadata: ["ticket": "\(ticketId)", "error": "\(error)"])
                }
            }
        } catch {
            logger.error("cannot find the tickets an agent's change concerns", metadata: ["user": "\(userId)", "error": "\(error)"])
        }
    }

    public func queueChanged(id: String, queue: AgentQueue?) async {
        do {
            for ticketId in try await store.routing.activeTickets(inQueue: id) {
                do {
                    if let queue {
                        try await transition(ticketId, .queueChanged(queue))
                    } else {
                        try await transition(ticketId, .cancel(unassign: true))
                    }
                } catch {
                    logger.error("applying a queue change to a ticket failed", metadata: ["ticket": "\(ticketId)", "error": "\(error)"])
                }
            }
        } catch {
            logger.error("cannot find the tickets waiting in a queue", metadata: ["queue": "\(id)", "error": "\(error)"])
        }
    }

    public func ticketChanged(_ ticket: Ticket) async {
        for event in RoutingEvents.ticket(ticket, at: clock.now()) { events.publish(event) }
    }

    // MARK: Ticket actions

    public func transfer(ticketId: String, to destination: TransferDestination, by userId: String?) async throws -> Ticket {
        let (ticket, account) = try await openTicket(ticketId)
        switch destination {
        case .account(let accountId, let noticeTemplateId):
            guard let target = try await store.accounts.find(id: accountId) else {
                throw DomainError.invalid([FieldError("accountId", "names no account")])
            }
            var template: MessageTemplate?
            if let noticeTemplateId {
                template = try await store.templates.find(id: noticeTemplateId)
                if template == nil { template = try await store.templates.find(key: noticeTemplateId) }
                if template == nil { throw DomainError.invalid([FieldError("noticeTemplateId", "names no template")]) }
            }
            for action in try AccountTransfer.plan(ticket: ticket, to: target, noticeTemplateId: template?.id) {
                switch action {
                case .cancelRouting: try await transition(ticketId, .cancel(unassign: false))
                case .moveToAccount(let id): try await store.tickets.moveToAccount(ticketId: ticketId, accountId: id, by: userId, now: clock.now())
                case .clearAssignment, .markUnread: break // moveToAccount does both in the same statement
                case .sendNotice:
                    if let template, let moved = try await store.tickets.ticket(id: ticketId) {
                        do {
                            try await sendNotice(moved, template, target)
                        } catch {
                            // The move stands; the customer just does not hear of it.
                            logger.warning("the account transfer notice could not be queued", metadata: ["ticket": "\(ticketId)", "error": "\(error)"])
                        }
                    }
                case .runRules: await runRulesAgain(ticketId)
                }
            }
            if let previous = ticket.agentId { await freed(previous) }
        case .queue(let queueId):
            guard let queue = try await store.routing.queue(id: queueId) else {
                throw DomainError.invalid([FieldError("queueId", "names no queue")])
            }
            let cause = TicketHistory.RoutingCause.transfer(toQueueId: queue.id, toUserId: nil)
            if let holder = ticket.agentId {
                try await transition(ticketId, .transfer(from: holder, to: .queue(queue), settings: account.transfer), actor: userId, cause: cause)
            } else {
                try await transition(ticketId, .start(.queue(queueId: queue.id)), actor: userId, cause: cause)
            }
        case .agent(let targetId):
            guard let user = try await store.users.find(id: targetId), user.active else {
                throw DomainError.invalid([FieldError("userId", "names no active user")])
            }
            let cause = TicketHistory.RoutingCause.transfer(toQueueId: nil, toUserId: user.id)
            if let holder = ticket.agentId {
                try await transition(ticketId, .transfer(from: holder, to: .agent(userId: user.id), settings: account.transfer), actor: userId,
                                     cause: cause)
            } else {
                try await transition(ticketId, .start(.agent(userId: user.id, timeoutSeconds: account.transfer.timeoutSeconds)), actor: userId,
                                     cause: cause)
            }
        }
        guard let updated = try await store.tickets.ticket(id: ticketId) else { throw DomainError.notFound("ticket \(ticketId)") }
        return updated
    }

    public func close(ticketId: String, dispositionId: String?, by userId: String?) async throws -> Ticket {
        let (ticket, account) = try await openTicket(ticketId)
        let disposition = dispositionId.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        if let disposition {
            guard let found = try await store.dispositions.find(id: disposition), found.active,
                  found.accountId == nil || found.accountId == ticket.accountId else {
                throw DomainError.invalid([FieldError("dispositionId", "names no active disposition of this ticket's account")])
            }
        }
        let agentId = ticket.agentId ?? userId
        let stored = try await store.routing.routing(ticketId: ticketId)
        var flow = stored?.closing ?? ClosingFlow(ticketId: ticketId, agentId: agentId ?? "", policy: account.mandatoryDisposition)
        if account.mandatoryDisposition.enabled && disposition == nil, !flow.agentId.isEmpty {
            // Motion: the agent is paused with the account's status while they choose a disposition.
            let current = try await store.routing.presence(userIds: [flow.agentId])[flow.agentId]?.presence ?? .offline
            let actions = flow.beginDisposing(currentPresence: current)
            try await store.routing.saveClosing(ticketId: ticketId, closing: flow, now: clock.now())
            for case .pauseAgent(let agent, let reason) in actions {
                _ = try await setPresence(userId: agent, presence: .paused(reason))
            }
        }
        let actions = try flow.close(dispositionId: disposition)
        for action in actions {
            switch action {
            case .closeTicket(let id, let dispositionId):
                guard try await store.tickets.close(ticketId: id, dispositionId: dispositionId, by: userId, now: clock.now()) else {
                    throw DomainError.conflict(FieldError("status", "the ticket is already closed"))
                }
            case .restorePresence(let agent, let presence):
                _ = try await setPresence(userId: agent, presence: presence)
            case .pauseAgent:
                break
            }
        }
        try await store.routing.saveClosing(ticketId: ticketId, closing: nil, now: clock.now())
        try await transition(ticketId, .cancel(unassign: false))
        guard let closed = try await store.tickets.ticket(id: ticketId) else { throw DomainError.notFound("ticket \(ticketId)") }
        await ticketChanged(closed)
        if let agent = closed.agentId { await freed(agent) }
        return closed
    }

    private func openTicket(_ ticketId: String) async throws -> (Ticket, Account) {
        guard let ticket = try await store.tickets.ticket(id: ticketId) else { throw DomainError.notFound("ticket \(ticketId)") }
        guard ticket.isOpen else { throw DomainError.conflict(FieldError("status", "the ticket is closed")) }
        guard let account = try await store.accounts.find(id: ticket.accountId) else { throw DomainError.notFound("account \(ticket.accountId)") }
        return (ticket, account)
    }

    /// An agent's load went down: if they take work, their queues' waiting tickets may be offered to them.
    private func freed(_ userId: String) async {
        guard let status = try? await store.routing.agentStatuses(userIds: [userId], now: clock.now()).first, status.isAvailable else { return }
        await agentsChanged(userId: userId)
    }

    // MARK: One round

    @discardableResult
    func transition(_ ticketId: String, _ event: Event, account known: Account? = nil, newTicket: Ticket? = nil, actor: String? = nil,
                    cause: TicketHistory.RoutingCause? = nil) async throws -> Outcome {
        var newTicket = newTicket
        for _ in 0..<12 {
            // A ticket just created has no routing stored; after a conflict, everything is read again.
            let stored = newTicket == nil ? try await store.routing.routing(ticketId: ticketId) : nil
            let read = newTicket == nil ? try await store.tickets.ticket(id: ticketId) : newTicket
            newTicket = nil
            guard let ticket = read else { throw DomainError.notFound("ticket \(ticketId)") }
            let account: Account
            if let known, known.id == ticket.accountId {
                account = known
            } else if let found = try await store.accounts.find(id: ticket.accountId) {
                account = found
            } else {
                throw DomainError.notFound("account \(ticket.accountId)")
            }
            let before = stored?.machine
            var machine = before ?? TicketRouting(ticketId: ticketId)

            var queues = machine.involvedQueues
            var agentIds = machine.involvedAgentIds
            var startQueues: [String: AgentQueue] = [:]
            var agentQueue: AgentQueue?
            switch event {
            case .start(.queue(let queueId)):
                if let queue = try await store.routing.queue(id: queueId) {
                    startQueues[queueId] = queue
                    queues.append(queue)
                }
            case .start(.agent(let userId, _)), .accept(let userId), .reject(let userId), .take(let userId, _):
                agentIds.insert(userId)
            case .newMessage(let agentId):
                agentIds.insert(agentId)
                agentQueue = try await queueOf(agent: agentId, ticket: ticket)
                if let agentQueue { queues.append(agentQueue) }
            case .queueChanged(let queue):
                queues.append(queue)
            case .transfer(let from, let target, _):
                agentIds.insert(from)
                switch target {
                case .queue(let queue): queues.append(queue)
                case .agent(let userId): agentIds.insert(userId)
                }
            case .start(.unrouted), .tick, .agentsChanged, .cancel:
                break
            }
            let named = agentIds
            for queue in queues { agentIds.formUnion(queue.members.map(\.userId)) }
            let now = clock.now()
            var statuses = try await store.routing.agentStatuses(userIds: agentIds, offersExcluding: ticketId, now: now)
            // Campaigns: a queue's members whose campaigns leave out the ticket's account are not offered it.
            let fromQueues = agentIds.subtracting(named)
            if !fromQueues.isEmpty {
                let excluded = CampaignScope.excluded(fromQueues, accountId: ticket.accountId, campaigns: try await store.routing.campaigns())
                if !excluded.isEmpty { statuses.removeAll { excluded.contains($0.userId) } }
            }
            let context = RoutingContext(agents: statuses, lastOffered: try await store.routing.lastOffered(queueIds: queues.map(\.id)))

            var actions: [RoutingAction]
            switch event {
            case .start(let target):
                actions = machine.start(target, account: account, queues: startQueues, now: now, context: context)
            case .newMessage(let agentId):
                actions = machine.newMessageForAssignedAgent(agentId, agentQueue: agentQueue, account: account, now: now, context: context)
            case .accept(let userId):
                actions = machine.offerAccepted(by: userId, at: now, context: context)
            case .take(let userId, let replacing):
                actions = machine.take(for: userId, replacingHolder: replacing, at: now, context: context)
            case .reject(let userId):
                actions = machine.offerRejected(by: userId, at: now, context: context)
            case .tick:
                actions = machine.tick(now: now, context: context)
            case .agentsChanged:
                actions = machine.agentsChanged(now: now, context: context)
            case .queueChanged(let queue):
                actions = machine.queueChanged(queue, now: now, context: context)
            case .cancel(let unassign):
                actions = machine.cancel(now: now)
                if unassign { actions.append(.leaveUnassigned) }
            case .transfer(let from, let target, let settings):
                actions = try machine.transfer(from: from, to: target, settings: settings, now: now, context: context)
            }
            if let before, machine == before, !actions.contains(where: Self.touchesTicket) {
                return Outcome(actions: actions, ticket: ticket)
            }
            if before == nil, case .start(.unrouted) = event, ticket.queueId == nil, ticket.agentId == nil,
               actions == [.leaveUnassigned] {
                // A new ticket nothing routes is unassigned already, and a ticket without a routing
                // machine is treated as one whose routing ended unassigned: nothing to store. Those
                // who see the unassigned view are still told.
                publish(actions, machine: machine, before: ticket, after: ticket, account: account, now: now)
                return Outcome(actions: actions, ticket: ticket)
            }
            let history = TicketHistory.routing(ticketId: ticketId, actions: actions, cause: cause ?? Self.historyCause(event),
                                                before: (ticket.queueId, ticket.agentId), by: actor, at: now)
            let change = RoutingChange(ticketId: ticketId, expectedVersion: stored?.version, previous: before, machine: machine,
                                       actions: actions, closing: stored?.closing, now: now, history: history)
            guard try await store.routing.commit(change) else {
                Counter(label: "mailroom_routing_conflicts_total").increment()
                continue
            }
            Counter(label: "mailroom_routing_decisions_total").increment()
            let committed = try await store.tickets.ticket(id: ticketId) ?? ticket
            publish(actions, machine: machine, before: ticket, after: committed, account: account, now: now)
            await followUp(actions, ticketId: ticketId, before: ticket, after: committed, offeredBefore: before, offeredAfter: machine)
            return Outcome(actions: actions, ticket: committed)
        }
        throw DomainError.conflict(FieldError("ticketId", "the ticket's routing kept changing while this was decided; try again"))
    }

    static func historyCause(_ event: Event) -> TicketHistory.RoutingCause {
        switch event {
        case .accept: return .accepted
        case .take: return .taken
        case .transfer(_, .queue(let queue), _): return .transfer(toQueueId: queue.id, toUserId: nil)
        case .transfer(_, .agent(let userId), _): return .transfer(toQueueId: nil, toUserId: userId)
        default: return .system
        }
    }

    static func touchesTicket(_ action: RoutingAction) -> Bool {
        switch action {
        case .assign, .moveToQueue, .leaveUnassigned, .markUnread: return true
        default: return false
        }
    }

    /// The queue a ticket goes to when its agent does not come back: the ticket's own queue if the
    /// agent is in it, else the agent's first queue (by their priority there).
    private func queueOf(agent userId: String, ticket: Ticket) async throws -> AgentQueue? {
        let queues = try await store.routing.queues(memberId: userId)
        return queues.first { $0.id == ticket.queueId } ?? queues.first
    }

    private func publish(_ actions: [RoutingAction], machine: TicketRouting, before: Ticket, after: Ticket, account: Account, now: Date) {
        func offerId(_ userId: String) -> String? {
            machine.latestOfferIndex(for: userId).map { OfferView.id(ticketId: machine.ticketId, index: $0) }
        }
        var ticketChanged = false
        for action in actions {
            switch action {
            case .sendOffer(let userId, _):
                guard let index = machine.latestOfferIndex(for: userId) else { continue }
                let offer = machine.offers[index]
                let view = OfferView(id: OfferView.id(ticketId: machine.ticketId, index: index), ticketId: machine.ticketId, userId: userId,
                                     state: offer.state, offeredAt: offer.offeredAt, deadline: offer.deadline)
                events.publish(RoutingEvents.offer(view, ticket: after, notification: account.notification, at: now))
            case .withdrawOffer(let userId, let reason):
                guard let id = offerId(userId) else { continue }
                for event in RoutingEvents.offerGone(ticketId: machine.ticketId, offerIds: [userId: id], reason: reason.rawValue, by: nil, at: now) {
                    events.publish(event)
                }
            case .notifyTaken(let agents, let by):
                var ids: [String: String] = [:]
                for userId in agents { ids[userId] = offerId(userId) }
                for event in RoutingEvents.offerGone(ticketId: machine.ticketId, offerIds: ids, reason: "taken", by: by, at: now) {
                    events.publish(event)
                }
            case .assign, .moveToQueue, .leaveUnassigned, .markUnread:
                ticketChanged = true
            default:
                break
            }
        }
        if ticketChanged {
            for event in RoutingEvents.ticket(after, at: now, alsoTo: before.agentId) { events.publish(event) }
        }
    }

    private func followUp(_ actions: [RoutingAction], ticketId: String, before: Ticket, after: Ticket,
                          offeredBefore: TicketRouting?, offeredAfter: TicketRouting) async {
        if actions.contains(where: { if case .scheduleTimer = $0 { true } else { false } }) { wake() }
        if let previous = before.agentId, previous != after.agentId { await freed(previous) }
        // An open offer counts as load: agents whose offer of this ticket closed without it
        // becoming theirs (declined, expired, taken by another, withdrawn) have room again.
        let stillOffered = Set(offeredAfter.openOffers.map(\.userId))
        let released = Set(offeredBefore?.openOffers.map(\.userId) ?? []).subtracting(stillOffered)
        for userId in released.sorted() where userId != after.agentId { await freed(userId) }
        if actions.contains(.runRulesAgain) { await runRulesAgain(ticketId) }
    }
}
