import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The process's one HTTP client (async-http-client) and a small request helper over it, for
/// Graph, EWS, OAuth2 token endpoints and webhooks alike. Redirects are not followed: a request that
/// carries a token or a password must not be sent on to another host.
public enum SharedHTTP {
    public static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(120))
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// For servers whose certificate the administrator chose not to check (the account's
    /// acceptAnyCertificate): per request, so other requests still verify.
    static let unverifiedTLS: TLSConfiguration = {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        return tls
    }()

    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: [UInt8]
    }

    /// What a body larger than the caller's limit turns into: its announced size, when known.
    public struct BodyTooLarge: Error, Sendable {
        public var announcedSize: Int?
    }

    /// Sends one request and reads the whole answer (at most `maxBodyBytes`). Transport failures
    /// come back as ``ExchangeError`` of kind `connection` or `unknownHost`, naming the host only.
    public static func send(method: HTTPMethod, url: String, headers: HTTPHeaders, body: [UInt8]? = nil,
                            timeout: Duration, acceptAnyCertificate: Bool = false, maxBodyBytes: Int = 16 << 20) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers = headers
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        if acceptAnyCertificate { request.tlsConfiguration = unverifiedTLS }
        let host = URLComponents(string: url)?.host ?? "the server"
        do {
            let response = try await executeOnLiveConnection(request, timeout: timeout)
            if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > maxBodyBytes {
                throw BodyTooLarge(announcedSize: length)
            }
            let buffer: ByteBuffer
            do {
                buffer = try await response.body.collect(upTo: maxBodyBytes)
            } catch is NIOTooManyBytesError {
                throw BodyTooLarge(announcedSize: nil)
            }
            return Response(status: Int(response.status.code), headers: response.headers, body: Array(buffer.readableBytesView))
        } catch let error as BodyTooLarge {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw transportError(error, host: host)
        }
    }

    /// A pooled connection the server has closed meanwhile fails the write with "I/O on closed
    /// channel": the request never left, so it is sent once more on a fresh connection (safe even for
    /// a send, which the server cannot have seen). Any other failure is the caller's to classify.
    static func executeOnLiveConnection(_ request: HTTPClientRequest, timeout: Duration) async throws -> HTTPClientResponse {
        let deadline = TimeAmount.nanoseconds(Int64(timeout / .nanoseconds(1)))
        do {
            return try await client.execute(request, timeout: deadline)
        } catch let error as ChannelError where error == .ioOnClosedChannel {
            return try await client.execute(request, timeout: deadline)
        }
    }

    /// Sends a request and answers as soon as the head arrives, the body to be read as it streams
    /// (EWS GetStreamingEvents). `timeout` bounds the whole exchange, body included.
    public static func open(method: HTTPMethod, url: String, headers: HTTPHeaders, body: [UInt8]?, timeout: Duration,
                            acceptAnyCertificate: Bool = false) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers = headers
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        if acceptAnyCertificate { request.tlsConfiguration = unverifiedTLS }
        do {
            return try await client.execute(request, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw transportError(error, host: URLComponents(string: url)?.host ?? "the server")
        }
    }

    static func transportError(_ error: any Error, host: String) -> ExchangeError {
        func connection(_ transport: ExchangeError.Transport?, _ message: String) -> ExchangeError {
            var failure = ExchangeError(.connection, message: message)
            failure.transport = transport
            return failure
        }
        let text = String(describing: error)
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .tlsHandshakeTimeout:
                return connection(.timedOut, "\(host) did not answer in time")
            case .remoteConnectionClosed:
                return connection(.closed, "\(host) closed the connection before the answer was complete")
            default:
                break
            }
        }
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED || text.contains("Connection refused") {
            return connection(.refused, "\(host) refused the connection")
        }
        if text.contains("NXDOMAIN") || text.contains("unknown host") || text.contains("resolve") && text.contains("host") {
            return ExchangeError(.unknownHost, message: "the host name \(host) does not resolve")
        }
        if error is NIOSSLError || text.contains("certificate") || text.contains("handshake") {
            return connection(.tls, "the TLS handshake with \(host) failed (is its certificate trusted? the account can accept any certificate)")
        }
        return connection(nil, "cannot talk to \(host): \(text.prefix(200))")
    }
}
