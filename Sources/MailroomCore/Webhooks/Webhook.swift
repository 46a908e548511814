import Foundation

public enum WebhookDeliveryState: String, NamedValues {
    /// Waiting for its first or next attempt.
    case pending
    /// Being sent by a node now (held by its lease).
    case sending
    /// The receiver answered 2xx.
    case delivered
    /// Given up: the receiver refused for good, or every retry failed.
    case failed
}

/// One HTTP POST of a ticket event to a rule's webhook URL, kept until it is delivered or given up,
/// so a receiver that is down for a while still gets every event.
public struct WebhookDelivery: Sendable, Equatable, Codable {
    public var id: String
    public var url: String
    /// What happened, e.g. `ticket.routed`.
    public var event: String
    public var ticketId: String?
    public var ruleIds: [String]
    /// The JSON body that is POSTed.
    public var payload: JSONValue
    public var state: WebhookDeliveryState
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastStatus: Int?
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?

    public init(id: String, url: String, event: String, ticketId: String?, ruleIds: [String], payload: JSONValue,
                state: WebhookDeliveryState = .pending, attempts: Int = 0, nextAttemptAt: Date?, lastStatus: Int? = nil,
                lastError: String? = nil, createdAt: Date, deliveredAt: Date? = nil) {
        self.id = id
        self.url = url
        self.event = event
        self.ticketId = ticketId
        self.ruleIds = ruleIds
        self.payload = payload
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}

/// How one attempt ended, as the sender saw it.
public enum WebhookAttemptResult: Sendable, Equatable {
    /// The receiver answered with this HTTP status.
    case status(Int)
    /// No HTTP answer: connection refused, timeout, TLS failure, bad URL.
    case transportError(String)
}

/// What to do after an attempt: pure, so every path is tested without a network.
public enum WebhookVerdict: Sendable, Equatable {
    case delivered
    case retry(at: Date, reason: String)
    case giveUp(reason: String)
}

/// Retries with growing waits (10 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, then 2 h) up to
/// `maxAttempts`. A 2xx is delivered. A 4xx other than 408, 425 and 429 means the receiver
/// refuses this request, so it is not repeated; 5xx, those three and transport errors are retried.
public struct WebhookRetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var delays: [TimeInterval]

    public init(maxAttempts: Int = 10, delays: [TimeInterval] = [10, 30, 120, 600, 1_800, 3_600, 7_200]) {
        self.maxAttempts = max(1, maxAttempts)
        self.delays = delays.isEmpty ? [60] : delays
    }

    /// `attempts` counts the attempt that just ended.
    public func verdict(_ result: WebhookAttemptResult, attempts: Int, now: Date) -> WebhookVerdict {
        let reason: String
        switch result {
        case .status(let code) where (200..<300).contains(code):
            return .delivered
        case .status(let code) where (400..<500).contains(code) && ![408, 425, 429].contains(code):
            return .giveUp(reason: "the receiver refused the event with HTTP \(code)")
        case .status(let code):
            reason = "the receiver answered HTTP \(code)"
        case .transportError(let text):
            reason = text
        }
        guard attempts < maxAttempts else {
            return .giveUp(reason: "\(reason); gave up after \(attempts) attempts")
        }
        let delay = delays[min(max(attempts - 1, 0), delays.count - 1)]
        return .retry(at: now.addingTimeInterval(delay), reason: reason)
    }
}
