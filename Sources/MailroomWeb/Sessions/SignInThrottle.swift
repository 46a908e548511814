import Foundation
import Synchronization

/// Counts failed sign-ins per address and per client and says when to refuse more tries.
///
/// Pure state with the time passed in; `SignInLimiter` shares one across requests. Memory is
/// bounded: failures older than the window are forgotten, and past `maximumKeys` the keys with
/// the oldest last failure go first.
public struct SignInThrottle: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Failures for one email address within `window` before it is refused.
        public var perAddress: Int
        /// Failures from one client (IP address) within `window`, whatever the addresses tried.
        public var perClient: Int
        public var window: TimeInterval
        public var maximumKeys: Int

        public init(perAddress: Int = 5, perClient: Int = 20, window: TimeInterval = 900, maximumKeys: Int = 10_000) {
            self.perAddress = perAddress
            self.perClient = perClient
            self.window = window
            self.maximumKeys = maximumKeys
        }
    }

    public let limits: Limits
    private var failures: [String: [Date]] = [:]

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Seconds until a try is allowed again, or nil when one is allowed now.
    public func retryAfter(address: String, client: String?, now: Date) -> TimeInterval? {
        var wait: TimeInterval?
        for (key, limit) in keys(address: address, client: client) {
            let recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < limits.window }
            guard recent.count >= limit, let oldest = recent.suffix(limit).first else { continue }
            let until = limits.window - now.timeIntervalSince(oldest)
            wait = max(wait ?? 0, max(1, until))
        }
        return wait
    }

    public mutating func recordFailure(address: String, client: String?, now: Date) {
        for (key, limit) in keys(address: address, client: client) {
            var list = (failures[key] ?? []).filter { now.timeIntervalSince($0) < limits.window }
            list.append(now)
            failures[key] = Array(list.suffix(limit))
        }
        if failures.count > limits.maximumKeys { prune(now: now) }
    }

    /// A successful sign-in clears the address's count (not the client's: one client trying many
    /// addresses stays limited).
    public mutating func recordSuccess(address: String) {
        failures[Self.addressKey(address)] = nil
    }

    public var trackedKeys: Int { failures.count }

    private mutating func prune(now: Date) {
        failures = failures.filter { _, dates in dates.contains { now.timeIntervalSince($0) < limits.window } }
        guard failures.count > limits.maximumKeys else { return }
        let byAge = failures.sorted { ($0.value.last ?? .distantPast) < ($1.value.last ?? .distantPast) }
        for (key, _) in byAge.prefix(failures.count - limits.maximumKeys) { failures[key] = nil }
    }

    private func keys(address: String, client: String?) -> [(String, Int)] {
        var keys = [(Self.addressKey(address), limits.perAddress)]
        if let client, !client.isEmpty { keys.append(("client:" + client, limits.perClient)) }
        return keys
    }

    private static func addressKey(_ address: String) -> String {
        "address:" + address.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }
}

/// One `SignInThrottle` for the whole process (failures are not shared between nodes: each node
/// limits on its own, which still caps guessing at a small multiple).
public final class SignInLimiter: Sendable {
    private let state: Mutex<SignInThrottle>

    public init(limits: SignInThrottle.Limits) { state = Mutex(SignInThrottle(limits: limits)) }

    public func retryAfter(address: String, client: String?, now: Date = Date()) -> TimeInterval? {
        state.withLock { $0.retryAfter(address: address, client: client, now: now) }
    }

    public func recordFailure(address: String, client: String?, now: Date = Date()) {
        state.withLock { $0.recordFailure(address: address, client: client, now: now) }
    }

    public func recordSuccess(address: String) {
        state.withLock { $0.recordSuccess(address: address) }
    }
}
