import Foundation
import Hummingbird
import MailroomCore

/// The routing rules' screens: the ordered list of an account's (or the global, or every) rules,
/// and one rule's form.
extension WebSite {
    func ruleList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let query = request.uri.queryParameters
        let saved = (query["created"] ?? query["saved"]).map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let requested = query["accountId"].map(String.init)
        // After the form saved a rule: the list it belongs to, so the new rule is in view.
        if let saved, requested == nil, let rule = try await store.rules.find(id: saved) {
            let which = query["created"] != nil ? "created" : "saved"
            return PageHeaders.redirect(to: "/admin/rules?accountId=\(PercentEncoding.component(rule.accountId ?? "global"))&\(which)=\(PercentEncoding.component(saved))")
        }
        let showAll = requested == "all"
        let accountId = requested.flatMap { $0.isEmpty || $0 == "global" || $0 == "all" ? nil : $0 }
        let rules = showAll ? try await store.rules.all() : try await store.rules.list(accountId: accountId)
        let names = try await ruleNames()
        let wording = RuleWording(names: names)
        let rows = rules.map { rule in
            RuleListView.Row(
                id: rule.id, name: rule.name, enabled: rule.enabled, summary: wording.summary(rule),
                group: rule.accountId.map { names.accounts[$0] ?? "a deleted account" } ?? "Every account",
                highlighted: rule.id == saved)
        }
        let notice = saved.flatMap { id in rules.first { $0.id == id } }.map { rule in
            "Rule “\(rule.name)” was \(query["created"] != nil ? "created" : "saved")."
        }
        return try render(page(session, title: "Rules", section: "rules", RuleListView(
            rules: rows, empty: rows.isEmpty, accountId: showAll ? "all" : accountId, showAll: showAll,
            reorderable: !showAll && rows.count > 1,
            accounts: try await accountChoices(selected: accountId), notice: notice)))
    }

    /// Names of everything a rule can refer to, for its summary.
    func ruleNames() async throws -> RuleWording.Names {
        func index<T>(_ items: [T], _ id: KeyPath<T, String>, _ name: (T) -> String) -> [String: String] {
            Dictionary(items.map { ($0[keyPath: id], name($0)) }, uniquingKeysWith: { first, _ in first })
        }
        return RuleWording.Names(
            accounts: index(try await store.accounts.list(includeDeleted: false), \.id) { "\($0.key) · \($0.name)" },
            queues: index(try await routing.queues(), \.id, \.name),
            users: index(try await store.users.list(), \.id, \.name),
            templates: index(try await store.templates.list(), \.id, \.key),
            dispositions: index(try await store.dispositions.list(accountId: nil), \.id, \.name),
            rules: index(try await store.rules.all(), \.id, \.name))
    }

    func ruleForm(_ request: Request, _ context: MailroomRequestContext, id: String?) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        var rule = RoutingRule.blank
        if let id {
            guard let found = try await store.rules.find(id: id) else { throw PageError.notFound("Rule \(id)") }
            rule = found
        } else if let accountId = request.uri.queryParameters["accountId"].map(String.init), !accountId.isEmpty, accountId != "global",
                  accountId != "all" {
            rule.accountId = accountId
        }
        let queues = try await routing.queues()
        let users = try await store.users.list().filter(\.active)
        let templates = try await store.templates.list().filter { $0.kind == .autoReply }
        let dispositions = try await store.dispositions.list(accountId: rule.accountId)
        let otherRules = try await store.rules.all().filter { $0.id != rule.id }
        let accounts = try await store.accounts.list(includeDeleted: false)
        let defaultZone = try await installationTimeZone()

        func conditionRow(_ condition: RuleCondition?) -> RuleFormView.Condition {
            var fieldName = condition.map { "\($0.field)" } ?? "subject"
            var headerName = ""
            if case .header(let name)? = condition?.field {
                fieldName = "header"
                headerName = name
            }
            var text = "", accountId: String? = nil, attachment = true, state = BusinessHoursState.open
            var calendar = BusinessHoursCalendar(timeZone: defaultZone, weekly: [:])
            switch condition?.value {
            case .text(let value)?: if condition?.field == .account { accountId = value } else { text = value }
            case .flag(let flag)?: attachment = flag
            case .businessHours(let s, let c)?: state = s; calendar = c
            case nil: break
            }
            let isNew = condition == nil
            let op = condition?.operator
            return RuleFormView.Condition(
                fields: RuleField.formChoices.map { LabelledOptionView(value: $0.value, label: $0.label, selected: $0.value == fieldName) },
                headerName: headerName,
                textOperators: LabelledOptionView.all(RuleOperator.self, selected: op ?? .contains, label: \.label),
                choiceOperators: [RuleOperator.is, .isNot].map { LabelledOptionView(value: $0.rawValue, label: $0.label, selected: $0 == op) },
                text: text,
                accounts: accounts.map { ChoiceView(id: $0.id, label: "\($0.key) · \($0.name)", selected: $0.id == accountId) },
                attachmentYes: attachment,
                timeStates: [LabelledOptionView(value: "open", label: "within business hours", selected: state == .open),
                             LabelledOptionView(value: "closed", label: "outside business hours", selected: state == .closed)],
                timeZone: calendar.timeZone,
                days: Weekday.allCases.map { day in
                    let hours = calendar.weekly[day]?.joined(separator: ", ")
                        ?? (isNew && ![.saturday, .sunday].contains(day) ? "09:00-17:00" : "")
                    return RuleFormView.Day(name: day.rawValue, label: day.rawValue.prefix(1).uppercased() + day.rawValue.dropFirst(), hours: hours)
                },
                holidays: calendar.holidays.joined(separator: ", "))
        }
        func actionRow(_ action: RuleAction?) -> RuleFormView.Action {
            let json = (try? action.map { try JSONValue(encoding: $0) }) ?? nil
            func text(_ key: String) -> String { if case .string(let value)? = json?[key] { return value }; return "" }
            var timeout = ""
            if case .number(let number)? = json?["timeoutSeconds"] { timeout = String(Int(number)) }
            return RuleFormView.Action(
                types: LabelledOptionView.all(RuleActionType.self, selected: action?.type ?? .queue, label: \.label),
                queues: queues.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == text("queueId")) },
                users: users.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == text("userId")) },
                templates: templates.map { NamedChoiceView(id: $0.id, name: $0.key, selected: $0.id == text("templateId")) },
                dispositions: dispositions.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == text("dispositionId")) },
                rules: otherRules.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == text("ruleId")) },
                priorities: Self.options(TicketPriority.self, selected: TicketPriority(rawValue: text("priority"))),
                modes: LabelledOptionView.all(AutoReplyMode.self, selected: AutoReplyMode(rawValue: text("mode")), label: \.label),
                recipients: LabelledOptionView.all(AutoReplyRecipients.self, selected: AutoReplyRecipients(rawValue: text("recipients")), label: \.label),
                tag: text("tag"), url: text("url"), timeoutSeconds: timeout)
        }
        return try render(page(session, title: id == nil ? "New rule" : "Rule \(rule.name)", section: "rules", RuleFormView(
            creating: id == nil,
            apiURL: id.map { "/api/v1/rules/\($0)" } ?? "/api/v1/rules",
            apiMethod: id == nil ? "POST" : "PUT",
            name: rule.name, enabled: rule.enabled,
            matchAll: rule.match == .all,
            accounts: try await accountChoices(selected: rule.accountId),
            campaigns: try await store.routing.campaigns().map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == rule.campaignId) },
            conditions: rule.conditions.map(conditionRow),
            actions: rule.actions.map(actionRow),
            blankCondition: conditionRow(nil),
            blankAction: actionRow(nil),
            backURL: "/admin/rules" + (rule.accountId.map { "?accountId=\($0)" } ?? ""),
            savedURL: id == nil ? "/admin/rules?created={id}" : "/admin/rules?saved={id}",
            timeZones: TimeZoneName.all)))
    }
}

extension RoutingRule {
    /// A new rule's starting point in the form.
    static var blank: RoutingRule { RoutingRule(accountId: nil, name: "", actions: []) }
}
