import Foundation

/// What a send failure looked like, in terms the classifier understands (no SMTP or NIO types here).
public struct DeliveryFailure: Sendable, Equatable, Codable {
    /// The client's own failure, when there was no server reply to classify.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case serverReply, unknownHost, connectionRefused, connectionFailed, timeout, connectionClosed, tls
        case authenticationFailed, protocolError, noSuchProvider, `internal`
    }

    public var kind: Kind
    public var replyCode: Int?
    /// RFC 3463 enhanced status code, "class.subject.detail".
    public var enhancedStatus: String?
    public var text: String
    /// The class, when the protocol knows it without SMTP's codes (Graph and EWS errors).
    public var errorClass: DeliveryErrorClass?

    public init(kind: Kind, replyCode: Int? = nil, enhancedStatus: String? = nil, text: String, errorClass: DeliveryErrorClass? = nil) {
        self.kind = kind
        self.replyCode = replyCode
        self.enhancedStatus = enhancedStatus
        self.text = text
        self.errorClass = errorClass
    }

    /// Whether the server said the failure is permanent (5xx); the class's policy still decides.
    public var isPermanent: Bool { (replyCode ?? 0) >= 500 || enhancedStatus?.hasPrefix("5.") == true }
}

/// Sorts a failure into the Ameyo document's error classes.
public enum DeliveryErrorClassifier {
    public static func classify(_ failure: DeliveryFailure) -> DeliveryErrorClass {
        if let known = failure.errorClass { return known }
        switch failure.kind {
        case .unknownHost: return .unknownHost
        case .connectionRefused, .connectionFailed, .timeout, .connectionClosed: return .connection
        case .tls, .authenticationFailed: return .securityPolicy
        case .protocolError: return .mailDeliveryProtocol
        case .noSuchProvider: return .noSuchProvider
        case .internal: return .internal
        case .serverReply: break
        }
        // RFC 3463: the subject digit of class.subject.detail says what the trouble is about.
        if let status = failure.enhancedStatus {
            let parts = status.split(separator: ".")
            if parts.count == 3, let subject = Int(parts[1]) {
                switch subject {
                case 1: return .addressing
                case 2: return .mailbox
                case 3: return .mailSystem
                case 4: return .networkRouting
                case 5: return .mailDeliveryProtocol
                case 6: return .messageContent
                case 7: return .securityPolicy
                // X.0.X is "other or undefined": the basic reply code below says more (421 closes the connection).
                default: break
                }
            }
        }
        // Without an enhanced code, RFC 5321's basic codes say roughly the same.
        switch failure.replyCode ?? 0 {
        case 421: return .connection
        case 450, 550: return .mailbox
        case 451, 554: return .unidentified
        case 452, 552: return .mailSystem
        case 500, 501, 502, 503, 504, 555: return .mailDeliveryProtocol
        case 530, 534, 535, 538: return .securityPolicy
        case 551, 553: return .addressing
        default: return .unidentified
        }
    }
}

/// When to try a failed send again, as the account's retry settings say.
public enum RetrySchedule {
    public enum Decision: Sendable, Equatable {
        case retry(at: Date)
        case giveUp
    }

    /// - Parameters:
    ///   - failuresSoFar: failed attempts including this one (1 after the first failure).
    /// Every retrying policy is bounded by `maxRetryCount` retries, so no message is tried forever.
    public static func decide(errorClass: DeliveryErrorClass, settings: RetrySettings, failuresSoFar: Int, now: Date)
        -> (policy: RetryPolicyKind, decision: Decision) {
        let policy = settings.policy(for: errorClass)
        guard failuresSoFar <= settings.maxRetryCount else { return (policy, .giveUp) }
        switch policy {
        case .noRetry:
            return (policy, .giveUp)
        case .defaultRetry:
            return (policy, .retry(at: now))
        case .rateLimitRetry:
            return (policy, .retry(at: now.addingTimeInterval(Double(settings.rateLimitRetrySeconds))))
        case .progressiveRetry:
            // 5, 10, 15, 20 minutes with the default interval: the wait grows by one interval each attempt.
            let wait = Double(settings.progressiveRetryIntervalSeconds) * Double(failuresSoFar)
            return (policy, .retry(at: now.addingTimeInterval(wait)))
        }
    }

    /// A retry already waiting, under settings that changed since its last failure: when it is due
    /// now, counted from that failure as if the new settings had applied then, or `giveUp` when
    /// they allow it no further attempt (a lower retry count, or a class moved to "no retry").
    public static func rescheduled(errorClass: DeliveryErrorClass, failuresSoFar: Int, lastFailureAt: Date,
                                   settings: RetrySettings) -> Decision {
        decide(errorClass: errorClass, settings: settings, failuresSoFar: failuresSoFar, now: lastFailureAt).decision
    }
}
