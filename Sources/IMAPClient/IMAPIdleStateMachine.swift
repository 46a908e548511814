/// The IDLE sub-flow (RFC 2177) as a plain state machine: when to send IDLE, when DONE is due
/// (re-issue before the server's 30-minute inactivity timeout), and when it is over.
/// Time is passed in, so tests move it by hand.
public struct IMAPIdleStateMachine: Sendable {
    public enum State: Sendable, Equatable {
        case notIdling
        /// IDLE sent, waiting for "+".
        case starting(tag: String, deadline: ContinuousClock.Instant)
        case idling(tag: String, deadline: ContinuousClock.Instant)
        /// DONE sent, waiting for the tagged answer.
        case finishing(tag: String)
    }

    public enum Action: Sendable, Equatable {
        case startIdle
        case wait(Duration)
        case sendDone
    }

    public private(set) var state = State.notIdling

    public init() {}

    public var isActive: Bool { state != .notIdling }

    public var isWaitingForContinuation: Bool {
        if case .starting = state { return true }
        return false
    }

    public mutating func nextAction(now: ContinuousClock.Instant) -> Action {
        switch state {
        case .notIdling:
            return .startIdle
        case .starting(_, let deadline), .idling(_, let deadline):
            let remaining = deadline - now
            return remaining <= .zero ? .sendDone : .wait(remaining)
        case .finishing:
            return .wait(.seconds(1))
        }
    }

    public mutating func idleSent(tag: String, reissueAfter: Duration, now: ContinuousClock.Instant) {
        state = .starting(tag: tag, deadline: now + reissueAfter)
    }

    public mutating func continuationReceived() {
        if case .starting(let tag, let deadline) = state { state = .idling(tag: tag, deadline: deadline) }
    }

    /// The tag to expect after DONE, or nil when not idling. Moves to `finishing`.
    public mutating func doneNeeded() -> String? {
        switch state {
        case .idling(let tag, _):
            state = .finishing(tag: tag)
            return tag
        case .starting(let tag, _):
            // The server has not confirmed yet; DONE is still the way out after "+".
            state = .finishing(tag: tag)
            return tag
        case .finishing, .notIdling:
            return nil
        }
    }

    public mutating func taggedReceived(tag: String) {
        switch state {
        case .starting(let t, _) where t == tag, .idling(let t, _) where t == tag, .finishing(let t) where t == tag:
            state = .notIdling
        default:
            break
        }
    }
}
