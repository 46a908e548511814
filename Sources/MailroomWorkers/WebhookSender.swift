import ExchangeClient
import Foundation
import NIOHTTP1
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MailroomCore
import Metrics
import ServiceLifecycle

/// Posts the webhook deliveries rules created: claims due rows under a lease, POSTs each payload
/// as JSON, and applies `WebhookRetryPolicy` to the answer. A receiver that is down gets the events
/// later; one that refuses (4xx) is not pestered.
public final class WebhookSender: Service, Sendable {
    /// Sends one request; replaceable in tests.
    public typealias Transport = @Sendable (URLRequest) async throws -> Int

    private let store: Repositories
    private let logger: Logger
    private let owner: String
    private let policy: WebhookRetryPolicy
    private let transport: Transport
    private let polling: PeriodicWork<ContinuousClock>
    static let requestTimeout: TimeInterval = 10

    public init(store: some RepositoryProvider, logger: Logger, owner: String = ProcessInfo.processInfo.hostName,
                policy: WebhookRetryPolicy = WebhookRetryPolicy(), pollInterval: Duration = .seconds(2),
                transport: @escaping Transport = WebhookSender.post) {
        self.store = store.repositories
        self.logger = logger
        self.owner = owner
        self.policy = policy
        self.transport = transport
        polling = PeriodicWork(every: pollInterval)
    }

    /// Looks for due deliveries now (a rule just created one).
    public func wake() { polling.wake() }

    public func run() async throws {
        await polling.run(shutdown: .finishRound) {
            while await self.sendDue() > 0, !Task.isCancelled {}
        }
    }

    /// Claims and posts one batch, a few at a time; returns how many it took.
    @discardableResult
    public func sendDue(now: Date = Date()) async -> Int {
        let batch: [WebhookDelivery]
        do {
            batch = try await store.webhooks.claimDue(owner: owner, limit: 20, leaseSeconds: Self.requestTimeout * 3, now: now)
        } catch {
            logger.error("cannot read due webhook deliveries", metadata: ["error": "\(error)"])
            return 0
        }
        await withTaskGroup(of: Void.self) { group in
            for delivery in batch {
                group.addTask { await self.attempt(delivery) }
            }
        }
        return batch.count
    }

    private func attempt(_ delivery: WebhookDelivery) async {
        let result: WebhookAttemptResult
        do {
            let secrets: [Secret]
            do {
                secrets = try await store.webhookEndpoints.signingSecrets(url: delivery.url)
            } catch {
                // Never post unsigned what should be signed: wait until the key is mended.
                throw WebhookRequestError(description: "the webhook's signing secret cannot be read: \(error)")
            }
            result = .status(try await transport(try Self.request(for: delivery, secrets: secrets)))
        } catch let error as WebhookRequestError {
            result = .transportError(error.description)
        } catch {
            result = .transportError(Self.describe(error))
        }
        let verdict = policy.verdict(result, attempts: delivery.attempts + 1, now: Date())
        Counter(label: "mailroom_webhook_attempts_total", dimensions: [("outcome", Self.outcomeName(verdict))]).increment()
        switch verdict {
        case .delivered: break
        case .retry(let at, let reason):
            logger.info("webhook delivery will be retried",
                        metadata: ["delivery": "\(delivery.id)", "reason": "\(reason)", "next": "\(at)"])
        case .giveUp(let reason):
            logger.warning("webhook delivery failed for good", metadata: ["delivery": "\(delivery.id)", "reason": "\(reason)"])
        }
        do {
            try await store.webhooks.record(id: delivery.id, owner: owner, result: result, verdict: verdict)
        } catch {
            logger.error("cannot record a webhook attempt", metadata: ["delivery": "\(delivery.id)", "error": "\(error)"])
        }
    }

    static func outcomeName(_ verdict: WebhookVerdict) -> String {
        switch verdict {
        case .delivered: "delivered"
        case .retry: "retry"
        case .giveUp: "failed"
        }
    }

    /// The POST for a delivery: its payload as JSON, with headers naming the event and the
    /// delivery (receivers use the id to drop a repeat after a lost answer), signed with `secrets`
    /// at `now` (each attempt anew, so a retry hours later is not taken for a replay).
    static func request(for delivery: WebhookDelivery, secrets: [Secret] = [], now: Date = Date()) throws -> URLRequest {
        guard let url = URL(string: delivery.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host != nil else {
            throw WebhookRequestError(description: "the webhook URL is not an http(s) URL")
        }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: requestTimeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Mailroom-Webhook/1", forHTTPHeaderField: "User-Agent")
        request.setValue(delivery.event, forHTTPHeaderField: "X-Mailroom-Event")
        request.setValue(delivery.id, forHTTPHeaderField: "X-Mailroom-Delivery")
        let body = try JSONCoding.encoder.encode(delivery.payload)
        request.httpBody = body
        if !secrets.isEmpty {
            let signature = WebhookSignature.sign(body: body, timestamp: Int64(now.timeIntervalSince1970.rounded(.down)), secrets: secrets)
            request.setValue(signature, forHTTPHeaderField: WebhookSignature.header)
        }
        return request
    }

    /// Posts through the process's shared HTTP client (no cookies, no cache, redirects not
    /// followed); returns the HTTP status. The request is described as a URLRequest, the value tests look at.
    @Sendable public static func post(_ request: URLRequest) async throws -> Int {
        guard let url = request.url?.absoluteString else { throw WebhookRequestError(description: "the webhook URL is missing") }
        var headers = HTTPHeaders()
        for (name, value) in request.allHTTPHeaderFields ?? [:] { headers.add(name: name, value: value) }
        // The answer's body is not used: a little is read so the connection can be reused.
        return try await SharedHTTP.send(method: .POST, url: url, headers: headers, body: request.httpBody.map(Array.init),
                                         timeout: .seconds(requestTimeout), maxBodyBytes: 64 * 1024).status
    }

    /// Network errors as text a person can act on, without the URL's user-info part.
    static func describe(_ error: any Error) -> String {
        if let error = error as? ExchangeError {
            if error.kind == .unknownHost { return "the webhook host name could not be resolved" }
            switch error.transport {
            case .refused?: return "the webhook receiver refused the connection"
            case .timedOut?: return "the webhook receiver did not answer within \(Int(requestTimeout)) seconds"
            case .closed?: return "the webhook receiver closed the connection before answering"
            case .tls?: return "the TLS connection to the webhook receiver failed (certificate or handshake)"
            case nil: return "the webhook could not be posted: \(error.message)"
            }
        }
        if error is SharedHTTP.BodyTooLarge { return "the webhook receiver answered with more than 64 KB" }
        let nsError = error as NSError
        if nsError.domain == NSURLErrorDomain {
            switch nsError.code {
            case NSURLErrorTimedOut: return "the webhook receiver did not answer within \(Int(requestTimeout)) seconds"
            case NSURLErrorCannotConnectToHost: return "the webhook receiver refused the connection"
            case NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed: return "the webhook host name could not be resolved"
            case NSURLErrorSecureConnectionFailed, NSURLErrorServerCertificateUntrusted, NSURLErrorServerCertificateHasBadDate,
                 NSURLErrorServerCertificateNotYetValid, NSURLErrorServerCertificateHasUnknownRoot:
                return "the TLS connection to the webhook receiver failed (certificate or handshake)"
            case NSURLErrorNetworkConnectionLost: return "the webhook receiver closed the connection before answering"
            default: return "the webhook could not be posted (network error \(nsError.code))"
            }
        }
        return "the webhook could not be posted"
    }
}

struct WebhookRequestError: Error, CustomStringConvertible {
    let description: String
}

/// The JSON a rule's webhook receives when it fires on a ticket.
public enum WebhookPayload {
    public static let ticketRouted = "ticket.routed"

    public static func ticketRouted(ticket: Ticket, message: TicketMessage, ruleIds: [String], at now: Date = Date()) -> JSONValue {
        var messageJSON = (try? JSONValue(encoding: message)) ?? .null
        // The receiver gets what a rule saw, not the raw mail or its HTML, which can be large.
        if case .object(var fields) = messageJSON {
            fields["html"] = nil
            if case .string(let text)? = fields["text"], text.count > 20_000 { fields["text"] = .string(String(text.prefix(20_000))) }
            messageJSON = .object(fields)
        }
        return .object([
            "event": .string(ticketRouted),
            "occurredAt": .string(ISO8601.format(now)),
            "ticket": (try? JSONValue(encoding: ticket)) ?? .null,
            "message": messageJSON,
            "ruleIds": .array(ruleIds.map(JSONValue.string)),
        ])
    }
}
