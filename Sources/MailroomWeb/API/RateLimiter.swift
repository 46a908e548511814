import Foundation
import Hummingbird
import MailroomCore
import MailroomStore
import Synchronization

/// At most `requests` within `seconds` on average, with bursts up to `requests` (a token bucket).
public struct RateLimit: Sendable, Equatable {
    public var requests: Int
    public var seconds: TimeInterval

    public init(requests: Int, seconds: TimeInterval) {
        self.requests = max(1, requests)
        self.seconds = max(0.001, seconds)
    }

    /// `N/SECONDS` as in `600/60`.
    public init?(text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let requests = Int(parts[0]), requests > 0, let seconds = Double(parts[1]), seconds > 0, seconds <= 86_400
        else { return nil }
        self.init(requests: requests, seconds: seconds)
    }
}

/// Token buckets per key, with the time passed in. Memory is bounded: a full bucket is the same as
/// none, so buckets that have refilled are dropped first, then the least recently used.
public struct TokenBuckets: Sendable {
    public let limit: RateLimit
    public let maximumKeys: Int
    private var buckets: [String: (tokens: Double, at: Date)] = [:]

    public init(limit: RateLimit, maximumKeys: Int = 50_000) {
        self.limit = limit
        self.maximumKeys = maximumKeys
    }

    private var refillPerSecond: Double { Double(limit.requests) / limit.seconds }

    /// Takes one token for `key`: nil when allowed, else the seconds until a token is there.
    public mutating func take(_ key: String, now: Date) -> TimeInterval? {
        let capacity = Double(limit.requests)
        var bucket = buckets[key] ?? (capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + max(0, now.timeIntervalSince(bucket.at)) * refillPerSecond)
        bucket.at = now
        guard bucket.tokens >= 1 else {
            buckets[key] = bucket
            return (1 - bucket.tokens) / refillPerSecond
        }
        bucket.tokens -= 1
        buckets[key] = bucket
        if buckets.count > maximumKeys { prune(now: now) }
        return nil
    }

    public var trackedKeys: Int { buckets.count }

    private mutating func prune(now: Date) {
        let capacity = Double(limit.requests)
        buckets = buckets.filter { _, bucket in bucket.tokens + now.timeIntervalSince(bucket.at) * refillPerSecond < capacity }
        guard buckets.count > maximumKeys else { return }
        let byAge = buckets.sorted { $0.value.at < $1.value.at }
        for (key, _) in byAge.prefix(buckets.count - maximumKeys) { buckets[key] = nil }
    }
}

/// One set of buckets for the whole process (each node limits on its own).
public final class RateLimiter: Sendable {
    private let state: Mutex<TokenBuckets>

    public init(limit: RateLimit) { state = Mutex(TokenBuckets(limit: limit)) }

    public func take(_ key: String, now: Date = Date()) -> TimeInterval? {
        state.withLock { $0.take(key, now: now) }
    }
}

/// Limits API calls per credential: each API token, each browser session, the bootstrap token.
/// It runs after authentication, so only a valid credential spends from a bucket, and the key is
/// a hash, so no token is kept in memory in clear.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = MailroomRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let credential = request.headers[.authorization] ?? request.cookies[WebSettings.sessionCookie]?.value ?? ""
        if let wait = limiter.take(TokenHasher.hash(credential)) {
            throw APIError.tooManyRequests(retryAfter: wait, "too many requests with this token; slow down and retry after the time in Retry-After")
        }
        return try await next(request, context)
    }
}

extension APIError {
    static func tooManyRequests(retryAfter wait: TimeInterval, _ message: String) -> APIError {
        var error = APIError(.tooManyRequests, code: "rate_limited", message: message)
        error.retryAfterSeconds = max(1, Int(wait.rounded(.up)))
        return error
    }
}
