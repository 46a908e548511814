import Foundation

/// What the rules look at: the message that arrived and the ticket it joined.
public struct RoutingInput: Sendable, Equatable {
    public var accountId: String
    public var from: [EmailAddress]
    public var to: [EmailAddress]
    public var cc: [EmailAddress]
    public var subject: String
    /// The text body (or the text rendered from HTML).
    public var body: String
    public var headers: [HeaderField]
    public var hasAttachments: Bool
    public var receivedAt: Date
    /// True when this message opened the ticket; `firstMessageOnly` auto-replies are asked for only then.
    public var isNewTicket: Bool

    public init(accountId: String, from: [EmailAddress], to: [EmailAddress] = [], cc: [EmailAddress] = [],
                subject: String = "", body: String = "", headers: [HeaderField] = [], hasAttachments: Bool = false,
                receivedAt: Date, isNewTicket: Bool = true) {
        self.accountId = accountId
        self.from = from
        self.to = to
        self.cc = cc
        self.subject = subject
        self.body = body
        self.headers = headers
        self.hasAttachments = hasAttachments
        self.receivedAt = receivedAt
        self.isNewTicket = isNewTicket
    }

    /// The input for a stored inbound message; `headers` come from the parsed raw message. The
    /// body is the text part, or the HTML as it is when there is none.
    public init(message: TicketMessage, headers: [HeaderField], receivedAt: Date, isNewTicket: Bool) {
        self.init(accountId: message.accountId, from: message.from, to: message.to, cc: message.cc, subject: message.subject,
                  body: message.text ?? message.html ?? "", headers: headers, hasAttachments: !message.attachments.isEmpty,
                  receivedAt: receivedAt, isNewTicket: isNewTicket)
    }

    /// Values of every header with this name, compared case-insensitively.
    public func headerValues(_ name: String) -> [String] {
        let key = name.lowercased()
        return headers.filter { $0.name.lowercased() == key }.map(\.value)
    }
}

/// Where the rules sent the ticket. `unrouted` is its own case on purpose: such a ticket goes to
/// the unassigned view, where supervisors see it; it is never dropped.
public enum RoutingTarget: Sendable, Equatable {
    case unrouted
    case queue(queueId: String)
    /// A nil timeout means "the account's waitForAgentSeconds".
    case agent(userId: String, timeoutSeconds: Int?)
}

/// An auto-reply a rule asked for; `AutoReplyGuard` decides whether it is actually sent.
public struct AutoReplyRequest: Sendable, Equatable {
    public var ruleId: String
    public var action: AutoReplyAction

    public init(ruleId: String, action: AutoReplyAction) {
        self.ruleId = ruleId
        self.action = action
    }
}

/// Something worth showing an administrator about a run, that did not stop it.
public enum RuleWarning: Sendable, Equatable {
    /// A `matches` condition ran out of its time budget and counted as not matching.
    case regexTimedOut(ruleId: String, conditionIndex: Int)
    /// A stored `matches` pattern does not compile or breaks the current `RegexLimits`; it never matches.
    case invalidPattern(ruleId: String, conditionIndex: Int)
    /// A `goto` named a rule that is not among this account's or the global rules; the run went on with the next rule.
    case gotoTargetMissing(ruleId: String, targetId: String)
    /// Another `queue` or `agent` action was reached after the ticket was already routed; it was ignored.
    case routeIgnored(ruleId: String)
    /// The rule routes within a campaign (Ameyo) that no longer holds this queue (or is gone): the
    /// queue action was skipped, as a save would refuse it now.
    case queueOutsideCampaign(ruleId: String, queueId: String)
}

/// Why the run ended.
public enum RuleRunEnding: Sendable, Equatable {
    case endOfRules
    case stopped(ruleId: String)
    /// A `goto` led back to a rule already run in this pass. Conditions depend only on the
    /// message, so going on would repeat forever; the run ends and keeps what it decided so far.
    case loopDetected(ruleId: String)
    /// More than `RuleEngine.maxSteps` rules were run (a safety net behind loop detection).
    case stepLimitReached
}

/// The typed result of running the rules on one message.
///
/// The first `queue` or `agent` action reached sets the route and the first `priority` and
/// `close` win, so an account's rules take precedence over the global ones after them; tags,
/// auto-replies and webhooks accumulate (without duplicates).
public struct RoutingDecision: Sendable, Equatable {
    public var route: RoutingTarget = .unrouted
    public var tags: [String] = []
    public var priority: TicketPriority?
    public var autoReplies: [AutoReplyRequest] = []
    public var closeWithDispositionId: String?
    public var webhooks: [String] = []
    /// Rules whose conditions held, in the order they ran.
    public var matchedRuleIds: [String] = []
    public var warnings: [RuleWarning] = []
    public var ending: RuleRunEnding = .endOfRules

    public init() {}

    /// No rule routed or closed the ticket: it belongs in the unassigned view.
    public var needsUnassignedView: Bool { route == .unrouted && closeWithDispositionId == nil }
}

/// Runs an account's rules, then the global ones, on one message.
public struct RuleEngine: Sendable {
    public let orderedRules: [RoutingRule]
    public let limits: RegexLimits
    public let maxSteps: Int
    private let patterns: [String: BoundedRegex]
    /// The queues of each campaign a rule names (`RoutingRule.campaignId`).
    private let campaignQueues: [String: Set<String>]

    public static let defaultMaxSteps = 1_000

    /// `rules` may hold any accounts' rules; only `accountId`'s and the global ones run, each
    /// group in `position` order (ties by id, so the order is stable).
    /// `campaigns`: at least those the rules name; a rule's queue outside its campaign is not routed to.
    public init(rules: [RoutingRule], accountId: String, campaigns: [Campaign] = [], limits: RegexLimits = .standard,
                maxSteps: Int = RuleEngine.defaultMaxSteps) {
        func ordered(_ group: [RoutingRule]) -> [RoutingRule] {
            group.sorted { ($0.position, $0.id) < ($1.position, $1.id) }
        }
        orderedRules = ordered(rules.filter { $0.accountId == accountId }) + ordered(rules.filter { $0.accountId == nil })
        self.limits = limits
        self.maxSteps = maxSteps
        var patterns: [String: BoundedRegex] = [:]
        for rule in orderedRules {
            for condition in rule.conditions where condition.operator == .matches {
                if case .text(let pattern) = condition.value, patterns[pattern] == nil {
                    patterns[pattern] = try? BoundedRegex(pattern, limits: limits)
                }
            }
        }
        self.patterns = patterns
        campaignQueues = Dictionary(campaigns.map { ($0.id, Set($0.queueIds)) }, uniquingKeysWith: { first, _ in first })
    }

    public func evaluate(_ input: RoutingInput) -> RoutingDecision {
        var decision = RoutingDecision()
        let budget = RegexBudget(remaining: limits.messageBudget)
        var visited = Set<Int>()
        var index = 0
        var steps = 0
        while index < orderedRules.count {
            let rule = orderedRules[index]
            // Disabled rules count as visited too, so a goto to one cannot hide a loop.
            visited.insert(index)
            guard rule.enabled else { index += 1; continue }
            steps += 1
            if steps > maxSteps {
                decision.ending = .stepLimitReached
                return decision
            }
            guard matches(rule, input, budget, &decision) else { index += 1; continue }
            decision.matchedRuleIds.append(rule.id)
            var next = index + 1
            for action in rule.actions {
                switch apply(action, of: rule, isNewTicket: input.isNewTicket, to: &decision) {
                case .proceed:
                    continue
                case .stop:
                    decision.ending = .stopped(ruleId: rule.id)
                    return decision
                case .jump(let targetId):
                    guard let target = orderedRules.firstIndex(where: { $0.id == targetId }) else {
                        decision.warnings.append(.gotoTargetMissing(ruleId: rule.id, targetId: targetId))
                        break
                    }
                    if visited.contains(target) {
                        decision.ending = .loopDetected(ruleId: rule.id)
                        return decision
                    }
                    next = target
                }
            }
            index = next
        }
        return decision
    }

    private enum Flow { case proceed, stop, jump(String) }

    private func apply(_ action: RuleAction, of rule: RoutingRule, isNewTicket: Bool, to decision: inout RoutingDecision) -> Flow {
        switch action {
        case .queue(let queueId):
            // Ameyo: a rule of a campaign routes to a queue within it, also after the campaign changed.
            if let campaignId = rule.campaignId, campaignQueues[campaignId]?.contains(queueId) != true {
                decision.warnings.append(.queueOutsideCampaign(ruleId: rule.id, queueId: queueId))
                break
            }
            route(.queue(queueId: queueId), rule, &decision)
        case .agent(let userId, let timeout):
            route(.agent(userId: userId, timeoutSeconds: timeout), rule, &decision)
        case .tag(let tag):
            if !decision.tags.contains(tag) { decision.tags.append(tag) }
        case .priority(let priority):
            if decision.priority == nil { decision.priority = priority }
        case .autoReply(let reply):
            if reply.mode == .firstMessageOnly && !isNewTicket { break }
            if !decision.autoReplies.contains(where: { $0.action.templateId == reply.templateId }) {
                decision.autoReplies.append(AutoReplyRequest(ruleId: rule.id, action: reply))
            }
        case .close(let dispositionId):
            if decision.closeWithDispositionId == nil { decision.closeWithDispositionId = dispositionId }
        case .webhook(let url):
            if !decision.webhooks.contains(url) { decision.webhooks.append(url) }
        case .goto(let ruleId):
            return .jump(ruleId)
        case .stop:
            return .stop
        }
        return .proceed
    }

    private func route(_ target: RoutingTarget, _ rule: RoutingRule, _ decision: inout RoutingDecision) {
        if decision.route == .unrouted {
            decision.route = target
        } else {
            decision.warnings.append(.routeIgnored(ruleId: rule.id))
        }
    }

    /// What is left of one run's regex time; a class so the nested comparison helpers share it.
    private final class RegexBudget {
        var remaining: Duration
        init(remaining: Duration) { self.remaining = remaining }
    }

    private func matches(_ rule: RoutingRule, _ input: RoutingInput, _ budget: RegexBudget, _ decision: inout RoutingDecision) -> Bool {
        if rule.conditions.isEmpty { return true }
        for (index, condition) in rule.conditions.enumerated() {
            let result = holds(condition, input, budget) { warning in
                switch warning {
                case .timedOut: decision.warnings.append(.regexTimedOut(ruleId: rule.id, conditionIndex: index))
                case .invalid: decision.warnings.append(.invalidPattern(ruleId: rule.id, conditionIndex: index))
                }
            }
            // Short-circuit as soon as the answer is known, so expensive conditions after it are skipped.
            if rule.match == .all && !result { return false }
            if rule.match == .any && result { return true }
        }
        return rule.match == .all
    }

    private enum PatternProblem { case timedOut, invalid }

    private func holds(_ condition: RuleCondition, _ input: RoutingInput, _ budget: RegexBudget, report: (PatternProblem) -> Void) -> Bool {
        switch (condition.field, condition.value) {
        case (.hasAttachment, .flag(let wanted)):
            return (input.hasAttachments == wanted) != (condition.operator == .isNot)
        case (.time, .businessHours(let state, let calendar)):
            let open = calendar.isOpen(at: input.receivedAt)
            return (open == (state == .open)) != (condition.operator == .isNot)
        case (_, .text(let wanted)):
            let candidates = texts(of: condition.field, in: input)
            let positive = condition.operator.positive
            var anyHolds = false
            var problem: PatternProblem?
            for candidate in candidates {
                switch compare(candidate, positive, wanted, budget) {
                case .matched: anyHolds = true
                case .notMatched: break
                case .timedOut: problem = .timedOut
                case .invalid: problem = .invalid
                }
                if anyHolds || problem == .invalid { break }
            }
            // One warning per condition, however many headers or addresses it looked at.
            if let problem, !anyHolds { report(problem) }
            return anyHolds != condition.operator.isNegative
        default:
            // A value of the wrong shape for its field cannot be decoded; built in code, it never holds.
            return false
        }
    }

    /// The strings a field offers to the comparison: for addresses, each display name and each address.
    private func texts(of field: RuleField, in input: RoutingInput) -> [String] {
        func addresses(_ list: [EmailAddress]) -> [String] {
            list.flatMap { address in [address.address] + (address.name.map { [$0] } ?? []) }
        }
        switch field {
        case .from: return addresses(input.from)
        case .to: return addresses(input.to)
        case .cc: return addresses(input.cc)
        case .subject: return [input.subject]
        case .body: return [input.body]
        case .header(let name): return input.headerValues(name)
        case .account: return [input.accountId]
        case .hasAttachment, .time: return []
        }
    }

    private enum Comparison { case matched, notMatched, timedOut, invalid }

    /// Text operators compare case-insensitively; `account` ids are compared the same way, which
    /// is harmless because ids are lowercase.
    private func compare(_ candidate: String, _ operator: RuleOperator, _ wanted: String, _ budget: RegexBudget) -> Comparison {
        let options: String.CompareOptions = [.caseInsensitive]
        let found: Bool
        switch `operator` {
        case .is, .isNot:
            found = candidate.compare(wanted, options: options) == .orderedSame
        case .contains, .notContains:
            found = candidate.range(of: wanted, options: options) != nil
        case .startsWith:
            found = candidate.range(of: wanted, options: options.union(.anchored)) != nil
        case .endsWith:
            found = candidate.range(of: wanted, options: options.union([.anchored, .backwards])) != nil
        case .matches:
            guard let regex = patterns[wanted] else { return .invalid }
            let started = ContinuousClock.now
            let outcome = regex.evaluate(candidate, budget: budget.remaining)
            budget.remaining -= ContinuousClock.now - started
            switch outcome {
            case .matched: return .matched
            case .notMatched: return .notMatched
            case .timedOut: return .timedOut
            }
        }
        return found ? .matched : .notMatched
    }
}
