import Foundation
import Testing
@testable import MailroomCore

/// Decodes a rule from JSON text the way the API would, returning the field errors.
func ruleErrors(_ json: String) -> [FieldError] {
    do {
        let document = try JSONCoding.decoder.decode(JSONValue.self, from: Data(json.utf8))
        _ = try RoutingRule.decode(document)
        return []
    } catch DomainError.invalid(let errors) {
        return errors
    } catch {
        return [FieldError("?", "\(error)")]
    }
}

func decodeRule(_ json: String) throws -> RoutingRule {
    let document = try JSONCoding.decoder.decode(JSONValue.self, from: Data(json.utf8))
    return try RoutingRule.decode(document)
}

@Suite struct RuleModelTests {
    @Test func aFullRuleRoundTripsThroughJSON() throws {
        let json = """
        {"id": "r1", "accountId": null, "name": "VIP", "position": 3, "enabled": true, "match": "any",
         "conditions": [
           {"field": "from", "operator": "endsWith", "value": "@vip.example"},
           {"field": "header:X-Priority", "operator": "is", "value": "1"},
           {"field": "hasAttachment", "operator": "is", "value": true},
           {"field": "time", "operator": "is", "value": {"state": "closed",
              "calendar": {"timeZone": "Europe/Rome", "weekly": {"monday": ["09:00-18:00"]}, "holidays": ["2026-12-25"]}}}
         ],
         "actions": [
           {"type": "tag", "tag": "vip"},
           {"type": "priority", "priority": "high"},
           {"type": "autoReply", "templateId": "t1", "mode": "always", "recipients": "senderAndCc"},
           {"type": "agent", "userId": "u1", "timeoutSeconds": 20},
           {"type": "webhook", "url": "https://hooks.example/x"},
           {"type": "close", "dispositionId": "d1"},
           {"type": "queue", "queueId": "q1"},
           {"type": "goto", "ruleId": "r9"}
         ]}
        """
        let rule = try decodeRule(json)
        #expect(rule.accountId == nil)
        #expect(rule.match == .any)
        #expect(rule.conditions[1].field == .header("X-Priority"))
        #expect(rule.conditions[2].value == .flag(true))
        #expect(rule.actions[3] == .agent(userId: "u1", timeoutSeconds: 20))
        #expect(rule.actions.last == .goto(ruleId: "r9"))
        let again = try JSONValue(encoding: rule).decode(RoutingRule.self)
        #expect(again == rule)
    }

    @Test func defaultsApplyWhenOptionalFieldsAreAbsent() throws {
        let rule = try decodeRule(#"{"accountId": "a1", "name": "n", "actions": [{"type": "stop"}]}"#)
        #expect(rule.enabled && rule.match == .all && rule.position == 0 && rule.conditions.isEmpty)
        let reply = try decodeRule(#"{"accountId": "a1", "name": "n", "actions": [{"type": "autoReply", "templateId": "t"}]}"#)
        #expect(reply.actions == [.autoReply(AutoReplyAction(templateId: "t", mode: .oncePerTicket, recipients: .sender))])
    }

    @Test(arguments: [
        (#"{"field": "from", "operator": "resembles", "value": "x"}"#, "conditions[1].operator"),
        (#"{"field": "sender", "operator": "is", "value": "x"}"#, "conditions[1].field"),
        (#"{"field": "subject", "operator": "is"}"#, "conditions[1].value"),
        (#"{"field": "hasAttachment", "operator": "is", "value": "yes"}"#, "conditions[1].value"),
        (#"{"field": "time", "operator": "is", "value": {"state": "lunch", "calendar": {"timeZone": "UTC"}}}"#, "conditions[1].value.state"),
    ])
    func decodingNamesTheFailingConditionField(condition: String, field: String) {
        let json = """
        {"accountId": "a1", "name": "n", "conditions": [{"field": "subject", "operator": "is", "value": "ok"}, \(condition)],
         "actions": [{"type": "stop"}]}
        """
        let errors = ruleErrors(json)
        #expect(errors.map(\.field) == [field], "\(errors)")
    }

    @Test(arguments: [
        (#"{"type": "teleport"}"#, "actions[0].type"),
        (#"{"type": "queue"}"#, "actions[0].queueId"),
        (#"{"type": "agent", "timeoutSeconds": 5}"#, "actions[0].userId"),
        (#"{"type": "priority", "priority": "urgent"}"#, "actions[0].priority"),
        (#"{"type": "autoReply", "templateId": "t", "mode": "sometimes"}"#, "actions[0].mode"),
        (#"{"type": "autoReply", "templateId": "t", "recipients": "everyone"}"#, "actions[0].recipients"),
    ])
    func decodingNamesTheFailingActionField(action: String, field: String) {
        let errors = ruleErrors(#"{"accountId": "a1", "name": "n", "actions": [\#(action)]}"#)
        #expect(errors.map(\.field) == [field], "\(errors)")
        #expect(errors.first?.message.isEmpty == false)
    }

    @Test func anUnknownOperatorListsTheAllowedOnes() {
        let errors = ruleErrors(#"{"accountId": "a1", "name": "n", "conditions": [{"field": "from", "operator": "like", "value": "x"}], "actions": [{"type": "stop"}]}"#)
        #expect(errors.first?.message.contains("'matches'") == true, "\(errors)")
    }

    @Test(arguments: [
        (RuleAction.queue(queueId: " "), "actions[0].queueId"),
        (.agent(userId: "", timeoutSeconds: nil), "actions[0].userId"),
        (.agent(userId: "u", timeoutSeconds: 0), "actions[0].timeoutSeconds"),
        (.tag(""), "actions[0].tag"),
        (.tag(String(repeating: "t", count: 101)), "actions[0].tag"),
        (.autoReply(AutoReplyAction(templateId: "")), "actions[0].templateId"),
        (.close(dispositionId: ""), "actions[0].dispositionId"),
        (.webhook(url: "ftp://example.com/x"), "actions[0].url"),
        (.webhook(url: "javascript:alert(1)"), "actions[0].url"),
        (.webhook(url: "https://"), "actions[0].url"),
        (.goto(ruleId: ""), "actions[0].ruleId"),
        (.goto(ruleId: "self"), "actions[0].ruleId"),
    ])
    func validationNamesEachBadAction(action: RuleAction, field: String) {
        let rule = RoutingRule(id: "self", accountId: "a1", name: "n", actions: [action])
        #expect(rule.validate().map(\.field) == [field], "\(rule.validate())")
    }

    @Test func validationAcceptsGoodActions() {
        let rule = RoutingRule(id: "r1", accountId: "a1", name: "n", actions: [
            .queue(queueId: "q"), .agent(userId: "u", timeoutSeconds: 30), .tag("x"), .priority(.low),
            .autoReply(AutoReplyAction(templateId: "t")), .close(dispositionId: "d"), .webhook(url: "http://hooks.example:8080/p"),
            .goto(ruleId: "r2"),
        ])
        #expect(rule.validate(knownRuleIds: ["r1", "r2"]) == [])
    }

    @Test func gotoAndStopMustEndTheActionList() {
        let rule = RoutingRule(accountId: "a1", name: "n", actions: [.stop, .tag("never")])
        #expect(rule.validate().map(\.field) == ["actions[0].type"])
    }

    @Test func gotoToAnUnknownRuleIsReportedWhenTheRulesAreKnown() {
        let rule = RoutingRule(id: "r1", accountId: "a1", name: "n", actions: [.goto(ruleId: "gone")])
        #expect(rule.validate(knownRuleIds: ["r1", "r2"]).map(\.field) == ["actions[0].ruleId"])
        #expect(rule.validate().isEmpty)
    }

    @Test func validationListsEveryProblemAtOnce() {
        let rule = RoutingRule(accountId: " ", name: " ", position: -1, conditions: [
            RuleCondition(.hasAttachment, .contains, .flag(true)),
            RuleCondition(.subject, .matches, "(unclosed"),
            RuleCondition(.header(""), .is, "x"),
            RuleCondition(.body, .contains, ""),
        ], actions: [])
        let fields = rule.validate().map(\.field)
        #expect(fields == ["name", "position", "accountId", "conditions[0].operator", "conditions[1].value",
                           "conditions[2].field", "conditions[3].value", "actions"])
    }

    @Test func timeConditionsOnlyTakeIsAndIsNot() {
        let calendar = BusinessHoursCalendar(timeZone: "UTC", weekly: [:])
        let rule = RoutingRule(accountId: "a1", name: "n", conditions: [RuleCondition(.time, .startsWith, .businessHours(.open, calendar))],
                               actions: [.stop])
        #expect(rule.validate().map(\.field) == ["conditions[0].operator"])
    }

    @Test func decodeReportsValidationErrorsWithPaths() {
        let errors = ruleErrors("""
        {"accountId": "a1", "name": "n",
         "conditions": [{"field": "time", "operator": "is", "value": {"state": "open",
            "calendar": {"timeZone": "Mars/Olympus", "weekly": {"friday": ["18:00-09:00", "9-17"]}, "holidays": ["2026-02-30"]}}}],
         "actions": [{"type": "webhook", "url": "mailto:x@example.com"}]}
        """)
        #expect(errors.map(\.field) == [
            "conditions[0].value.calendar.timeZone",
            "conditions[0].value.calendar.weekly.friday[0]",
            "conditions[0].value.calendar.weekly.friday[1]",
            "conditions[0].value.calendar.holidays[0]",
            "actions[0].url",
        ], "\(errors)")
    }

    @Test func aValueOfTheWrongShapeForItsFieldIsReported() {
        let rule = RoutingRule(accountId: "a1", name: "n", conditions: [
            RuleCondition(.hasAttachment, .is, "yes"),
            RuleCondition(.time, .is, .flag(true)),
            RuleCondition(.subject, .is, .flag(true)),
        ], actions: [.stop])
        #expect(rule.validate().map(\.field) == ["conditions[0].value", "conditions[1].value", "conditions[2].value"])
    }

    @Test func reorderingRenumbersTheGroup() throws {
        let group = ["a", "b", "c"].enumerated().map { RoutingRule(id: $1, accountId: "a1", name: $1, position: $0, actions: [.stop]) }
        let reordered = try RoutingRule.reordered(group, as: ["c", "a", "b"])
        #expect(reordered.map(\.id) == ["c", "a", "b"])
        #expect(reordered.map(\.position) == [0, 1, 2])
        do {
            _ = try RoutingRule.reordered(group, as: ["c", "c", "x"])
            Issue.record("a bad order must be refused")
        } catch {
            guard case .invalid(let errors) = error else { Issue.record("\(error)"); return }
            #expect(errors.map(\.field) == ["order[1]", "order[2]", "order"])
        }
    }

    @Test func aRuleWithinACampaignRoutesOnlyToItsQueuesForItsAccounts() {
        let campaign = Campaign(id: "c1", name: "Sales", queueIds: ["q1"], accountIds: ["a1"])
        var rule = RoutingRule(accountId: "a1", name: "r", actions: [.tag("x"), .queue(queueId: "q1")])
        #expect(rule.campaignProblems(nil).isEmpty, "a rule without a campaign is not limited")
        rule.campaignId = "c1"
        #expect(rule.campaignProblems(campaign).isEmpty)
        #expect(rule.campaignProblems(nil).map(\.field) == ["campaignId"])
        rule.accountId = "a2"
        rule.actions = [.queue(queueId: "q2")]
        #expect(rule.campaignProblems(campaign).map(\.field) == ["accountId", "actions[0].queueId"])
    }
}

