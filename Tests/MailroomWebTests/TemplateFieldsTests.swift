import Foundation
import Mustache
import Testing
@testable import MailroomWeb

/// Mustache renders a misspelt name as an empty string; these tests make it a failure instead:
/// every name a template uses must be a field of the view it is rendered with (or of a section
/// around it), so renaming a field on one side only fails here.
@Suite("Template fields")
struct TemplateFieldsTests {
    static let templatesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/MailroomWeb/Web/templates")

    static func checker() throws -> TemplateChecker {
        TemplateChecker(templates: try TemplateChecker.load(templatesDirectory))
    }

    @Test func everyNameInEveryTemplateIsAFieldOfItsView() throws {
        var checker = try Self.checker()
        #expect(checker.templates.count > 20, "the templates were not found at \(Self.templatesDirectory.path)")
        for view in WebViews.rendered {
            checker.check(view.template, with: try ViewShape.of(view), as: "\(view)")
        }
        #expect(checker.problems.isEmpty, "\(checker.problems.joined(separator: "\n"))")
        let unchecked = Set(checker.templates.keys).subtracting(checker.reached)
        #expect(unchecked.isEmpty, "templates no listed view renders (add the view to WebViews.rendered): \(unchecked.sorted())")
    }

    /// The checker itself: a name the view lacks, a misspelt dotted name, a section's own fields,
    /// and an optional that would show an outer value when nil.
    @Test func theCheckerFindsNamesTheViewLacks() throws {
        struct Row: TemplateView {
            let name: String
            let note: String?
        }
        struct Sample: TemplateView {
            let title: String
            let rows: [Row]
            let note: String
            let flags: [String]
        }
        var checker = TemplateChecker(templates: [
            "good": "{{title}}{{#rows}}{{name}} {{title}}{{/rows}}{{#flags}}{{.}}{{/flags}}{{^rows}}none{{/rows}}",
            "misspelt": "{{titel}}",
            "dotted": "{{rows.nmae}}",
            "outside": "{{#rows}}{{/rows}}{{name}}",
            "shadowing": "{{#rows}}{{note}}{{/rows}}",
            "unclosed": "{{#rows}}",
        ])
        let shape = try ViewShape.of(Sample.self)
        for name in ["good", "misspelt", "dotted", "outside", "shadowing", "unclosed"] {
            checker.check(name, with: shape, as: "Sample")
        }
        let problems = checker.problems.joined(separator: "\n")
        #expect(!problems.contains("good.mustache"), "\(problems)")
        #expect(problems.contains("{{titel}} is not a field"))
        #expect(problems.contains("{{rows.nmae}}"))
        #expect(problems.contains("outside.mustache (rendered with Sample): {{name}} is not a field"))
        #expect(problems.contains("the optional {{note}} shows an outer field"))
        #expect(problems.contains("{{#rows}} is never closed"))
    }

    @Test func aPagesFieldsAreItsContentsAndTheLayouts() throws {
        guard case .object(let page) = try ViewShape.of(Page<StatusView>.self) else {
            Issue.record("a page is an object")
            return
        }
        #expect(Set(page.fields.keys).isSuperset(of: ["accounts", "empty", "title", "csrf", "nav", "me", "live"]))
        #expect(page.duplicates.isEmpty)
        guard case .object(let merged) = try ViewShape.of(Merged<StatusView, StatusView>.self) else { return }
        #expect(merged.duplicates.sorted() == ["accounts", "empty", "storageProblem"])
    }

    /// The variables the account form lists are the ones a notification template is rendered with.
    @Test func theListedNotificationVariablesExist() throws {
        let shape = try ViewShape.of(NotificationVariables.self)
        var checker = TemplateChecker(templates: ["notification": WebSite.notificationVariables.map { "{{\($0)}}" }.joined()])
        checker.check("notification", with: shape, as: "NotificationVariables")
        #expect(checker.problems.isEmpty, "\(checker.problems)")
    }

    /// What the composed context answers is what a merged dictionary answered: the first part's
    /// field wins even when it is an empty optional, a name neither part has is missing.
    @Test func composedViewsAnswerTheFirstPartsField() throws {
        struct First: TemplateView {
            let a: String
            let b: String?
        }
        struct Second: TemplateView {
            let b: String
            let c: Bool
        }
        let view = Merged(First(a: "1", b: nil), Second(b: "2", c: true))
        let template = try MustacheTemplate(string: "{{a}}|{{b}}|{{#c}}c{{/c}}|{{d}}")
        #expect(template.render(view) == "1||c|")
        #expect(template.render(Merged(First(a: "1", b: "x"), Second(b: "2", c: true))) == "1|x|c|")
    }
}
