import Foundation
import Hummingbird
import MailroomCore
import NIOCore
import ServiceLifecycle
import Synchronization

/// `GET /api/v1/events`: the live stream an agent's screen listens to, as Server-Sent Events.
///
/// Each event is `id:` (its sequence, for `Last-Event-ID` on reconnect), `event:` (its type) and
/// `data:` (one line of JSON). Only events the caller may see are sent: an agent hears of offers made
/// to them and of tickets in their queues or assigned to them; supervisors hear everything.
struct EventsController {
    let hub: LiveEventHub
    /// The queues a user is a member of, for filtering ticket events.
    let queueMemberships: @Sendable (String) async throws -> Set<String>
    /// The accounts of a user's campaigns (nil: in no campaign, no limit), for the same filter.
    var campaignAccounts: @Sendable (String) async throws -> Set<String>? = { _ in nil }
    /// A comment line is sent when nothing else was, so proxies keep the connection and a
    /// client that went away is noticed.
    var keepAliveInterval: Duration = .seconds(15)
    /// Memberships change rarely; they are read again at most this often.
    var membershipRefresh: Duration = .seconds(30)

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("events", use: stream)
    }

    @Sendable func stream(_ request: Request, context: MailroomRequestContext) async throws -> Response {
        let principal = try context.require(.agent)
        let resumeFrom = Self.lastEventID(request)
        let subscription = hub.subscribe(after: resumeFrom)
        let filter = AudienceFilter(principal: principal, memberships: queueMemberships, campaignAccounts: campaignAccounts,
                                    refreshEvery: membershipRefresh)
        let keepAlive = keepAliveInterval

        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // Tells nginx-style proxies not to buffer the stream.
        headers[.init("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var preamble = "retry: 3000\n: connected\n\n"
            if subscription.missedEvents { preamble += SSEFrame.reset }
            try await writer.write(ByteBuffer(string: preamble))
            for event in subscription.backlog {
                guard try await filter.admits(event) else { continue }
                try await writer.write(ByteBuffer(string: SSEFrame.encode(event)))
            }
            try await Self.pump(subscription.events, filter: filter, keepAlive: keepAlive, into: &writer)
            try await writer.finish(nil)
        })
    }

    /// Writes events as they come, and a keep-alive comment after each quiet interval, until the
    /// client leaves (a write throws), the hub cuts a slow client off, or the server shuts down.
    static func pump(_ events: AsyncStream<LiveEvent>, filter: AudienceFilter, keepAlive: Duration,
                     into writer: inout any ResponseBodyWriter) async throws {
        // Events and keep-alives meet in one bounded stream; a client that lets it overflow is cut
        // off (it reconnects and resumes), so a slow reader never grows the server's memory.
        let (ticks, tickContinuation) = AsyncStream<SSEItem>.makeStream(bufferingPolicy: .bufferingOldest(1_000))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events {
                    if case .dropped = tickContinuation.yield(.event(event)) { break }
                }
                tickContinuation.finish()
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: keepAlive)
                    tickContinuation.yield(.keepAlive)
                }
            }
            defer { group.cancelAll() }
            try await withGracefulShutdownHandler {
                for await item in ticks {
                    switch item {
                    case .event(let event):
                        guard try await filter.admits(event) else { continue }
                        try await writer.write(ByteBuffer(string: SSEFrame.encode(event)))
                    case .keepAlive:
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
            } onGracefulShutdown: {
                tickContinuation.finish()
            }
        }
    }

    static func lastEventID(_ request: Request) -> Int64? {
        if let header = request.headers[.init("Last-Event-ID")!], let value = Int64(header.trimmingCharacters(in: .whitespaces)) {
            return value
        }
        // EventSource cannot set headers on its first connection; a page may pass the id it has.
        return request.uri.queryParameters["lastEventId"].flatMap { Int64(String($0)) }
    }
}

enum SSEItem: Sendable {
    case event(LiveEvent)
    case keepAlive
}

/// The wire form of one event.
enum SSEFrame {
    /// Sent when the client resumed from further back than the hub remembers: reload state.
    static let reset = "event: reset\ndata: {}\n\n"

    static func encode(_ event: LiveEvent) -> String {
        let json = (try? JSONCoding.encoder.encode(event.data)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        // JSON from the encoder has no raw newlines, but a data line must never carry one.
        let line = json.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
        return "id: \(event.sequence)\nevent: \(event.type.rawValue)\ndata: \(line)\n\n"
    }
}

/// Decides per event whether the caller may see it, reading their queue memberships and their
/// campaigns' accounts lazily.
final class AudienceFilter: Sendable {
    struct Scope: Sendable {
        var queues: Set<String>
        var campaignAccounts: Set<String>?
    }

    let principal: Principal
    let memberships: @Sendable (String) async throws -> Set<String>
    let campaignAccounts: @Sendable (String) async throws -> Set<String>?
    let refreshEvery: Duration
    private let cache = Mutex<(scope: Scope, readAt: ContinuousClock.Instant)?>(nil)

    init(principal: Principal, memberships: @escaping @Sendable (String) async throws -> Set<String>,
         campaignAccounts: @escaping @Sendable (String) async throws -> Set<String>? = { _ in nil }, refreshEvery: Duration) {
        self.principal = principal
        self.memberships = memberships
        self.campaignAccounts = campaignAccounts
        self.refreshEvery = refreshEvery
    }

    func admits(_ event: LiveEvent) async throws -> Bool {
        if principal.role >= .supervisor { return true }
        var scope = Scope(queues: [], campaignAccounts: nil)
        if case .ticket(let queueId, _, let accountId) = event.audience, queueId != nil || accountId != nil, let userId = principal.userId {
            scope = try await currentScope(userId)
        }
        return event.audience.admits(userId: principal.userId, role: principal.role, queueIds: scope.queues,
                                     campaignAccountIds: scope.campaignAccounts)
    }

    private func currentScope(_ userId: String) async throws -> Scope {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0 }), cached.readAt.duration(to: now) < refreshEvery { return cached.scope }
        let scope = Scope(queues: try await memberships(userId), campaignAccounts: try await campaignAccounts(userId))
        cache.withLock { $0 = (scope, now) }
        return scope
    }
}
