import ExchangeClient
import Foundation
import MailroomCore
import NIOHTTP1

/// The one place Mailroom talks HTTP to OAuth2 providers (token, user info, revocation), over the
/// process's shared async-http-client. Bodies are capped, and errors name the host but never the
/// request, which carries codes, tokens and the client secret.
public struct OAuth2HTTPTransport: OAuth2HTTPClient {
    let timeout: TimeInterval
    static let maximumBodyBytes = 1 << 20

    public init(timeout: TimeInterval = 30) { self.timeout = timeout }

    public func send(_ request: OAuth2HTTPRequest) async throws -> OAuth2HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Accept", value: "application/json")
        if let bearer = request.bearer { headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        var body: [UInt8]?
        if request.form != nil {
            headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            body = Array(request.formBody.utf8)
        }
        let host = request.url.host ?? "the provider"
        do {
            let response = try await SharedHTTP.send(method: request.form != nil ? .POST : .GET, url: request.url.absoluteString, headers: headers,
                                                     body: body, timeout: .seconds(timeout), maxBodyBytes: Self.maximumBodyBytes)
            return OAuth2HTTPResponse(status: response.status, body: response.body)
        } catch let error as ExchangeError {
            throw OAuth2FlowError.unreachable(host, error.message)
        } catch is SharedHTTP.BodyTooLarge {
            throw OAuth2FlowError.unreachable(host, "the answer was larger than \(Self.maximumBodyBytes) bytes")
        }
    }
}
