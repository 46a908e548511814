import Foundation
import MailroomWorkers
import Testing

/// The pace of token refreshes, without a provider.
@Suite struct OAuth2RefreshPacerTests {
    /// Ten callers at once at 50 per second: the first goes at once, each other one at least 20 ms
    /// after the one before, so the ten take at least 180 ms however they interleave.
    @Test func callersArrivingTogetherAreLetGoOneAtATime() async throws {
        let pacer = OAuth2RefreshPacer(ratePerSecond: 50)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 { group.addTask { try await pacer.waitForTurn() } }
            try await group.waitForAll()
        }
        #expect(ContinuousClock.now - started >= .milliseconds(180))
    }

    /// A caller cancelled while it waits leaves the queue with CancellationError, and the wait of
    /// whoever comes next no longer counts it (a long spacing: the cancel surely comes first).
    @Test func aCancelledCallerLeavesTheQueue() async throws {
        let pacer = OAuth2RefreshPacer(ratePerSecond: 0.02)
        try await pacer.waitForTurn()
        let cancelled = Task { try await pacer.waitForTurn() }
        while await pacer.expectedWait < .seconds(60) { try await Task.sleep(for: .milliseconds(10)) }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        // One turn away again (50 s), not two (100 s).
        try await Task.sleep(for: .milliseconds(100))
        #expect(await pacer.expectedWait <= .seconds(50))
    }

    @Test func theRateIsKeptWithinSaneBounds() async {
        #expect(await OAuth2RefreshPacer(ratePerSecond: 0).ratePerSecond == 0.01)
        #expect(await OAuth2RefreshPacer(ratePerSecond: .infinity).ratePerSecond == 10)
        let pacer = OAuth2RefreshPacer()
        await pacer.setRate(25)
        #expect(await pacer.ratePerSecond == 25)
    }
}
