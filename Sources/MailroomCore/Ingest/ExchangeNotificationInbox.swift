import Foundation
import Synchronization

/// Where Graph change notifications that reach the web server find the fetcher waiting for them.
/// A fetcher with a subscription registers its account's `clientState` (a secret it chose) and
/// what to do; a notification is acted on only when it carries a registered clientState, so a
/// stranger who learns the URL can at most cause a needless sync.
public final class ExchangeNotificationInbox: Sendable {
    public enum Event: Sendable, Equatable {
        /// A change in the folder: sync now.
        case changed
        /// A lifecycle notification (`reauthorizationRequired`, `subscriptionRemoved`, `missed`).
        case lifecycle(String)
    }

    private struct Entry {
        var clientState: String
        var handle: @Sendable (Event) -> Void
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    public func register(accountId: String, clientState: String, handle: @escaping @Sendable (Event) -> Void) {
        entries.withLock { $0[accountId] = Entry(clientState: clientState, handle: handle) }
    }

    /// Forgets the account's registration, if it is still the one with this clientState.
    public func unregister(accountId: String, clientState: String) {
        entries.withLock { if $0[accountId]?.clientState == clientState { $0[accountId] = nil } }
    }

    private struct Wire: Decodable {
        struct Notification: Decodable {
            var clientState: String?
            var lifecycleEvent: String?
        }
        var value: [Notification]
    }

    /// Acts on a notification body (`{"value": [...]}`) for the account; answers how many of its
    /// notifications carried the registered clientState. Malformed bodies act on nothing.
    @discardableResult
    public func deliver(accountId: String, body: [UInt8]) -> Int {
        guard body.count <= 1 << 20, let wire = try? JSONDecoder().decode(Wire.self, from: Data(body)),
              let entry = entries.withLock({ $0[accountId] }) else { return 0 }
        var matched = 0
        var changed = false
        for notification in wire.value where notification.clientState.map({ Self.equal($0, entry.clientState) }) == true {
            matched += 1
            if let event = notification.lifecycleEvent { entry.handle(.lifecycle(event)) } else { changed = true }
        }
        if changed { entry.handle(.changed) }
        return matched
    }

    /// Compares without stopping at the first difference.
    static func equal(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
