import Foundation
import Hummingbird
import MailroomCore

/// One provider in the account form's provider select.
struct OAuth2ProviderChoice: TemplateView {
    let id: String
    let label: String
    let selected: Bool
}

/// `admin/account-oauth2.mustache`: the account page's "Modern authentication" section.
struct OAuth2SectionView: TemplateView {
    /// How the account's sign-in stands; nil when it does not sign in through a provider.
    struct Provider: TemplateView {
        let accountId: String
        let providerName: String
        let state: String
        let stateLabel: String
        let message: String
        let signedIn: Bool
        let signedInAddress: String
        let refreshedAt: String
        let expiresAt: String
        let scopes: String
        let redirectURI: String
    }

    let accountId: String
    let provider: Provider?
}

/// `admin/oauth2-providers.mustache`: the installation's OAuth2 providers.
struct OAuth2ProvidersView: PageContent {
    static let template = "admin/oauth2-providers"

    struct Row: TemplateView {
        let id: String
        let name: String
        let kind: String
        let tenant: String
        let clientId: String
        let secretSet: Bool
        let scopes: String
        let authorizationURL: String
        let tokenURL: String
    }

    let providers: [Row]
    let redirectURI: String
}

/// `admin/oauth2-result.mustache`: where a sign-in ends (its own document, as a callback may come
/// without a session).
struct OAuth2ResultView: RenderedView {
    static let template = "admin/oauth2-result"

    let title: String
    let message: String
    let assetVersion: String
    let accountId: String?
    /// The held sign-in's choice token, when a different mailbox signed in.
    let choice: String?
    let signedIn: String?
}

extension WebSite {
    static func providerChoices(_ providers: [OAuth2Provider], selected: String?) -> [OAuth2ProviderChoice] {
        providers.map { OAuth2ProviderChoice(id: $0.id, label: "\($0.name) (\($0.kind.rawValue))", selected: $0.id == selected) }
    }

    static func stateLabel(_ state: OAuth2TokenState) -> String {
        switch state {
        case .valid: "valid"
        case .expiresSoon: "expires soon"
        case .refreshFailed: "refresh failed"
        case .revoked: "revoked"
        case .consentMissing: "not signed in"
        }
    }

    func oauth2Section(_ account: Account, providers: [OAuth2Provider], request: Request) async throws -> OAuth2SectionView {
        guard let providerId = OAuth2SignIn.providerSettings(account)?.providerId else {
            return OAuth2SectionView(accountId: account.id, provider: nil)
        }
        let provider = providers.first { $0.id == providerId }
        let grant = try await store.oauth2.grant(accountId: account.id)
        let current = grant?.providerId == providerId ? grant : nil
        let status = OAuth2TokenStatus.of(current, provider: provider, now: Date())
        return OAuth2SectionView(accountId: account.id, provider: OAuth2SectionView.Provider(
            accountId: account.id,
            providerName: provider?.name ?? "the provider (deleted: choose another)",
            state: status.state.rawValue, stateLabel: Self.stateLabel(status.state), message: status.message,
            signedIn: current != nil,
            signedInAddress: status.signedInAddress ?? "",
            refreshedAt: status.refreshedAt.map(WebSite.displayTime) ?? "",
            expiresAt: status.expiresAt.map(WebSite.displayTime) ?? "",
            scopes: status.scopes.joined(separator: " "),
            redirectURI: try await oauth2SignIn.redirectURI(request: request)))
    }
}
