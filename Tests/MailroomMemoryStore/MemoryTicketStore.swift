import Foundation
import MailroomCore
import Synchronization

/// Tickets, ingest, fetch state, quarantine and raw mail in memory, for fast tests: the same
/// repository protocols as the SQL stores, held to the same contract suite.
///
/// A transaction works on a copy of the state and commits it only if nothing else committed in
/// the meantime (then it runs again), so concurrent ingests behave as serialised transactions.
public final class MemoryTicketStore: Sendable {
    let state = Mutex(MemoryState())

    public init() {}

    /// Runs `body` on a copy of the state (`now` stamps what it writes) and commits the copy when `body` returns; all or nothing.
    func transaction<T: Sendable>(now: Date, _ body: (MemoryLedger) async throws -> T) async throws -> T {
        while true {
            let start = state.withLock { $0 }
            let ledger = MemoryLedger(start, now: now)
            let result = try await body(ledger)
            let committed = state.withLock { current -> Bool in
                guard current.version == start.version else { return false }
                current = ledger.working
                current.version += 1
                return true
            }
            if committed { return result }
        }
    }

    func read<T>(_ body: (MemoryState) throws -> T) rethrows -> T {
        try state.withLock { try body($0) }
    }

    func write<T>(_ body: (inout MemoryState) throws -> T) rethrows -> T {
        try state.withLock { current in
            defer { current.version += 1 }
            return try body(&current)
        }
    }
}

/// Everything the memory store keeps.
struct MemoryState: Sendable {
    struct StoredTicket: Sendable {
        var ticket: Ticket
        var normalizedSubject: String
        var dispositionId: String?
    }

    struct StoredMessage: Sendable {
        var message: TicketMessage
        var contentHash: String
    }

    struct QuarantineEntry: Sendable {
        var entry: QuarantinedMessage
        var serverKey: String?
    }

    struct Blob: Sendable {
        var bytes: [UInt8]
        var quarantineOnly: Bool
    }

    var version = 0
    var tickets: [String: StoredTicket] = [:]
    var ticketOrder: [String] = []
    var messages: [StoredMessage] = []
    var participants: [String: [TicketParticipant]] = [:]
    var customers: [String: Customer] = [:]
    var blobs: [String: Blob] = [:]
    var bouncedAddresses: [String: BounceReport.Recipient] = [:]
    /// The last ticket number given out; the first ticket is #1001, as in the SQL stores.
    var nextTicketNumber: Int64 = 1000
    var inboundCounts: [String: Int] = [:]
    var imapPositions: [String: IMAPPosition] = [:]
    var pop3Seen: [String: [String: Bool]] = [:]
    var exchangeSyncStates: [String: String] = [:]
    var exchangeTaken: [String: Set<String>] = [:]
    var leases: [String: (node: String, expiresAt: Date)] = [:]
    var quarantine: [QuarantineEntry] = []
    /// Every ticket's history lines, in the order they were written.
    var history: [TicketHistoryEntry] = []
    /// Bumped when accounts change (the memory store has no accounts of its own; tests set it).
    var accountsMarker = 0

    /// Times as the SQL stores keep them: milliseconds.
    static func stamp(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }

    mutating func putBlob(_ bytes: [UInt8], sha256: String, forQuarantine: Bool) {
        if var blob = blobs[sha256] {
            if !forQuarantine { blob.quarantineOnly = false }
            blobs[sha256] = blob
        } else {
            blobs[sha256] = Blob(bytes: bytes, quarantineOnly: forQuarantine)
        }
    }

    mutating func record(_ position: MailboxPosition?, accountId: String) {
        switch position {
        case .none, .file:
            return
        case .imap(let folder, let uidValidity, let uid):
            let key = accountId + "\u{0}" + folder
            if let known = imapPositions[key], known.uidValidity == uidValidity, known.highWater > uid { return }
            imapPositions[key] = IMAPPosition(uidValidity: uidValidity, highWater: uid)
        case .pop3(let uidl):
            if pop3Seen[accountId]?[uidl] == nil { pop3Seen[accountId, default: [:]][uidl] = false }
        case .exchange(let folder, let itemId, let syncState):
            if let itemId { exchangeTaken[accountId, default: []].insert(itemId) }
            if let syncState { exchangeSyncStates[accountId + "\u{0}" + folder] = syncState }
        }
    }

    mutating func insertQuarantine(_ entry: QuarantinedMessage, raw: [UInt8]?, position: MailboxPosition?, now: Date) -> String {
        var stored = entry
        stored.id = Identifier.make(at: now)
        stored.createdAt = Self.stamp(stored.createdAt)
        if let raw, let sha = stored.rawSha256 { putBlob(raw, sha256: sha, forQuarantine: true) }
        quarantine.append(QuarantineEntry(entry: stored, serverKey: stored.leftOnServer ? position?.serverKey : nil))
        return stored.id
    }

    func isOpen(_ id: String) -> Bool { tickets[id].map { $0.ticket.status != .closed } ?? false }

    /// Open tickets, newest activity first (as the SQL finder orders them).
    func openTicketsNewestFirst(where include: (StoredTicket) -> Bool) -> [StoredTicket] {
        tickets.values.filter { $0.ticket.status != .closed && include($0) }
            .sorted { ($0.ticket.lastMessageAt, $0.ticket.id) > ($1.ticket.lastMessageAt, $1.ticket.id) }
    }

    func candidate(_ stored: StoredTicket) -> TicketCandidate {
        TicketCandidate(ticketId: stored.ticket.id, accountId: stored.ticket.accountId, customerAddress: stored.ticket.customer.address,
                        participants: Set((participants[stored.ticket.id] ?? []).map(\.address)))
    }
}

/// The working copy of one memory transaction, answering ``IngestSteps``' questions.
final class MemoryLedger: IngestLedger, @unchecked Sendable {
    // Used by one transaction's task at a time (see ``MemoryTicketStore/transaction(_:)``).
    var working: MemoryState
    let now: Date

    init(_ state: MemoryState, now: Date) {
        working = state
        self.now = now
    }

    var finder: MemoryFinder { MemoryFinder(state: working) }

    func keepRaw(_ raw: [UInt8], sha256: String, staged: (any StagedRawMail)?) async throws {
        working.putBlob(raw, sha256: sha256, forQuarantine: false)
    }

    func ticketOfMessage(contentHash: String, accountId: String) async throws -> String? {
        working.messages.first { $0.contentHash == contentHash && $0.message.accountId == accountId }?.message.ticketId
    }

    func ticket(_ ticketId: String, hasMessageWithContentHash contentHash: String) async throws -> Bool {
        working.messages.contains { $0.message.ticketId == ticketId && $0.contentHash == contentHash }
    }

    func reportedMessage(verpOutboxIds: [String], originalMessageIds: [String]) async throws -> ReportedMessage? {
        // The memory store keeps no outbox, so VERP ids name nothing here.
        for id in originalMessageIds {
            if let found = working.messages.first(where: { $0.message.direction == .outbound && $0.message.messageId == id }) {
                return ReportedMessage(messageId: found.message.id, ticketId: found.message.ticketId)
            }
        }
        return nil
    }

    func recordBounce(of reported: ReportedMessage, permanentFailures: [BounceReport.Recipient]) async throws {
        if let index = working.messages.firstIndex(where: { $0.message.id == reported.messageId }) {
            working.messages[index].message.deliveryState = .bounced
        }
        working.tickets[reported.ticketId]?.ticket.escalated = true
        for recipient in permanentFailures { working.bouncedAddresses[recipient.address.lowercased()] = recipient }
    }

    func customer(address: String) async throws -> Customer? { working.customers[address] }

    func createCustomer(_ customer: Customer) async throws {
        var stored = customer
        stored.createdAt = customer.createdAt.map(MemoryState.stamp)
        working.customers[customer.address] = stored
    }

    func nameCustomer(id: String, name: String) async throws {
        guard let key = working.customers.first(where: { $0.value.id == id })?.key else { return }
        working.customers[key]?.name = name
    }

    func nextTicketNumber() async throws -> Int64 {
        working.nextTicketNumber += 1
        return working.nextTicketNumber
    }

    func insertTicket(_ ticket: Ticket, normalizedSubject: String) async throws -> Ticket {
        var stored = ticket
        stored.createdAt = MemoryState.stamp(ticket.createdAt)
        stored.updatedAt = stored.createdAt
        stored.lastMessageAt = stored.createdAt
        working.tickets[ticket.id] = MemoryState.StoredTicket(ticket: stored, normalizedSubject: normalizedSubject)
        working.ticketOrder.append(ticket.id)
        working.history.append(TicketHistory.created(stored, at: stored.createdAt))
        return stored
    }

    func insertMessage(_ mail: InboundMail, ticketId: String, accountId: String, row: (any PreparedMessageRow)?) async throws -> String {
        working.insertMessage(mail, ticketId: ticketId, accountId: accountId, direction: .inbound, deliveryState: nil, now: now)
    }

    func addParticipants(ticketId: String, _ participants: [TicketParticipant]) async throws {
        for participant in participants where !(working.participants[ticketId] ?? []).contains(participant) {
            working.participants[ticketId, default: []].append(participant)
        }
    }

    func touchTicket(_ ticketId: String, _ touch: TicketTouch) async throws {
        working.touch(ticketId, touch)
    }
}

extension MemoryState {
    mutating func insertMessage(_ mail: InboundMail, ticketId: String, accountId: String, direction: MessageDirection,
                                deliveryState: DeliveryState?, now: Date) -> String {
        let id = Identifier.make(at: now)
        let message = TicketMessage(id: id, ticketId: ticketId, accountId: accountId, direction: direction, messageId: mail.messageId,
                                    inReplyTo: mail.inReplyTo, references: mail.references, subject: mail.subject, from: mail.from,
                                    to: mail.to, cc: mail.cc, date: mail.date.map(Self.stamp), text: mail.text, html: mail.html,
                                    attachments: mail.attachments, deliveryState: deliveryState, rawSha256: mail.rawSha256,
                                    createdAt: Self.stamp(now))
        messages.append(StoredMessage(message: message, contentHash: mail.contentHash))
        return id
    }

    mutating func touch(_ ticketId: String, _ touch: TicketTouch) {
        guard var stored = tickets[ticketId] else { return }
        let at = Self.stamp(touch.at)
        stored.ticket.messageCount += 1
        stored.ticket.lastMessageAt = at
        stored.ticket.updatedAt = at
        stored.ticket.lastMessageDirection = touch.direction
        if let unread = touch.unread { stored.ticket.unread = unread }
        stored.ticket.status = touch.status.applied(to: stored.ticket.status)
        stored.ticket.tags = TicketLifecycle.adding(touch.addTags, to: stored.ticket.tags)
        tickets[ticketId] = stored
    }
}

/// The resolvers' questions over a transaction's working copy.
struct MemoryFinder: OpenTicketFinder {
    let state: MemoryState

    func latestOpenTicket(customer: String, accountId: String?) async throws -> TicketCandidate? {
        state.openTicketsNewestFirst { $0.ticket.customer.address == customer && (accountId == nil || $0.ticket.accountId == accountId) }
            .first.map(state.candidate)
    }

    func latestOpenTicket(normalizedSubject: String, customer: String?, accountId: String?) async throws -> TicketCandidate? {
        state.openTicketsNewestFirst {
            $0.normalizedSubject == normalizedSubject && (customer == nil || $0.ticket.customer.address == customer)
                && (accountId == nil || $0.ticket.accountId == accountId)
        }.first.map(state.candidate)
    }

    func latestOpenTicket(normalizedSubject: String, ccParticipant observer: String) async throws -> TicketCandidate? {
        state.openTicketsNewestFirst {
            $0.normalizedSubject == normalizedSubject
                && (state.participants[$0.ticket.id] ?? []).contains(TicketParticipant(address: observer, role: .cc))
        }.first.map(state.candidate)
    }

    func openTickets(containingMessageIds messageIds: [String]) async throws -> [TicketCandidate] {
        var result: [TicketCandidate] = []
        for messageId in messageIds {
            for stored in state.messages where stored.message.messageId == messageId && state.isOpen(stored.message.ticketId) {
                guard let ticket = state.tickets[stored.message.ticketId], !result.contains(where: { $0.ticketId == ticket.ticket.id })
                else { continue }
                result.append(state.candidate(ticket))
            }
        }
        return result
    }

    func openTicket(number: Int64) async throws -> TicketCandidate? {
        state.tickets.values.first { $0.ticket.number == number && $0.ticket.status != .closed }.map(state.candidate)
    }
}
