import Foundation
import Hummingbird
import Logging
import MailroomCore

/// What the HTTP layer needs from the rest of the system.
public struct WebDependencies: Sendable {
    public var store: Repositories
    /// `MAILROOM_ADMIN_TOKEN`: accepted as an administrator's token when set.
    public var adminToken: String?
    /// Prometheus text for `/metrics`.
    public var metricsText: @Sendable () -> String
    /// The fetchers' live state.
    public var status: AccountStatusBoard
    /// Runs a quarantined message through the ingest pipeline again.
    public var replay: @Sendable (QuarantinedMessage, [UInt8], Account) async throws -> IngestOutcome
    /// Tells the fetchers and senders that accounts changed, so changes apply without a restart.
    public var accountsChanged: @Sendable () -> Void
    /// Checks an account's servers step by step (the "test connection" button).
    public var testConnection: @Sendable (Account) async -> JSONValue
    /// Composes an agent's reply and queues it with its ticket update.
    public var reply: @Sendable (String, ReplyRequest, Principal) async throws -> (TicketMessage, [String])
    /// A canned answer rendered for a ticket, for the reply editor; nil answers 503.
    public var renderCanned: (@Sendable (_ ticketId: String, _ cannedAnswerId: String, Principal) async throws -> CannedAnswerRendering)?
    /// Tells the sender that the outbox has new work.
    public var outboxChanged: @Sendable () -> Void
    /// Live events for agents' screens (`GET /api/v1/events`); domain code publishes into it.
    public var events: LiveEventHub
    /// Tells the webhook sender that a delivery is due again.
    public var webhooksChanged: @Sendable () -> Void
    /// Sign-in sessions of the web application.
    public var web = WebSettings()
    /// Offers, presence, transfers and closing (the routing service); nil answers 503 for offers and ticket moves.
    public var routing: (any RoutingOperations)?
    /// Talks to OAuth2 providers (code exchange at sign-in); nil: signing in answers 503.
    public var oauth2HTTP: (any OAuth2HTTPClient)?
    /// The one-time code the first-run setup page asks for (printed in the serve log); nil: only the admin token opens it.
    public var setupCode: String?
    /// Forgotten-password requests per address and per client: three an hour for an address.
    public var resetLimiter = SignInLimiter(limits: .init(perAddress: 3, perClient: 20, window: 3_600))
    /// Hands Graph change notifications to the fetchers that subscribed; nil: the route answers 404.
    public var exchangeNotifications: ExchangeNotificationInbox?
    /// Whether the disk has room and the database answers: `/readyz`, the status page, and new work refused while the disk is full.
    public var storageHealth = StorageHealth()

    public init(store: some RepositoryProvider, adminToken: String?, metricsText: @escaping @Sendable () -> String,
                status: AccountStatusBoard = AccountStatusBoard(),
                replay: @escaping @Sendable (QuarantinedMessage, [UInt8], Account) async throws -> IngestOutcome = { _, _, _ in
                    throw APIError(.serviceUnavailable, code: "unavailable", message: "this server does not ingest mail")
                },
                accountsChanged: @escaping @Sendable () -> Void = {},
                testConnection: @escaping @Sendable (Account) async -> JSONValue = { _ in .object(["ok": .bool(false)]) },
                reply: @escaping @Sendable (String, ReplyRequest, Principal) async throws -> (TicketMessage, [String]) = { _, _, _ in
                    throw APIError(.serviceUnavailable, code: "unavailable", message: "this server does not send mail")
                },
                outboxChanged: @escaping @Sendable () -> Void = {},
                events: LiveEventHub = LiveEventHub(),
                webhooksChanged: @escaping @Sendable () -> Void = {},
                routing: (any RoutingOperations)? = nil) {
        self.store = store.repositories
        self.adminToken = adminToken
        self.metricsText = metricsText
        self.status = status
        self.replay = replay
        self.accountsChanged = accountsChanged
        self.testConnection = testConnection
        self.reply = reply
        self.outboxChanged = outboxChanged
        self.events = events
        self.webhooksChanged = webhooksChanged
        self.routing = routing
    }
}

public enum APIRouter {
    public static let basePath = "api/v1"

    public static func build(_ dependencies: WebDependencies) -> Router<MailroomRequestContext> {
        let router = Router(context: MailroomRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ErrorStatusMiddleware())
        let routeMethods = RouteMethods()
        router.add(middleware: MethodNotAllowedMiddleware(routes: routeMethods))

        router.add(middleware: DiskFullMiddleware(health: dependencies.storageHealth))

        router.get("healthz") { _, _ in
            JSONResponse(["status": "ok"])
        }
        // Readiness: 503 with the condition in words while the disk is full or the database does not answer.
        router.get("readyz") { request, context -> Response in
            guard let problem = dependencies.storageHealth.problems.first else {
                return try JSONResponse(["status": "ready"]).response(from: request, context: context)
            }
            var answer = try JSONResponse(["status": problem.reason.rawValue, "message": problem.message], status: .serviceUnavailable)
                .response(from: request, context: context)
            answer.headers[.retryAfter] = String(problem.retryAfterSeconds)
            return answer
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: dependencies.metricsText())))
        }

        let store = dependencies.store
        // One count of failed sign-ins for the API and the sign-in page, so neither doubles the tries.
        let signInLimiter = SignInLimiter(limits: dependencies.web.signInLimits)
        let peopleMail = PeopleMail(store: store, mailer: SystemMailer(store: store, wake: dependencies.outboxChanged))
        let users = UsersController(users: store.users, tokens: store.tokens, routingStore: store.routing, routing: dependencies.routing,
                                    signInLimiter: signInLimiter, peopleMail: peopleMail)
        var accounts = AccountsController(service: AccountsService(accounts: store.accounts), accounts: store.accounts,
                                          changed: dependencies.accountsChanged, testConnection: dependencies.testConnection,
                                          outboxSettingsChanged: { account in
                                              try await store.outbox.rescheduleRetries(accountId: account.id, settings: account.retry)
                                              dependencies.outboxChanged()
                                          })
        let auditTrail = store.people
        accounts.audit = { event in try? await auditTrail.record(event) }
        let (outboxStore, rawMailStore) = (store.outbox, store.rawMail)
        accounts.uploadBytes = { ids in
            var found: [String: (filename: String, bytes: [UInt8])] = [:]
            for upload in try await outboxStore.uploads(ids: ids) {
                if let bytes = try await rawMailStore.blob(sha256: upload.sha256) { found[upload.id] = (upload.filename, bytes) }
            }
            return found
        }
        let access = TicketAccess(tickets: store.tickets, routing: store.routing)
        let tickets = TicketsController(tickets: store.tickets, quarantineStore: store.quarantine, rawMail: store.rawMail, accounts: store.accounts, grants: store.oauth2, status: dependencies.status,
                                        replay: dependencies.replay, access: access, routing: dependencies.routing,
                                        events: dependencies.events, users: store.users)
        // Replies follow the same visibility as the ticket they answer.
        let reply = dependencies.reply
        let events = dependencies.events
        let visibleReply: @Sendable (String, ReplyRequest, Principal) async throws -> (TicketMessage, [String]) = { ticketId, request, principal in
            guard try await access.visibleTicket(ticketId, to: principal) != nil else { throw APIError.notFound("ticket \(ticketId)") }
            let result = try await reply(ticketId, request, principal)
            // Whoever sees the ticket sees the answer appear on it.
            if let ticket = try? await store.tickets.ticket(id: ticketId) {
                events.publish(RoutingEvents.message(ticket: ticket, messageId: result.0.id, direction: .outbound, at: Date()))
            }
            return result
        }
        let catalog = CatalogController(dispositions: store.dispositions, cannedAnswers: store.cannedAnswers,
                                        settings: store.settings, accounts: store.accounts)

        let open = router.group(RouterPath(basePath))
        open.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        users.addPublicRoutes(to: open)
        if let inbox = dependencies.exchangeNotifications { ExchangeNotificationsController(inbox: inbox).addRoutes(to: router) }

        let sessions = SessionAuthenticator(sessions: store.sessions, settings: dependencies.web)
        // Issue 27: a browser asking for an address with no page gets an HTML page, not JSON.
        if let notFound = WebPages.notFoundMiddleware(sessions: sessions) { router.add(middleware: notFound) }
        WebPages.addRoutes(to: router, dependencies: dependencies, sessions: sessions, limiter: signInLimiter)
        let api = router.group(RouterPath(basePath))
            .add(middleware: AuthMiddleware(tokens: store.tokens, adminToken: dependencies.adminToken, sessions: sessions))
        if let limit = dependencies.web.apiRateLimit { api.add(middleware: RateLimitMiddleware(limiter: RateLimiter(limit: limit))) }
        users.addRoutes(to: api)
        accounts.addRoutes(to: api)
        catalog.addRoutes(to: api)
        tickets.addRoutes(to: api)
        TemplatesController(templates: store.templates).addRoutes(to: api)
        RulesController(rules: store.rules, accounts: store.accounts, campaign: { try await store.routing.campaign(id: $0) }).addRoutes(to: api)
        WebhooksController(webhooks: store.webhooks, endpoints: store.webhookEndpoints, changed: dependencies.webhooksChanged).addRoutes(to: api)
        let routingStore = store.routing
        EventsController(hub: dependencies.events, queueMemberships: { userId in
            Set(try await routingStore.queues(memberId: userId).map(\.id))
        }, campaignAccounts: { try await routingStore.campaignAccountIds(userId: $0) }).addRoutes(to: api)
        let renderCanned = dependencies.renderCanned
        let visibleCanned: @Sendable (String, String, Principal) async throws -> CannedAnswerRendering = { ticketId, cannedId, principal in
            guard try await access.visibleTicket(ticketId, to: principal) != nil else { throw APIError.notFound("ticket \(ticketId)") }
            guard let renderCanned else {
                throw APIError(.serviceUnavailable, code: "unavailable", message: "this server does not render canned answers")
            }
            return try await renderCanned(ticketId, cannedId, principal)
        }
        OutboxController(outbox: store.outbox, reply: visibleReply, renderCanned: visibleCanned,
                         outboxChanged: dependencies.outboxChanged).addRoutes(to: api)
        QueuesController(store: store, routing: dependencies.routing).addRoutes(to: api)
        CampaignsController(store: store).addRoutes(to: api)
        ReportsController(reports: ReportService(store: store)).addRoutes(to: api)
        OAuth2Controller(dependencies: dependencies).addRoutes(to: api)
        OffersController(store: store, routing: dependencies.routing).addRoutes(to: api)
        PeopleController(store: store, mail: peopleMail).addRoutes(to: api)
        routeMethods.load(router.routes.map { (path: $0.path.description, method: $0.method.rawValue) })
        return router
    }
}
