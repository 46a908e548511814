import Foundation
import Hummingbird
import Logging
import MailMessage
import MailroomCore
import MailroomStore
import MailroomWeb
import MailroomWorkers
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization

/// The composition root: opens the store, builds the HTTP server and the services, runs them in one `ServiceGroup`.
public enum MailroomApplication {
    /// The process-wide Prometheus registry; metrics can be bootstrapped only once per process.
    static let registry = PrometheusCollectorRegistry()
    private static let metricsBootstrapped = Mutex(false)

    static func bootstrapMetrics() {
        metricsBootstrapped.withLock { done in
            guard !done else { return }
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            done = true
        }
    }

    static func metricsText() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Opens the database and brings its schema up to date.
    public static func openStore(_ configuration: MailroomConfiguration, logger: Logger) async throws -> (MailroomDatabase, SQLStore) {
        let secrets = try SecretBox.load(environmentValue: configuration.secretKey, dataDirectory: configuration.dataDirectory)
        let database = try await MailroomDatabase.open(configuration.database, logger: logger)
        return (database, SQLStore(database: database, secrets: secrets, logger: logger))
    }

    /// Creates or updates the schema (`mailroom migrate`): the versions applied now, and the newest.
    public static func migrate(_ configuration: MailroomConfiguration, logger: Logger) async throws -> (applied: [Int], latest: Int) {
        let (database, _) = try await openStore(configuration, logger: logger)
        do {
            let applied = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await database.run() }
                defer { group.cancelAll() }
                return try await Migrator.migrate(database, logger: logger)
            }
            await database.close()
            return (applied, Migrator.latestVersion)
        } catch {
            await database.close()
            throw error
        }
    }

    /// A message as `mailroom parse` prints it, parsed with the limits ingest uses.
    public static func summarize(_ bytes: [UInt8]) -> MessageSummary {
        MessageSummary(MIMEMessage(parsing: bytes, options: InboundMailParser.parseOptions))
    }

    /// Ingests files through the same pipeline as fetched mail (`mailroom import`).
    public static func importMail(_ configuration: MailroomConfiguration, accountKey: String, path: String,
                                  logger: Logger) async throws -> MailImporter.Summary {
        let (database, store) = try await openStore(configuration, logger: logger)
        do {
            let summary = try await withThrowingTaskGroup(of: MailImporter.Summary?.self) { group in
                group.addTask {
                    await database.run()
                    return nil
                }
                defer { group.cancelAll() }
                try await Migrator.migrate(database, logger: logger)
                guard let account = try await store.accounts.find(key: accountKey) else {
                    throw ConfigurationError("no account has the key '\(accountKey)'")
                }
                let importer = MailImporter(pipeline: IngestPipeline(store: store.ingest, settings: store.settings, logger: logger))
                return try await importer.importPath(path, into: account)
            }
            await database.close()
            return summary
        } catch {
            await database.close()
            throw error
        }
    }

    /// Runs the server until SIGINT or SIGTERM.
    public static func serve(_ configuration: MailroomConfiguration, logger: Logger) async throws {
        bootstrapMetrics()
        let (database, store) = try await openStore(configuration, logger: logger)
        let status = AccountStatusBoard()
        let events = LiveEventHub()
        let sender = OutboxSender(store: store, logger: logger, events: events, health: database.health)
        let eventRelay = LiveEventRelay(hub: events, database: database, logger: logger)
        let webhooks = WebhookSender(store: store, logger: logger)
        let noticeComposer = ReplyComposer(store: store)
        let routingService = RoutingService(store: store, events: events, logger: logger, sendNotice: { ticket, template, account in
            _ = try await noticeComposer.composeAutoReply(ticket: ticket, template: template, recipients: [ticket.customer], account: account, headers: [])
            sender.wake()
        })
        let routing = RoutingStep(store: store, logger: logger, service: routingService, onQueued: { sender.wake() },
                                  onWebhook: { webhooks.wake() })
        let pipeline = {
            var pipeline = IngestPipeline(store: store.ingest, settings: store.settings, logger: logger,
                                          onBatchCommit: { batch in await routing.run(after: batch) })
            pipeline.health = database.health
            return pipeline
        }()
        let exchangeNotifications = ExchangeNotificationInbox()
        let fetchers = FetcherSupervisor(store: store, pipeline: pipeline, status: status, logger: logger,
                                         exchangeNotifications: exchangeNotifications)
        let composer = ReplyComposer(store: store)
        let peopleMail = PeopleMail(store: store.repositories, mailer: SystemMailer(store: store.repositories, wake: { sender.wake() }))
        OAuth2Notices.observer = SystemMailTokenNotices(live: LiveOAuth2TokenNotices(events: events), mail: peopleMail,
                                                        grants: store.accounts.oauth2, logger: logger)
        var webDependencies = WebDependencies(
            store: store, adminToken: configuration.adminToken, metricsText: metricsText, status: status,
            replay: { entry, raw, account in
                try await pipeline.process(raw, account: account, position: nil, source: "replay of quarantine entry \(entry.id)")
            },
            accountsChanged: { fetchers.wake() },
            testConnection: { account in await AccountConnectionTest.run(account, grants: store.accounts.oauth2) },
            reply: { ticketId, request, author in try await composer.composeWithWarnings(ticketId: ticketId, request: request, author: author) },
            outboxChanged: { sender.wake() },
            events: events,
            webhooksChanged: { webhooks.wake() },
            routing: routingService)
        webDependencies.oauth2HTTP = OAuth2HTTPTransport()
        webDependencies.exchangeNotifications = exchangeNotifications
        webDependencies.renderCanned = { ticketId, cannedId, author in
            try await composer.renderCanned(ticketId: ticketId, cannedAnswerId: cannedId, author: author)
        }
        webDependencies.web = configuration.web
        await OAuth2RefreshPacer.shared.setRate(configuration.oauth2RefreshRate)
        webDependencies.storageHealth = database.health
        // Shown in the log only while no administrator exists (checked once the schema is current).
        let setupCode = SetupCode.make()
        webDependencies.setupCode = setupCode
        let router = APIRouter.build(webDependencies)
        let app = Application(
            router: router,
            server: configuration.httpLimits.server,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "Mailroom"),
            services: [fetchers, sender, routingService, webhooks, eventRelay,
                       OAuth2RefreshService(store: store.accounts.oauth2, logger: logger),
                       DiskSpaceWatcher(path: configuration.dataDirectory, minimumFreeBytes: configuration.minimumFreeBytes,
                                        health: database.health, logger: logger)],
            onServerRunning: { _ in
                logger.info("mailroom is serving", metadata: [
                    "http": "\(configuration.httpHost):\(configuration.httpPort)", "database": "\(configuration.database)",
                ])
            },
            logger: logger)
        // The pool must run before the schema is migrated, and the schema must be current before the first request.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.run() }
            try await Migrator.migrate(database, logger: logger)
            if try await !SQLPeopleStore(database: database).administratorExists() {
                logger.notice("no administrator exists yet: open /setup in a browser and enter this first-run setup code",
                              metadata: ["setupCode": "\(setupCode)", "http": "\(configuration.httpHost):\(configuration.httpPort)"])
            }
            try await app.runService()
            group.cancelAll()
        }
        await database.close()
    }
}
