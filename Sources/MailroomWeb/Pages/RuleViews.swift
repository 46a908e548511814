import Foundation
import MailroomCore

/// A `<select>`'s option whose value (the API's name) differs from what a person reads.
struct LabelledOptionView: TemplateView {
    let value: String
    let label: String
    let selected: Bool
}

extension LabelledOptionView {
    /// Every case of a named set, labelled; `selected` is ticked.
    static func all<T: NamedValues>(_ type: T.Type, selected: T?, label: (T) -> String) -> [LabelledOptionView] {
        T.allCases.map { LabelledOptionView(value: $0.rawValue, label: label($0), selected: $0.rawValue == selected?.rawValue) }
    }
}

/// `admin/rules.mustache`: one account's rules (or the global ones, or every rule) in order.
struct RuleListView: PageContent {
    static let template = "admin/rules"

    struct Row: TemplateView {
        let id: String
        let name: String
        let enabled: Bool
        /// The whole rule in words: "From contains @acme.com → queue Parcels, tag vip".
        let summary: String
        /// Whose rule it is ("Every account", or the account), shown when every rule is listed.
        let group: String
        /// The rule just created or saved.
        let highlighted: Bool
    }

    let rules: [Row]
    let empty: Bool
    /// nil: the global rules; "all": every rule (not reorderable).
    let accountId: String?
    let showAll: Bool
    let reorderable: Bool
    let accounts: [ChoiceView]
    /// "Rule “X” was created." after the form saved.
    let notice: String?
}

/// `admin/rule.mustache`: one rule's form.
struct RuleFormView: PageContent {
    static let template = "admin/rule"

    /// One weekday's opening hours in a time condition.
    struct Day: TemplateView {
        let name: String
        let label: String
        let hours: String
    }

    /// `admin/rule-condition.mustache`: the field chooses which inputs are shown (and sent).
    struct Condition: TemplateView {
        let fields: [LabelledOptionView]
        let headerName: String
        /// Every operator, for text fields.
        let textOperators: [LabelledOptionView]
        /// "is" and "is not", for the account, attachments and time.
        let choiceOperators: [LabelledOptionView]
        let text: String
        let accounts: [ChoiceView]
        let attachmentYes: Bool
        let timeStates: [LabelledOptionView]
        let timeZone: String
        let days: [Day]
        let holidays: String
    }

    /// `admin/rule-action.mustache`: every action type's inputs; the script shows the chosen type's.
    struct Action: TemplateView {
        let types: [LabelledOptionView]
        let queues: [NamedChoiceView]
        let users: [NamedChoiceView]
        let templates: [NamedChoiceView]
        let dispositions: [NamedChoiceView]
        let rules: [NamedChoiceView]
        let priorities: [OptionView]
        let modes: [LabelledOptionView]
        let recipients: [LabelledOptionView]
        let tag: String
        let url: String
        let timeoutSeconds: String
    }

    let creating: Bool
    let apiURL: String
    let apiMethod: String
    let name: String
    let enabled: Bool
    let matchAll: Bool
    let accounts: [ChoiceView]
    /// The campaign the rule routes within (its queues must be the campaign's).
    let campaigns: [NamedChoiceView]
    let conditions: [Condition]
    let actions: [Action]
    let blankCondition: Condition
    let blankAction: Action
    let backURL: String
    /// Where the browser goes after saving: the list, showing this rule.
    let savedURL: String
    /// IANA names for the time conditions' zone box.
    let timeZones: [String]
}
