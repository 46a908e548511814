import Logging
import MailroomCore
@testable import MailroomStore
import Synchronization
import Testing

/// The guard around each PostgreSQL call: a call left waiting on a closed connection is given up
/// as "database unreachable"; calls on open connections are waited for, however long they take.
@Suite struct ClosedConnectionGuardTests {
    static func guarded() -> ClosedConnectionGuard {
        var logger = Logger(label: "guard-test")
        logger.logLevel = .critical
        return ClosedConnectionGuard(site: CallSite(), logger: logger, checkEvery: .milliseconds(20), grace: .milliseconds(100),
                                     slowAfter: .seconds(60))
    }

    @Test func aCallThatNeverEndsOnAClosedConnectionIsGivenUp() async throws {
        let closed = Atomic<Bool>(false)
        await #expect(throws: StoreUnavailable.self) {
            try await Self.guarded().run(isClosed: { closed.load(ordering: .relaxed) }) { () async throws -> Int in
                closed.store(true, ordering: .relaxed)
                // What a query written after the close does: never answers, and ignores cancellation.
                await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
                return 1
            }
        }
    }

    @Test func aSlowCallOnAnOpenConnectionIsWaitedFor() async throws {
        let value = try await Self.guarded().run(isClosed: { false }) { () async throws -> Int in
            try await Task.sleep(for: .milliseconds(400))
            return 7
        }
        #expect(value == 7)
    }

    @Test func aCallThatFailsByItselfAfterTheCloseKeepsItsOwnError() async throws {
        struct Refused: Error {}
        let closed = Atomic<Bool>(false)
        await #expect(throws: Refused.self) {
            try await Self.guarded().run(isClosed: { closed.load(ordering: .relaxed) }) { () async throws -> Int in
                closed.store(true, ordering: .relaxed)
                throw Refused()
            }
        }
    }

    @Test func cancellingTheCallerCancelsTheCall() async throws {
        let task = Task {
            try await Self.guarded().run(isClosed: { false }) { () async throws -> Int in
                try await Task.sleep(for: .seconds(60))
                return 1
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
