import Foundation
import Synchronization

/// Fans live events out to the open event streams of this node.
///
/// Every event gets the next sequence number and is kept in a short history, so a client that
/// reconnects with the last sequence it saw (`Last-Event-ID`) misses nothing that is still in it.
/// A listener that falls behind by more than its buffer is cut off rather than slowing publishers:
/// it reconnects and either resumes from the history or is told to reload.
public final class LiveEventHub: LiveEventPublisher, Sendable {
    public struct Subscription: Sendable {
        /// Events after the requested sequence that were still in the history, oldest first.
        public var backlog: [LiveEvent]
        /// True when the client asked to resume from a sequence older than the history holds:
        /// it must reload its state, as events are missing.
        public var missedEvents: Bool
        public var events: AsyncStream<LiveEvent>
    }

    private struct State {
        var nextSequence: Int64 = 1
        var history: [LiveEvent] = []
        var subscribers: [UInt64: AsyncStream<LiveEvent>.Continuation] = [:]
        var nextSubscriber: UInt64 = 0
    }

    private let state = Mutex(State())
    private let historyLimit: Int
    private let bufferLimit: Int
    /// Where published events go before they come back through `deliver`: set for a cluster, where
    /// PostgreSQL's NOTIFY carries each event to every node, this one included.
    private let relay: Mutex<(@Sendable (LiveEvent) -> Void)?> = Mutex(nil)

    public init(historyLimit: Int = 2_000, bufferLimit: Int = 1_000) {
        self.historyLimit = historyLimit
        self.bufferLimit = bufferLimit
    }

    /// Sends published events through `relay` instead of delivering them here directly.
    public func setRelay(_ relay: (@Sendable (LiveEvent) -> Void)?) {
        self.relay.withLock { $0 = relay }
    }

    public func publish(_ event: LiveEvent) {
        if let relay = relay.withLock({ $0 }) {
            relay(event)
        } else {
            deliver(event)
        }
    }

    /// Numbers the event and hands it to every open stream of this node.
    public func deliver(_ event: LiveEvent) {
        let cutOff: [AsyncStream<LiveEvent>.Continuation] = state.withLock { state in
            var event = event
            event.sequence = state.nextSequence
            state.nextSequence += 1
            state.history.append(event)
            // Trimmed by half a history at a time: dropping one event per publish moved the whole
            // history each time, which at ingest rates was most of a publish.
            if state.history.count >= historyLimit + max(historyLimit / 2, 1) {
                state.history.removeFirst(state.history.count - historyLimit)
            }
            var slow: [AsyncStream<LiveEvent>.Continuation] = []
            for (key, continuation) in state.subscribers {
                if case .dropped = continuation.yield(event) {
                    slow.append(continuation)
                    state.subscribers[key] = nil
                }
            }
            return slow
        }
        for continuation in cutOff { continuation.finish() }
    }

    /// Opens a stream of the events after `lastSequence` (nil: only new ones).
    public func subscribe(after lastSequence: Int64? = nil) -> Subscription {
        let (stream, continuation) = AsyncStream<LiveEvent>.makeStream(bufferingPolicy: .bufferingOldest(bufferLimit))
        let (backlog, missed, key): ([LiveEvent], Bool, UInt64) = state.withLock { state in
            let key = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[key] = continuation
            guard let lastSequence else { return ([], false, key) }
            let backlog = state.history.filter { $0.sequence > lastSequence }
            let oldestKept = state.history.first?.sequence ?? state.nextSequence
            // Sequence numbers restart with the process; a client ahead of us saw another life of it.
            let missed = lastSequence + 1 < oldestKept || lastSequence >= state.nextSequence
            return (backlog, missed, key)
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: key) }
        }
        return Subscription(backlog: backlog, missedEvents: missed, events: stream)
    }

    /// Open streams on this node (for metrics and tests).
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }
}
