import Foundation

/// A rule in the words of the screens: "From contains @acme.com → queue Parcels, tag vip".
/// Pure: the names of the queues, agents and other records a rule refers to come in as `Names`,
/// so the wording is tested without a store or a browser.
public struct RuleWording: Sendable {
    /// Display names by id; an id without a name is said to be missing (the record was deleted).
    public struct Names: Sendable {
        public var accounts: [String: String]
        public var queues: [String: String]
        public var users: [String: String]
        public var templates: [String: String]
        public var dispositions: [String: String]
        public var rules: [String: String]

        public init(accounts: [String: String] = [:], queues: [String: String] = [:], users: [String: String] = [:],
                    templates: [String: String] = [:], dispositions: [String: String] = [:], rules: [String: String] = [:]) {
            self.accounts = accounts
            self.queues = queues
            self.users = users
            self.templates = templates
            self.dispositions = dispositions
            self.rules = rules
        }
    }

    public let names: Names

    public init(names: Names) {
        self.names = names
    }

    /// The whole rule: its conditions, an arrow, its actions.
    public func summary(_ rule: RoutingRule) -> String {
        "\(conditions(rule)) → \(actions(rule))"
    }

    /// "Every message" for a rule without conditions; otherwise each condition joined by "and" or "or".
    public func conditions(_ rule: RoutingRule) -> String {
        guard !rule.conditions.isEmpty else { return "Every message" }
        let parts = rule.conditions.map(condition)
        let joined = parts.joined(separator: rule.match == .all ? " and " : " or ")
        return joined.prefix(1).uppercased() + joined.dropFirst()
    }

    public func actions(_ rule: RoutingRule) -> String {
        rule.actions.isEmpty ? "nothing" : rule.actions.map(action).joined(separator: ", ")
    }

    public func condition(_ condition: RuleCondition) -> String {
        let negative = condition.operator.isNegative
        switch (condition.field, condition.value) {
        case (.hasAttachment, .flag(let flag)):
            return flag != negative ? "has an attachment" : "has no attachment"
        case (.time, .businessHours(let state, let calendar)):
            let open = (state == .open) != negative
            return (open ? "within business hours" : "outside business hours") + " (\(calendar.timeZone))"
        case (.account, .text(let id)):
            return "account \(condition.operator.label) \(Self.name(names.accounts[id], missing: "a deleted account"))"
        case (_, .text(let text)):
            return "\(condition.field.label) \(condition.operator.label) \(text.isEmpty ? "(empty)" : text)"
        case (_, .flag(let flag)):
            return "\(condition.field.label) \(condition.operator.label) \(flag ? "yes" : "no")"
        case (_, .businessHours(let state, _)):
            return "\(condition.field.label) \(condition.operator.label) \(state == .open ? "business hours" : "outside business hours")"
        }
    }

    public func action(_ action: RuleAction) -> String {
        switch action {
        case .queue(let id): "queue \(Self.name(names.queues[id], missing: "a deleted queue"))"
        case .agent(let id, let timeout):
            "offer to \(Self.name(names.users[id], missing: "a deleted user"))" + (timeout.map { " (waits \($0) s)" } ?? "")
        case .tag(let tag): "tag \(tag)"
        case .priority(let priority): "priority \(priority.rawValue)"
        case .autoReply(let reply):
            "auto-reply with \(Self.name(names.templates[reply.templateId], missing: "a deleted template")) (\(reply.mode.label))"
        case .close(let id): "close as \(Self.name(names.dispositions[id], missing: "a deleted disposition"))"
        case .webhook(let url): "call webhook \(URLComponents(string: url)?.host ?? url)"
        case .goto(let id): "go to rule \(Self.name(names.rules[id], missing: "a deleted rule"))"
        case .stop: "stop"
        }
    }

    private static func name(_ name: String?, missing: String) -> String {
        guard let name, !name.isEmpty else { return missing }
        return name
    }
}

// MARK: - Labels of the names the API uses

extension RuleField {
    /// The word a form and a summary use for the field ("From", "Header X-Priority").
    public var label: String {
        switch self {
        case .from: "From"
        case .to: "To"
        case .cc: "Cc"
        case .subject: "Subject"
        case .body: "Body"
        case .header(let name): "Header \(name)"
        case .hasAttachment: "Attachment"
        case .account: "Account"
        case .time: "Time of arrival"
        }
    }

    /// The fields a form offers, by the name its select sends (`header` stands for every `header:NAME`).
    public static let formChoices: [(value: String, label: String)] = [
        ("from", "From"), ("to", "To"), ("cc", "Cc"), ("subject", "Subject"), ("body", "Body"),
        ("header", "A header…"), ("hasAttachment", "Attachment"), ("account", "Account"), ("time", "Time of arrival"),
    ]
}

extension RuleOperator {
    public var label: String {
        switch self {
        case .is: "is"
        case .isNot: "is not"
        case .contains: "contains"
        case .notContains: "does not contain"
        case .startsWith: "starts with"
        case .endsWith: "ends with"
        case .matches: "matches the pattern"
        }
    }
}

extension RuleActionType {
    public var label: String {
        switch self {
        case .queue: "Route to a queue"
        case .agent: "Offer to an agent"
        case .tag: "Add a tag"
        case .priority: "Set the priority"
        case .autoReply: "Send an auto-reply"
        case .close: "Close with a disposition"
        case .webhook: "Call a webhook"
        case .goto: "Go to another rule"
        case .stop: "Stop (no further rules)"
        }
    }
}

extension QueueStrategy {
    public var label: String {
        switch self {
        case .ringAll: "ring all"
        case .roundRobin: "round robin"
        case .leastRecent: "least recent"
        }
    }
}

extension AutoReplyMode {
    public var label: String {
        switch self {
        case .oncePerTicket: "once per ticket"
        case .always: "every message"
        case .firstMessageOnly: "first message only"
        }
    }
}

extension AutoReplyRecipients {
    public var label: String {
        switch self {
        case .sender: "the sender"
        case .senderAndCc: "the sender and Cc"
        }
    }
}

extension RuleMatch {
    public var label: String {
        switch self {
        case .all: "all must hold"
        case .any: "any may hold"
        }
    }
}
