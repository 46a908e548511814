import Foundation
import Hummingbird
import MailroomCore

/// The routing rules' screens: the ordered list of an account's (or the global) rules, and one rule's form.
extension WebSite {
    func ruleList(_ request: Request, _ context: MailroomRequestContext) async throws -> Response {
        let session = try self.session(request, context, role: .supervisor)
        let accountId = request.uri.queryParameters["accountId"].map(String.init).flatMap { $0.isEmpty || $0 == "global" ? nil : $0 }
        let rules = try await store.rules.list(accountId: accountId)
        let rows = rules.map { rule in
            RuleListView.Row(
                id: rule.id, name: rule.name, enabled: rule.enabled, match: rule.match.rawValue,
                conditions: rule.conditions.map { condition -> String in
                    let value: String = switch condition.value {
                    case .text(let text): "“\(text)”"
                    case .flag(let flag): flag ? "true" : "false"
                    case .businessHours(let state, _): "business hours \(state.rawValue)"
                    }
                    return "\(condition.field) \(condition.operator.rawValue) \(value)"
                }.joined(separator: rule.match == .all ? " and " : " or "),
                actions: rule.actions.map(\.type.rawValue).joined(separator: ", "))
        }
        return try render(page(session, title: "Rules", section: "rules", RuleListView(
            rules: rows, empty: rows.isEmpty, accountId: accountId,
            accounts: try await accountChoices(selected: accountId))))
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
        func conditionRow(_ condition: RuleCondition?) -> RuleFormView.Condition {
            let field = condition.map { "\($0.field)" } ?? "subject"
            let value: String = switch condition?.value {
            case .text(let text)?: text
            case .flag(let flag)?: flag ? "true" : "false"
            case .businessHours?: Self.storedValueJSON(condition)
            case nil: ""
            }
            var fieldOptions = fields.map { OptionView(value: $0, selected: $0 == field) }
            if field.hasPrefix("header:") { fieldOptions.append(OptionView(value: field, selected: true)) }
            return RuleFormView.Condition(fields: fieldOptions, operators: Self.options(RuleOperator.self, selected: condition?.operator ?? .contains),
                                          value: value)
        }
        func actionRow(_ action: RuleAction?) -> RuleFormView.Action {
            let json = (try? action.map { try JSONValue(encoding: $0) }) ?? nil
            func text(_ key: String) -> String { if case .string(let value)? = json?[key] { return value }; return "" }
            var timeout = ""
            if case .number(let number)? = json?["timeoutSeconds"] { timeout = String(Int(number)) }
            return RuleFormView.Action(
                types: Self.options(RuleActionType.self, selected: action?.type ?? .queue),
                queues: queues.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == text("queueId")) },
                users: users.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == text("userId")) },
                templates: templates.map { NamedChoiceView(id: $0.id, name: $0.key, selected: $0.id == text("templateId")) },
                dispositions: dispositions.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == text("dispositionId")) },
                rules: otherRules.map { NamedChoiceView(id: $0.id, name: $0.name, selected: $0.id == text("ruleId")) },
                priorities: Self.options(TicketPriority.self, selected: TicketPriority(rawValue: text("priority"))),
                modes: Self.options(AutoReplyMode.self, selected: AutoReplyMode(rawValue: text("mode"))),
                recipients: Self.options(AutoReplyRecipients.self, selected: AutoReplyRecipients(rawValue: text("recipients"))),
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
            backURL: "/admin/rules" + (rule.accountId.map { "?accountId=\($0)" } ?? ""))))
    }
}

extension WebSite {
    /// A condition's value as the JSON it is stored as (a business-hours calendar), for the value box.
    static func storedValueJSON(_ condition: RuleCondition?) -> String {
        guard let condition, let stored = try? JSONValue(encoding: condition), let value = stored["value"] else { return "" }
        return JSONCoding.text(value) ?? ""
    }
}

extension RoutingRule {
    /// A new rule's starting point in the form.
    static var blank: RoutingRule { RoutingRule(accountId: nil, name: "", actions: []) }
}
