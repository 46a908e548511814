import Foundation
import MailroomCore

extension MemoryTicketStore: IngestRepository {
    public var preferredExecutor: (any TaskExecutor)? { nil }

    public func prepareRow(for mail: InboundMail) -> (any PreparedMessageRow)? { nil }

    public func stageRaw(_ messages: [[UInt8]?]) async throws -> [(any StagedRawMail)?] { messages.map { _ in nil } }

    public func ingestBatch(_ items: [IngestItem], account: Account, now: Date?) async throws -> IngestBatchResult {
        guard !items.isEmpty else { return IngestBatchResult(outcomes: []) }
        return try await transaction(now: now ?? Date()) { ledger in
            var outcomes: [IngestOutcome] = []
            var created: [String: Ticket] = [:]
            var failure: (any Error)?
            for item in items {
                // A savepoint: a message that breaks a domain rule is undone alone and quarantined.
                let before = ledger.working
                do {
                    let outcome = try await Self.store(item, account: account, ledger: ledger, created: &created)
                    ledger.working.record(item.position, accountId: account.id)
                    outcomes.append(outcome)
                } catch let error as DomainError {
                    ledger.working = before
                    guard let entry = item.storeFailedEntry(error, accountId: account.id, at: ledger.now) else {
                        failure = error
                        break
                    }
                    outcomes.append(.quarantined(id: ledger.working.insertQuarantine(entry, raw: item.raw, position: nil, now: ledger.now)))
                    ledger.working.record(item.position, accountId: account.id)
                } catch {
                    ledger.working = before
                    failure = error
                    break
                }
            }
            ledger.working.inboundCounts[account.id, default: 0] += outcomes.count { $0.addedToTicket }
            return IngestBatchResult(outcomes: outcomes, failure: failure, createdTickets: created)
        }
    }

    private static func store(_ item: IngestItem, account: Account, ledger: MemoryLedger,
                              created: inout [String: Ticket]) async throws -> IngestOutcome {
        switch item.action {
        case .ingest(let mail, let tags):
            let message = IngestSteps.Message(mail: mail, raw: item.raw, tags: tags, resolverInput: item.resolverInput)
            return try await IngestSteps.ingest(message, account: account, ledger: ledger, now: ledger.now, created: &created)
        case .quarantine(let entry):
            return .quarantined(id: ledger.working.insertQuarantine(entry, raw: item.raw, position: item.position, now: ledger.now))
        case .skip(let reason):
            return .skipped(reason: reason)
        }
    }

    public func quarantine(_ entry: QuarantinedMessage, raw: [UInt8]?, position: MailboxPosition?, now: Date) async throws -> String {
        write { state in
            let id = state.insertQuarantine(entry, raw: raw, position: position, now: now)
            state.record(position, accountId: entry.accountId)
            return id
        }
    }

    public func recordPosition(_ position: MailboxPosition, accountId: String, now: Date) async throws {
        write { $0.record(position, accountId: accountId) }
    }
}

extension MemoryTicketStore: TicketRepository {
    public func ticket(id: String) async throws -> Ticket? { read { $0.tickets[id]?.ticket } }

    public func ticket(number: Int64) async throws -> Ticket? { read { $0.tickets.values.first { $0.ticket.number == number }?.ticket } }

    public func messages(ticketId: String) async throws -> [TicketMessage] {
        read { $0.messages.filter { $0.message.ticketId == ticketId }.map(\.message) }
    }

    public func message(id: String) async throws -> TicketMessage? { read { $0.messages.first { $0.message.id == id }?.message } }

    public func latestInboundMessage(ticketId: String) async throws -> TicketMessage? {
        read { $0.messages.last { $0.message.ticketId == ticketId && $0.message.direction == .inbound }?.message }
    }

    public func customer(address: String) async throws -> Customer? { read { $0.customers[address.lowercased()] } }

    public func tickets(_ filter: TicketFilter) async throws -> (items: [Ticket], nextCursor: String?) {
        var after: (Date, String)?
        if let cursor = filter.cursor {
            let parts = cursor.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let millis = Int64(parts[0]) else {
                throw DomainError.invalid([FieldError("cursor", "is not a cursor this server gave out")])
            }
            after = (Date(timeIntervalSince1970: Double(millis) / 1000), String(parts[1]))
        }
        let matching = read { state in
            state.tickets.values.map(\.ticket).filter { ticket in
                if let ids = filter.accountIds, !ids.contains(ticket.accountId) { return false }
                if let queueId = filter.queueId, ticket.queueId != queueId { return false }
                if let agentId = filter.agentId, ticket.agentId != agentId { return false }
                if let status = filter.status, ticket.status != status { return false }
                if let unread = filter.unread, ticket.unread != unread { return false }
                if let tag = filter.tag, !ticket.tags.contains(tag) { return false }
                if let since = filter.since, ticket.lastMessageAt < since { return false }
                if let until = filter.until, ticket.lastMessageAt >= until { return false }
                if filter.unassigned == true, ticket.agentId != nil || ticket.status == .closed { return false }
                if let visibility = filter.visibility, !visibility.admits(ticket) { return false }
                if let after, (ticket.lastMessageAt, ticket.id) >= after { return false }
                return true
            }.sorted { ($0.lastMessageAt, $0.id) > ($1.lastMessageAt, $1.id) }
        }
        let limit = max(1, min(filter.limit, 500))
        guard matching.count > limit else { return (matching, nil) }
        let page = Array(matching.prefix(limit))
        let last = page[page.count - 1]
        return (page, "\(Int64((last.lastMessageAt.timeIntervalSince1970 * 1000).rounded())):\(last.id)")
    }

    public func messageCount(accountId: String) async throws -> Int { read { $0.inboundCounts[accountId] ?? 0 } }

    public func applyRouting(ticketId: String, tags: [String], priority: TicketPriority?, queueId: String?, agentId: String?,
                             closeWithDisposition dispositionId: String?, now: Date) async throws {
        write { state in
            guard var stored = state.tickets[ticketId] else { return }
            let before = stored.ticket.tags
            stored.ticket.tags = TicketLifecycle.adding(tags, to: stored.ticket.tags)
            stored.ticket.updatedAt = MemoryState.stamp(now)
            if let priority { stored.ticket.priority = priority }
            if let queueId { stored.ticket.queueId = queueId }
            if let agentId { stored.ticket.agentId = agentId }
            if let entry = TicketHistory.tagged(ticketId: ticketId, before: before, after: stored.ticket.tags, by: nil, at: MemoryState.stamp(now)) {
                state.history.append(entry)
            }
            if let dispositionId, stored.ticket.status != .closed {
                stored.ticket.status = .closed
                stored.dispositionId = dispositionId
                state.history.append(TicketHistory.closed(ticketId: ticketId, dispositionId: dispositionId, by: nil, at: MemoryState.stamp(now)))
            }
            state.tickets[ticketId] = stored
        }
    }

    public func setUnread(ticketId: String, unread: Bool, now: Date) async throws -> Ticket? {
        write { state in
            state.tickets[ticketId]?.ticket.unread = unread
            state.tickets[ticketId]?.ticket.updatedAt = MemoryState.stamp(now)
            return state.tickets[ticketId]?.ticket
        }
    }

    public func updateAttributes(ticketId: String, tags: [String]?, priority: TicketPriority?, escalated: Bool?, by actorId: String?,
                                 now: Date) async throws -> Ticket? {
        write { state in
            guard var stored = state.tickets[ticketId] else { return nil }
            if let tags {
                if let entry = TicketHistory.tagged(ticketId: ticketId, before: stored.ticket.tags, after: tags, by: actorId, at: MemoryState.stamp(now)) {
                    state.history.append(entry)
                }
                stored.ticket.tags = tags
            }
            if let priority { stored.ticket.priority = priority }
            if let escalated { stored.ticket.escalated = escalated }
            stored.ticket.updatedAt = MemoryState.stamp(now)
            state.tickets[ticketId] = stored
            return stored.ticket
        }
    }

    public func close(ticketId: String, dispositionId: String?, by actorId: String?, now: Date) async throws -> Bool {
        write { state in
            guard var stored = state.tickets[ticketId], stored.ticket.status != .closed else { return false }
            stored.ticket.status = .closed
            stored.dispositionId = dispositionId
            stored.ticket.updatedAt = MemoryState.stamp(now)
            state.tickets[ticketId] = stored
            state.history.append(TicketHistory.closed(ticketId: ticketId, dispositionId: dispositionId, by: actorId, at: MemoryState.stamp(now)))
            return true
        }
    }

    public func history(ticketId: String) async throws -> [TicketHistoryEntry] { read { $0.history.filter { $0.ticketId == ticketId } } }

    public func lastClosing(ticketId: String) async throws -> TicketHistoryEntry? {
        read { $0.history.last { $0.ticketId == ticketId && $0.kind == .closed } }
    }

    public func reopen(ticketId: String, by actorId: String?, now: Date) async throws -> Ticket? {
        write { state in
            guard var stored = state.tickets[ticketId], stored.ticket.status == .closed else { return nil }
            stored.ticket.status = TicketDeskRules.reopenedStatus
            stored.dispositionId = nil
            stored.ticket.updatedAt = MemoryState.stamp(now)
            state.tickets[ticketId] = stored
            state.history.append(TicketHistory.reopened(ticketId: ticketId, by: actorId, at: MemoryState.stamp(now)))
            return stored.ticket
        }
    }

    public func dispositionId(ticketId: String) async throws -> String? { read { $0.tickets[ticketId]?.dispositionId } }

    public func waitingCounts(queueIds: [String]) async throws -> [String: Int] {
        read { state in
            var counts: [String: Int] = [:]
            for stored in state.tickets.values where stored.ticket.agentId == nil && stored.ticket.status != .closed {
                if let queueId = stored.ticket.queueId, queueIds.contains(queueId) { counts[queueId, default: 0] += 1 }
            }
            return counts
        }
    }

    public func moveToAccount(ticketId: String, accountId: String, by actorId: String?, now: Date) async throws {
        write { state in
            guard var stored = state.tickets[ticketId] else { return }
            state.history.append(TicketHistory.movedToAccount(ticketId: ticketId, from: stored.ticket.accountId, to: accountId, by: actorId,
                                                              at: MemoryState.stamp(now)))
            stored.ticket.accountId = accountId
            stored.ticket.queueId = nil
            stored.ticket.agentId = nil
            stored.ticket.unread = true
            stored.ticket.updatedAt = MemoryState.stamp(now)
            state.tickets[ticketId] = stored
        }
    }
}

extension MemoryTicketStore: FetchStateRepository {
    public func acquireFetchLease(accountId: String, node: String, duration: TimeInterval, now: Date) async throws -> Bool {
        write { state in
            if let lease = state.leases[accountId], lease.node != node, lease.expiresAt >= MemoryState.stamp(now) { return false }
            state.leases[accountId] = (node, MemoryState.stamp(now.addingTimeInterval(duration)))
            return true
        }
    }

    public func renewFetchLeases(accountIds: [String], node: String, duration: TimeInterval, now: Date) async throws {
        write { state in
            for id in accountIds where state.leases[id]?.node == node {
                state.leases[id] = (node, MemoryState.stamp(now.addingTimeInterval(duration)))
            }
        }
    }

    public func releaseFetchLease(accountId: String, node: String) async throws {
        write { state in if state.leases[accountId]?.node == node { state.leases[accountId] = nil } }
    }

    public func accountsChangeMarker() async throws -> String { read { "\($0.accountsMarker)" } }

    public func imapPosition(accountId: String, folder: String) async throws -> IMAPPosition? {
        read { $0.imapPositions[accountId + "\u{0}" + folder] }
    }

    public func resetIMAPPosition(accountId: String, folder: String, uidValidity: UInt32, now: Date) async throws {
        write { $0.imapPositions[accountId + "\u{0}" + folder] = IMAPPosition(uidValidity: uidValidity, highWater: 0) }
    }

    public func seenPOP3UIDLs(accountId: String) async throws -> Set<String> { read { Set(($0.pop3Seen[accountId] ?? [:]).keys) } }

    public func recordPOP3LeftOnServer(uidl: String, accountId: String, now: Date) async throws {
        write { state in if state.pop3Seen[accountId]?[uidl] == nil { state.pop3Seen[accountId, default: [:]][uidl] = true } }
    }

    public func pop3UIDLsLeftOnServer(accountId: String) async throws -> Set<String> {
        read { Set(($0.pop3Seen[accountId] ?? [:]).filter(\.value).keys) }
    }

    public func forgetPOP3UIDLs(accountId: String, keeping present: Set<String>) async throws {
        write { state in state.pop3Seen[accountId] = state.pop3Seen[accountId]?.filter { present.contains($0.key) } }
    }

    public func exchangeSyncState(accountId: String, folder: String) async throws -> String? {
        read { $0.exchangeSyncStates[accountId + "\u{0}" + folder] }
    }

    public func exchangeItemsTaken(accountId: String) async throws -> Set<String> { read { $0.exchangeTaken[accountId] ?? [] } }

    public func forgetExchangeItems(accountId: String, keeping present: Set<String>) async throws {
        write { state in state.exchangeTaken[accountId] = state.exchangeTaken[accountId]?.intersection(present) }
    }
}

extension MemoryTicketStore: QuarantineRepository {
    public func quarantined(accountId: String?, includeReplayed: Bool) async throws -> [QuarantinedMessage] {
        read { state in
            state.quarantine.map(\.entry)
                .filter { (includeReplayed || $0.replayedAt == nil) && (accountId == nil || $0.accountId == accountId) }
                .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
        }
    }

    public func quarantined(id: String) async throws -> QuarantinedMessage? { read { $0.quarantine.first { $0.entry.id == id }?.entry } }

    public func markReplayed(quarantineId: String, at date: Date) async throws {
        write { state in
            guard let index = state.quarantine.firstIndex(where: { $0.entry.id == quarantineId }) else { return }
            state.quarantine[index].entry.replayedAt = MemoryState.stamp(date)
        }
    }

    public func deleteQuarantined(id: String) async throws {
        write { state in
            guard let index = state.quarantine.firstIndex(where: { $0.entry.id == id }) else { return }
            let sha = state.quarantine.remove(at: index).entry.rawSha256
            guard let sha, state.blobs[sha]?.quarantineOnly == true, !state.quarantine.contains(where: { $0.entry.rawSha256 == sha })
            else { return }
            state.blobs[sha] = nil
        }
    }

    public func quarantineCount(accountId: String?) async throws -> Int {
        read { state in state.quarantine.count { $0.entry.replayedAt == nil && (accountId == nil || $0.entry.accountId == accountId) } }
    }

    public func leftOnServer(accountId: String) async throws -> Set<String> {
        read { state in Set(state.quarantine.filter { $0.entry.accountId == accountId }.compactMap(\.serverKey)) }
    }
}

extension MemoryTicketStore: RawMailRepository {
    public func blob(sha256: String) async throws -> [UInt8]? { read { $0.blobs[sha256]?.bytes } }
}

// What the memory store has no repository operation for, set directly by tests.
extension MemoryTicketStore {
    public func setStatus(ticketId: String, _ status: TicketStatus) {
        write { $0.tickets[ticketId]?.ticket.status = status }
    }

    /// An agent's message on a ticket, as the outbox would add it.
    @discardableResult
    public func addOutbound(_ mail: InboundMail, ticketId: String, accountId: String, now: Date = Date()) -> String {
        write { state in
            let id = state.insertMessage(mail, ticketId: ticketId, accountId: accountId, direction: .outbound, deliveryState: .queued, now: now)
            state.touch(ticketId, TicketTouch(direction: .outbound, at: now))
            state.history.append(TicketHistory.replied(ticketId: ticketId, messageId: id, subject: mail.subject, by: nil, at: MemoryState.stamp(now)))
            return id
        }
    }

    public func permanentlyBounced(_ address: String) -> BounceReport.Recipient? { read { $0.bouncedAddresses[address.lowercased()] } }
}
