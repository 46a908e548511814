import Foundation
import MailroomWorkers
import Synchronization
import Testing

/// A clock that moves only when a test says so.
final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [UUID: (deadline: Instant, continuation: CheckedContinuation<Void, any Error>)] = [:]
    }

    private let state = Mutex(State())
    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }
    var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // A sleep cancelled before it got here must not wait: its cancellation handler has run already.
                let outcome = state.withLock { state -> Bool? in
                    if Task.isCancelled { return false }
                    if deadline <= state.now { return true }
                    state.sleepers[id] = (deadline, continuation)
                    return nil
                }
                switch outcome {
                case true?: continuation.resume()
                case false?: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    func advance(by duration: Duration) {
        let due = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now = state.now.advanced(by: duration)
            let ready = state.sleepers.filter { $0.value.deadline <= state.now }
            for id in ready.keys { state.sleepers[id] = nil }
            return ready.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }
}

@Suite struct PeriodicWorkTests {
    /// Waits (in real time, briefly) until `condition` holds.
    func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test func aRoundAtOnceThenOnEachIntervalAndEachWakeUntilCancelled() async throws {
        let clock = ManualClock()
        let work = PeriodicWork(every: .seconds(10), clock: clock)
        let rounds = Atomic<Int>(0)
        let running = Task { await work.run { rounds.add(1, ordering: .relaxed) } }
        #expect(try await eventually { rounds.load(ordering: .relaxed) == 1 && clock.sleeperCount == 1 })

        clock.advance(by: .seconds(9))
        try await Task.sleep(for: .milliseconds(50))
        #expect(rounds.load(ordering: .relaxed) == 1, "no round before the interval is over")
        clock.advance(by: .seconds(1))
        #expect(try await eventually { rounds.load(ordering: .relaxed) == 2 })

        work.wake()
        #expect(try await eventually { rounds.load(ordering: .relaxed) == 3 })

        running.cancel()
        await running.value
        #expect(clock.sleeperCount == 0, "the timer stopped with the work")
        let after = rounds.load(ordering: .relaxed)
        clock.advance(by: .seconds(60))
        work.wake()
        try await Task.sleep(for: .milliseconds(50))
        #expect(rounds.load(ordering: .relaxed) == after)
    }

    @Test func wakesDuringARoundMakeOneMoreRoundNotOneEach() async throws {
        let clock = ManualClock()
        let work = PeriodicWork(every: .seconds(3600), clock: clock)
        let rounds = Atomic<Int>(0)
        let gate = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let running = Task {
            await work.run {
                let round = rounds.add(1, ordering: .relaxed).newValue
                // The second round waits until the test has woken the work several times.
                if round == 2 { await withCheckedContinuation { continuation in gate.withLock { $0 = continuation } } }
            }
        }
        #expect(try await eventually { rounds.load(ordering: .relaxed) == 1 })
        work.wake()
        #expect(try await eventually { gate.withLock { $0 != nil } })
        for _ in 0..<5 { work.wake() }
        gate.withLock { $0?.resume() }
        #expect(try await eventually { rounds.load(ordering: .relaxed) == 3 })
        try await Task.sleep(for: .milliseconds(100))
        #expect(rounds.load(ordering: .relaxed) == 3)
        running.cancel()
        await running.value
    }

    @Test func aRoundThatNamesItsNextDeadlineRunsThenButNeverLaterThanTheInterval() async throws {
        let clock = ManualClock()
        let work = PeriodicWork(every: .seconds(10), clock: clock)
        let rounds = Atomic<Int>(0)
        let running = Task {
            await work.runScheduled {
                // The first round has a deadline in 2 seconds; the second none within the interval.
                rounds.add(1, ordering: .relaxed).newValue == 1 ? .seconds(2) : .seconds(3600)
            }
        }
        #expect(try await eventually { rounds.load(ordering: .relaxed) == 1 && clock.sleeperCount == 1 })
        clock.advance(by: .seconds(2))
        #expect(try await eventually { rounds.load(ordering: .relaxed) == 2 && clock.sleeperCount == 1 })
        clock.advance(by: .seconds(9))
        try await Task.sleep(for: .milliseconds(50))
        #expect(rounds.load(ordering: .relaxed) == 2, "no round before the interval is over")
        clock.advance(by: .seconds(1))
        #expect(try await eventually { rounds.load(ordering: .relaxed) == 3 })
        running.cancel()
        await running.value
    }
}
