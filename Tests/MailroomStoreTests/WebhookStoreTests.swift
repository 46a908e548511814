import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

@Suite struct WebhookStoreTests {
    @Test(arguments: TestDatabase.available)
    func deliveriesAreClaimedOnceRetriedAndGivenUp(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let now = Date()
            var ids: [String] = []
            for n in 0..<6 {
                let delivery = try await store.webhooks.enqueue(url: "http://127.0.0.1:9/hook", event: "ticket.routed", ticketId: "t\(n)",
                                                                ruleIds: ["r1"], payload: .object(["n": .number(Double(n))]), now: now)
                ids.append(delivery.id)
            }
            async let a = store.webhooks.claimDue(owner: "a", limit: 4, leaseSeconds: 30, now: now)
            async let b = store.webhooks.claimDue(owner: "b", limit: 4, leaseSeconds: 30, now: now)
            let (first, second) = try await (a, b)
            #expect(Set(first.map(\.id)).isDisjoint(with: second.map(\.id)))
            #expect(first.count + second.count == 6)
            #expect(try await store.webhooks.claimDue(owner: "c", limit: 10, leaseSeconds: 30, now: now).isEmpty)

            let one = first[0]
            #expect(one.payload.objectValue?["n"] != nil && one.ruleIds == ["r1"] && one.state == .sending)
            // Someone who does not hold the lease cannot record.
            #expect(try await !store.webhooks.record(id: one.id, owner: "b", result: .status(200), verdict: .delivered, now: now))
            #expect(try await store.webhooks.record(id: one.id, owner: "a", result: .status(200), verdict: .delivered, now: now))
            let delivered = try #require(try await store.webhooks.delivery(id: one.id))
            #expect(delivered.state == .delivered && delivered.attempts == 1 && delivered.lastStatus == 200 && delivered.deliveredAt != nil)

            let two = first[1]
            let later = now.addingTimeInterval(10)
            #expect(try await store.webhooks.record(id: two.id, owner: "a", result: .status(503),
                                                    verdict: .retry(at: later, reason: "the receiver answered HTTP 503"), now: now))
            #expect(try await store.webhooks.nextDue() != nil)
            let retried = try await store.webhooks.claimDue(owner: "c", limit: 10, leaseSeconds: 30, now: later)
            #expect(retried.map(\.id) == [two.id])
            #expect(retried[0].attempts == 1 && retried[0].lastError == "the receiver answered HTTP 503")

            #expect(try await store.webhooks.record(id: two.id, owner: "c", result: .status(404),
                                                    verdict: .giveUp(reason: "refused"), now: later))
            #expect(try await store.webhooks.deliveries(state: .failed).map(\.id) == [two.id])
            #expect(try await !store.webhooks.retry(id: one.id))
            #expect(try await store.webhooks.retry(id: two.id))
            #expect(try await store.webhooks.delivery(id: two.id)?.state == .pending)

            // A sender that died mid-post: its rows come back when the lease lapses.
            let lapsed = try await store.webhooks.claimDue(owner: "d", limit: 10, leaseSeconds: 30, now: now.addingTimeInterval(31))
            #expect(Set(lapsed.map(\.id)).isSuperset(of: Set(ids[2...].filter { id in !first.prefix(2).map(\.id).contains(id) })))
        }
    }
}
