import Foundation
import MailMessage

/// One HTTP exchange with a provider. The one implementation (MailroomWorkers' `OAuth2HTTPTransport`)
/// is the only place that talks HTTP to providers, so moving it to another client touches one file.
public struct OAuth2HTTPRequest: Sendable {
    public var url: URL
    /// `application/x-www-form-urlencoded` fields to POST; nil: a GET.
    public var form: [(String, String)]?
    public var bearer: String?

    public init(url: URL, form: [(String, String)]?, bearer: String? = nil) {
        self.url = url
        self.form = form
        self.bearer = bearer
    }

    /// The POST body.
    public var formBody: String {
        (form ?? []).map { "\(OAuth2Flow.formEncode($0.0))=\(OAuth2Flow.formEncode($0.1))" }.joined(separator: "&")
    }
}

public struct OAuth2HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}

public protocol OAuth2HTTPClient: Sendable {
    /// Sends the request; throws `OAuth2FlowError.unreachable` when no answer came.
    func send(_ request: OAuth2HTTPRequest) async throws -> OAuth2HTTPResponse
}

/// What went wrong talking to a provider. Descriptions never hold a token, code, verifier or secret.
public struct OAuth2FlowError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The OAuth error code the provider sent (`invalid_grant`), if any.
    public let error: String?
    public let errorDescription: String?
    public let httpStatus: Int?
    public let description: String

    public init(error: String?, errorDescription: String?, httpStatus: Int?, description: String) {
        self.error = error
        self.errorDescription = errorDescription
        self.httpStatus = httpStatus
        self.description = description
    }

    public static func unreachable(_ host: String, _ detail: String) -> OAuth2FlowError {
        OAuth2FlowError(error: nil, errorDescription: nil, httpStatus: nil, description: "\(host) could not be reached: \(detail)")
    }
}

/// What a token endpoint granted (RFC 6749 section 5.1).
public struct OAuth2TokenAnswer: Sendable, Equatable {
    public var accessToken: String
    public var refreshToken: String?
    public var expiresAt: Date?
    /// The scopes granted; nil when the answer did not say (then they are the ones asked for).
    public var scopes: [String]?
    public var idToken: String?
}

/// The authorization-code flow with PKCE (RFC 6749 section 4.1, RFC 7636), as pure pieces and calls
/// through an `OAuth2HTTPClient`.
public enum OAuth2Flow {
    /// A value for `state` or `code_verifier`: 32 random bytes, base64url (43 characters, RFC 7636 section 4.1).
    public static func randomToken() -> String {
        var random = SystemRandomNumberGenerator()
        return base64URL((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
    }

    /// `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 section 4.2, S256).
    public static func challenge(for verifier: String) -> String {
        base64URL(SHA256.hash(Array(verifier.utf8)))
    }

    public static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func formEncode(_ text: String) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// The address the administrator's browser is sent to.
    public static func authorizationURL(provider: OAuth2Provider, redirectURI: String, state: String, verifier: String,
                                        loginHint: String?) -> URL? {
        guard var components = URLComponents(string: provider.authorizationURL) else { return nil }
        var items = components.queryItems ?? []
        items += [
            URLQueryItem(name: "response_type", value: "code"),
            URLQueryItem(name: "client_id", value: provider.clientId),
            URLQueryItem(name: "redirect_uri", value: redirectURI),
            URLQueryItem(name: "scope", value: provider.scopes.joined(separator: " ")),
            URLQueryItem(name: "state", value: state),
            URLQueryItem(name: "code_challenge", value: challenge(for: verifier)),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        if let loginHint, !loginHint.isEmpty { items.append(URLQueryItem(name: "login_hint", value: loginHint)) }
        items += provider.extraAuthorizationParameters.map { URLQueryItem(name: $0.0, value: $0.1) }
        // `+` in a query is read as a space by some servers: encode it as well.
        components.percentEncodedQuery = items.map { "\(formEncode($0.name))=\(formEncode($0.value ?? ""))" }.joined(separator: "&")
        return components.url
    }

    static func clientFields(_ provider: OAuth2Provider) -> [(String, String)] {
        var fields = [("client_id", provider.clientId)]
        if let secret = provider.clientSecret?.revealed { fields.append(("client_secret", secret)) }
        return fields
    }

    /// Exchanges the code the callback brought (RFC 6749 section 4.1.3, with the PKCE verifier).
    public static func exchange(code: String, verifier: String, redirectURI: String, provider: OAuth2Provider,
                                http: any OAuth2HTTPClient, now: Date) async throws -> OAuth2TokenAnswer {
        let fields = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", verifier)]
            + clientFields(provider)
        return try await tokenRequest(fields, provider: provider, http: http, now: now)
    }

    /// Refreshes (RFC 6749 section 6).
    public static func refresh(refreshToken: String, provider: OAuth2Provider, http: any OAuth2HTTPClient, now: Date) async throws
        -> OAuth2TokenAnswer {
        let fields = [("grant_type", "refresh_token"), ("refresh_token", refreshToken)] + clientFields(provider)
        return try await tokenRequest(fields, provider: provider, http: http, now: now)
    }

    static func tokenRequest(_ fields: [(String, String)], provider: OAuth2Provider, http: any OAuth2HTTPClient, now: Date) async throws
        -> OAuth2TokenAnswer {
        guard let url = URL(string: provider.tokenURL) else {
            throw OAuth2FlowError(error: nil, errorDescription: nil, httpStatus: nil, description: "the provider's token URL is not valid")
        }
        let response = try await http.send(OAuth2HTTPRequest(url: url, form: fields))
        return try answer(response, now: now, host: url.host ?? "the token endpoint")
    }

    struct TokenBody: Decodable {
        var access_token: String?
        var refresh_token: String?
        var expires_in: FlexibleNumber?
        var scope: String?
        var id_token: String?
        var error: String?
        var error_description: String?
    }

    /// Some providers send `expires_in` as a string.
    struct FlexibleNumber: Decodable {
        var value: Double?
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let number = try? c.decode(Double.self) { value = number } else { value = Double((try? c.decode(String.self)) ?? "") }
        }
    }

    /// Reads a token endpoint's answer: a grant, or the error it names.
    public static func answer(_ response: OAuth2HTTPResponse, now: Date, host: String) throws -> OAuth2TokenAnswer {
        let body = try? JSONDecoder().decode(TokenBody.self, from: Data(response.body))
        guard (200..<300).contains(response.status) else {
            var text = "\(host) refused (HTTP \(response.status)"
            if let error = body?.error { text += ", \(error.prefix(100))" }
            text += ")"
            if let detail = body?.error_description, !detail.isEmpty { text += ": \(detail.prefix(300))" }
            throw OAuth2FlowError(error: body?.error.map { String($0.prefix(100)) }, errorDescription: body?.error_description.map { String($0.prefix(300)) },
                                  httpStatus: response.status, description: text)
        }
        guard let token = body?.access_token, !token.isEmpty else {
            throw OAuth2FlowError(error: nil, errorDescription: nil, httpStatus: response.status,
                                  description: "\(host) answered without an access token")
        }
        return OAuth2TokenAnswer(
            accessToken: token,
            refreshToken: body?.refresh_token.flatMap { $0.isEmpty ? nil : $0 },
            expiresAt: body?.expires_in?.value.map { now.addingTimeInterval($0) },
            scopes: body?.scope.map { $0.split(separator: " ").map(String.init) },
            idToken: body?.id_token)
    }

    /// The mailbox address in an ID token's claims (`email`, else Microsoft's `preferred_username`).
    /// The token came straight from the token endpoint over TLS, which OpenID Connect Core
    /// (section 3.1.3.7) accepts in place of checking its signature.
    public static func address(fromIDToken token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var text = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text) else { return nil }
        struct Claims: Decodable { var email: String?; var preferred_username: String?; var upn: String? }
        guard let claims = try? JSONDecoder().decode(Claims.self, from: data) else { return nil }
        return [claims.email, claims.preferred_username, claims.upn].compactMap { $0 }.first { MailAddressSyntax.isValid($0) }
    }

    /// The address from the provider's user info endpoint (OpenID Connect), with the new access token.
    public static func address(fromUserInfo url: String, accessToken: String, http: any OAuth2HTTPClient) async -> String? {
        guard let url = URL(string: url),
              let response = try? await http.send(OAuth2HTTPRequest(url: url, form: nil, bearer: accessToken)),
              response.status == 200 else { return nil }
        struct Info: Decodable { var email: String?; var mail: String?; var userPrincipalName: String? }
        guard let info = try? JSONDecoder().decode(Info.self, from: Data(response.body)) else { return nil }
        return [info.email, info.mail, info.userPrincipalName].compactMap { $0 }.first { MailAddressSyntax.isValid($0) }
    }

    /// Tells the provider to forget a token (RFC 7009); failures are ignored (the grant is dropped here anyway).
    public static func revoke(token: String, provider: OAuth2Provider, http: any OAuth2HTTPClient) async {
        guard let revocation = provider.revocationURL, let url = URL(string: revocation) else { return }
        _ = try? await http.send(OAuth2HTTPRequest(url: url, form: [("token", token), ("token_type_hint", "refresh_token")] + clientFields(provider)))
    }
}
