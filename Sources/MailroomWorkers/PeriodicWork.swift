import ServiceLifecycle

/// The one way periodic work runs in Mailroom's services: a round at once, then a round every
/// `interval` on `clock` and a round after each ``wake()`` (wakes that come while a round runs
/// make one more round, not one each), until the task is cancelled or the service group shuts
/// down. The timer is a child task of ``run(_:)``, so nothing outlives it.
public struct PeriodicWork<C: Clock>: Sendable where C.Duration == Duration {
    /// What a graceful shutdown does to a round that is running.
    public enum Shutdown: Sendable {
        /// Cancels it (fetches and sends stop where they are; their work is crash-safe anyway).
        case cancelRound
        /// Lets it end, then stops.
        case finishRound
    }

    public let interval: Duration
    private let clock: C
    private let wakes: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init(every interval: Duration, clock: C) {
        self.interval = interval
        self.clock = clock
        (wakes, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a round now (or right after the one running). Safe to call before ``run(_:)``.
    public func wake() { continuation.yield() }

    /// Runs rounds until cancellation or graceful shutdown. Call it once.
    public func run(shutdown: Shutdown = .cancelRound, _ round: @escaping @Sendable () async -> Void) async {
        continuation.yield()
        switch shutdown {
        case .cancelRound:
            await cancelWhenGracefulShutdown { await loop(round) }
        case .finishRound:
            await withGracefulShutdownHandler {
                await loop(round)
            } onGracefulShutdown: { [continuation] in
                continuation.finish()
            }
        }
        continuation.finish()
    }

    private func loop(_ round: @escaping @Sendable () async -> Void) async {
        await withDiscardingTaskGroup { group in
            group.addTask { [clock, interval, continuation] in
                while !Task.isCancelled {
                    do { try await clock.sleep(for: interval) } catch { return }
                    continuation.yield()
                }
            }
            for await _ in wakes {
                if Task.isCancelled { break }
                await round()
            }
            group.cancelAll()
        }
    }
}

extension PeriodicWork where C == ContinuousClock {
    public init(every interval: Duration) {
        self.init(every: interval, clock: ContinuousClock())
    }
}
