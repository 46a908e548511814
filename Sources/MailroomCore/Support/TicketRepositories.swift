import Foundation

// The stores of tickets, ingest, fetch state, quarantine and raw mail, as the workers and the web
// layer use them. The SQL implementations are in MailroomStore; an in-memory one serves fast tests,
// and one contract suite runs against all of them.

/// A ticket's history (``TicketHistoryEntry``): the stores write its lines in the transactions of
/// the changes they record; reading and reopening are here.
public protocol TicketHistoryRepository: Sendable {
    /// The ticket's history, oldest first.
    func history(ticketId: String) async throws -> [TicketHistoryEntry]
    /// Reopens a closed ticket (status ``TicketDeskRules/reopenedStatus``, its disposition and closing time cleared)
    /// and records it; nil when the ticket does not exist or is not closed.
    func reopen(ticketId: String, by actorId: String?, now: Date) async throws -> Ticket?
    /// The ticket's newest `closed` line (who closed it, when, with what disposition); nil when it never closed.
    func lastClosing(ticketId: String) async throws -> TicketHistoryEntry?
}

/// Tickets and their messages as agents and the API see them, and the actions taken on a ticket.
/// Each action records its history line (``TicketHistory``) in its own transaction.
public protocol TicketRepository: TicketHistoryRepository {
    func ticket(id: String) async throws -> Ticket?
    func ticket(number: Int64) async throws -> Ticket?
    /// A ticket's messages in the order they were stored.
    func messages(ticketId: String) async throws -> [TicketMessage]
    func message(id: String) async throws -> TicketMessage?
    /// The newest inbound message of a ticket (what the rules look at when they run again).
    func latestInboundMessage(ticketId: String) async throws -> TicketMessage?
    func customer(address: String) async throws -> Customer?
    /// Newest activity first; the cursor is the last item's position, so pages stay stable while mail arrives.
    func tickets(_ filter: TicketFilter) async throws -> (items: [Ticket], nextCursor: String?)
    /// How many messages the account ingested.
    func messageCount(accountId: String) async throws -> Int
    /// Applies what the rules decided: tags added, priority, queue or agent, or closing with a disposition.
    func applyRouting(ticketId: String, tags: [String], priority: TicketPriority?, queueId: String?, agentId: String?,
                      closeWithDisposition dispositionId: String?, now: Date) async throws
    /// Marks the ticket read or unread; nil when there is no such ticket.
    func setUnread(ticketId: String, unread: Bool, now: Date) async throws -> Ticket?
    /// Replaces the tags, and sets the priority and the escalation flag, where given; `by` the acting user (nil: Mailroom).
    func updateAttributes(ticketId: String, tags: [String]?, priority: TicketPriority?, escalated: Bool?, by actorId: String?,
                          now: Date) async throws -> Ticket?
    /// Closes the ticket with its disposition; false when it was closed already (or does not exist).
    func close(ticketId: String, dispositionId: String?, by actorId: String?, now: Date) async throws -> Bool
    func dispositionId(ticketId: String) async throws -> String?
    /// Per queue, how many open tickets wait there with no agent yet (queues without any are left out).
    func waitingCounts(queueIds: [String]) async throws -> [String: Int]
    /// Account transfer: the ticket belongs to the other account now, to nobody in it yet, and is unread.
    func moveToAccount(ticketId: String, accountId: String, by actorId: String?, now: Date) async throws
}

/// Ingest's transactions: messages become part of tickets as ``IngestSteps`` decides, with their
/// raw bytes and fetch positions, all or nothing.
public protocol IngestRepository: Sendable {
    /// Where work that reads and writes a lot should run, if the store has a preference.
    var preferredExecutor: (any TaskExecutor)? { get }
    /// A message's row as the store will write it, made ahead of the transaction (on the parse threads).
    func prepareRow(for mail: InboundMail) -> (any PreparedMessageRow)?
    /// Writes raw messages where the store keeps them, ahead of the transaction that names them
    /// (pass each on as ``IngestItem/stagedRaw``); nil where there is nothing to do ahead.
    func stageRaw(_ messages: [[UInt8]?]) async throws -> [(any StagedRawMail)?]
    /// Commits a batch in one transaction, in order, with the fetch positions (see ``IngestBatchResult``).
    func ingestBatch(_ items: [IngestItem], account: Account, now: Date?) async throws -> IngestBatchResult
    /// Keeps a message aside with the reason, and moves the fetch position past it in the same transaction.
    func quarantine(_ entry: QuarantinedMessage, raw: [UInt8]?, position: MailboxPosition?, now: Date) async throws -> String
    /// Moves the fetch position past a message that was deliberately not ingested.
    func recordPosition(_ position: MailboxPosition, accountId: String, now: Date) async throws
}

/// Where each account's fetching stands: leases on its fetcher, its IMAP position, its POP3 UIDLs.
public protocol FetchStateRepository: Sendable {
    /// Takes or renews the lease on an account's fetching for `node`; false while another node holds it.
    func acquireFetchLease(accountId: String, node: String, duration: TimeInterval, now: Date) async throws -> Bool
    /// Extends the leases this node holds on these accounts.
    func renewFetchLeases(accountIds: [String], node: String, duration: TimeInterval, now: Date) async throws
    func releaseFetchLease(accountId: String, node: String) async throws
    /// Changes whenever an account is created, changed or deleted.
    func accountsChangeMarker() async throws -> String
    func imapPosition(accountId: String, folder: String) async throws -> IMAPPosition?
    /// Starts a folder over after its UIDVALIDITY changed.
    func resetIMAPPosition(accountId: String, folder: String, uidValidity: UInt32, now: Date) async throws
    func seenPOP3UIDLs(accountId: String) async throws -> Set<String>
    /// Remembers a POP3 message as seen without fetching it: not looked at again, and left on the server.
    func recordPOP3LeftOnServer(uidl: String, accountId: String, now: Date) async throws
    func pop3UIDLsLeftOnServer(accountId: String) async throws -> Set<String>
    /// Forgets UIDLs the server no longer has.
    func forgetPOP3UIDLs(accountId: String, keeping present: Set<String>) async throws
    /// Graph's delta link or EWS's sync state for the folder, as the last committed round left it.
    func exchangeSyncState(accountId: String, folder: String) async throws -> String?
    /// The Graph or EWS items already taken (ingested, quarantined or skipped) from the account's mailbox.
    func exchangeItemsTaken(accountId: String) async throws -> Set<String>
    /// Forgets taken items the folder no longer has (after a full listing), so the set does not grow forever.
    func forgetExchangeItems(accountId: String, keeping present: Set<String>) async throws
}

/// Messages kept aside, raw, with the reason they were not ingested.
public protocol QuarantineRepository: Sendable {
    func quarantined(accountId: String?, includeReplayed: Bool) async throws -> [QuarantinedMessage]
    func quarantined(id: String) async throws -> QuarantinedMessage?
    func markReplayed(quarantineId: String, at date: Date) async throws
    /// Discards an entry, and its raw message when nothing else holds those bytes.
    func deleteQuarantined(id: String) async throws
    func quarantineCount(accountId: String?) async throws -> Int
    /// The server keys (``MailboxPosition/serverKey``) of messages left on the server by entries not yet discarded.
    func leftOnServer(accountId: String) async throws -> Set<String>
}

/// Raw mail by SHA-256: every message as received, every reply as sent.
public protocol RawMailRepository: Sendable {
    func blob(sha256: String) async throws -> [UInt8]?
}

// The defaults the SQL stores had as default arguments.
extension TicketRepository {
    public func setUnread(ticketId: String, unread: Bool) async throws -> Ticket? {
        try await setUnread(ticketId: ticketId, unread: unread, now: Date())
    }
    public func updateAttributes(ticketId: String, tags: [String]?, priority: TicketPriority?, escalated: Bool?,
                                 by actorId: String? = nil) async throws -> Ticket? {
        try await updateAttributes(ticketId: ticketId, tags: tags, priority: priority, escalated: escalated, by: actorId, now: Date())
    }
    public func updateAttributes(ticketId: String, tags: [String]?, priority: TicketPriority?, escalated: Bool?, now: Date) async throws -> Ticket? {
        try await updateAttributes(ticketId: ticketId, tags: tags, priority: priority, escalated: escalated, by: nil, now: now)
    }
    public func close(ticketId: String, dispositionId: String?, by actorId: String? = nil) async throws -> Bool {
        try await close(ticketId: ticketId, dispositionId: dispositionId, by: actorId, now: Date())
    }
    public func close(ticketId: String, dispositionId: String?, now: Date) async throws -> Bool {
        try await close(ticketId: ticketId, dispositionId: dispositionId, by: nil, now: now)
    }
    public func moveToAccount(ticketId: String, accountId: String, by actorId: String? = nil) async throws {
        try await moveToAccount(ticketId: ticketId, accountId: accountId, by: actorId, now: Date())
    }
    public func moveToAccount(ticketId: String, accountId: String, now: Date) async throws {
        try await moveToAccount(ticketId: ticketId, accountId: accountId, by: nil, now: now)
    }
    public func reopen(ticketId: String, by actorId: String?) async throws -> Ticket? {
        try await reopen(ticketId: ticketId, by: actorId, now: Date())
    }
    public func applyRouting(ticketId: String, tags: [String], priority: TicketPriority?, queueId: String?, agentId: String?,
                             closeWithDisposition dispositionId: String?) async throws {
        try await applyRouting(ticketId: ticketId, tags: tags, priority: priority, queueId: queueId, agentId: agentId,
                               closeWithDisposition: dispositionId, now: Date())
    }
}

extension IngestRepository {
    public func ingestBatch(_ items: [IngestItem], account: Account) async throws -> IngestBatchResult {
        try await ingestBatch(items, account: account, now: nil)
    }
    public func quarantine(_ entry: QuarantinedMessage, raw: [UInt8]?, position: MailboxPosition?) async throws -> String {
        try await quarantine(entry, raw: raw, position: position, now: Date())
    }
    public func recordPosition(_ position: MailboxPosition, accountId: String) async throws {
        try await recordPosition(position, accountId: accountId, now: Date())
    }
}

extension FetchStateRepository {
    public func acquireFetchLease(accountId: String, node: String, duration: TimeInterval) async throws -> Bool {
        try await acquireFetchLease(accountId: accountId, node: node, duration: duration, now: Date())
    }
    public func renewFetchLeases(accountIds: [String], node: String, duration: TimeInterval) async throws {
        try await renewFetchLeases(accountIds: accountIds, node: node, duration: duration, now: Date())
    }
    public func resetIMAPPosition(accountId: String, folder: String, uidValidity: UInt32) async throws {
        try await resetIMAPPosition(accountId: accountId, folder: folder, uidValidity: uidValidity, now: Date())
    }
    public func recordPOP3LeftOnServer(uidl: String, accountId: String) async throws {
        try await recordPOP3LeftOnServer(uidl: uidl, accountId: accountId, now: Date())
    }
}

extension QuarantineRepository {
    public func quarantined(accountId: String? = nil) async throws -> [QuarantinedMessage] {
        try await quarantined(accountId: accountId, includeReplayed: false)
    }
    public func markReplayed(quarantineId: String) async throws {
        try await markReplayed(quarantineId: quarantineId, at: Date())
    }
    public func quarantineCount() async throws -> Int { try await quarantineCount(accountId: nil) }
}

extension IngestRepository {
    /// Ingests one message in a transaction of its own (see ``ingestBatch(_:account:now:)``).
    public func ingestOne(_ mail: InboundMail, raw: [UInt8], account: Account, position: MailboxPosition?, tags: [String] = [],
                          now: Date? = nil) async throws -> IngestOutcome {
        let item = IngestItem(action: .ingest(mail, tags: tags), raw: raw, position: position, source: "test")
        let result = try await ingestBatch([item], account: account, now: now)
        if let failure = result.failure { throw failure }
        return result.outcomes.first ?? .skipped(reason: "nothing committed")
    }
}
