import Foundation
import MailroomCore
import SQLKit


extension SQLStore {
    /// Queues, presence, routing machines and offers.
    public var routing: SQLRoutingStore { SQLRoutingStore(database: database) }
}

/// Queues and their members, agents' presence, each ticket's routing machine and its offers.
public struct SQLRoutingStore: RoutingRepository {
    let database: MailroomDatabase

    public init(database: MailroomDatabase) { self.database = database }

    // MARK: Queues

    public func createQueue(_ queue: AgentQueue, now: Date = Date()) async throws -> AgentQueue {
        var queue = queue
        queue.id = Identifier.make(at: now)
        let stored = queue
        try await database.transaction { db in
            try await Self.checkUniqueName(stored, db: db)
            try await db.raw("""
                INSERT INTO queues (id, name, strategy, agent_timeout_seconds, account_ids, created_at, updated_at)
                VALUES (\(bind: stored.id), \(bind: stored.name), \(bind: stored.strategy.rawValue), \(bind: stored.agentTimeoutSeconds),
                        \(bind: try StoredJSON.encode(stored.accountIds)), \(bind: Timestamp.from(now)), \(bind: Timestamp.from(now)))
                """).run()
            try await Self.writeMembers(stored, db: db)
        }
        return stored
    }

    /// Replaces the queue's settings and members; false when there is no such queue.
    @discardableResult
    public func updateQueue(_ queue: AgentQueue, now: Date = Date()) async throws -> Bool {
        try await database.transaction { db in
            guard try await db.raw("SELECT id FROM queues WHERE id = \(bind: queue.id)").first() != nil else { return false }
            try await Self.checkUniqueName(queue, db: db)
            try await db.raw("""
                UPDATE queues SET name = \(bind: queue.name), strategy = \(bind: queue.strategy.rawValue),
                    agent_timeout_seconds = \(bind: queue.agentTimeoutSeconds), account_ids = \(bind: try StoredJSON.encode(queue.accountIds)),
                    updated_at = \(bind: Timestamp.from(now))
                WHERE id = \(bind: queue.id)
                """).run()
            try await db.raw("DELETE FROM queue_members WHERE queue_id = \(bind: queue.id)").run()
            try await Self.writeMembers(queue, db: db)
            return true
        }
    }

    /// Deletes the queue and its members; false when there is no such queue.
    @discardableResult
    public func deleteQueue(id: String) async throws -> Bool {
        try await database.transaction { db in
            guard try await db.raw("SELECT id FROM queues WHERE id = \(bind: id)").first() != nil else { return false }
            try await db.raw("DELETE FROM queue_members WHERE queue_id = \(bind: id)").run()
            try await db.raw("DELETE FROM round_robin WHERE queue_id = \(bind: id)").run()
            try await db.raw("DELETE FROM queues WHERE id = \(bind: id)").run()
            return true
        }
    }

    public func queue(id: String) async throws -> AgentQueue? {
        try await selectQueues("WHERE id = \(bind: id)").first
    }

    public func queues() async throws -> [AgentQueue] {
        try await selectQueues("ORDER BY name, id")
    }

    public func queues(ids: [String]) async throws -> [String: AgentQueue] {
        let unique = Array(Set(ids))
        guard !unique.isEmpty else { return [:] }
        return Dictionary(try await selectQueues("WHERE id IN (\(binds: unique))").map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The queues an agent is a member of, by their priority in each and then by name.
    public func queues(memberId userId: String) async throws -> [AgentQueue] {
        let queues = try await selectQueues("WHERE id IN (SELECT queue_id FROM queue_members WHERE user_id = \(bind: userId)) ORDER BY name, id")
        return queues.enumerated().sorted { lhs, rhs in
            let left = lhs.element.members.first { $0.userId == userId }?.priority ?? 0
            let right = rhs.element.members.first { $0.userId == userId }?.priority ?? 0
            return (left, lhs.offset) < (right, rhs.offset)
        }.map(\.element)
    }

    /// A deleted account stops being served by any queue (Ameyo: queues using a deleted profile lose it).
    public func unlinkAccount(_ accountId: String, now: Date = Date()) async throws {
        let pattern = "%" + (try StoredJSON.encode(accountId)) + "%"
        try await database.transaction { db in
            let rows = try await db.raw("SELECT id, account_ids FROM queues WHERE account_ids LIKE \(bind: pattern)").all()
            for row in rows {
                let ids = try JSONCoding.decoder.decode([String].self, from: Data(try row.decode(column: "account_ids", as: String.self).utf8))
                try await db.raw("""
                    UPDATE queues SET account_ids = \(bind: try StoredJSON.encode(ids.filter { $0 != accountId })), updated_at = \(bind: Timestamp.from(now))
                    WHERE id = \(bind: try row.decode(column: "id", as: String.self))
                    """).run()
            }
        }
    }

    private static func checkUniqueName(_ queue: AgentQueue, db: any SQLDatabase) async throws {
        if try await db.raw("SELECT id FROM queues WHERE name = \(bind: queue.name) AND id <> \(bind: queue.id)").first() != nil {
            throw DomainError.conflict(FieldError("name", "'\(queue.name)' is already the name of another queue"))
        }
    }

    private static func writeMembers(_ queue: AgentQueue, db: any SQLDatabase) async throws {
        for (position, member) in queue.members.enumerated() {
            try await db.raw("""
                INSERT INTO queue_members (queue_id, user_id, priority, position)
                VALUES (\(bind: queue.id), \(bind: member.userId), \(bind: member.priority), \(bind: position))
                """).run()
        }
    }

    private func selectQueues(_ clause: SQLQueryString) async throws -> [AgentQueue] {
        try await database.withConnection { db in
            let rows = try await db.raw("SELECT id, name, strategy, agent_timeout_seconds, account_ids FROM queues \(clause)").all()
            var queues = try rows.map { row in
                AgentQueue(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
                           strategy: QueueStrategy(rawValue: try row.decode(column: "strategy", as: String.self)) ?? .ringAll,
                           agentTimeoutSeconds: try row.decode(column: "agent_timeout_seconds", as: Int.self),
                           accountIds: try JSONCoding.decoder.decode([String].self, from: Data(try row.decode(column: "account_ids", as: String.self).utf8)))
            }
            guard !queues.isEmpty else { return [] }
            let members = try await db.raw("""
                SELECT queue_id, user_id, priority FROM queue_members WHERE queue_id IN (\(binds: queues.map(\.id))) ORDER BY queue_id, position
                """).all()
            var byQueue: [String: [QueueMember]] = [:]
            for row in members {
                byQueue[try row.decode(column: "queue_id", as: String.self), default: []]
                    .append(QueueMember(userId: try row.decode(column: "user_id", as: String.self), priority: try row.decode(column: "priority", as: Int.self)))
            }
            for index in queues.indices { queues[index].members = byQueue[queues[index].id] ?? [] }
            return queues
        }
    }

    // MARK: Presence

    public func presence(userIds: [String]) async throws -> [String: PresenceRecord] {
        let unique = Array(Set(userIds))
        guard !unique.isEmpty else { return [:] }
        let rows = try await database.withConnection { db in
            try await db.raw("SELECT user_id, state, reason, since FROM agent_presence WHERE user_id IN (\(binds: unique))").all()
        }
        var records: [String: PresenceRecord] = [:]
        for userId in unique { records[userId] = .offline(userId) }
        for row in rows {
            let record = try Self.presence(from: row)
            records[record.userId] = record
        }
        return records
    }

    /// Stores the agent's presence. Going online starts their idle time for "least recent".
    public func setPresence(userId: String, presence: AgentPresence, now: Date = Date()) async throws -> PresenceRecord {
        let millis = Timestamp.from(now)
        try await database.transaction { db in
            let current = try await db.raw("SELECT state FROM agent_presence WHERE user_id = \(bind: userId)").first()
                .map { try $0.decode(column: "state", as: String.self) }
            let wentOnline = presence.state == .online && current != PresenceState.online.rawValue
            if current == nil {
                try await db.raw("""
                    INSERT INTO agent_presence (user_id, state, reason, since, online_since, last_accepted_at)
                    VALUES (\(bind: userId), \(bind: presence.state.rawValue), \(bind: presence.reason), \(bind: millis),
                            \(bind: wentOnline ? millis : nil), NULL)
                    """).run()
            } else if current != presence.state.rawValue || presence.state == .paused {
                try await db.raw("""
                    UPDATE agent_presence SET state = \(bind: presence.state.rawValue), reason = \(bind: presence.reason), since = \(bind: millis)
                    WHERE user_id = \(bind: userId)
                    """).run()
                if wentOnline {
                    try await db.raw("UPDATE agent_presence SET online_since = \(bind: millis) WHERE user_id = \(bind: userId)").run()
                }
            }
        }
        return try await self.presence(userIds: [userId])[userId] ?? .offline(userId)
    }

    static func presence(from row: any SQLRow) throws -> PresenceRecord {
        PresenceRecord(userId: try row.decode(column: "user_id", as: String.self),
                       state: PresenceState(rawValue: try row.decode(column: "state", as: String.self)) ?? .offline,
                       reason: try row.decode(column: "reason", as: String?.self),
                       since: Timestamp.date(try row.decode(column: "since", as: Int64.self)))
    }

    // MARK: What routing reads before an event

    /// Presence, capacity, open tickets and idle time of these agents. Unknown or deactivated
    /// users are offline with no capacity, so nothing is offered to them.
    /// `offersExcluding`: the ticket being decided, whose own offers are not load (a ring-all
    /// round offers it to several agents at once).
    public func agentStatuses(userIds: Set<String>, offersExcluding ticketId: String? = nil, now: Date = Date()) async throws -> [AgentStatus] {
        guard !userIds.isEmpty else { return [] }
        let ids = Array(userIds)
        return try await database.withConnection { db in
            let users = try await db.raw("SELECT id, capacity, active FROM users WHERE id IN (\(binds: ids))").all()
            let presence = try await db.raw("""
                SELECT user_id, state, reason, online_since, last_accepted_at FROM agent_presence WHERE user_id IN (\(binds: ids))
                """).all()
            let load = try await db.raw("""
                SELECT agent_id, COUNT(*) AS n FROM tickets WHERE agent_id IN (\(binds: ids)) AND status <> 'closed' GROUP BY agent_id
                """).all()
            var statuses: [String: AgentStatus] = [:]
            for userId in ids { statuses[userId] = AgentStatus(userId: userId, presence: .offline, capacity: 0) }
            for row in users {
                let id = try row.decode(column: "id", as: String.self)
                guard try row.decode(column: "active", as: Bool.self) else { continue }
                statuses[id]?.capacity = try row.decode(column: "capacity", as: Int.self)
            }
            for row in presence {
                let id = try row.decode(column: "user_id", as: String.self)
                guard statuses[id]?.capacity ?? 0 > 0 else { continue }
                let state = PresenceState(rawValue: try row.decode(column: "state", as: String.self)) ?? .offline
                statuses[id]?.presence = AgentPresence(state, reason: try row.decode(column: "reason", as: String?.self))
                let times = [try row.decode(column: "online_since", as: Int64?.self), try row.decode(column: "last_accepted_at", as: Int64?.self)]
                statuses[id]?.idleSince = times.compactMap { $0 }.max().map(Timestamp.date)
            }
            for row in load {
                statuses[try row.decode(column: "agent_id", as: String.self)]?.activeTickets = try row.decode(column: "n", as: Int.self)
            }
            let offered = try await db.raw("""
                SELECT user_id, COUNT(*) AS n FROM offers
                WHERE user_id IN (\(binds: ids)) AND state = 'offered' AND deadline > \(bind: Timestamp.from(now))
                    AND ticket_id <> \(bind: ticketId ?? "")
                GROUP BY user_id
                """).all()
            for row in offered {
                statuses[try row.decode(column: "user_id", as: String.self)]?.openOffers = try row.decode(column: "n", as: Int.self)
            }
            return Array(statuses.values)
        }
    }

    /// Round robin's memory: the member each queue offered last.
    public func lastOffered(queueIds: [String]) async throws -> [String: String] {
        let unique = Array(Set(queueIds))
        guard !unique.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var memory: [String: String] = [:]
            for row in try await db.raw("SELECT queue_id, last_user_id FROM round_robin WHERE queue_id IN (\(binds: unique))").all() {
                memory[try row.decode(column: "queue_id", as: String.self)] = try row.decode(column: "last_user_id", as: String.self)
            }
            return memory
        }
    }

    // MARK: Machines

    private static let routingOfTicket = FixedSQL("SELECT machine, version, closing FROM ticket_routing WHERE ticket_id = ?")

    public func routing(ticketId: String) async throws -> StoredRouting? {
        let row = try await database.withConnection { db in
            try await db.first(Self.routingOfTicket, .text(ticketId))
        }
        guard let row else { return nil }
        let machine = try JSONCoding.decoder.decode(TicketRouting.self, from: Data(try row.decode(column: "machine", as: String.self).utf8))
        let closing = try row.decode(column: "closing", as: String?.self).map {
            try JSONCoding.decoder.decode(ClosingFlow.self, from: Data($0.utf8))
        }
        return StoredRouting(machine: machine, version: try row.decode(column: "version", as: Int64.self), closing: closing)
    }

    /// Writes the change in one transaction if the machine is still at `expectedVersion`, and
    /// returns false (writing nothing) when another accept, node or timer changed it first: the
    /// caller reads it again and replays its event on what is there now.
    public func commit(_ change: RoutingChange) async throws -> Bool {
        let machineJSON = try StoredJSON.encode(change.machine)
        let closingJSON = try change.closing.map { try StoredJSON.encode($0) }
        let deadline = change.machine.nextDeadline.map(Timestamp.from)
        let queueId: String? = if case .inQueue(let id, _) = change.machine.phase { id } else { nil }
        let waiting = change.machine.awaitedAgentId
        let active = change.machine.isActive
        let millis = Timestamp.from(change.now)
        return try await database.transaction { db in
            let claimed: [any SQLRow]
            if let version = change.expectedVersion {
                claimed = try await db.raw("""
                    UPDATE ticket_routing SET machine = \(bind: machineJSON), version = version + 1, next_deadline = \(bind: deadline),
                        queue_id = \(bind: queueId), waiting_user_id = \(bind: waiting), active = \(bind: active), closing = \(bind: closingJSON),
                        updated_at = \(bind: millis)
                    WHERE ticket_id = \(bind: change.ticketId) AND version = \(bind: version)
                    RETURNING ticket_id
                    """).all()
            } else {
                claimed = try await db.raw("""
                    INSERT INTO ticket_routing (ticket_id, machine, version, next_deadline, queue_id, waiting_user_id, active, closing, updated_at)
                    VALUES (\(bind: change.ticketId), \(bind: machineJSON), 1, \(bind: deadline), \(bind: queueId), \(bind: waiting),
                            \(bind: active), \(bind: closingJSON), \(bind: millis))
                    ON CONFLICT (ticket_id) DO NOTHING
                    RETURNING ticket_id
                    """).all()
            }
            guard !claimed.isEmpty else { return false }
            try await Self.writeOffers(change, db: db, millis: millis)
            try await Self.apply(change.actions, ticketId: change.ticketId, db: db, millis: millis)
            try await SQLTicketHistory.insert(change.history, db: db)
            return true
        }
    }

    private static func writeOffers(_ change: RoutingChange, db: any SQLDatabase, millis: Int64) async throws {
        let before = change.previous?.offers ?? []
        for (index, offer) in change.machine.offers.enumerated() {
            let id = OfferView.id(ticketId: change.ticketId, index: index)
            if index >= before.count {
                try await db.raw("""
                    INSERT INTO offers (id, ticket_id, user_id, offered_at, deadline, state, updated_at)
                    VALUES (\(bind: id), \(bind: change.ticketId), \(bind: offer.userId), \(bind: Timestamp.from(offer.offeredAt)),
                            \(bind: Timestamp.from(offer.deadline)), \(bind: offer.state.rawValue), \(bind: millis))
                    """).run()
            } else if before[index].state != offer.state {
                try await db.raw("UPDATE offers SET state = \(bind: offer.state.rawValue), updated_at = \(bind: millis) WHERE id = \(bind: id)").run()
            }
            if offer.state == .accepted && (index >= before.count || before[index].state != .accepted) {
                try await db.raw("""
                    INSERT INTO agent_presence (user_id, state, reason, since, online_since, last_accepted_at)
                    VALUES (\(bind: offer.userId), 'offline', NULL, \(bind: millis), NULL, \(bind: millis))
                    ON CONFLICT (user_id) DO UPDATE SET last_accepted_at = excluded.last_accepted_at
                    """).run()
            }
        }
    }

    private static func apply(_ actions: [RoutingAction], ticketId: String, db: any SQLDatabase, millis: Int64) async throws {
        var touched = false
        for action in actions {
            switch action {
            case .assign(let userId):
                let change = TicketLifecycle.agentAssigned
                try await db.raw("""
                    UPDATE tickets SET agent_id = \(bind: userId),
                        status = CASE WHEN status = \(bind: change.from.rawValue) THEN \(bind: change.to.rawValue) ELSE status END
                    WHERE id = \(bind: ticketId)
                    """).run()
                touched = true
            case .moveToQueue(let queueId):
                try await db.raw("UPDATE tickets SET queue_id = \(bind: queueId), agent_id = NULL WHERE id = \(bind: ticketId)").run()
                touched = true
            case .leaveUnassigned:
                try await db.raw("UPDATE tickets SET queue_id = NULL, agent_id = NULL WHERE id = \(bind: ticketId)").run()
                touched = true
            case .markUnread:
                try await db.raw("UPDATE tickets SET unread = \(bind: true) WHERE id = \(bind: ticketId)").run()
                touched = true
            case .recordLastOffered(let queueId, let userId):
                try await db.raw("""
                    INSERT INTO round_robin (queue_id, last_user_id) VALUES (\(bind: queueId), \(bind: userId))
                    ON CONFLICT (queue_id) DO UPDATE SET last_user_id = excluded.last_user_id
                    """).run()
            case .sendOffer, .withdrawOffer, .notifyTaken, .waitInQueue, .scheduleTimer, .runRulesAgain, .acceptRefused:
                break
            }
        }
        if touched { try await db.raw("UPDATE tickets SET updated_at = \(bind: millis) WHERE id = \(bind: ticketId)").run() }
    }

    /// Keeps (or, with nil, forgets) the ticket's closing flow beside its machine.
    public func saveClosing(ticketId: String, closing: ClosingFlow?, now: Date = Date()) async throws {
        let closingJSON = try closing.map { try StoredJSON.encode($0) }
        let idle = try StoredJSON.encode(TicketRouting(ticketId: ticketId))
        let millis = Timestamp.from(now)
        try await database.withConnection { db in
            try await db.raw("""
                INSERT INTO ticket_routing (ticket_id, machine, version, next_deadline, queue_id, waiting_user_id, active, closing, updated_at)
                VALUES (\(bind: ticketId), \(bind: idle), 1, NULL, NULL, NULL, \(bind: false), \(bind: closingJSON), \(bind: millis))
                ON CONFLICT (ticket_id) DO UPDATE SET closing = excluded.closing, version = ticket_routing.version + 1
                """).run()
        }
    }

    /// Machines whose next deadline has come, oldest deadline first.
    public func dueTickets(now: Date, limit: Int = 200) async throws -> [String] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT ticket_id FROM ticket_routing WHERE next_deadline <= \(bind: Timestamp.from(now))
                ORDER BY next_deadline LIMIT \(literal: max(1, limit))
                """).all().map { try $0.decode(column: "ticket_id", as: String.self) }
        }
    }

    /// The earliest deadline of any machine; nil when nothing waits on time.
    public func nextDeadline() async throws -> Date? {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT MIN(next_deadline) AS d FROM ticket_routing").first(),
                  let millis = try row.decode(column: "d", as: Int64?.self) else { return nil }
            return Timestamp.date(millis)
        }
    }

    /// Machines still offering that a change of this agent concerns: those waiting for them and
    /// those in one of these queues, oldest first.
    public func activeTickets(waitingFor userId: String, inQueues queueIds: [String], limit: Int = 1_000) async throws -> [String] {
        try await database.withConnection { db in
            let queueClause: SQLQueryString = queueIds.isEmpty ? "" : " OR queue_id IN (\(binds: queueIds))"
            return try await db.raw("""
                SELECT ticket_id FROM ticket_routing WHERE active = \(bind: true) AND (waiting_user_id = \(bind: userId)\(queueClause))
                ORDER BY updated_at, ticket_id LIMIT \(literal: max(1, limit))
                """).all().map { try $0.decode(column: "ticket_id", as: String.self) }
        }
    }

    /// Machines still offering within this queue.
    public func activeTickets(inQueue queueId: String) async throws -> [String] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT ticket_id FROM ticket_routing WHERE active = \(bind: true) AND queue_id = \(bind: queueId) ORDER BY updated_at, ticket_id
                """).all().map { try $0.decode(column: "ticket_id", as: String.self) }
        }
    }

    // MARK: Offers

    static let offerColumns: SQLQueryString = "id, ticket_id, user_id, offered_at, deadline, state"

    public func offer(id: String) async throws -> OfferView? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(Self.offerColumns) FROM offers WHERE id = \(bind: id)").first().map(Self.offer(from:))
        }
    }

    /// The agent's offers still open at `now`, oldest first.
    public func openOffers(userId: String, now: Date = Date()) async throws -> [OfferView] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(Self.offerColumns) FROM offers WHERE user_id = \(bind: userId) AND state = 'offered' AND deadline > \(bind: Timestamp.from(now))
                ORDER BY offered_at, id
                """).all().map(Self.offer(from:))
        }
    }

    public func offers(ticketId: String) async throws -> [OfferView] {
        try await database.withConnection { db in
            try await db.raw("SELECT \(Self.offerColumns) FROM offers WHERE ticket_id = \(bind: ticketId) ORDER BY offered_at, id")
                .all().map(Self.offer(from:))
        }
    }

    static func offer(from row: any SQLRow) throws -> OfferView {
        OfferView(id: try row.decode(column: "id", as: String.self), ticketId: try row.decode(column: "ticket_id", as: String.self),
                  userId: try row.decode(column: "user_id", as: String.self),
                  state: OfferState(rawValue: try row.decode(column: "state", as: String.self)) ?? .withdrawn,
                  offeredAt: Timestamp.date(try row.decode(column: "offered_at", as: Int64.self)),
                  deadline: Timestamp.date(try row.decode(column: "deadline", as: Int64.self)))
    }
}
