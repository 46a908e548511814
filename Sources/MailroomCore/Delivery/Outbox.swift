import Foundation

/// A message on its way out: the durable to-do list the sender works through.
public struct OutboxItem: Sendable, Equatable, Codable {
    public var id: String
    public var ticketId: String
    /// The ticket message this row sends.
    public var messageId: String
    /// The account whose SMTP server sends it (the incoming-to-outgoing mapping already applied).
    public var accountId: String
    public var state: DeliveryState
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var envelopeFrom: String
    public var recipients: [String]
    public var rawSha256: String
    public var lastError: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var sentAt: Date?
    /// Nil for a ticket's message; for Mailroom's own mail what it is for (`invitation`,
    /// `passwordReset`, `passwordChanged`, `test`, `tokenNotice`): such a row has no ticket.
    public var purpose: String? = nil
    /// Why a due message is not being sent (``OutboxItem/accountInactive``); nil while nothing holds it.
    public var heldReason: String?

    /// The reason shown for a message waiting because its sending account is switched off: it goes
    /// when the account is switched on again.
    public static let accountInactive = "account inactive"

    public init(id: String = "", ticketId: String, messageId: String, accountId: String, state: DeliveryState = .queued,
                attempts: Int = 0, nextAttemptAt: Date?, envelopeFrom: String, recipients: [String], rawSha256: String,
                lastError: String? = nil, createdAt: Date, updatedAt: Date? = nil, sentAt: Date? = nil) {
        self.id = id
        self.ticketId = ticketId
        self.messageId = messageId
        self.accountId = accountId
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.envelopeFrom = envelopeFrom
        self.recipients = recipients
        self.rawSha256 = rawSha256
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.sentAt = sentAt
    }

}

/// One try to send (Ameyo's s_message_send_info / failed_message_send_info).
public struct OutboxAttempt: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable { case sent, failed }

    public var id: String
    public var outboxId: String
    public var attemptedAt: Date
    public var outcome: Outcome
    public var replyCode: Int?
    public var enhancedStatus: String?
    /// The server's reply or the client's error, never a credential.
    public var text: String
    public var errorClass: DeliveryErrorClass?
    public var policy: RetryPolicyKind?
    public var nextAttemptAt: Date?
    /// Per-recipient results when the server answered each RCPT differently.
    public var recipients: [RecipientResult]

    public struct RecipientResult: Sendable, Equatable, Codable {
        public var address: String
        public var accepted: Bool
        public var replyCode: Int?
        public var text: String?

        public init(address: String, accepted: Bool, replyCode: Int?, text: String?) {
            self.address = address
            self.accepted = accepted
            self.replyCode = replyCode
            self.text = text
        }
    }

    public init(id: String = "", outboxId: String, attemptedAt: Date, outcome: Outcome, replyCode: Int?, enhancedStatus: String?,
                text: String, errorClass: DeliveryErrorClass?, policy: RetryPolicyKind?, nextAttemptAt: Date?,
                recipients: [RecipientResult] = []) {
        self.id = id
        self.outboxId = outboxId
        self.attemptedAt = attemptedAt
        self.outcome = outcome
        self.replyCode = replyCode
        self.enhancedStatus = enhancedStatus
        self.text = text
        self.errorClass = errorClass
        self.policy = policy
        self.nextAttemptAt = nextAttemptAt
        self.recipients = recipients
    }

}

/// An attempt and the state it moves its row to: the unit the sender records, several at a time.
public struct OutboxOutcome: Sendable, Equatable {
    public var item: OutboxItem
    public var attempt: OutboxAttempt
    public var state: DeliveryState

    public init(item: OutboxItem, attempt: OutboxAttempt, state: DeliveryState) {
        self.item = item
        self.attempt = attempt
        self.state = state
    }
}

/// What to do with an outbox row after an attempt, decided from the failure and the account's settings.
public enum OutboxTransition {
    public static func afterFailure(_ failure: DeliveryFailure, item: OutboxItem, settings: RetrySettings, now: Date)
        -> (state: DeliveryState, attempt: OutboxAttempt) {
        let errorClass = DeliveryErrorClassifier.classify(failure)
        let failures = item.attempts + 1
        let (policy, decision) = RetrySchedule.decide(errorClass: errorClass, settings: settings, failuresSoFar: failures, now: now)
        let next: Date? = if case .retry(let at) = decision { at } else { nil }
        let attempt = OutboxAttempt(outboxId: item.id, attemptedAt: now, outcome: .failed, replyCode: failure.replyCode,
                                    enhancedStatus: failure.enhancedStatus, text: String(failure.text.prefix(2_000)),
                                    errorClass: errorClass, policy: policy, nextAttemptAt: next)
        return (next == nil ? .failed : .retrying, attempt)
    }
}
