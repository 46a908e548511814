import Foundation
import Logging
import MailroomCore
import ServiceLifecycle

/// Carries live events between the nodes of a PostgreSQL cluster: what one node publishes is sent
/// with NOTIFY, and every node (itself included) delivers what it hears to its own streams, so an
/// agent connected to any node sees offers made by any other.
///
/// On SQLite there is one node and the hub delivers directly; this service then does nothing.
public final class LiveEventRelay: Service, Sendable {
    public static let channel = "mailroom_events"

    private let hub: LiveEventHub
    private let database: MailroomDatabase
    private let logger: Logger
    private let outgoing: AsyncStream<LiveEvent>
    private let outgoingContinuation: AsyncStream<LiveEvent>.Continuation

    public init(hub: LiveEventHub, database: MailroomDatabase, logger: Logger) {
        self.hub = hub
        self.database = database
        self.logger = logger
        (outgoing, outgoingContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(10_000))
        if database.kind == .postgres {
            let continuation = outgoingContinuation
            hub.setRelay { event in continuation.yield(event) }
        }
    }

    public func run() async throws {
        guard database.kind == .postgres else {
            // A service that returns early stops the whole group; this one simply has nothing to do.
            try? await gracefulShutdown()
            return
        }
        let hub = hub
        let logger = logger
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                // Reconnects after a lost connection; events published meanwhile are still sent below.
                while !Task.isCancelled {
                    do {
                        try await database.listen(channel: Self.channel) { payload in
                            guard let event = try? JSONCoding.decoder.decode(LiveEvent.self, from: Data(payload.utf8)) else {
                                logger.warning("ignored a live event notification that is not an event")
                                return
                            }
                            hub.deliver(event)
                        }
                    } catch {
                        if Task.isCancelled { break }
                        logger.warning("listening for live events failed; retrying", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            group.addTask { [self] in
                for await event in outgoing {
                    do {
                        let payload = String(decoding: try JSONCoding.encoder.encode(event), as: UTF8.self)
                        try await database.notify(channel: Self.channel, payload: payload)
                    } catch {
                        // The state is in the store; a lost event only means a client refreshes later.
                        logger.warning("could not send a live event to the other nodes; delivering it here only",
                                       metadata: ["type": "\(event.type.rawValue)", "error": "\(error)"])
                        hub.deliver(event)
                    }
                }
            }
            await withGracefulShutdownHandler {
                await group.next()
            } onGracefulShutdown: { [outgoingContinuation] in
                outgoingContinuation.finish()
            }
            group.cancelAll()
        }
    }
}
