import Foundation
import Testing

/// Clients that send too much or too slowly, against the real `mailroom serve` (issue 25): each is
/// answered or cut off in bounded time, and never leaves itself or the server waiting for a timeout.
@Suite(.serialized) struct SlowAndOversizedClientTests {
    static let token = "raw-client-admin-token"
    static let environment = ["MAILROOM_ADMIN_TOKEN": token, "MAILROOM_HTTP_HEADER_TIMEOUT": "1", "MAILROOM_HTTP_BODY_TIMEOUT": "2"]

    static func head(_ path: String, length: Int, connectionClose: Bool) -> String {
        "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(length)\r\n" + (connectionClose ? "Connection: close\r\n" : "") + "\r\n"
    }

    /// A JSON body over the endpoint's 1 MiB limit, sent whole the way urllib sends it, then the answer read.
    @Test(arguments: [true, false])
    func bodyOverTheLimitIsAnswered413AndTheConnectionClosed(connectionClose: Bool) async throws {
        let server = try await ServedMailroom(environment: Self.environment)
        defer { server.stop() }
        let port = server.port
        let (answer, closed, elapsed) = await offThread { () -> (String, Bool, Duration) in
            guard let client = try? RawHTTPClient(port: port) else { return ("", false, .zero) }
            let start = ContinuousClock.now
            let length = 3 << 20
            client.send(Self.head("/api/v1/users", length: length, connectionClose: connectionClose))
            let chunk = [UInt8](repeating: UInt8(ascii: " "), count: 64 << 10)
            for _ in 0..<(length / chunk.count) where client.send(chunk) {}
            let (bytes, closed) = client.read(timeout: .seconds(20))
            return (String(decoding: bytes, as: UTF8.self), closed, start.duration(to: .now))
        }
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer.prefix(300))")
        #expect(answer.lowercased().contains("connection: close"))
        #expect(answer.contains(#""code":"too_large""#))
        #expect(closed, "the server left the connection open after its 413")
        #expect(elapsed < .seconds(10), "the answer took \(elapsed)")
    }

    /// A declared length over anything the server accepts is refused before the body is sent at all.
    @Test func announcedBodyOverTheServerLimitIsRefusedAtOnce() async throws {
        let server = try await ServedMailroom(environment: Self.environment)
        defer { server.stop() }
        let port = server.port
        let (answer, closed, elapsed) = await offThread { () -> (String, Bool, Duration) in
            guard let client = try? RawHTTPClient(port: port) else { return ("", false, .zero) }
            let start = ContinuousClock.now
            client.send(Self.head("/api/v1/users", length: 200 << 20, connectionClose: false))
            let (first, _) = client.read(timeout: .seconds(2))
            let (_, closed) = client.read(timeout: .seconds(10))
            return (String(decoding: first, as: UTF8.self), closed, start.duration(to: .now))
        }
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer.prefix(300))")
        #expect(closed)
        #expect(elapsed < .seconds(10))
    }

    @Test func headerTrickledByteByByteIsCutOff() async throws {
        let server = try await ServedMailroom(environment: Self.environment)
        defer { server.stop() }
        let port = server.port
        let request = Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: \(String(repeating: "a", count: 200))\r\n\r\n".utf8)
        let result = await offThread { () -> (sent: Int, closed: Bool, elapsed: Duration)? in
            guard let client = try? RawHTTPClient(port: port) else { return nil }
            return client.trickle(request, interval: .milliseconds(50))
        }
        let outcome = try #require(result)
        #expect(outcome.closed, "the server waited for the whole trickled header")
        #expect(outcome.sent < request.count)
        #expect(outcome.elapsed < .seconds(4), "cut off only after \(outcome.elapsed)")
    }

    @Test func bodyTrickledByteByByteIsCutOff() async throws {
        let server = try await ServedMailroom(environment: Self.environment)
        defer { server.stop() }
        let port = server.port
        let body = Array(String(repeating: " ", count: 400).utf8)
        let result = await offThread { () -> (sent: Int, closed: Bool, elapsed: Duration)? in
            guard let client = try? RawHTTPClient(port: port) else { return nil }
            client.send(Self.head("/api/v1/users", length: body.count, connectionClose: false))
            return client.trickle(body, interval: .milliseconds(50))
        }
        let outcome = try #require(result)
        #expect(outcome.closed, "the server waited for the whole trickled body")
        #expect(outcome.elapsed < .seconds(5), "cut off only after \(outcome.elapsed)")
    }

    /// The guard leaves ordinary clients alone: two requests on one kept-alive connection both answered.
    @Test func keptAliveConnectionStillServesRequestAfterRequest() async throws {
        let server = try await ServedMailroom(environment: Self.environment)
        defer { server.stop() }
        let port = server.port
        let answers = await offThread { () -> [String] in
            guard let client = try? RawHTTPClient(port: port) else { return [] }
            var answers: [String] = []
            for _ in 0..<2 {
                client.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answers.append(String(decoding: client.read(timeout: .milliseconds(500)).bytes, as: UTF8.self))
            }
            return answers
        }
        #expect(answers.count == 2 && answers.allSatisfy { $0.hasPrefix("HTTP/1.1 200") }, "\(answers)")
    }
}
