import Foundation
import Mustache

/// A value a template renders: a plain struct whose stored properties are the names the template
/// uses (swift-mustache finds them through `Mirror`). Building one is checked by the compiler, so
/// a field the Swift side forgets does not compile.
///
/// Mustache itself cannot tell a misspelt name from an empty one, so the views are `Decodable`
/// (synthesized, never used to decode anything): `TemplateFieldsTests` reads every view's fields
/// through it, without an instance, and fails when a template names a field its view lacks.
protocol TemplateView: Decodable {}

/// The data of a page drawn inside `layout.mustache`; rendered as `Page<Self>`.
protocol PageContent: TemplateView {
    static var template: String { get }
}

/// A view rendered with a template of its own: a `Page`, or a whole document or fragment without
/// the layout (sign-in, error, the live-refreshed lists).
protocol RenderedView: TemplateView {
    static var template: String { get }
}

/// A view made of others: a name is looked up in each part in turn, the first part that has the
/// field answering (as a dictionary merged over another used to).
protocol ComposedView: TemplateView, MustacheParent {
    /// `.some(value)` when a part has the field (the value nil for an empty optional), nil when none has.
    func field(named name: String) -> Any??
}

extension ComposedView {
    func child(named name: String) -> Any? {
        field(named: name) ?? nil
    }
}

/// The field `name` of a view: `.some(value)` when it has one (nil for an empty optional, as
/// swift-mustache reads it), nil when it has no such field.
func templateField(_ name: String, of view: Any) -> Any?? {
    if let composed = view as? any ComposedView { return composed.field(named: name) }
    guard let child = Mirror(reflecting: view).children.first(where: { $0.label == name }) else { return nil }
    let value = Mirror(reflecting: child.value)
    guard value.displayStyle == .optional else { return .some(child.value) }
    return .some(value.children.first?.value)
}

/// Two views rendered as one context (a list's filters and its rows, a queue's summary and its form).
struct Merged<First: TemplateView, Second: TemplateView>: ComposedView {
    let first: First
    let second: Second

    init(_ first: First, _ second: Second) {
        self.first = first
        self.second = second
    }

    /// Both parts from the same decoder: their fields side by side, as the template sees them.
    init(from decoder: any Decoder) throws {
        first = try First(from: decoder)
        second = try Second(from: decoder)
    }

    func field(named name: String) -> Any?? {
        if let value = templateField(name, of: first) { return value }
        return templateField(name, of: second)
    }
}

/// A signed-in page: its own content and what the layout shows around it.
struct Page<Content: PageContent>: RenderedView, ComposedView {
    let content: Content
    let layout: LayoutView

    static var template: String { Content.template }

    init(content: Content, layout: LayoutView) {
        self.content = content
        self.layout = layout
    }

    init(from decoder: any Decoder) throws {
        content = try Content(from: decoder)
        layout = try LayoutView(from: decoder)
    }

    func field(named name: String) -> Any?? {
        if let value = templateField(name, of: content) { return value }
        return templateField(name, of: layout)
    }
}

/// What `layout.mustache` shows on every signed-in page.
struct LayoutView: TemplateView {
    struct NavLink: TemplateView {
        let href: String
        let label: String
        let current: Bool
    }

    struct Me: TemplateView {
        let id: String
        let name: String
        let email: String
        let role: String
    }

    let title: String
    let csrf: String
    let assetVersion: String
    let nav: [NavLink]
    let me: Me
    let isSupervisor: Bool
    let isAdmin: Bool
    let section: String
    /// The page listens to live events (`app.js` opens the stream).
    let live: Bool
}

/// A `<select>`'s option whose value is its label.
struct OptionView: TemplateView {
    let value: String
    let selected: Bool
}

/// A `<select>`'s option of a record: its id and a label.
struct ChoiceView: TemplateView {
    let id: String
    let label: String
    let selected: Bool
}

/// A record shown by name (a `<select>` option, a link, a list entry).
struct NamedView: TemplateView {
    let id: String
    let name: String
}

/// A record shown by name, possibly the selected one.
struct NamedChoiceView: TemplateView {
    let id: String
    let name: String
    let selected: Bool
}

/// Every view rendered with a template of its own, so `TemplateFieldsTests` checks each template
/// (and the partials and layout it includes) against the view it is rendered with.
enum WebViews {
    static var rendered: [any RenderedView.Type] {
        [
            SignInPageView.self, ErrorPageView.self,
            Page<DeskView>.self, OffersView.self,
            Page<TicketListView>.self, TicketRowsView.self, Page<TicketPageView>.self,
            Page<AccountListView>.self, Page<AccountFormView>.self,
            Page<UserListView>.self, Page<QueueListView>.self, Page<CampaignListView>.self, Page<ReportPageView>.self,
            Page<RuleListView>.self, Page<RuleFormView>.self,
            Page<CatalogView>.self, Page<TemplateListView>.self, Page<SettingsView>.self,
            Page<OutboxListView>.self, Page<OutboxItemView>.self, Page<QuarantineView>.self, Page<QuarantineEntryView>.self, Page<StatusView>.self,
            Page<OAuth2ProvidersView>.self, OAuth2ResultView.self,
            SetupPageView.self, PasswordLinkPageView.self, ForgotPasswordPageView.self, Page<ProfileView>.self,
            Page<AuditView>.self, Page<ErrorContentView>.self,
            // The desk's ticket side (issue 27): parts refreshed live on their own.
            TicketSummaryView.self, TicketThreadView.self, TicketHistoryView.self, DeskQueuesView.self,
        ]
    }
}
