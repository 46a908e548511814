import Foundation

/// Storage of accounts. Implementations enforce unique keys and names among accounts not deleted.
public protocol AccountRepository: Sendable {
    /// Stores a new account, assigning its id and timestamps.
    func create(_ account: Account) async throws -> Account
    func update(_ account: Account) async throws -> Account
    func find(id: String) async throws -> Account?
    func find(key: String) async throws -> Account?
    func list(includeDeleted: Bool) async throws -> [Account]
    /// Marks the account deleted (it stops fetching and sending; its tickets stay readable)
    /// and disables what used it: other accounts' outgoing mapping to it, its dispositions and canned answers.
    func delete(id: String, at date: Date) async throws
}

public protocol UserRepository: Sendable {
    func create(_ user: User, passwordHash: String?) async throws -> User
    /// Changes the user; a nil `passwordHash` keeps the current password.
    func update(_ user: User, passwordHash: String?) async throws -> User
    func find(id: String) async throws -> User?
    func find(email: String) async throws -> User?
    func passwordHash(userId: String) async throws -> String?
    func list() async throws -> [User]
    func count() async throws -> Int
}

public protocol TokenRepository: Sendable {
    func create(_ token: APIToken, hash: String) async throws -> APIToken
    /// The token and its active user for a token hash, if the token exists and has not expired.
    func lookup(hash: String, now: Date) async throws -> (APIToken, User)?
    func list(userId: String) async throws -> [APIToken]
    func delete(id: String) async throws
}

public protocol DispositionRepository: Sendable {
    func create(_ disposition: Disposition) async throws -> Disposition
    func update(_ disposition: Disposition) async throws -> Disposition
    func find(id: String) async throws -> Disposition?
    /// Global ones and, when `accountId` is given, that account's.
    func list(accountId: String?) async throws -> [Disposition]
    func delete(id: String) async throws
}

public protocol CannedAnswerRepository: Sendable {
    func create(_ answer: CannedAnswer) async throws -> CannedAnswer
    func update(_ answer: CannedAnswer) async throws -> CannedAnswer
    func find(id: String) async throws -> CannedAnswer?
    func list(accountId: String?) async throws -> [CannedAnswer]
    func delete(id: String) async throws
}

public protocol SettingsRepository: Sendable {
    func globalSettings() async throws -> GlobalSettings
    func save(_ settings: GlobalSettings) async throws
}

/// Every store the web layer and the workers use, as the protocols above and beside them; what
/// stands behind them (SQLite, PostgreSQL, memory) is chosen once, where the application is put
/// together.
public struct Repositories: Sendable {
    public var accounts: any AccountRepository
    public var oauth2: any OAuth2GrantRepository
    public var users: any UserRepository
    public var tokens: any TokenRepository
    public var sessions: any SessionRepository
    public var people: any PeopleRepository
    public var settings: any SettingsRepository
    public var dispositions: any DispositionRepository
    public var cannedAnswers: any CannedAnswerRepository
    public var templates: any TemplateRepository
    public var rules: any RuleRepository
    public var routing: any RoutingRepository
    public var tickets: any TicketRepository
    public var ingest: any IngestRepository
    public var fetchState: any FetchStateRepository
    public var quarantine: any QuarantineRepository
    public var rawMail: any RawMailRepository
    public var outbox: any OutboxRepository
    public var webhooks: any WebhookDeliveryRepository
    public var webhookEndpoints: any WebhookEndpointRepository
    public var reports: any ReportRepository

    public init(accounts: any AccountRepository, oauth2: any OAuth2GrantRepository, users: any UserRepository,
                tokens: any TokenRepository, sessions: any SessionRepository, people: any PeopleRepository,
                settings: any SettingsRepository,
                dispositions: any DispositionRepository, cannedAnswers: any CannedAnswerRepository,
                templates: any TemplateRepository, rules: any RuleRepository, routing: any RoutingRepository,
                tickets: any TicketRepository, ingest: any IngestRepository, fetchState: any FetchStateRepository,
                quarantine: any QuarantineRepository, rawMail: any RawMailRepository, outbox: any OutboxRepository,
                webhooks: any WebhookDeliveryRepository, webhookEndpoints: any WebhookEndpointRepository,
                reports: any ReportRepository) {
        self.accounts = accounts
        self.oauth2 = oauth2
        self.users = users
        self.tokens = tokens
        self.sessions = sessions
        self.people = people
        self.settings = settings
        self.dispositions = dispositions
        self.cannedAnswers = cannedAnswers
        self.templates = templates
        self.rules = rules
        self.routing = routing
        self.tickets = tickets
        self.ingest = ingest
        self.fetchState = fetchState
        self.quarantine = quarantine
        self.rawMail = rawMail
        self.outbox = outbox
        self.webhooks = webhooks
        self.webhookEndpoints = webhookEndpoints
        self.reports = reports
    }
}

/// Anything that can hand out the repositories: the SQL store, or the repositories themselves.
public protocol RepositoryProvider: Sendable {
    var repositories: Repositories { get }
}

extension Repositories: RepositoryProvider {
    public var repositories: Repositories { self }
}
