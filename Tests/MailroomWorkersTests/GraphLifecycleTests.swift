import ExchangeClient
import Foundation
import Hummingbird
import Logging
import MailroomCore
import MailroomTestSupport
@testable import MailroomWorkers
import NIOCore
import Synchronization
import Testing

/// Graph change-notification subscriptions over their life, against the local Graph server: the
/// notifications reach a local receiver that does what Mailroom's web route does (the validation
/// handshake, then the inbox), so the subscription, its renewal and the lifecycle events are real.
@Suite(.enabled(if: ExchangeServers.available)) struct GraphLifecycleTests {
    /// Runs a notification receiver on a free loopback port for the duration of `body`.
    static func withReceiver(_ inbox: ExchangeNotificationInbox, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("exchange/graph/notifications/:accountId") { request, context -> Response in
            if let token = request.uri.queryParameters.get("validationToken") {
                return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: token)))
            }
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            inbox.deliver(accountId: context.parameters.get("accountId") ?? "", body: Array(buffer.readableBytesView))
            return Response(status: .accepted)
        }
        try await withLoopbackServer(router, label: "graph-notifications", body)
    }

    /// The mailbox's subscriptions as the server has them.
    static func subscriptions(_ mailbox: String) async throws -> [[String: Any]] {
        let answer = try await ExchangeServers.control(.GET, "/notifications") as? [String: Any]
        return (answer?["subscriptions"] as? [[String: Any]] ?? []).filter {
            ($0["resource"] as? String)?.lowercased().contains(mailbox.lowercased()) == true
        }
    }

    static func waitFor(_ what: String, seconds: Double = 30, _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting for \(what)")
    }

    /// Runs the source's push for `mailbox` with the given subscription lifetime, counting wake-ups.
    static func withPush(_ mailbox: String, lifetime: TimeInterval = 3 * 86_400, renewBefore: TimeInterval = 2 * 86_400,
                         _ body: @escaping @Sendable (_ wakes: @escaping @Sendable () -> Int) async throws -> Void) async throws {
        let inbox = ExchangeNotificationInbox()
        try await withReceiver(inbox) { port in
            var push = GraphPush(publicBaseURL: "http://127.0.0.1:\(port)/", inbox: inbox)
            push.lifetime = lifetime
            push.renewBefore = renewBefore
            let token = try ExchangeServers.token()
            let client = GraphClient(baseURL: try ExchangeServers.graphURL(), mailbox: mailbox, acceptAnyCertificate: true) { _ in "Bearer \(token)" }
            let source = GraphMailboxSource(client: client, folder: "INBOX", push: push)
            let wakes = Mutex(0)
            let task = Task { await source.push(wake: { wakes.withLock { $0 += 1 } }, logger: quietLogger, accountId: "acct\(UUID().uuidString.filter(\.isLetter))") }
            defer { task.cancel() }
            try await body { wakes.withLock { $0 } }
            task.cancel()
            await task.value
        }
    }

    static func lifecycle(_ id: String, _ event: String) async throws {
        try await ExchangeServers.control(.POST, "/subscriptions/\(id)/lifecycle", ["event": event])
    }

    @Test func lifecycleNotificationsAreFollowed() async throws {
        let mailbox = ExchangeServers.newMailbox()
        _ = try await ExchangeServers.messages(in: mailbox)  // the mailbox exists before the subscription
        try await Self.withPush(mailbox) { wakes in
            try await Self.waitFor("the subscription") { try await Self.subscriptions(mailbox).count == 1 }
            let first = try #require(try await Self.subscriptions(mailbox).first)
            let id = try #require(first["id"] as? String)
            let firstExpiry = try #require((first["expirationDateTime"] as? String).flatMap(GraphDate.parse))
            #expect(firstExpiry.timeIntervalSinceNow > 2.9 * 86_400, "asked for three days")

            // missed: a round at once, to find what the notifications did not say.
            let before = wakes()
            try await Self.lifecycle(id, "missed")
            try await Self.waitFor("a wake-up after missed") { wakes() > before }

            // reauthorizationRequired: the same subscription renewed (its expiry moves on).
            try await Task.sleep(for: .milliseconds(1_100))  // expiry times have whole seconds
            try await Self.lifecycle(id, "reauthorizationRequired")
            try await Self.waitFor("the renewal after reauthorizationRequired") {
                let now = try await Self.subscriptions(mailbox)
                return now.count == 1 && now[0]["id"] as? String == id
                    && ((now[0]["expirationDateTime"] as? String).flatMap(GraphDate.parse) ?? firstExpiry) > firstExpiry
            }

            // subscriptionRemoved: a new subscription, and a round for what came meanwhile.
            let beforeRemoval = wakes()
            try await Self.lifecycle(id, "subscriptionRemoved")
            try await Self.waitFor("a new subscription after subscriptionRemoved") {
                let now = try await Self.subscriptions(mailbox)
                return now.count == 1 && now[0]["id"] as? String != id
            }
            #expect(wakes() > beforeRemoval)
        }
        #expect(try await Self.subscriptions(mailbox).isEmpty, "the subscription is deleted when the fetcher stops")
    }

    @Test func theSubscriptionIsRenewedBeforeItExpires() async throws {
        let mailbox = ExchangeServers.newMailbox()
        _ = try await ExchangeServers.messages(in: mailbox)
        // Lives 60 s, renewed when less than 58 s are left: about two seconds after each renewal.
        try await Self.withPush(mailbox, lifetime: 60, renewBefore: 58) { _ in
            try await Self.waitFor("the subscription") { try await Self.subscriptions(mailbox).count == 1 }
            let first = try #require(try await Self.subscriptions(mailbox).first)
            let id = try #require(first["id"] as? String)
            let firstExpiry = try #require((first["expirationDateTime"] as? String).flatMap(GraphDate.parse))
            try await Self.waitFor("two renewals", seconds: 30) {
                let now = try await Self.subscriptions(mailbox)
                let expiry = (now.first?["expirationDateTime"] as? String).flatMap(GraphDate.parse) ?? firstExpiry
                return now.count == 1 && now[0]["id"] as? String == id && expiry >= firstExpiry.addingTimeInterval(3)
            }
        }
    }
}
