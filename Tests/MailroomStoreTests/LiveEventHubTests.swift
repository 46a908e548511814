import Foundation
import MailroomCore
import MailroomStore
import Testing

@Suite struct LiveEventHubTests {
    func event(_ n: Int) -> LiveEvent {
        LiveEvent(type: .ticket, audience: .everyone, data: .object(["n": .number(Double(n))]))
    }

    @Test func subscribersGetNumberedEventsInOrder() async throws {
        let hub = LiveEventHub()
        let subscription = hub.subscribe()
        #expect(subscription.backlog.isEmpty && !subscription.missedEvents)
        for n in 1...3 { hub.publish(event(n)) }
        var iterator = subscription.events.makeAsyncIterator()
        var seen: [Int64] = []
        for _ in 1...3 { if let next = await iterator.next() { seen.append(next.sequence) } }
        #expect(seen == [1, 2, 3])
    }

    @Test func aReconnectingClientResumesFromItsLastEvent() {
        let hub = LiveEventHub(historyLimit: 5)
        for n in 1...4 { hub.publish(event(n)) }
        let resumed = hub.subscribe(after: 2)
        #expect(resumed.backlog.map(\.sequence) == [3, 4])
        #expect(!resumed.missedEvents)
        let current = hub.subscribe(after: 4)
        #expect(current.backlog.isEmpty && !current.missedEvents)
    }

    @Test func aClientTooFarBehindIsToldToReload() {
        let hub = LiveEventHub(historyLimit: 3)
        for n in 1...10 { hub.publish(event(n)) }
        let stale = hub.subscribe(after: 2)
        #expect(stale.missedEvents)
        #expect(stale.backlog.map(\.sequence) == [8, 9, 10])
        // A sequence from a previous run of the server (higher than any now) also means reload.
        #expect(hub.subscribe(after: 500).missedEvents)
    }

    @Test func aSlowListenerIsCutOffInsteadOfSlowingPublishers() async {
        let hub = LiveEventHub(bufferLimit: 2)
        let slow = hub.subscribe()
        for n in 1...5 { hub.publish(event(n)) }
        var received: [Int64] = []
        for await item in slow.events { received.append(item.sequence) }
        // The buffer held two; the third overflowed it and ended the stream.
        #expect(received == [1, 2])
        #expect(hub.subscriberCount == 0)
    }

    @Test func aRelayCarriesEventsInsteadOfLocalDelivery() async {
        let hub = LiveEventHub()
        let relayed = RelayedEvents()
        hub.setRelay { relayed.append($0) }
        let subscription = hub.subscribe()
        hub.publish(event(1))
        #expect(relayed.count == 1)
        // Nothing is delivered here until the relay hands it back, as the other nodes get it.
        hub.deliver(relayed.first!)
        var iterator = subscription.events.makeAsyncIterator()
        #expect(await iterator.next()?.sequence == 1)
    }
}

final class RelayedEvents: Sendable {
    private let events = Mutex<[LiveEvent]>([])
    func append(_ event: LiveEvent) { events.withLock { $0.append(event) } }
    var count: Int { events.withLock { $0.count } }
    var first: LiveEvent? { events.withLock { $0.first } }
}

import Synchronization
