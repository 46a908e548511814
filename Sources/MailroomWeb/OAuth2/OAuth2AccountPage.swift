import Foundation
import Hummingbird
import MailroomCore
import MailroomStore

/// The account page's "Modern authentication" section and its provider choices.
extension WebSite {
    static func providerChoices(_ providers: [OAuth2Provider], selected: String?) -> [[String: Any]] {
        providers.map { ["id": $0.id, "label": "\($0.name) (\($0.kind.rawValue))", "selected": $0.id == selected] }
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

    func oauth2Section(_ account: Account, providers: [OAuth2Provider], request: Request) async throws -> [String: Any] {
        guard let providerId = OAuth2SignIn.providerSettings(account)?.providerId else { return ["accountId": account.id] }
        let provider = providers.first { $0.id == providerId }
        let grant = try await store.accounts.oauth2.grant(accountId: account.id)
        let current = grant?.providerId == providerId ? grant : nil
        let status = OAuth2TokenStatus.of(current, provider: provider, now: Date())
        let redirectURI = try await oauth2SignIn.redirectURI(request: request)
        return [
            "accountId": account.id,
            "provider": [
                "accountId": account.id,
                "providerName": provider?.name ?? "the provider (deleted: choose another)",
                "state": status.state.rawValue, "stateLabel": Self.stateLabel(status.state), "message": status.message,
                "signedIn": current != nil,
                "signedInAddress": status.signedInAddress ?? "",
                "refreshedAt": status.refreshedAt.map(ISO8601.format) ?? "",
                "expiresAt": status.expiresAt.map(ISO8601.format) ?? "",
                "scopes": status.scopes.joined(separator: " "),
                "redirectURI": redirectURI,
            ] as [String: Any],
        ]
    }
}
