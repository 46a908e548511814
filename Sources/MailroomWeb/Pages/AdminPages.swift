import Foundation
import Hummingbird
import MailroomCore

/// The administrator's and supervisor's screens. They read from the store and post to the JSON API.
extension WebSite {
    func addAdminRoutes(to pages: RouterGroup<MailroomRequestContext>) {
        pages.get("admin/accounts") { request, context in try await self.accountList(request, context) }
        pages.get("admin/accounts/new") { request, context in try await self.accountForm(request, context, id: nil) }
        pages.get("admin/accounts/:id") { request, context in
            try await self.accountForm(request, context, id: try request.parameter("id", context: context))
        }
        pages.get("admin/users") { request, context in try await self.userList(request, context) }
        pages.get("admin/queues") { request, context in try await self.queueList(request, context) }
        pages.get("admin/rules") { request, context in try await self.ruleList(request, context) }
        pages.get("admin/rules/new") { request, context in try await self.ruleForm(request, context, id: nil) }
        pages.get("admin/rules/:id") { request, context in
            try await self.ruleForm(request, context, id: try request.parameter("id", context: context))
        }
        pages.get("admin/catalog") { request, context in try await self.catalog(request, context) }
        pages.get("admin/templates") { request, context in try await self.templateList(request, context) }
        pages.get("admin/settings") { request, context in try await self.settingsPage(request, context) }
        pages.get("admin/outbox") { request, context in try await self.outboxList(request, context) }
        pages.get("admin/outbox/:id") { request, context in try await self.outboxItem(request, context) }
        pages.get("admin/quarantine") { request, context in try await self.quarantineList(request, context) }
        pages.get("admin/quarantine/:id") { request, context in try await self.quarantineEntry(request, context) }
        pages.get("admin/status") { request, context in try await self.statusPage(request, context) }
    }

    static func options<T: RawRepresentable & CaseIterable>(_ type: T.Type, selected: T?) -> [OptionView] where T.RawValue == String {
        T.allCases.map { OptionView(value: $0.rawValue, selected: $0.rawValue == selected?.rawValue) }
    }

    func accountChoices(selected: String?, excluding: String? = nil) async throws -> [ChoiceView] {
        try await store.accounts.list(includeDeleted: false).filter { $0.id != excluding }.map {
            ChoiceView(id: $0.id, label: "\($0.key) · \($0.name)", selected: $0.id == selected)
        }
    }

    // MARK: Accounts

    func accountList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .admin)
        let accounts = try await store.accounts.list(includeDeleted: false)
        let rows = accounts.map { account in
            let status = dependencies.status.status(of: account.id)
            return AccountListView.Row(
                id: account.id, key: account.key, name: account.name, fromAddress: account.fromAddress,
                incoming: account.incoming.protocol == .none ? "—"
                    : "\(account.incoming.protocol.rawValue) \(Self.serverName(account.incoming.connection, protocol: account.incoming.protocol.rawValue))",
                outgoing: account.outgoing.protocol == .none ? "—"
                    : "\(account.outgoing.protocol.rawValue) \(Self.serverName(account.outgoing.connection, protocol: account.outgoing.protocol.rawValue))",
                active: account.active,
                connected: status?.connected ?? false,
                lastError: status?.lastError ?? "",
                failing: account.active && status?.health.state == .failing,
                health: status.map { $0.health.summary(formatTime: Self.displayTime) } ?? "")
        }
        return try render(page(session, title: "Accounts", section: "accounts", AccountListView(accounts: rows, empty: rows.isEmpty)))
    }

    func accountForm(_ request: Request, _ context: MailroomRequestContext, id: String?) async throws -> Response {
        let session = try self.session(request, context, role: .admin)
        var account = Account(key: "", name: "", incoming: IncomingServer(protocol: .imap), outgoing: OutgoingServer(protocol: .smtp,
                              connection: ServerConnection(security: .starttls)))
        if let id {
            guard let found = try await store.accounts.find(id: id), found.deletedAt == nil else { throw PageError.notFound("Account \(id)") }
            account = found
        }
        let creating = id == nil
        let presets = MailService.allCases.reduce(into: [String: AccountFormView.Preset]()) { map, service in
            guard let preset = ServicePreset.forService(service) else { return }
            map[service.rawValue] = AccountFormView.Preset(
                incomingHost: preset.imap.host, incomingPort: preset.imap.port, incomingSecurity: preset.imap.security.rawValue,
                outgoingHost: preset.smtp.host, outgoingPort: preset.smtp.port, outgoingSecurity: preset.smtp.security.rawValue)
        }
        let presetJSON = JSONCoding.text(presets) ?? "{}"
        let retry = account.retry
        let policies = DeliveryErrorClass.allCases.map { errorClass in
            let chosen = retry.policy(for: errorClass)
            return AccountFormView.Policy(
                name: errorClass.rawValue, label: Self.errorClassLabel(errorClass),
                options: RetryPolicyKind.allCases.map { ChoiceView(id: $0.rawValue, label: Self.retryPolicyLabel($0), selected: $0 == chosen) },
                default: Self.retryPolicyLabel(errorClass.defaultPolicy))
        }
        let used = Set(account.resolvers)
        let oauth2Providers = try await store.oauth2.list()
        func server(_ connection: ServerConnection, prefix: String) -> AccountFormView.Server {
            AccountFormView.Server(
                host: connection.host, port: connection.port.map(String.init) ?? "",
                security: Self.options(ConnectionSecurity.self, selected: connection.security),
                acceptAnyCertificate: connection.acceptAnyCertificate,
                connectionTimeoutSeconds: connection.connectionTimeoutSeconds, authTimeoutSeconds: connection.authTimeoutSeconds,
                authMethods: Self.options(AuthMethod.self, selected: connection.auth.method),
                username: connection.auth.username, passwordSet: connection.auth.password != nil,
                oauth: AccountFormView.OAuth(
                    provider: connection.auth.oauth2?.provider ?? "outlook365", email: connection.auth.oauth2?.email ?? "",
                    clientId: connection.auth.oauth2?.clientId ?? "", tenantId: connection.auth.oauth2?.tenantId ?? "",
                    tokenURL: connection.auth.oauth2?.tokenURL ?? "", scope: connection.auth.oauth2?.scope ?? "",
                    clientSecretSet: connection.auth.oauth2?.clientSecret != nil, refreshTokenSet: connection.auth.oauth2?.refreshToken != nil),
                url: connection.url ?? "", baseURL: connection.baseURL ?? "", mailboxAddress: connection.mailboxAddress ?? "",
                prefix: prefix,
                providers: Self.providerChoices(oauth2Providers, selected: connection.auth.oauth2?.providerId),
                olderWay: connection.auth.oauth2.map { $0.providerId == nil && !$0.clientId.isEmpty } ?? oauth2Providers.isEmpty)
        }
        let canned = creating ? [] : try await store.cannedAnswers.list(accountId: account.id).filter { $0.accountId == account.id }
        let dispositions = creating ? [] : try await store.dispositions.list(accountId: account.id).filter { $0.accountId == account.id }
        let view = AccountFormView(
            creating: creating,
            accountId: account.id,
            apiURL: creating ? "/api/v1/accounts" : "/api/v1/accounts/\(account.id)",
            apiMethod: creating ? "POST" : "PUT",
            testURL: creating ? "/api/v1/accounts/test" : "/api/v1/accounts/\(account.id)/test",
            a: AccountFormView.Fields(
                key: account.key, name: account.name, fromAddress: account.fromAddress, fromName: account.fromName,
                fromNameCount: account.fromName.count,
                description: account.description, contactLists: account.contactLists.joined(separator: "\n"),
                active: account.active, markUnread: account.markUnread,
                waitForAgentSeconds: account.waitForAgentSeconds, waitForQueueSeconds: account.waitForQueueSeconds,
                subjectPrefix: account.subjectPrefix, replyTo: account.replyTo ?? "", hostname: account.hostname ?? "",
                template: account.template ?? "",
                signatureHTML: account.signature.html, beforeQuote: account.signature.beforeQuote,
                notificationSound: account.notification.sound, notificationShake: account.notification.shake,
                notificationTemplate: account.notification.template ?? "",
                transferToQueue: account.transfer.toQueue, transferToAgent: account.transfer.toAgent,
                transferTimeout: account.transfer.timeoutSeconds,
                mandatoryDisposition: account.mandatoryDisposition.enabled, pauseStatus: account.mandatoryDisposition.pauseStatus ?? "",
                maxRetryCount: retry.maxRetryCount, rateLimitRetrySeconds: retry.rateLimitRetrySeconds,
                progressiveRetryIntervalSeconds: retry.progressiveRetryIntervalSeconds,
                mailbox: account.incoming.mailbox, fetchIntervalSeconds: account.incoming.fetchIntervalSeconds,
                fetchLastDays: account.incoming.fetchLastDays.map(String.init) ?? "", deleteOnFetch: account.incoming.deleteOnFetch,
                maxMessageBytes: account.incoming.maxMessageBytes,
                sentFolder: account.outgoing.sentFolder ?? "", verp: account.outgoing.verp),
            services: MailService.allCases.map { ChoiceView(id: $0.rawValue, label: Self.serviceLabel($0), selected: $0 == account.service) },
            signInProviders: oauth2Providers.map { ChoiceView(id: $0.id, label: $0.name, selected: false) },
            hasSignInProviders: !oauth2Providers.isEmpty,
            quickPasswordSet: account.incoming.connection.auth.password != nil || account.outgoing.connection.auth.password != nil,
            openServers: creating && account.service == .custom,
            maxKeyLength: Account.maxKeyLength,
            fontFamilies: MessageFont.Family.allCases.map {
                ChoiceView(id: $0.rawValue, label: $0.label, selected: $0 == (account.font?.family ?? .default))
            },
            fontSize: account.font?.size.map(String.init) ?? "",
            fontSizeMin: MessageFont.sizeRange.lowerBound, fontSizeMax: MessageFont.sizeRange.upperBound,
            presets: presetJSON,
            incomingProtocols: Self.options(IncomingProtocol.self, selected: account.incoming.protocol),
            outgoingProtocols: Self.options(OutgoingProtocol.self, selected: account.outgoing.protocol),
            incoming: server(account.incoming.connection, prefix: "incoming"),
            outgoing: server(account.outgoing.connection, prefix: "outgoing"),
            headerFilters: account.incoming.headerFilters.map { filter in
                AccountFormView.HeaderFilterRow(
                    header: filter.header, value: filter.value, tag: filter.tag ?? "",
                    matches: Self.options(HeaderFilter.Match.self, selected: filter.match),
                    actions: Self.options(HeaderFilter.Action.self, selected: filter.action))
            },
            filterMatches: Self.options(HeaderFilter.Match.self, selected: nil),
            filterActions: Self.options(HeaderFilter.Action.self, selected: nil),
            resolvers: account.resolvers.map { AccountFormView.Resolver(name: $0.rawValue, label: Self.resolverLabel($0)) },
            bodyMarker: "{{{body}}}", braces: "{{ }}",
            notificationVariables: Self.notificationVariables.map { "{{" + $0 + "}}" }.joined(separator: ", "),
            otherResolvers: ResolverName.allCases.filter { !used.contains($0) }.map {
                AccountFormView.Resolver(name: $0.rawValue, label: Self.resolverLabel($0))
            },
            resolverLabelsJSON: JSONCoding.text(ResolverName.allCases.map { [$0.rawValue, Self.resolverLabel($0)] }) ?? "[]",
            subjectPreview: Self.sampleSubject(prefix: account.subjectPrefix),
            subjectWithPrefix: Self.sampleSubject(prefix: Self.prefixMark).replacingOccurrences(of: Self.prefixMark, with: "{prefix}"),
            subjectWithoutPrefix: Self.sampleSubject(prefix: ""),
            deletion: creating ? nil : try await deletionView(account),
            inlineImages: account.inlineImages.map {
                AccountFormView.ImageRow(contentId: $0.contentId, uploadId: $0.uploadId, filename: $0.filename)
            },
            policies: policies,
            outgoingAccounts: try await accountChoices(selected: account.outgoingAccountId, excluding: account.id),
            placeholders: Signature.placeholders.map { "{{ \($0) }}" },
            canned: canned.map { AccountFormView.Name(name: $0.name) },
            dispositions: dispositions.map { AccountFormView.Name(name: $0.name) },
            oauth2: creating ? nil : try await oauth2Section(account, providers: oauth2Providers, request: request))
        let title = creating ? "New account" : account.name
        return try render(page(session, title: title, section: "accounts", view))
    }

    /// The server as the list shows it: the host, or for Exchange the endpoint's host (Graph's, EWS's).
    static func serverName(_ connection: ServerConnection, protocol name: String) -> String {
        switch name {
        case "graph": URLComponents(string: connection.graphBaseURL)?.host ?? connection.graphBaseURL
        case "ews": URLComponents(string: connection.ewsURL)?.host ?? connection.host
        default: connection.host
        }
    }

    /// A reply's subject on a sample ticket, as ``ReplySubject`` makes it.
    static func sampleSubject(prefix: String) -> String {
        ReplySubject.make(mode: .reply, ticketSubject: "Where is my order?", ticketNumber: 1001, prefix: prefix)
    }

    static let prefixMark = "\u{1}PREFIX\u{1}"

    func deletionView(_ account: Account) async throws -> AccountFormView.DeletionView {
        let plan = AccountDeletion.plan(
            account: account, queues: try await store.routing.queues(), rules: try await store.rules.all(),
            dispositions: try await store.dispositions.list(accountId: account.id), cannedAnswers: try await store.cannedAnswers.list(accountId: account.id),
            accounts: try await store.accounts.list(includeDeleted: false), users: try await store.users.list(),
            campaigns: try await store.routing.campaigns())
        return AccountFormView.DeletionView(accountKey: account.key, items: plan.lines)
    }

    /// The Ameyo seed's names of the error classes and retry policies.
    static func errorClassLabel(_ errorClass: DeliveryErrorClass) -> String {
        switch errorClass {
        case .unidentified: "Unidentified error"
        case .addressing: "Addressing error"
        case .mailbox: "Mailbox error"
        case .mailSystem: "Mail system error"
        case .networkRouting: "Network routing error"
        case .mailDeliveryProtocol: "Mail delivery protocol error"
        case .messageContent: "Message content error"
        case .securityPolicy: "Security policy error"
        case .noSuchProvider: "No such provider"
        case .connection: "Connection error"
        case .unknownHost: "Unknown host"
        case .internal: "Internal error"
        }
    }

    static func retryPolicyLabel(_ policy: RetryPolicyKind) -> String {
        switch policy {
        case .defaultRetry: "Default retry"
        case .rateLimitRetry: "Rate limit retry"
        case .progressiveRetry: "Progressive retry"
        case .noRetry: "No retry"
        }
    }

    static func serviceLabel(_ service: MailService) -> String {
        switch service {
        case .custom: "Custom (any other server)"
        case .gmail: "Gmail"
        case .outlook365: "Outlook365"
        case .yahoo: "Yahoo"
        case .hotmail: "Hotmail"
        }
    }

    static func resolverLabel(_ resolver: ResolverName) -> String {
        switch resolver {
        case .customerPerAccount: "Single ticket for each customer from the same account"
        case .customer: "Single ticket for each customer"
        case .subject: "Single ticket of same subject"
        case .subjectAndCustomer: "Single ticket of same subject from same customer"
        case .caseId: "Case id based (replies join their thread)"
        case .subjectFromObserver: "Same subject from an observer in Cc"
        case .subjectCustomerAccount: "Same subject, customer and account"
        }
    }

    // MARK: Users

    func userList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let filter = CampaignFilterView.make("/admin/users", campaigns: try await store.routing.campaigns(), request: request)
        let users = try await store.users.list().filter { filter.chosen?.userIds.contains($0.id) ?? true }
        let presence = try await routing.presence(of: users.map(\.id))
        let rows = users.map {
            let record = presence[$0.id] ?? .offline($0.id)
            var row = UserListView.Row(id: $0.id, name: $0.name, email: $0.email, alias: $0.alias ?? "", capacity: $0.capacity, active: $0.active,
                                       roles: Self.options(Role.self, selected: $0.role), role: $0.role.rawValue,
                                       presence: record.state.rawValue + (record.reason.map { " (\($0))" } ?? ""))
            row.timeZone = $0.timeZone ?? ""
            return row
        }
        var view = UserListView(users: rows, roles: Self.options(Role.self, selected: .agent))
        view.timeZoneNames = TimeZoneName.all
        view.installationZone = try await installationTimeZone()
        view.campaignFilter = filter.view
        if session.user.role >= .admin { try await addInvitations(to: &view, users: users, session: session) }
        return try render(page(session, title: "Users and agents", section: "users", view))
    }

    // MARK: Queues

    func queueList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let filter = CampaignFilterView.make("/admin/queues", campaigns: try await store.routing.campaigns(), request: request)
        let queues = try await routing.fullQueues().filter { filter.chosen?.queueIds.contains($0.id) ?? true }
        let users = try await store.users.list().filter(\.active)
        let accounts = try await store.accounts.list(includeDeleted: false)
        let names = Dictionary(users.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let accountKeys = Dictionary(accounts.map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        /// One row per active user (ticked when a member), then the accounts the queue serves.
        func form(_ queue: AgentQueue?, prefix: String) -> QueueFormView {
            let members = Dictionary((queue?.members ?? []).map { ($0.userId, $0.priority) }, uniquingKeysWith: { a, _ in a })
            return QueueFormView(
                prefix: prefix,
                name: queue?.name ?? "",
                timeout: queue?.agentTimeoutSeconds ?? AgentQueue.defaultAgentTimeoutSeconds,
                strategies: LabelledOptionView.all(QueueStrategy.self, selected: queue?.strategy ?? .ringAll, label: \.label),
                members: users.map { user in
                    QueueFormView.Member(userId: user.id, name: user.name, email: user.email, role: user.role.rawValue,
                                         member: members[user.id] != nil, priority: members[user.id] ?? 1)
                },
                accounts: accounts.map { account in
                    QueueFormView.LinkedAccount(id: account.id, label: "\(account.key) · \(account.name)",
                                                linked: queue?.accountIds.contains(account.id) ?? false)
                },
                hasAccounts: !accounts.isEmpty)
        }
        let rows = queues.enumerated().map { index, queue in
            Merged(QueueListView.Summary(id: queue.id, strategy: queue.strategy.label.prefix(1).uppercased() + queue.strategy.label.dropFirst(),
                                         memberNames: queue.members.map { names[$0.userId] ?? $0.userId }.joined(separator: ", "),
                                         accountNames: queue.accountIds.map { accountKeys[$0] ?? $0 }.joined(separator: ", ")),
                   form(queue, prefix: "q\(index)"))
        }
        return try render(page(session, title: "Queues", section: "queues",
                               QueueListView(queues: rows, empty: rows.isEmpty, new: form(nil, prefix: "nq"), campaignFilter: filter.view)))
    }
}
