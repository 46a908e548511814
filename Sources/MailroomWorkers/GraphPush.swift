import ExchangeClient
import Foundation
import Logging
import MailroomCore

/// Graph change notifications for a fetcher: a subscription on the folder's new messages,
/// delivered to `publicBaseURL/exchange/graph/notifications/ACCOUNT` (the web server hands them to
/// the ``ExchangeNotificationInbox``), renewed before it expires, made again when Graph removes it.
public struct GraphPush: Sendable {
    /// The installation's public address (settings' publicBaseURL), without a trailing slash.
    public let publicBaseURL: String
    public let inbox: ExchangeNotificationInbox
    /// How long each subscription is asked to live (Graph allows under seven days for messages).
    public var lifetime: TimeInterval = 3 * 86_400
    /// Renewed when less than this is left.
    public var renewBefore: TimeInterval = 2 * 86_400

    public init(publicBaseURL: String, inbox: ExchangeNotificationInbox) {
        var base = publicBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.publicBaseURL = base
        self.inbox = inbox
    }

    public static let path = "exchange/graph/notifications"

    func notificationURL(accountId: String) -> String {
        "\(publicBaseURL)/\(Self.path)/\(accountId.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? accountId)"
    }
}

extension GraphMailboxSource: ExchangeMailboxPush {
    public func push(wake: @escaping @Sendable () -> Void, logger: Logger, accountId: String) async {
        guard let push else { return }
        var failures = 0
        while !Task.isCancelled {
            let clientState = Self.randomClientState()
            let (events, continuation) = AsyncStream<ExchangeNotificationInbox.Event>.makeStream(bufferingPolicy: .bufferingNewest(8))
            push.inbox.register(accountId: accountId, clientState: clientState) { event in
                if event == .changed { wake() } else { continuation.yield(event) }
            }
            var subscription: GraphClient.Subscription?
            do {
                let folderId = try await client.folderId(folder)
                var current = try await client.subscribe(folderId: folderId, notificationURL: push.notificationURL(accountId: accountId),
                                                         clientState: clientState, expiration: Date().addingTimeInterval(push.lifetime))
                subscription = current
                if failures > 0 { wake() }
                failures = 0
                var removed = false
                while !Task.isCancelled && !removed {
                    let untilRenewal = max(1, current.expiration.timeIntervalSinceNow - push.renewBefore)
                    let event = await Self.next(events, within: .seconds(untilRenewal))
                    switch event {
                    case .lifecycle("subscriptionRemoved")?:
                        removed = true
                    case .lifecycle("missed")?:
                        wake()
                    default:
                        // Renewal due, or reauthorizationRequired: a PATCH renews and reauthorizes.
                        if Task.isCancelled { break }
                        current = try await client.renew(subscriptionId: current.id, expiration: Date().addingTimeInterval(push.lifetime))
                        subscription = current
                    }
                }
                wake()
            } catch where !Task.isCancelled {
                failures += 1
                logger.notice("Graph change notifications failed; polling meanwhile", metadata: [
                    "account": "\(accountId)", "error": "\(error)",
                ])
            } catch {}
            push.inbox.unregister(accountId: accountId, clientState: clientState)
            continuation.finish()
            if Task.isCancelled {
                // The stopping task is cancelled, and so would be its requests: the delete runs on its own.
                if let subscription {
                    let client = self.client
                    await Task.detached { await client.unsubscribe(subscriptionId: subscription.id) }.value
                }
                return
            }
            if failures > 0 { try? await Task.sleep(for: .seconds(min(600, 5 << min(failures, 7)))) }
        }
    }

    /// The next event, or nil when `limit` passes first.
    static func next(_ events: AsyncStream<ExchangeNotificationInbox.Event>, within limit: Duration) async -> ExchangeNotificationInbox.Event? {
        await withTaskGroup(of: ExchangeNotificationInbox.Event?.self) { group in
            group.addTask {
                for await event in events { return event }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    static func randomClientState() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
    }
}
