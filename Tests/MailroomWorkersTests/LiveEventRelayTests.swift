import Foundation
import Logging
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWorkers
import Testing

/// Two nodes on one PostgreSQL: an event published on either reaches the streams of both.
@Suite struct LiveEventRelayTests {
    func marker(_ event: LiveEvent) -> String? {
        if case .string(let value)? = event.data["marker"] { return value }
        return nil
    }

    /// Waits for an event carrying `marker` on `events`, up to `timeout` (generous: the whole
    /// suite shares two cores, and a NOTIFY under that load can take seconds).
    func receive(_ marker: String, from events: AsyncStream<LiveEvent>, timeout: Duration = .seconds(60)) async -> LiveEvent? {
        await receive(from: events, timeout: timeout) { $0 == marker }
    }

    func receive(from events: AsyncStream<LiveEvent>, timeout: Duration, matching: @escaping @Sendable (String) -> Bool) async -> LiveEvent? {
        await withTaskGroup(of: LiveEvent?.self) { group in
            group.addTask {
                for await event in events { if let found = self.marker(event), matching(found) { return event } }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test(.enabled(if: TestServers.shouldRun(TestDatabase.postgresVariable)))
    func eventsCrossNodesThroughNotify() async throws {
        // A database of its own: NOTIFY reaches every listener of the database, and on the shared
        // one other tests' events crowd the streams (a stream that falls 1,000 events behind is cut off).
        let (url, drop) = try await TestDatabase.scratchPostgresDatabase()
        defer { Task { await drop() } }
        let logger = Logger(label: "relay-test")
        try await TestDatabase.withPostgres(url: url) { first in
            try await TestDatabase.withPostgres(url: url) { second in
                let hubA = LiveEventHub()
                let hubB = LiveEventHub()
                let relayA = LiveEventRelay(hub: hubA, database: first, logger: logger)
                let relayB = LiveEventRelay(hub: hubB, database: second, logger: logger)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await relayA.run() }
                    group.addTask { try await relayB.run() }
                    defer { group.cancelAll() }

                    // LISTEN starts asynchronously: ping until node B hears node A. Any ping counts,
                    // however late it arrives (under load a NOTIFY can take longer than the pings' spacing).
                    let run = UUID().uuidString
                    let pings = hubB.subscribe()
                    let heard = await withTaskGroup(of: Bool.self) { group in
                        group.addTask {
                            await receive(from: pings.events, timeout: .seconds(30)) { $0.hasPrefix("\(run)-ping-") } != nil
                        }
                        group.addTask {
                            var attempt = 0
                            while !Task.isCancelled {
                                hubA.publish(LiveEvent(type: .presence, audience: .everyone, data: .object(["marker": .string("\(run)-ping-\(attempt)")])))
                                attempt += 1
                                // Spaced: the relay sends one NOTIFY at a time, and pings piling up
                                // behind a slow one would hold back the events the test checks next.
                                try? await Task.sleep(for: .seconds(1))
                            }
                            return false
                        }
                        let first = await group.next() ?? false
                        group.cancelAll()
                        return first
                    }
                    #expect(heard, "node B never heard node A")

                    let onA = hubA.subscribe()
                    let onB = hubB.subscribe()
                    hubA.publish(LiveEvent(type: .offer, audience: .users(["u1"]), data: .object(["marker": .string("\(run)-offer")])))
                    let gotB = await receive("\(run)-offer", from: onB.events)
                    let gotA = await receive("\(run)-offer", from: onA.events)
                    #expect(gotB?.type == .offer && gotB?.audience == .users(["u1"]))
                    // The publishing node hears its own event back exactly like the others do.
                    #expect(gotA?.type == .offer)

                    let later = hubA.subscribe()
                    hubB.publish(LiveEvent(type: .ticket, audience: .staff, data: .object(["marker": .string("\(run)-back")])))
                    #expect(await receive("\(run)-back", from: later.events)?.audience == .staff)
                }
            }
        }
    }
}
