import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MailroomCore

/// The one place Mailroom talks HTTP to OAuth2 providers (token, user info, revocation); a later
/// move to another HTTP client replaces this type alone. Bodies are capped, and errors name the
/// host but never the request, which carries codes, tokens and the client secret.
public struct URLSessionOAuth2HTTP: OAuth2HTTPClient {
    let timeout: TimeInterval
    static let maximumBodyBytes = 1 << 20

    public init(timeout: TimeInterval = 30) { self.timeout = timeout }

    public func send(_ request: OAuth2HTTPRequest) async throws -> OAuth2HTTPResponse {
        var urlRequest = URLRequest(url: request.url, timeoutInterval: timeout)
        urlRequest.setValue("application/json", forHTTPHeaderField: "Accept")
        if let bearer = request.bearer { urlRequest.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        if request.form != nil {
            urlRequest.httpMethod = "POST"
            urlRequest.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            urlRequest.httpBody = Data(request.formBody.utf8)
        }
        let host = request.url.host ?? "the provider"
        do {
            let (data, response) = try await URLSession.shared.data(for: urlRequest)
            return OAuth2HTTPResponse(status: (response as? HTTPURLResponse)?.statusCode ?? 0,
                                      body: Array(data.prefix(Self.maximumBodyBytes)))
        } catch {
            throw OAuth2FlowError.unreachable(host, (error as NSError).localizedDescription)
        }
    }
}
