import Foundation
import Hummingbird
import MailroomCore
import MailroomStore

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
        pages.get("admin/status") { request, context in try await self.statusPage(request, context) }
    }

    static func options<T: RawRepresentable & CaseIterable>(_ type: T.Type, selected: T?) -> [[String: Any]] where T.RawValue == String {
        T.allCases.map { ["value": $0.rawValue, "selected": $0.rawValue == selected?.rawValue] }
    }

    func accountChoices(selected: String?, excluding: String? = nil) async throws -> [[String: Any]] {
        try await store.accounts.list(includeDeleted: false).filter { $0.id != excluding }.map {
            ["id": $0.id, "label": "\($0.key) · \($0.name)", "selected": $0.id == selected]
        }
    }

    // MARK: Accounts

    func accountList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .admin)
        let accounts = try await store.accounts.list(includeDeleted: false)
        let rows: [[String: Any]] = accounts.map { account in
            let status = dependencies.status.status(of: account.id)
            return [
                "id": account.id, "key": account.key, "name": account.name, "fromAddress": account.fromAddress,
                "incoming": account.incoming.protocol == .none ? "—" : "\(account.incoming.protocol.rawValue) \(account.incoming.connection.host)",
                "outgoing": account.outgoing.protocol == .none ? "—" : "\(account.outgoing.protocol.rawValue) \(account.outgoing.connection.host)",
                "active": account.active,
                "connected": status?.connected ?? false,
                "lastError": status?.lastError ?? "",
            ]
        }
        return try render("admin/accounts", page(session, title: "Accounts", section: "accounts", ["accounts": rows, "empty": rows.isEmpty]))
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
        let presets = MailService.allCases.reduce(into: [String: [String: Any]]()) { map, service in
            guard let preset = ServicePreset.forService(service) else { return }
            map[service.rawValue] = [
                "incoming.host": preset.imap.host, "incoming.port": preset.imap.port, "incoming.security": preset.imap.security.rawValue,
                "outgoing.host": preset.smtp.host, "outgoing.port": preset.smtp.port, "outgoing.security": preset.smtp.security.rawValue,
            ]
        }
        let presetJSON = String(decoding: (try? JSONSerialization.data(withJSONObject: presets, options: [.sortedKeys])) ?? Data("{}".utf8),
                                as: UTF8.self)
        let retry = account.retry
        let policies: [[String: Any]] = DeliveryErrorClass.allCases.map { errorClass in
            [
                "name": errorClass.rawValue,
                "options": Self.options(RetryPolicyKind.self, selected: retry.policy(for: errorClass)),
                "default": errorClass.defaultPolicy.rawValue,
            ]
        }
        let used = Set(account.resolvers)
        let oauth2Providers = try await store.accounts.oauth2.list()
        func server(_ connection: ServerConnection, prefix: String) -> [String: Any] {
            [
                "host": connection.host, "port": connection.port.map(String.init) ?? "",
                "security": Self.options(ConnectionSecurity.self, selected: connection.security),
                "acceptAnyCertificate": connection.acceptAnyCertificate,
                "connectionTimeoutSeconds": connection.connectionTimeoutSeconds, "authTimeoutSeconds": connection.authTimeoutSeconds,
                "authMethods": Self.options(AuthMethod.self, selected: connection.auth.method),
                "username": connection.auth.username, "passwordSet": connection.auth.password != nil,
                "oauth": [
                    "provider": connection.auth.oauth2?.provider ?? "outlook365", "email": connection.auth.oauth2?.email ?? "",
                    "clientId": connection.auth.oauth2?.clientId ?? "", "tenantId": connection.auth.oauth2?.tenantId ?? "",
                    "tokenURL": connection.auth.oauth2?.tokenURL ?? "", "scope": connection.auth.oauth2?.scope ?? "",
                    "clientSecretSet": connection.auth.oauth2?.clientSecret != nil, "refreshTokenSet": connection.auth.oauth2?.refreshToken != nil,
                ] as [String: Any],
                "prefix": prefix,
                "providers": Self.providerChoices(oauth2Providers, selected: connection.auth.oauth2?.providerId),
                "olderWay": connection.auth.oauth2.map { $0.providerId == nil && !$0.clientId.isEmpty } ?? oauth2Providers.isEmpty,
            ]
        }
        let canned = creating ? [] : try await store.cannedAnswers.list(accountId: account.id).filter { $0.accountId == account.id }
        let dispositions = creating ? [] : try await store.dispositions.list(accountId: account.id).filter { $0.accountId == account.id }
        let data: [String: Any] = [
            "creating": creating,
            "accountId": account.id,
            "apiURL": creating ? "/api/v1/accounts" : "/api/v1/accounts/\(account.id)",
            "apiMethod": creating ? "POST" : "PUT",
            "testURL": creating ? "/api/v1/accounts/test" : "/api/v1/accounts/\(account.id)/test",
            "a": [
                "key": account.key, "name": account.name, "fromAddress": account.fromAddress, "fromName": account.fromName,
                "fromNameCount": account.fromName.count,
                "description": account.description, "contactLists": account.contactLists.joined(separator: "\n"),
                "active": account.active, "markUnread": account.markUnread,
                "waitForAgentSeconds": account.waitForAgentSeconds, "waitForQueueSeconds": account.waitForQueueSeconds,
                "subjectPrefix": account.subjectPrefix, "replyTo": account.replyTo ?? "", "hostname": account.hostname ?? "",
                "template": account.template ?? "",
                "signatureHTML": account.signature.html, "beforeQuote": account.signature.beforeQuote,
                "notificationSound": account.notification.sound, "notificationShake": account.notification.shake,
                "notificationTemplate": account.notification.template ?? "",
                "transferEnabled": account.transfer.enabled, "transferTimeout": account.transfer.timeoutSeconds,
                "mandatoryDisposition": account.mandatoryDisposition.enabled, "pauseStatus": account.mandatoryDisposition.pauseStatus ?? "",
                "maxRetryCount": retry.maxRetryCount, "rateLimitRetrySeconds": retry.rateLimitRetrySeconds,
                "progressiveRetryIntervalSeconds": retry.progressiveRetryIntervalSeconds,
                "mailbox": account.incoming.mailbox, "fetchIntervalSeconds": account.incoming.fetchIntervalSeconds,
                "fetchLastDays": account.incoming.fetchLastDays.map(String.init) ?? "", "deleteOnFetch": account.incoming.deleteOnFetch,
                "maxMessageBytes": account.incoming.maxMessageBytes,
                "sentFolder": account.outgoing.sentFolder ?? "", "verp": account.outgoing.verp,
            ] as [String: Any],
            "services": Self.options(MailService.self, selected: account.service),
            "presets": presetJSON,
            "incomingProtocols": Self.options(IncomingProtocol.self, selected: account.incoming.protocol),
            "outgoingProtocols": Self.options(OutgoingProtocol.self, selected: account.outgoing.protocol),
            "incoming": server(account.incoming.connection, prefix: "incoming"),
            "outgoing": server(account.outgoing.connection, prefix: "outgoing"),
            "headerFilters": account.incoming.headerFilters.map { filter in
                [
                    "header": filter.header, "value": filter.value, "tag": filter.tag ?? "",
                    "matches": Self.options(HeaderFilter.Match.self, selected: filter.match),
                    "actions": Self.options(HeaderFilter.Action.self, selected: filter.action),
                ] as [String: Any]
            },
            "filterMatches": Self.options(HeaderFilter.Match.self, selected: nil),
            "filterActions": Self.options(HeaderFilter.Action.self, selected: nil),
            "resolvers": account.resolvers.map { resolver in
                ["options": ResolverName.allCases.map { ["name": $0.rawValue, "label": Self.resolverLabel($0), "selected": $0 == resolver] }]
            },
            "bodyMarker": "{{{body}}}", "braces": "{{ }}",
            "notificationVariables": Self.notificationVariables.map { "{{" + $0 + "}}" }.joined(separator: ", "),
            "otherResolvers": ResolverName.allCases.filter { !used.contains($0) }.map { ["name": $0.rawValue, "label": Self.resolverLabel($0)] },
            "allResolvers": ResolverName.allCases.map { ["name": $0.rawValue, "label": Self.resolverLabel($0)] },
            "policies": policies,
            "outgoingAccounts": try await accountChoices(selected: account.outgoingAccountId, excluding: account.id),
            "placeholders": ["{{ agent.name }}", "{{ agent.alias }}", "{{ account.name }}", "{{ account.fromAddress }}",
                             "{{ ticket.number }}", "{{ ticket.subject }}", "{{ customer.name }}", "{{ customer.address }}"],
            "canned": canned.map { ["name": $0.name] },
            "dispositions": dispositions.map { ["name": $0.name] },
            "oauth2": creating ? [:] : try await oauth2Section(account, providers: oauth2Providers, request: request),
        ]
        let title = creating ? "New account" : "Account \(account.key)"
        return try render("admin/account", page(session, title: title, section: "accounts", data))
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
        let users = try await store.users.list()
        let presence = try await routing.presence(of: users.map(\.id))
        let rows: [[String: Any]] = users.map {
            let record = presence[$0.id] ?? .offline($0.id)
            return ["id": $0.id, "name": $0.name, "email": $0.email, "alias": $0.alias ?? "", "capacity": $0.capacity, "active": $0.active,
                    "roles": Self.options(Role.self, selected: $0.role), "role": $0.role.rawValue,
                    "presence": record.state.rawValue + (record.reason.map { " (\($0))" } ?? "")]
        }
        return try render("admin/users", page(session, title: "Users and agents", section: "users", [
            "users": rows, "roles": Self.options(Role.self, selected: .agent),
        ]))
    }

    // MARK: Queues

    func queueList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let queues = try await routing.fullQueues()
        let users = try await store.users.list().filter(\.active)
        let accounts = try await store.accounts.list(includeDeleted: false)
        let names = Dictionary(users.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let accountKeys = Dictionary(accounts.map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        /// One row per active user (ticked when a member), then the accounts the queue serves.
        func formData(_ queue: AgentQueue?, prefix: String) -> [String: Any] {
            let members = Dictionary((queue?.members ?? []).map { ($0.userId, $0.priority) }, uniquingKeysWith: { a, _ in a })
            return [
                "prefix": prefix,
                "name": queue?.name ?? "",
                "timeout": queue?.agentTimeoutSeconds ?? AgentQueue.defaultAgentTimeoutSeconds,
                "strategies": Self.options(QueueStrategy.self, selected: queue?.strategy ?? .ringAll),
                "members": users.map { user in
                    ["userId": user.id, "name": user.name, "email": user.email, "role": user.role.rawValue,
                     "member": members[user.id] != nil, "priority": members[user.id] ?? 1] as [String: Any]
                },
                "accounts": accounts.map { account in
                    ["id": account.id, "label": "\(account.key) · \(account.name)",
                     "linked": queue?.accountIds.contains(account.id) ?? false] as [String: Any]
                },
                "hasAccounts": !accounts.isEmpty,
            ]
        }
        let rows: [[String: Any]] = queues.enumerated().map { index, queue in
            var row = formData(queue, prefix: "q\(index)")
            row["id"] = queue.id
            row["strategy"] = queue.strategy.rawValue
            row["memberNames"] = queue.members.map { names[$0.userId] ?? $0.userId }.joined(separator: ", ")
            row["accountNames"] = queue.accountIds.map { accountKeys[$0] ?? $0 }.joined(separator: ", ")
            return row
        }
        return try render("admin/queues", page(session, title: "Queues", section: "queues", [
            "queues": rows, "empty": rows.isEmpty,
            "new": formData(nil, prefix: "nq"),
        ]))
    }

    // MARK: Rules

    func ruleList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let accountId = request.uri.queryParameters["accountId"].map(String.init).flatMap { $0.isEmpty || $0 == "global" ? nil : $0 }
        let rules = try await store.rules.list(accountId: accountId)
        let rows: [[String: Any]] = rules.map { rule in
            [
                "id": rule.id, "name": rule.name, "enabled": rule.enabled, "match": rule.match.rawValue,
                "conditions": rule.conditions.map { condition -> String in
                    let value: String = switch condition.value {
                    case .text(let text): "“\(text)”"
                    case .flag(let flag): flag ? "true" : "false"
                    case .businessHours(let state, _): "business hours \(state.rawValue)"
                    }
                    return "\(condition.field) \(condition.operator.rawValue) \(value)"
                }.joined(separator: rule.match == .all ? " and " : " or "),
                "actions": rule.actions.map(\.type.rawValue).joined(separator: ", "),
            ]
        }
        return try render("admin/rules", page(session, title: "Rules", section: "rules", [
            "rules": rows, "empty": rows.isEmpty,
            "accountId": accountId.orNull, "accountIdJSON": accountId.map { "\"\($0)\"" } ?? "null",
            "accounts": try await accountChoices(selected: accountId),
        ]))
    }

    func ruleForm(_ request: Request, _ context: MailroomRequestContext, id: String?) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        var rule = RoutingRule.blank
        if let id {
            guard let found = try await store.rules.find(id: id) else { throw PageError.notFound("Rule \(id)") }
            rule = found
        } else if let accountId = request.uri.queryParameters["accountId"].map(String.init), !accountId.isEmpty {
            rule.accountId = accountId
        }
        let fields = ["from", "to", "cc", "subject", "body", "hasAttachment", "account", "time"]
        let queues = try await routing.queues()
        let users = try await store.users.list().filter(\.active)
        let templates = try await store.templates.list().filter { $0.kind == .autoReply }
        let dispositions = try await store.dispositions.list(accountId: rule.accountId)
        let otherRules = try await store.rules.all().filter { $0.id != rule.id }
        func conditionRow(_ condition: RuleCondition?) -> [String: Any] {
            let field = condition.map { "\($0.field)" } ?? "subject"
            let value: String = switch condition?.value {
            case .text(let text)?: text
            case .flag(let flag)?: flag ? "true" : "false"
            case .businessHours?: (try? condition.map { try JSONValue(encoding: $0) }?["value"]).flatMap { value in
                value.flatMap { try? String(decoding: JSONCoding.encoder.encode($0), as: UTF8.self) }
            } ?? ""
            case nil: ""
            }
            var fieldOptions = fields.map { ["value": $0, "selected": $0 == field] }
            if field.hasPrefix("header:") { fieldOptions.append(["value": field, "selected": true]) }
            return ["fields": fieldOptions, "operators": Self.options(RuleOperator.self, selected: condition?.operator ?? .contains), "value": value]
        }
        func actionRow(_ action: RuleAction?) -> [String: Any] {
            let json = (try? action.map { try JSONValue(encoding: $0) }) ?? nil
            func text(_ key: String) -> String { if case .string(let value)? = json?[key] { return value }; return "" }
            var timeout = ""
            if case .number(let number)? = json?["timeoutSeconds"] { timeout = String(Int(number)) }
            return [
                "types": Self.options(RuleActionType.self, selected: action?.type ?? .queue),
                "queues": queues.map { ["id": $0.id, "name": $0.name, "selected": $0.id == text("queueId")] },
                "users": users.map { ["id": $0.id, "name": $0.name, "selected": $0.id == text("userId")] },
                "templates": templates.map { ["id": $0.id, "name": $0.key, "selected": $0.id == text("templateId")] },
                "dispositions": dispositions.map { ["id": $0.id, "name": $0.name, "selected": $0.id == text("dispositionId")] },
                "rules": otherRules.map { ["id": $0.id, "name": $0.name, "selected": $0.id == text("ruleId")] },
                "priorities": Self.options(TicketPriority.self, selected: TicketPriority(rawValue: text("priority"))),
                "modes": Self.options(AutoReplyMode.self, selected: AutoReplyMode(rawValue: text("mode"))),
                "recipients": Self.options(AutoReplyRecipients.self, selected: AutoReplyRecipients(rawValue: text("recipients"))),
                "tag": text("tag"), "url": text("url"), "timeoutSeconds": timeout,
            ]
        }
        return try render("admin/rule", page(session, title: id == nil ? "New rule" : "Rule \(rule.name)", section: "rules", [
            "creating": id == nil,
            "apiURL": id.map { "/api/v1/rules/\($0)" } ?? "/api/v1/rules",
            "apiMethod": id == nil ? "POST" : "PUT",
            "name": rule.name, "enabled": rule.enabled,
            "matchAll": rule.match == .all,
            "accounts": try await accountChoices(selected: rule.accountId),
            "conditions": rule.conditions.map(conditionRow),
            "actions": rule.actions.map(actionRow),
            "blankCondition": conditionRow(nil),
            "blankAction": actionRow(nil),
            "backURL": "/admin/rules" + (rule.accountId.map { "?accountId=\($0)" } ?? ""),
        ]))
    }

    // MARK: Dispositions and canned answers

    func catalog(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let accountId = request.uri.queryParameters["accountId"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let accounts = try await store.accounts.list(includeDeleted: false)
        let keys = Dictionary(accounts.map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        let dispositions = try await store.dispositions.list(accountId: accountId)
        let answers = try await store.cannedAnswers.list(accountId: accountId)
        return try render("admin/catalog", page(session, title: "Dispositions and canned answers", section: "catalog", [
            "accounts": try await accountChoices(selected: accountId),
            "accountId": accountId ?? "",
            "braces": "{{ }}",
            "dispositions": dispositions.map { ["id": $0.id, "name": $0.name, "active": $0.active,
                                                "scope": $0.accountId.flatMap { keys[$0] } ?? "all accounts"] },
            "answers": answers.map { ["id": $0.id, "name": $0.name, "text": $0.text ?? "", "html": $0.html ?? "", "active": $0.active,
                                      "scope": $0.accountId.flatMap { keys[$0] } ?? "all accounts"] },
        ]))
    }

    // MARK: Templates and global settings

    func templateList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let templates = try await store.templates.list()
        return try render("admin/templates", page(session, title: "Templates", section: "templates", [
            "templates": templates.map {
                ["id": $0.id, "key": $0.key, "subject": $0.subject ?? "", "text": $0.text ?? "", "html": $0.html ?? "",
                 "kinds": Self.options(MessageTemplate.Kind.self, selected: $0.kind), "kind": $0.kind.rawValue]
            },
            "kinds": Self.options(MessageTemplate.Kind.self, selected: .reply),
            "example": "{{ user.name }}",
        ]))
    }

    func settingsPage(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .admin)
        let settings = try await store.settings.globalSettings()
        let accounts = try await store.accounts.list(includeDeleted: false)
        let keyed = Dictionary(accounts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let invitations = try await store.templates.list().filter { $0.kind == .invitation }
        return try render("admin/settings", page(session, title: "Settings", section: "settings", [
            "failureMailSenders": settings.failureMailSenders.joined(separator: "\n"),
            "invitationLink": settings.invitationLinkBaseAddress ?? "",
            "invitationTemplates": invitations.map { ["key": $0.key, "selected": $0.key == settings.invitationTemplateKey] },
            "mappings": accounts.filter { $0.outgoingAccountId != nil }.map {
                ["from": "\($0.key) · \($0.name)", "to": $0.outgoingAccountId.flatMap { keyed[$0] }.map { "\($0.key) · \($0.name)" } ?? "?", "id": $0.id]
            },
        ]))
    }

    // MARK: Outbox

    func outboxList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let state = request.uri.queryParameters["state"].flatMap { DeliveryState(rawValue: String($0)) }
        let items = try await store.outbox.items(state: state)
        let keys = Dictionary(try await store.accounts.list(includeDeleted: true).map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        let pageNumber = max(1, Int(request.uri.queryParameters["page"] ?? "1") ?? 1)
        let slice = items.dropFirst((pageNumber - 1) * 50).prefix(50)
        return try render("admin/outbox", page(session, title: "Outbox", section: "outbox", [
            "states": Self.options(DeliveryState.self, selected: state),
            "items": slice.map { item in
                [
                    "id": item.id, "ticketId": item.ticketId, "state": item.state.rawValue, "attempts": item.attempts,
                    "recipients": item.recipients.joined(separator: ", "), "account": keys[item.accountId] ?? "?",
                    "created": Self.displayTime(item.createdAt), "next": item.nextAttemptAt.map(Self.displayTime) ?? "—",
                    "lastError": item.lastError ?? "", "canResend": item.state == .failed || item.state == .bounced,
                ] as [String: Any]
            },
            "empty": slice.isEmpty,
            "nextPage": items.count > pageNumber * 50 ? ("/admin/outbox?page=\(pageNumber + 1)" + (state.map { "&state=\($0.rawValue)" } ?? "")) as Any : NSNull(),
        ]))
    }

    func outboxItem(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let id = try request.parameter("id", context: context)
        guard let item = try await store.outbox.item(id: id) else { throw PageError.notFound("Outbox entry \(id)") }
        let attempts = try await store.outbox.attempts(outboxId: id)
        return try render("admin/outbox-item", page(session, title: "Delivery \(id)", section: "outbox", [
            "item": [
                "id": item.id, "ticketId": item.ticketId, "state": item.state.rawValue, "attempts": item.attempts,
                "recipients": item.recipients.joined(separator: ", "), "envelopeFrom": item.envelopeFrom,
                "lastError": item.lastError ?? "", "next": item.nextAttemptAt.map(Self.displayTime) ?? "—",
                "sent": item.sentAt.map(Self.displayTime) ?? "—",
            ] as [String: Any],
            "canResend": item.state == .failed || item.state == .bounced,
            "attemptRows": attempts.map { attempt in
                [
                    "time": Self.displayTime(attempt.attemptedAt), "outcome": attempt.outcome.rawValue,
                    "code": attempt.replyCode.map(String.init) ?? "", "enhanced": attempt.enhancedStatus ?? "", "text": attempt.text,
                    "errorClass": attempt.errorClass?.rawValue ?? "", "policy": attempt.policy?.rawValue ?? "",
                    "next": attempt.nextAttemptAt.map(Self.displayTime) ?? "",
                ] as [String: Any]
            },
        ]))
    }

    // MARK: Quarantine and status

    func quarantineList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let includeReplayed = request.uri.queryParameters["includeReplayed"] == "true"
        let entries = try await store.tickets.quarantined(accountId: nil, includeReplayed: includeReplayed)
        let keys = Dictionary(try await store.accounts.list(includeDeleted: true).map { ($0.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        return try render("admin/quarantine", page(session, title: "Quarantine", section: "quarantine", [
            "includeReplayed": includeReplayed,
            "entries": entries.prefix(200).map { entry in
                [
                    "id": entry.id, "account": keys[entry.accountId] ?? "?", "reason": entry.reason.rawValue, "detail": entry.detail,
                    "from": entry.from ?? "", "subject": entry.subject ?? "", "size": Self.byteCount(entry.size),
                    "time": Self.displayTime(entry.createdAt), "replayed": entry.replayedAt != nil, "hasRaw": entry.rawSha256 != nil,
                    "leftOnServer": entry.leftOnServer,
                ] as [String: Any]
            },
            "empty": entries.isEmpty,
        ]))
    }

    func statusPage(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let accounts = try await store.accounts.list(includeDeleted: false)
        var rows: [[String: Any]] = []
        let now = Date()
        for account in accounts {
            let status = dependencies.status.status(of: account.id) ?? AccountFetchStatus(accountId: account.id)
            let lag = status.lastSuccessfulFetchAt.map { Int(now.timeIntervalSince($0)) }
            rows.append([
                "key": account.key, "name": account.name, "id": account.id, "active": account.active,
                "fetching": status.fetching, "connected": status.connected, "idle": status.idle,
                "lastFetch": status.lastSuccessfulFetchAt.map(Self.displayTime) ?? "never",
                "lag": lag.map { "\($0) s" } ?? "—",
                "lastError": status.lastError ?? "", "lastErrorAt": status.lastErrorAt.map(Self.displayTime) ?? "",
                "ingested": try await store.tickets.messageCount(accountId: account.id),
                "quarantined": try await store.tickets.quarantineCount(accountId: account.id),
            ])
        }
        return try render("admin/status", page(session, title: "Account status", section: "status", ["accounts": rows, "empty": rows.isEmpty]))
    }
}

extension RoutingRule {
    /// A new rule's starting point in the form.
    static var blank: RoutingRule { RoutingRule(accountId: nil, name: "", actions: []) }
}
