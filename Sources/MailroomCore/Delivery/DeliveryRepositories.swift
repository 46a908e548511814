import Foundation

// The stores of what Mailroom sends: the outbox with its attempt log, and webhook deliveries with
// their endpoints' signing secrets. The SQL implementations are in MailroomStore.

/// Replies and notices on their way out, claimed under leases so that no two senders send one twice.
public protocol OutboxRepository: Sendable {
    /// Stores the message on its ticket and queues it, in one transaction, with the ticket's
    /// `replied` history line (`by` the agent; nil: an automatic message).
    func enqueue(_ message: InboundMail, raw: [UInt8], ticketId: String, sendingAccountId: String, envelopeFrom: String,
                 recipients: [String], verp: Bool, by actorId: String?, now: Date) async throws -> (message: TicketMessage, item: OutboxItem)
    /// Due rows, leased to `owner` for `leaseSeconds`.
    func claimDue(owner: String, limit: Int, leaseSeconds: TimeInterval, now: Date) async throws -> [OutboxItem]
    /// Gives back what `owner` still holds (at shutdown); the number released.
    func releaseLeases(owner: String, now: Date) async throws -> Int
    /// Logs one attempt and moves the row; false when the lease was lost meanwhile.
    func record(_ attempt: OutboxAttempt, item: OutboxItem, state: DeliveryState, owner: String,
                escalateOnFailure: Bool, now: Date) async throws -> Bool
    /// Logs a group of attempts in one transaction; the ids whose lease was still held.
    func record(_ outcomes: [OutboxOutcome], owner: String, escalateOnFailure: Bool, now: Date) async throws -> Set<String>
    /// Extends the leases `owner` holds; the ids still held.
    func renewLeases(ids: [String], owner: String, leaseSeconds: TimeInterval, now: Date) async throws -> Set<String>
    /// The stored copies to send, by SHA-256, up to about `upToBytes` in all (nil: no limit).
    func rawMessages(sha256: [String], upToBytes: Int?) async throws -> [String: [UInt8]]
    func items(state: DeliveryState?, limit: Int) async throws -> [OutboxItem]
    func item(id: String) async throws -> OutboxItem?
    func attempts(outboxId: String) async throws -> [OutboxAttempt]
    /// How many attempts each of these rows made, successful ones included (`OutboxItem.attempts` counts failures).
    func attemptCounts(outboxIds: [String]) async throws -> [String: Int]
    /// Queues a failed or sent row again, as new.
    func resend(id: String, now: Date) async throws -> OutboxItem
    /// Auto-replies already sent on the ticket, and to the recipient in the last hour.
    func autoReplyHistory(ticketId: String, recipient: String, now: Date) async throws -> (onTicket: Int, toRecipientLastHour: Int)
    func recordAutoReply(ticketId: String, recipients: [String], now: Date) async throws
    /// The addresses among these whose mail bounced permanently, with the last bounce's status.
    func permanentlyBounced(_ addresses: [String]) async throws -> [(address: String, status: String?, diagnostic: String?)]
    func saveUpload(_ data: [UInt8], filename: String, contentType: String, contentId: String?, inline: Bool,
                    uploadedBy: String?, now: Date) async throws -> Upload
    func uploads(ids: [String]) async throws -> [Upload]
    /// Queues Mailroom's own mail (`purpose` says what for): retry policy and attempt log apply, but
    /// the row belongs to no ticket.
    func enqueueSystem(raw: [UInt8], accountId: String, envelopeFrom: String, recipients: [String], purpose: String,
                       now: Date) async throws -> OutboxItem
    /// Applies an account's changed retry values to its mail already waiting for a retry.
    @discardableResult
    func rescheduleRetries(accountId: String, settings: RetrySettings, now: Date) async throws -> OutboxRescheduled
}

/// What ``OutboxRepository/rescheduleRetries(accountId:settings:now:)`` did.
public struct OutboxRescheduled: Sendable, Equatable {
    /// Retries whose time moved.
    public var moved: Int
    /// Retries the new settings allow no more attempts: failed now, their tickets escalated.
    public var failed: Int

    public init(moved: Int, failed: Int) {
        self.moved = moved
        self.failed = failed
    }
}

extension OutboxRepository {
    public func enqueue(_ message: InboundMail, raw: [UInt8], ticketId: String, sendingAccountId: String, envelopeFrom: String,
                        recipients: [String], verp: Bool = false, by actorId: String? = nil) async throws -> (message: TicketMessage, item: OutboxItem) {
        try await enqueue(message, raw: raw, ticketId: ticketId, sendingAccountId: sendingAccountId, envelopeFrom: envelopeFrom,
                          recipients: recipients, verp: verp, by: actorId, now: Date())
    }
    public func enqueue(_ message: InboundMail, raw: [UInt8], ticketId: String, sendingAccountId: String, envelopeFrom: String,
                        recipients: [String], verp: Bool, now: Date) async throws -> (message: TicketMessage, item: OutboxItem) {
        try await enqueue(message, raw: raw, ticketId: ticketId, sendingAccountId: sendingAccountId, envelopeFrom: envelopeFrom,
                          recipients: recipients, verp: verp, by: nil, now: now)
    }
    public func claimDue(owner: String, limit: Int, leaseSeconds: TimeInterval) async throws -> [OutboxItem] {
        try await claimDue(owner: owner, limit: limit, leaseSeconds: leaseSeconds, now: Date())
    }
    public func releaseLeases(owner: String) async throws -> Int { try await releaseLeases(owner: owner, now: Date()) }
    public func record(_ attempt: OutboxAttempt, item: OutboxItem, state: DeliveryState, owner: String,
                       escalateOnFailure: Bool = true) async throws -> Bool {
        try await record(attempt, item: item, state: state, owner: owner, escalateOnFailure: escalateOnFailure, now: Date())
    }
    public func record(_ outcomes: [OutboxOutcome], owner: String, escalateOnFailure: Bool = true) async throws -> Set<String> {
        try await record(outcomes, owner: owner, escalateOnFailure: escalateOnFailure, now: Date())
    }
    public func renewLeases(ids: [String], owner: String, leaseSeconds: TimeInterval) async throws -> Set<String> {
        try await renewLeases(ids: ids, owner: owner, leaseSeconds: leaseSeconds, now: Date())
    }
    public func rawMessages(sha256: some Collection<String>, upToBytes: Int? = nil) async throws -> [String: [UInt8]] {
        try await rawMessages(sha256: Array(sha256), upToBytes: upToBytes)
    }
    public func items(state: DeliveryState? = nil, limit: Int = 200) async throws -> [OutboxItem] {
        try await items(state: state, limit: limit)
    }
    public func resend(id: String) async throws -> OutboxItem { try await resend(id: id, now: Date()) }
    @discardableResult
    public func rescheduleRetries(accountId: String, settings: RetrySettings) async throws -> OutboxRescheduled {
        try await rescheduleRetries(accountId: accountId, settings: settings, now: Date())
    }
    public func enqueueSystem(raw: [UInt8], accountId: String, envelopeFrom: String, recipients: [String],
                              purpose: String) async throws -> OutboxItem {
        try await enqueueSystem(raw: raw, accountId: accountId, envelopeFrom: envelopeFrom, recipients: recipients, purpose: purpose, now: Date())
    }
    public func autoReplyHistory(ticketId: String, recipient: String) async throws -> (onTicket: Int, toRecipientLastHour: Int) {
        try await autoReplyHistory(ticketId: ticketId, recipient: recipient, now: Date())
    }
    public func recordAutoReply(ticketId: String, recipients: [String]) async throws {
        try await recordAutoReply(ticketId: ticketId, recipients: recipients, now: Date())
    }
    public func saveUpload(_ data: [UInt8], filename: String, contentType: String, contentId: String?, inline: Bool,
                           uploadedBy: String?) async throws -> Upload {
        try await saveUpload(data, filename: filename, contentType: contentType, contentId: contentId, inline: inline,
                             uploadedBy: uploadedBy, now: Date())
    }
}

/// Webhook calls waiting, made and failed; claimed under leases as the outbox is.
public protocol WebhookDeliveryRepository: Sendable {
    func enqueue(url: String, event: String, ticketId: String?, ruleIds: [String], payload: JSONValue, now: Date) async throws -> WebhookDelivery
    func claimDue(owner: String, limit: Int, leaseSeconds: TimeInterval, now: Date) async throws -> [WebhookDelivery]
    /// Logs an attempt with what the retry policy decided; false when the lease was lost meanwhile.
    func record(id: String, owner: String, result: WebhookAttemptResult, verdict: WebhookVerdict, now: Date) async throws -> Bool
    func deliveries(state: WebhookDeliveryState?, limit: Int) async throws -> [WebhookDelivery]
    func delivery(id: String) async throws -> WebhookDelivery?
    /// Makes a failed delivery due again; false when there is no failed delivery with this id.
    func retry(id: String, now: Date) async throws -> Bool
    /// When the next delivery falls due, if any is waiting.
    func nextDue() async throws -> Date?
}

extension WebhookDeliveryRepository {
    public func enqueue(url: String, event: String, ticketId: String?, ruleIds: [String], payload: JSONValue) async throws -> WebhookDelivery {
        try await enqueue(url: url, event: event, ticketId: ticketId, ruleIds: ruleIds, payload: payload, now: Date())
    }
    public func claimDue(owner: String, limit: Int, leaseSeconds: TimeInterval) async throws -> [WebhookDelivery] {
        try await claimDue(owner: owner, limit: limit, leaseSeconds: leaseSeconds, now: Date())
    }
    public func record(id: String, owner: String, result: WebhookAttemptResult, verdict: WebhookVerdict) async throws -> Bool {
        try await record(id: id, owner: owner, result: result, verdict: verdict, now: Date())
    }
    public func deliveries(state: WebhookDeliveryState? = nil, limit: Int = 200) async throws -> [WebhookDelivery] {
        try await deliveries(state: state, limit: limit)
    }
    public func retry(id: String) async throws -> Bool { try await retry(id: id, now: Date()) }
}

/// Registered webhook receivers and the secrets their deliveries are signed with.
public protocol WebhookEndpointRepository: Sendable {
    /// Registers a receiver; the answer holds its first secret, shown this once.
    func create(url: String, now: Date) async throws -> WebhookEndpointSecret
    func list() async throws -> [WebhookEndpoint]
    func endpoint(id: String) async throws -> WebhookEndpoint?
    /// A new secret; the old one keeps signing for `overlapSeconds`. nil when there is no such endpoint.
    func rotate(id: String, overlapSeconds: Int, now: Date) async throws -> WebhookEndpointSecret?
    func delete(id: String) async throws -> Bool
    /// The secrets that sign deliveries to `url` now, newest first (none: the URL is not registered).
    func signingSecrets(url: String, now: Date) async throws -> [Secret]
}

extension WebhookEndpointRepository {
    public func create(url: String) async throws -> WebhookEndpointSecret { try await create(url: url, now: Date()) }
    public func rotate(id: String, overlapSeconds: Int) async throws -> WebhookEndpointSecret? {
        try await rotate(id: id, overlapSeconds: overlapSeconds, now: Date())
    }
    public func signingSecrets(url: String) async throws -> [Secret] { try await signingSecrets(url: url, now: Date()) }
}
