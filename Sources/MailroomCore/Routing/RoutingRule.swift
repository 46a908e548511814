import Foundation

/// One routing rule (Ameyo's routing rule and Motion's action plan in one): when the message
/// matches the conditions, the actions run.
///
/// JSON, as DESIGN.md gives it: `{id, accountId (null for global), name, position, enabled,
/// match ("all", "any"), conditions: [{field, operator, value}], actions: [{type, ...}]}`.
/// Decoding fails on the first shape error and names it (`conditions[2].operator`); `validate()`
/// then lists every semantic problem. A rule with no conditions matches every message.
public struct RoutingRule: Codable, Sendable, Equatable {
    public var id: String
    public var accountId: String?
    public var name: String
    public var position: Int
    public var enabled: Bool
    public var match: RuleMatch
    public var conditions: [RuleCondition]
    public var actions: [RuleAction]
    /// Ameyo: the rule routes within this campaign; its queues and its account must be the campaign's.
    public var campaignId: String?

    public static let maxNameLength = 200

    public init(id: String = "", accountId: String?, name: String, position: Int = 0, enabled: Bool = true,
                match: RuleMatch = .all, conditions: [RuleCondition] = [], actions: [RuleAction]) {
        self.id = id
        self.accountId = accountId
        self.name = name
        self.position = position
        self.enabled = enabled
        self.match = match
        self.conditions = conditions
        self.actions = actions
    }

    enum CodingKeys: String, CodingKey {
        case id, accountId, name, position, enabled, match, conditions, actions, campaignId
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        accountId = try c.decodeIfPresent(String.self, forKey: .accountId)
        name = try c.decode(String.self, forKey: .name)
        position = try c.decodeIfPresent(Int.self, forKey: .position) ?? 0
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        match = try c.decodeIfPresent(RuleMatch.self, forKey: .match) ?? .all
        conditions = try c.decodeIfPresent([RuleCondition].self, forKey: .conditions) ?? []
        actions = try c.decode([RuleAction].self, forKey: .actions)
        campaignId = try c.decodeIfPresent(String.self, forKey: .campaignId).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// What is wrong with the rule's campaign (`campaign`: the one `campaignId` names, nil if none
    /// exists): the queues it routes to and its account must belong to it.
    public func campaignProblems(_ campaign: Campaign?) -> [FieldError] {
        guard let campaignId else { return [] }
        guard let campaign else { return [FieldError("campaignId", "names no campaign (\(campaignId.prefix(64)))")] }
        var errors: [FieldError] = []
        if let accountId, !campaign.accountIds.contains(accountId) {
            errors.append(FieldError("accountId", "is not an account of campaign '\(campaign.name)'; add it to the campaign first"))
        }
        for (index, action) in actions.enumerated() {
            if case .queue(let queueId) = action, !campaign.queueIds.contains(queueId) {
                errors.append(FieldError("actions[\(index)].queueId", "is not a queue of campaign '\(campaign.name)'"))
            }
        }
        return errors
    }

    /// Decodes and validates a request body; every problem is a `FieldError` named by its JSON path.
    public static func decode(_ document: JSONValue, limits: RegexLimits = .standard) throws(DomainError) -> RoutingRule {
        let rule: RoutingRule
        do {
            rule = try document.decode(RoutingRule.self)
        } catch let error as DecodingError {
            throw .invalid([FieldError(error)])
        } catch {
            throw .invalid([FieldError("", "is not a valid rule: \(error)")])
        }
        let errors = rule.validate(limits: limits)
        if !errors.isEmpty { throw .invalid(errors) }
        return rule
    }

    /// Every semantic problem of the rule. `knownRuleIds`, when given, lets `goto` targets be checked.
    public func validate(limits: RegexLimits = .standard, knownRuleIds: Set<String>? = nil) -> [FieldError] {
        var errors: [FieldError] = []
        let trimmedName = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmedName.isEmpty { errors.append(FieldError("name", "is required")) }
        if name.count > Self.maxNameLength { errors.append(FieldError("name", "must be at most \(Self.maxNameLength) characters")) }
        if position < 0 { errors.append(FieldError("position", "must be 0 or more")) }
        if let accountId, accountId.trimmingCharacters(in: .whitespaces).isEmpty {
            errors.append(FieldError("accountId", "must be an account id, or null for a global rule"))
        }
        for (index, condition) in conditions.enumerated() {
            errors += condition.validate(path: "conditions[\(index)]", limits: limits)
        }
        if actions.isEmpty { errors.append(FieldError("actions", "must contain at least one action")) }
        for (index, action) in actions.enumerated() {
            let path = "actions[\(index)]"
            errors += action.validate(path: path)
            if action.endsRule && index != actions.count - 1 {
                errors.append(FieldError("\(path).type", "'\(action.type.rawValue)' must be the last action: the actions after it would never run"))
            }
            if case .goto(let target) = action {
                if !id.isEmpty && target == id {
                    errors.append(FieldError("\(path).ruleId", "must name another rule: a rule cannot go to itself"))
                } else if let knownRuleIds, !target.isEmpty, !knownRuleIds.contains(target) {
                    errors.append(FieldError("\(path).ruleId", "names no rule of this account or the global rules"))
                }
            }
        }
        return errors
    }
}

extension RoutingRule {
    /// Renumbers one group of rules (one account's, or the global ones) in the order given, for
    /// the API's reorder request. `order` must name each rule of the group exactly once.
    public static func reordered(_ group: [RoutingRule], as order: [String]) throws(DomainError) -> [RoutingRule] {
        let byId = Dictionary(group.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var errors: [FieldError] = []
        var seen = Set<String>()
        for (index, id) in order.enumerated() {
            if byId[id] == nil {
                errors.append(FieldError("order[\(index)]", "names no rule of this group"))
            } else if !seen.insert(id).inserted {
                errors.append(FieldError("order[\(index)]", "names a rule already listed"))
            }
        }
        let missing = group.map(\.id).filter { !seen.contains($0) }
        if !missing.isEmpty {
            errors.append(FieldError("order", "must list every rule of the group; missing: \(missing.joined(separator: ", "))"))
        }
        if !errors.isEmpty { throw .invalid(errors) }
        return order.enumerated().map { index, id in
            var rule = byId[id]!
            rule.position = index
            return rule
        }
    }
}

public enum RuleMatch: String, NamedValues {
    /// Every condition must hold.
    case all
    /// At least one condition must hold.
    case any
}

// MARK: - Conditions

/// What a condition looks at. `header:NAME` reads every header of that name (case-insensitive).
public enum RuleField: Sendable, Hashable, Codable, CustomStringConvertible {
    case from, to, cc, subject, body
    case header(String)
    case hasAttachment, account, time

    static let simpleNames: [String: RuleField] = [
        "from": .from, "to": .to, "cc": .cc, "subject": .subject, "body": .body,
        "hasAttachment": .hasAttachment, "account": .account, "time": .time,
    ]
    static let allowedNames = "'from', 'to', 'cc', 'subject', 'body', 'header:NAME', 'hasAttachment', 'account', 'time'"

    public init?(name: String) {
        if let simple = Self.simpleNames[name] {
            self = simple
        } else if name.hasPrefix("header:") {
            self = .header(String(name.dropFirst("header:".count)))
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .from: "from"
        case .to: "to"
        case .cc: "cc"
        case .subject: "subject"
        case .body: "body"
        case .header(let name): "header:\(name)"
        case .hasAttachment: "hasAttachment"
        case .account: "account"
        case .time: "time"
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let name = try c.decode(String.self)
        guard let field = RuleField(name: name) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "must be one of \(Self.allowedNames), not '\(name.prefix(64))'")
        }
        self = field
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// The operators that make sense for this field.
    var allowedOperators: [RuleOperator] {
        switch self {
        case .hasAttachment, .time: [.is, .isNot]
        default: RuleOperator.allCases
        }
    }
}

public enum RuleOperator: String, NamedValues {
    case `is`, isNot, contains, notContains, startsWith, endsWith, matches

    /// The negative operators hold when their positive counterpart holds for none of the values.
    var positive: RuleOperator {
        switch self {
        case .isNot: .is
        case .notContains: .contains
        default: self
        }
    }

    var isNegative: Bool { self == .isNot || self == .notContains }
}

/// Whether a `time` condition asks for opening hours or for the hours outside them.
public enum BusinessHoursState: String, NamedValues {
    case open, closed
}

/// The value a condition compares with; its JSON shape depends on the field:
/// a string for text fields and `account`, `true`/`false` for `hasAttachment`, and for `time`
/// `{"state": "open" | "closed", "calendar": {BusinessHoursCalendar}}`.
public enum ConditionValue: Sendable, Equatable {
    case text(String)
    case flag(Bool)
    case businessHours(BusinessHoursState, BusinessHoursCalendar)
}

public struct RuleCondition: Codable, Sendable, Equatable {
    public var field: RuleField
    public var `operator`: RuleOperator
    public var value: ConditionValue

    public init(_ field: RuleField, _ operator: RuleOperator, _ value: ConditionValue) {
        self.field = field
        self.operator = `operator`
        self.value = value
    }

    public init(_ field: RuleField, _ operator: RuleOperator, _ text: String) {
        self.init(field, `operator`, .text(text))
    }

    enum CodingKeys: String, CodingKey { case field, `operator`, value }
    enum ScheduleKeys: String, CodingKey { case state, calendar }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        field = try c.decode(RuleField.self, forKey: .field)
        `operator` = try c.decode(RuleOperator.self, forKey: .operator)
        switch field {
        case .hasAttachment:
            value = .flag(try c.decode(Bool.self, forKey: .value))
        case .time:
            let schedule = try c.nestedContainer(keyedBy: ScheduleKeys.self, forKey: .value)
            value = .businessHours(try schedule.decode(BusinessHoursState.self, forKey: .state),
                                   try schedule.decode(BusinessHoursCalendar.self, forKey: .calendar))
        default:
            value = .text(try c.decode(String.self, forKey: .value))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(field, forKey: .field)
        try c.encode(`operator`, forKey: .operator)
        switch value {
        case .text(let text): try c.encode(text, forKey: .value)
        case .flag(let flag): try c.encode(flag, forKey: .value)
        case .businessHours(let state, let calendar):
            var schedule = c.nestedContainer(keyedBy: ScheduleKeys.self, forKey: .value)
            try schedule.encode(state, forKey: .state)
            try schedule.encode(calendar, forKey: .calendar)
        }
    }

    public static let maxTextLength = 1_000

    func validate(path: String, limits: RegexLimits) -> [FieldError] {
        var errors: [FieldError] = []
        if case .header(let name) = field, !Self.isHeaderName(name) {
            errors.append(FieldError("\(path).field", "must name a header after 'header:', such as header:X-Priority"))
        }
        if !field.allowedOperators.contains(`operator`) {
            let names = field.allowedOperators.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            errors.append(FieldError("\(path).operator", "must be one of \(names) for the field '\(field)'"))
        }
        let shapeFits: Bool = switch (field, value) {
        case (.hasAttachment, .flag), (.time, .businessHours): true
        case (.hasAttachment, _), (.time, _), (_, .flag), (_, .businessHours): false
        default: true
        }
        if !shapeFits {
            errors.append(FieldError("\(path).value", Self.expectedShape(of: field)))
            return errors
        }
        switch value {
        case .text(let text):
            if text.count > Self.maxTextLength {
                errors.append(FieldError("\(path).value", "must be at most \(Self.maxTextLength) characters"))
            } else if `operator` == .matches, let problem = BoundedRegex.problem(with: text, limits: limits) {
                errors.append(FieldError("\(path).value", problem))
            } else if text.isEmpty, [.contains, .notContains, .startsWith, .endsWith].contains(`operator`) {
                errors.append(FieldError("\(path).value", "must not be empty for '\(`operator`.rawValue)'"))
            } else if field == .account, text.trimmingCharacters(in: .whitespaces).isEmpty {
                errors.append(FieldError("\(path).value", "must be an account id"))
            }
        case .flag: break
        case .businessHours(_, let calendar):
            errors += calendar.validate(path: "\(path).value.calendar")
        }
        return errors
    }

    static func expectedShape(of field: RuleField) -> String {
        switch field {
        case .hasAttachment: "must be true or false for 'hasAttachment'"
        case .time: "must be {\"state\": \"open\" or \"closed\", \"calendar\": {...}} for 'time'"
        default: "must be a string for '\(field)'"
        }
    }

    /// RFC 5322 field names: printable ASCII except the colon.
    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 200 && name.unicodeScalars.allSatisfy { $0.value >= 33 && $0.value <= 126 && $0 != ":" }
    }
}

// MARK: - Actions

public enum RuleActionType: String, NamedValues {
    case queue, agent, tag, priority, autoReply, close, webhook, goto, stop
}

/// When a rule's auto-reply is sent, relative to the ticket's earlier auto-replies and messages.
public enum AutoReplyMode: String, NamedValues {
    /// At most one auto-reply on the ticket, ever.
    case oncePerTicket
    /// Every inbound message may get one (still subject to the guard and the hourly limit).
    case always
    /// Only for the message that opened the ticket.
    case firstMessageOnly
}

public enum AutoReplyRecipients: String, NamedValues {
    case sender, senderAndCc
}

public struct AutoReplyAction: Codable, Sendable, Equatable {
    public var templateId: String
    public var mode: AutoReplyMode
    public var recipients: AutoReplyRecipients

    public init(templateId: String, mode: AutoReplyMode = .oncePerTicket, recipients: AutoReplyRecipients = .sender) {
        self.templateId = templateId
        self.mode = mode
        self.recipients = recipients
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        templateId = try c.decode(String.self, forKey: .templateId)
        mode = try c.decodeIfPresent(AutoReplyMode.self, forKey: .mode) ?? .oncePerTicket
        recipients = try c.decodeIfPresent(AutoReplyRecipients.self, forKey: .recipients) ?? .sender
    }
}

public enum RuleAction: Codable, Sendable, Equatable {
    case queue(queueId: String)
    /// Offer to one agent; nil timeout: the account's `waitForAgentSeconds`.
    case agent(userId: String, timeoutSeconds: Int?)
    case tag(String)
    case priority(TicketPriority)
    case autoReply(AutoReplyAction)
    case close(dispositionId: String)
    case webhook(url: String)
    case goto(ruleId: String)
    case stop

    public static let timeoutRange = 1...2_147_483
    public static let maxTagLength = 100

    public var type: RuleActionType {
        switch self {
        case .queue: .queue
        case .agent: .agent
        case .tag: .tag
        case .priority: .priority
        case .autoReply: .autoReply
        case .close: .close
        case .webhook: .webhook
        case .goto: .goto
        case .stop: .stop
        }
    }

    /// `goto` and `stop` end the rule's action list.
    var endsRule: Bool { type == .goto || type == .stop }

    enum CodingKeys: String, CodingKey {
        case type, queueId, userId, timeoutSeconds, tag, priority, templateId, mode, recipients, dispositionId, url, ruleId
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(RuleActionType.self, forKey: .type) {
        case .queue: self = .queue(queueId: try c.decode(String.self, forKey: .queueId))
        case .agent: self = .agent(userId: try c.decode(String.self, forKey: .userId),
                                   timeoutSeconds: try c.decodeIfPresent(Int.self, forKey: .timeoutSeconds))
        case .tag: self = .tag(try c.decode(String.self, forKey: .tag))
        case .priority: self = .priority(try c.decode(TicketPriority.self, forKey: .priority))
        case .autoReply: self = .autoReply(try AutoReplyAction(from: decoder))
        case .close: self = .close(dispositionId: try c.decode(String.self, forKey: .dispositionId))
        case .webhook: self = .webhook(url: try c.decode(String.self, forKey: .url))
        case .goto: self = .goto(ruleId: try c.decode(String.self, forKey: .ruleId))
        case .stop: self = .stop
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        switch self {
        case .queue(let queueId): try c.encode(queueId, forKey: .queueId)
        case .agent(let userId, let timeout):
            try c.encode(userId, forKey: .userId)
            try c.encode(timeout, forKey: .timeoutSeconds)
        case .tag(let tag): try c.encode(tag, forKey: .tag)
        case .priority(let priority): try c.encode(priority, forKey: .priority)
        case .autoReply(let reply):
            try c.encode(reply.templateId, forKey: .templateId)
            try c.encode(reply.mode, forKey: .mode)
            try c.encode(reply.recipients, forKey: .recipients)
        case .close(let dispositionId): try c.encode(dispositionId, forKey: .dispositionId)
        case .webhook(let url): try c.encode(url, forKey: .url)
        case .goto(let ruleId): try c.encode(ruleId, forKey: .ruleId)
        case .stop: break
        }
    }

    func validate(path: String) -> [FieldError] {
        func blank(_ text: String) -> Bool { text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        switch self {
        case .queue(let queueId):
            return blank(queueId) ? [FieldError("\(path).queueId", "is required: the queue to route to")] : []
        case .agent(let userId, let timeout):
            var errors: [FieldError] = []
            if blank(userId) { errors.append(FieldError("\(path).userId", "is required: the agent to offer the ticket to")) }
            if let timeout, !Self.timeoutRange.contains(timeout) {
                errors.append(FieldError("\(path).timeoutSeconds", "must be between \(Self.timeoutRange.lowerBound) and \(Self.timeoutRange.upperBound) seconds"))
            }
            return errors
        case .tag(let tag):
            if blank(tag) { return [FieldError("\(path).tag", "is required")] }
            if tag.count > Self.maxTagLength { return [FieldError("\(path).tag", "must be at most \(Self.maxTagLength) characters")] }
            return []
        case .priority, .stop:
            return []
        case .autoReply(let reply):
            return blank(reply.templateId) ? [FieldError("\(path).templateId", "is required: the auto-reply template to send")] : []
        case .close(let dispositionId):
            return blank(dispositionId) ? [FieldError("\(path).dispositionId", "is required: the disposition the ticket is closed with")] : []
        case .webhook(let url):
            guard let components = URLComponents(string: url),
                  let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
                  let host = components.host, !host.isEmpty else {
                return [FieldError("\(path).url", "must be an http:// or https:// URL with a host")]
            }
            return []
        case .goto(let ruleId):
            return blank(ruleId) ? [FieldError("\(path).ruleId", "is required: the rule to go to")] : []
        }
    }
}
