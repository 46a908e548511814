import Foundation
import MailroomCore

extension AccountConnectionTest {
    /// The connection test of an account that signs in through a provider: first the token step
    /// (which provider answered what), then the servers with the token it gave. Other accounts
    /// are tested as before. The report's `token` is `{ok, provider, state, message}`.
    public static func run(_ account: Account, grants: any OAuth2GrantRepository) async -> JSONValue {
        let usesProvider = [account.incoming.connection.auth, account.outgoing.connection.auth]
            .contains { $0.method == .oauth2 && $0.oauth2?.providerId != nil }
        guard usesProvider else { return await run(account) }
        let providerId = [account.incoming.connection.auth, account.outgoing.connection.auth].compactMap { $0.oauth2?.providerId }.first
        var providerName = "the provider"
        if let providerId, let provider = try? await grants.find(id: providerId) { providerName = provider.name }
        var tested = account
        var token: [String: JSONValue] = ["provider": .string(providerName)]
        do {
            let login = try await OAuth2AccountTokens(store: grants).login(accountId: account.id)
            for direction in [\Account.incoming.connection.auth, \Account.outgoing.connection.auth] {
                var auth = tested[keyPath: direction]
                guard auth.method == .oauth2, auth.oauth2?.providerId != nil else { continue }
                auth.oauth2?.accessToken = Secret(login.token)
                if auth.username.isEmpty {
                    auth.username = [auth.oauth2?.email ?? "", login.address ?? "", account.fromAddress].first { !$0.isEmpty } ?? ""
                }
                tested[keyPath: direction] = auth
            }
            token["ok"] = .bool(true)
            token["message"] = .string("\(providerName) gave an access token\(login.address.map { " for \($0)" } ?? "").")
        } catch {
            token["ok"] = .bool(false)
            token["message"] = .string("\(providerName): \(error)")
        }
        if let grant = try? await grants.grant(accountId: account.id) {
            token["state"] = .string(OAuth2TokenStatus.of(grant, provider: nil, now: Date()).state.rawValue)
        } else {
            token["state"] = .string(OAuth2TokenState.consentMissing.rawValue)
        }
        guard case .object(var report) = await run(tested) else { return .object(["token": .object(token)]) }
        report["token"] = .object(token)
        if token["ok"] == .bool(false) { report["ok"] = .bool(false) }
        return .object(report)
    }
}
