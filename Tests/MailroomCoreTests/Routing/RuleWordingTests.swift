import Foundation
import Testing
@testable import MailroomCore

/// The rules list says what each rule does in words, not in the API's names.
@Suite struct RuleWordingTests {
    let wording = RuleWording(names: .init(
        accounts: ["a1": "SUP · Support"], queues: ["q1": "Parcels"], users: ["u1": "Ann Agent"],
        templates: ["t1": "thanks"], dispositions: ["d1": "Spam"], rules: ["r2": "Fallback"]))

    @Test func theIssuesExample() {
        let rule = RoutingRule(accountId: "a1", name: "VIP parcels", conditions: [RuleCondition(.from, .contains, "@acme.com")],
                               actions: [.queue(queueId: "q1"), .tag("vip")])
        #expect(wording.summary(rule) == "From contains @acme.com → queue Parcels, tag vip")
    }

    @Test func operatorsReadAsWords() {
        let rule = RoutingRule(accountId: nil, name: "x", match: .any, conditions: [
            RuleCondition(.subject, .isNot, "hello"), RuleCondition(.header("X-Priority"), .notContains, "1"),
            RuleCondition(.to, .startsWith, "sales"), RuleCondition(.body, .matches, "order [0-9]+"),
        ], actions: [.stop])
        #expect(wording.conditions(rule)
            == "Subject is not hello or Header X-Priority does not contain 1 or To starts with sales or Body matches the pattern order [0-9]+")
        #expect(!wording.summary(rule).contains("isNot") && !wording.summary(rule).contains("notContains"))
    }

    @Test func attachmentsAccountsAndBusinessHours() {
        let calendar = BusinessHoursCalendar(timeZone: "Europe/Rome", weekly: [.monday: ["09:00-17:00"]])
        let rule = RoutingRule(accountId: nil, name: "x", conditions: [
            RuleCondition(.hasAttachment, .is, .flag(true)), RuleCondition(.hasAttachment, .isNot, .flag(true)),
            RuleCondition(.account, .is, "a1"), RuleCondition(.time, .is, .businessHours(.closed, calendar)),
            RuleCondition(.time, .isNot, .businessHours(.closed, calendar)),
        ], actions: [.stop])
        #expect(wording.conditions(rule) == "Has an attachment and has no attachment and account is SUP · Support"
            + " and outside business hours (Europe/Rome) and within business hours (Europe/Rome)")
    }

    @Test func everyActionInWords() {
        let rule = RoutingRule(accountId: nil, name: "x", actions: [
            .agent(userId: "u1", timeoutSeconds: 30), .priority(.high), .autoReply(AutoReplyAction(templateId: "t1")),
            .webhook(url: "https://hooks.example.com/x?secret=1"), .close(dispositionId: "d1"),
        ])
        #expect(wording.summary(rule) == "Every message → offer to Ann Agent (waits 30 s), priority high, "
            + "auto-reply with thanks (once per ticket), call webhook hooks.example.com, close as Spam")
        let next = RoutingRule(accountId: nil, name: "y", actions: [.goto(ruleId: "r2")])
        #expect(wording.actions(next) == "go to rule Fallback")
    }

    @Test func deletedRecordsAreSaidToBeDeleted() {
        let rule = RoutingRule(accountId: nil, name: "x", conditions: [RuleCondition(.account, .is, "gone")],
                               actions: [.queue(queueId: "gone")])
        #expect(wording.summary(rule) == "Account is a deleted account → queue a deleted queue")
    }

    @Test func labelsOfStrategiesAndOperators() {
        #expect(QueueStrategy.ringAll.label == "ring all")
        #expect(QueueStrategy.roundRobin.label == "round robin")
        #expect(RuleOperator.isNot.label == "is not")
        #expect(RuleField.formChoices.map(\.value).contains("header"))
        #expect(RuleField.formChoices.count == 9)
    }
}
