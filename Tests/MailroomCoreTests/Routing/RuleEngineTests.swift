import Foundation
import Testing
@testable import MailroomCore

let mondayNoonUTC = ISO8601.parse("2026-11-23T12:00:00Z")!

func inbound(
    from: [EmailAddress] = [EmailAddress(name: "Ann Example", address: "ann@customer.example")],
    to: [EmailAddress] = [EmailAddress(name: "Support", address: "support@shop.example")],
    cc: [EmailAddress] = [EmailAddress(address: "boss@customer.example")],
    subject: String = "Order 1042 has not arrived",
    body: String = "Hello, my parcel is late. Tracking: ZX-99.",
    headers: [HeaderField] = [HeaderField(name: "X-Priority", value: "1 (Highest)"), HeaderField(name: "Received", value: "from a"), HeaderField(name: "Received", value: "from b")],
    hasAttachments: Bool = false,
    accountId: String = "acc1",
    at: Date = mondayNoonUTC,
    isNewTicket: Bool = true
) -> RoutingInput {
    RoutingInput(accountId: accountId, from: from, to: to, cc: cc, subject: subject, body: body, headers: headers,
                 hasAttachments: hasAttachments, receivedAt: at, isNewTicket: isNewTicket)
}

func testRule(_ id: String, account: String? = "acc1", position: Int = 0, enabled: Bool = true, match: RuleMatch = .all,
          _ conditions: [RuleCondition] = [], _ actions: [RuleAction]) -> RoutingRule {
    RoutingRule(id: id, accountId: account, name: id, position: position, enabled: enabled, match: match,
                conditions: conditions, actions: actions)
}

func ruleHolds(_ condition: RuleCondition, _ input: RoutingInput = inbound()) -> Bool {
    let engine = RuleEngine(rules: [testRule("r", [condition], [.tag("hit")])], accountId: input.accountId)
    return engine.evaluate(input).tags == ["hit"]
}

@Suite struct RuleConditionTests {
    @Test(arguments: [
        // Text fields and operators, case-insensitive.
        (RuleField.subject, RuleOperator.is, "order 1042 HAS NOT ARRIVED", true),
        (.subject, .is, "Order 1042", false),
        (.subject, .isNot, "Order 1042", true),
        (.subject, .contains, "NOT ARRIVED", true),
        (.subject, .notContains, "refund", true),
        (.subject, .notContains, "arrived", false),
        (.subject, .startsWith, "order", true),
        (.subject, .startsWith, "1042", false),
        (.subject, .endsWith, "ARRIVED", true),
        (.subject, .endsWith, "order", false),
        (.subject, .matches, #"order \d{4}"#, true),
        (.subject, .matches, #"(?-i)order \d{4}"#, false),
        (.body, .contains, "tracking: zx-99", true),
        (.body, .matches, #"ZX-\d+\."#, true),
        (.body, .startsWith, "Goodbye", false),
        // Addresses: any of the addresses, by address or by display name.
        (.from, .is, "ANN@customer.example", true),
        (.from, .contains, "Ann Ex", true),
        (.from, .endsWith, "@customer.example", true),
        (.from, .isNot, "ann@customer.example", false),
        (.from, .notContains, "spam", true),
        (.to, .is, "support@shop.example", true),
        (.to, .startsWith, "Supp", true),
        (.cc, .is, "boss@customer.example", true),
        (.cc, .contains, "ann", false),
        (.cc, .matches, "^boss@", true),
        // Headers: every header of the name, case-insensitive name.
        (.header("x-priority"), .startsWith, "1", true),
        (.header("Received"), .is, "from b", true),
        (.header("Received"), .isNot, "from b", false),
        (.header("X-Missing"), .contains, "a", false),
        (.header("X-Missing"), .notContains, "a", true),
        // The account the message came in on.
        (.account, .is, "acc1", true),
        (.account, .isNot, "acc1", false),
        (.account, .is, "acc2", false),
    ])
    func textConditions(field: RuleField, operator: RuleOperator, value: String, expected: Bool) {
        #expect(ruleHolds(RuleCondition(field, `operator`, value)) == expected)
    }

    @Test(arguments: [(true, RuleOperator.is, true, true), (true, .is, false, false), (false, .is, false, true),
                      (true, .isNot, true, false), (false, .isNot, true, true)])
    func hasAttachment(has: Bool, operator: RuleOperator, value: Bool, expected: Bool) {
        #expect(ruleHolds(RuleCondition(.hasAttachment, `operator`, .flag(value)), inbound(hasAttachments: has)) == expected)
    }

    @Test func emptyAddressListsOnlySatisfyNegativeOperators() {
        let input = inbound(cc: [])
        #expect(!ruleHolds(RuleCondition(.cc, .contains, "a"), input))
        #expect(ruleHolds(RuleCondition(.cc, .notContains, "a"), input))
    }
}

@Suite struct RuleEngineTests {
    let isVIP = RuleCondition(.from, .endsWith, "@customer.example")
    let aboutRefunds = RuleCondition(.subject, .contains, "refund")

    @Test func allNeedsEveryConditionAndAnyNeedsOne() {
        let all = RuleEngine(rules: [testRule("r", match: .all, [isVIP, aboutRefunds], [.tag("x")])], accountId: "acc1")
        let any = RuleEngine(rules: [testRule("r", match: .any, [isVIP, aboutRefunds], [.tag("x")])], accountId: "acc1")
        #expect(all.evaluate(inbound()).matchedRuleIds == [])
        #expect(any.evaluate(inbound()).matchedRuleIds == ["r"])
        #expect(all.evaluate(inbound(subject: "Refund please")).matchedRuleIds == ["r"])
    }

    @Test func aRuleWithoutConditionsMatchesEverything() {
        for match in RuleMatch.allCases {
            let engine = RuleEngine(rules: [testRule("r", match: match, [], [.queue(queueId: "q")])], accountId: "acc1")
            #expect(engine.evaluate(inbound()).route == .queue(queueId: "q"))
        }
    }

    @Test func rulesRunInPositionOrderAndTheFirstRouteWins() {
        let engine = RuleEngine(rules: [
            testRule("late", position: 5, [], [.queue(queueId: "general"), .priority(.low)]),
            testRule("early", position: 1, [isVIP], [.queue(queueId: "vip"), .priority(.high), .tag("vip")]),
        ], accountId: "acc1")
        let decision = engine.evaluate(inbound())
        #expect(decision.route == .queue(queueId: "vip"))
        #expect(decision.priority == .high)
        #expect(decision.matchedRuleIds == ["early", "late"])
        #expect(decision.warnings == [.routeIgnored(ruleId: "late")])
        #expect(decision.ending == .endOfRules)
    }

    @Test func accountRulesRunBeforeGlobalOnesAndOtherAccountsRulesNever() {
        let engine = RuleEngine(rules: [
            testRule("global", account: nil, position: 0, [], [.queue(queueId: "everyone"), .tag("global")]),
            testRule("mine", account: "acc1", position: 9, [], [.queue(queueId: "mine"), .tag("mine")]),
            testRule("theirs", account: "acc2", position: 0, [], [.queue(queueId: "theirs"), .tag("theirs")]),
        ], accountId: "acc1")
        let decision = engine.evaluate(inbound())
        #expect(decision.route == .queue(queueId: "mine"))
        #expect(decision.tags == ["mine", "global"])
        #expect(engine.orderedRules.map(\.id) == ["mine", "global"])
    }

    @Test func disabledRulesAreSkipped() {
        let engine = RuleEngine(rules: [
            testRule("off", position: 0, enabled: false, [], [.queue(queueId: "off")]),
            testRule("on", position: 1, [], [.queue(queueId: "on")]),
        ], accountId: "acc1")
        #expect(engine.evaluate(inbound()).route == .queue(queueId: "on"))
        #expect(engine.evaluate(inbound()).matchedRuleIds == ["on"])
    }

    @Test func stopEndsTheRun() {
        let engine = RuleEngine(rules: [
            testRule("a", position: 0, [], [.tag("a"), .stop]),
            testRule("b", position: 1, [], [.tag("b")]),
        ], accountId: "acc1")
        let decision = engine.evaluate(inbound())
        #expect(decision.tags == ["a"])
        #expect(decision.ending == .stopped(ruleId: "a"))
    }

    @Test func gotoJumpsForwardOverRules() {
        let engine = RuleEngine(rules: [
            testRule("a", position: 0, [], [.tag("a"), .goto(ruleId: "c")]),
            testRule("b", position: 1, [], [.tag("b")]),
            testRule("c", position: 2, [], [.tag("c")]),
        ], accountId: "acc1")
        #expect(engine.evaluate(inbound()).tags == ["a", "c"])
    }

    @Test func gotoJumpsBackToARuleThatWasSkipped() {
        let engine = RuleEngine(rules: [
            testRule("a", position: 0, [], [.goto(ruleId: "c")]),
            testRule("b", position: 1, [], [.tag("b"), .stop]),
            testRule("c", position: 2, [], [.tag("c"), .goto(ruleId: "b")]),
        ], accountId: "acc1")
        let decision = engine.evaluate(inbound())
        #expect(decision.tags == ["c", "b"])
        #expect(decision.ending == .stopped(ruleId: "b"))
    }

    @Test func gotoFromAccountRulesIntoGlobalRules() {
        let engine = RuleEngine(rules: [
            testRule("a", position: 0, [], [.goto(ruleId: "g2")]),
            testRule("b", position: 1, [], [.tag("b")]),
            testRule("g1", account: nil, position: 0, [], [.tag("g1")]),
            testRule("g2", account: nil, position: 1, [], [.tag("g2")]),
        ], accountId: "acc1")
        #expect(engine.evaluate(inbound()).tags == ["g2"])
    }

    @Test func aGotoLoopIsReportedNotHung() {
        let engine = RuleEngine(rules: [
            testRule("a", position: 0, [], [.tag("a")]),
            testRule("b", position: 1, [], [.tag("b"), .goto(ruleId: "a")]),
        ], accountId: "acc1")
        let decision = engine.evaluate(inbound())
        #expect(decision.ending == .loopDetected(ruleId: "b"))
        #expect(decision.tags == ["a", "b"])
    }

    @Test func aLoopThroughADisabledRuleIsStillFound() {
        let engine = RuleEngine(rules: [
            testRule("a", position: 0, [], [.goto(ruleId: "c")]),
            testRule("off", position: 1, enabled: false, [], [.tag("off")]),
            testRule("c", position: 2, [], [.goto(ruleId: "off")]),
            testRule("d", position: 3, [], [.goto(ruleId: "off")]),
        ], accountId: "acc1")
        #expect(engine.evaluate(inbound()).ending == .loopDetected(ruleId: "c"))
    }

    @Test func theStepLimitIsASafetyNet() {
        let rules = (0..<10).map { testRule("r\($0)", position: $0, [], [.tag("t\($0)")]) }
        let decision = RuleEngine(rules: rules, accountId: "acc1", maxSteps: 4).evaluate(inbound())
        #expect(decision.ending == .stepLimitReached)
        #expect(decision.tags == ["t0", "t1", "t2", "t3"])
    }

    @Test func aMissingGotoTargetIsAWarningAndTheRunGoesOn() {
        let engine = RuleEngine(rules: [
            testRule("a", position: 0, [], [.goto(ruleId: "deleted")]),
            testRule("b", position: 1, [], [.tag("b")]),
        ], accountId: "acc1")
        let decision = engine.evaluate(inbound())
        #expect(decision.tags == ["b"])
        #expect(decision.warnings == [.gotoTargetMissing(ruleId: "a", targetId: "deleted")])
    }

    @Test func noRouteIsDistinguishableAndGoesToTheUnassignedView() {
        let engine = RuleEngine(rules: [testRule("tagger", [], [.tag("seen")])], accountId: "acc1")
        let decision = engine.evaluate(inbound())
        #expect(decision.route == .unrouted)
        #expect(decision.needsUnassignedView)
        #expect(RuleEngine(rules: [], accountId: "acc1").evaluate(inbound()).needsUnassignedView)
    }

    @Test func everyActionLandsInTheDecision() {
        let reply = AutoReplyAction(templateId: "ack", mode: .firstMessageOnly, recipients: .senderAndCc)
        let engine = RuleEngine(rules: [
            testRule("a", position: 0, [], [.agent(userId: "u1", timeoutSeconds: nil), .tag("x"), .tag("x"), .autoReply(reply),
                                        .webhook(url: "https://h.example/1"), .close(dispositionId: "spam")]),
            testRule("b", position: 1, [], [.autoReply(reply), .webhook(url: "https://h.example/1"), .webhook(url: "https://h.example/2"),
                                        .close(dispositionId: "later"), .priority(.medium)]),
        ], accountId: "acc1")
        let decision = engine.evaluate(inbound())
        #expect(decision.route == .agent(userId: "u1", timeoutSeconds: nil))
        #expect(decision.tags == ["x"])
        #expect(decision.autoReplies == [AutoReplyRequest(ruleId: "a", action: reply)])
        #expect(decision.webhooks == ["https://h.example/1", "https://h.example/2"])
        #expect(decision.closeWithDispositionId == "spam")
        #expect(decision.priority == .medium)
        #expect(!decision.needsUnassignedView)
    }

    /// Ameyo: a rule of a campaign routes to a queue within it; a campaign changed after the rule
    /// was saved (the queue taken out, the campaign deleted) skips the queue with a warning, and
    /// the next rule may route.
    @Test func aCampaignsRuleRoutesOnlyWithinItsCampaign() {
        var inside = testRule("inside", position: 1, [], [.queue(queueId: "parcels"), .tag("c")])
        inside.campaignId = "camp"
        let fallback = testRule("fallback", position: 2, [], [.queue(queueId: "general")])
        let campaign = Campaign(id: "camp", name: "Parcels", queueIds: ["parcels"], accountIds: ["acc1"])
        let routed = RuleEngine(rules: [inside, fallback], accountId: "acc1", campaigns: [campaign]).evaluate(inbound())
        #expect(routed.route == .queue(queueId: "parcels"))
        #expect(routed.warnings == [.routeIgnored(ruleId: "fallback")])

        var moved = campaign
        moved.queueIds = ["returns"]
        let outside = RuleEngine(rules: [inside, fallback], accountId: "acc1", campaigns: [moved]).evaluate(inbound())
        #expect(outside.route == .queue(queueId: "general"), "the campaign no longer holds the queue: the next rule routes")
        #expect(outside.tags == ["c"], "the rule's other actions still apply")
        #expect(outside.warnings == [.queueOutsideCampaign(ruleId: "inside", queueId: "parcels")])

        let gone = RuleEngine(rules: [inside], accountId: "acc1", campaigns: []).evaluate(inbound())
        #expect(gone.route == .unrouted)
        #expect(gone.warnings == [.queueOutsideCampaign(ruleId: "inside", queueId: "parcels")])

        // A rule of no campaign routes anywhere, campaigns or not.
        let plain = RuleEngine(rules: [fallback], accountId: "acc1", campaigns: [moved]).evaluate(inbound())
        #expect(plain.route == .queue(queueId: "general"))
    }
}

@Suite struct RegexBoundsTests {
    @Test func longPatternsAreRefused() {
        let pattern = String(repeating: "a", count: RegexLimits.standard.maxPatternLength + 1)
        #expect(BoundedRegex.problem(with: pattern) != nil)
        #expect(BoundedRegex.problem(with: String(pattern.dropFirst())) == nil)
    }

    @Test(arguments: ["(a+)+$", "(a*)*b", "(x+x+)+y", #"(\w+\s?)*$"#, "((ab)*)+", "(a{1,9})*"])
    func nestedQuantifiersAreRefused(pattern: String) {
        #expect(BoundedRegex.problem(with: pattern)?.contains("exponential") == true)
    }

    @Test(arguments: ["(a|b)+", #"\(a+\)+"#, "[(a+)]+", #"^order \d+$"#, "(abc)?x+", "(?:re|fwd):"])
    func ordinaryPatternsPass(pattern: String) {
        #expect(BoundedRegex.problem(with: pattern) == nil)
    }

    @Test func onlyTheFirstPartOfTheTextIsExamined() throws {
        let limits = RegexLimits(maxTextLength: 100)
        let regex = try BoundedRegex("needle", limits: limits)
        #expect(regex.evaluate(String(repeating: "x", count: 90) + "needle") == .matched)
        #expect(regex.evaluate(String(repeating: "x", count: 100) + "needle") == .notMatched)
    }

    @Test func aCatastrophicSearchStopsAtTheTimeBudget() throws {
        // Alternation backtracks exponentially too, and the save-time check does not see it:
        // the time budget is what stops it.
        #expect(BoundedRegex.problem(with: "(a|a)+$") == nil)
        let limits = RegexLimits(timeBudget: .milliseconds(20))
        let engine = RuleEngine(rules: [testRule("slow", [RuleCondition(.body, .matches, "(a|a)+$")], [.tag("hit")])],
                                accountId: "acc1", limits: limits)
        let started = ContinuousClock.now
        let decision = engine.evaluate(inbound(body: String(repeating: "a", count: 40) + "!"))
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(decision.tags.isEmpty)
        #expect(decision.warnings == [.regexTimedOut(ruleId: "slow", conditionIndex: 0)])
    }

    @Test func manyHeadersShareOneBudget() {
        let limits = RegexLimits(timeBudget: .milliseconds(20), messageBudget: .milliseconds(60))
        let headers = (0..<30).map { _ in HeaderField(name: "Received", value: String(repeating: "a", count: 40) + "!") }
        let engine = RuleEngine(rules: [
            testRule("slow", position: 0, [RuleCondition(.header("Received"), .matches, "(a|a)+$")], [.tag("hit")]),
            testRule("after", position: 1, [RuleCondition(.body, .matches, "(a|a)+$")], [.tag("hit")]),
        ], accountId: "acc1", limits: limits)
        let started = ContinuousClock.now
        let decision = engine.evaluate(inbound(body: String(repeating: "a", count: 40) + "!", headers: headers))
        // 30 headers at 20 ms each would be 600 ms; the run stops near its 60 ms budget.
        #expect(ContinuousClock.now - started < .milliseconds(400))
        #expect(decision.warnings == [.regexTimedOut(ruleId: "slow", conditionIndex: 0), .regexTimedOut(ruleId: "after", conditionIndex: 0)])
    }

    @Test(arguments: ["(", "(a+)+$"])
    func aStoredPatternThatBreaksTheLimitsNeverMatchesAndIsReported(pattern: String) {
        let engine = RuleEngine(rules: [testRule("bad", [RuleCondition(.body, .matches, pattern)], [.tag("hit")])], accountId: "acc1")
        let decision = engine.evaluate(inbound(body: "aaaa"))
        #expect(decision.tags.isEmpty)
        #expect(decision.warnings == [.invalidPattern(ruleId: "bad", conditionIndex: 0)])
    }
}
