import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One Server-Sent Event as a client reads it.
public struct SSEEvent: Sendable, Equatable {
    public var id: String?
    public var event: String?
    public var data: String
}

/// A minimal client for `GET /api/v1/events`: plain HTTP/1.1 over a loopback socket, read on a
/// thread of its own so blocking reads never hold the test's cooperative threads.
public final class SSEReader: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var headersDone = false
    public private(set) var status: Int?
    /// Comment lines seen (keep-alives, the greeting), for tests of the stream's upkeep.
    public private(set) var comments: [String] = []
    private let queue = DispatchQueue(label: "sse-reader")

    public init(port: Int, path: String = "/api/v1/events", headers: [String: String]) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SSEReaderError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw SSEReaderError("cannot connect to 127.0.0.1:\(port)")
        }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit { Glibc.close(fd) }

    /// The next event, or nil when the stream ended or `timeout` passed first.
    public func next(timeout: Duration = .seconds(10)) async throws -> SSEEvent? {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do { continuation.resume(returning: try self.readEvent(timeout: timeout)) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// Reads events until one of `type` arrives (others are skipped), or nil on timeout.
    public func next(ofType type: String, timeout: Duration = .seconds(10)) async throws -> SSEEvent? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            guard let event = try await next(timeout: ContinuousClock.now.duration(to: deadline)) else { return nil }
            if event.event == type { return event }
        }
        return nil
    }

    private func readEvent(timeout: Duration) throws -> SSEEvent? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if !headersDone, let end = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                headersDone = true
                status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) }
                chunked = head.lowercased().contains("transfer-encoding: chunked")
            }
            if headersDone, let event = takeEvent() { return event }
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return nil }
            var pollfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let millis = Int32(max(1, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
            guard poll(&pollfd, 1, millis) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 16_384)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return takeEvent() }
            buffer += chunk[..<count]
        }
    }

    private var body: [UInt8] = []
    private var pendingChunk = 0
    private var chunked = false

    /// Moves bytes from the (chunked) transfer encoding into `body`, then cuts one event off it.
    private func takeEvent() -> SSEEvent? {
        dechunk()
        while let end = firstBlankLine(in: body) {
            let block = String(decoding: body[..<end.start], as: UTF8.self)
            body.removeFirst(end.end)
            var event = SSEEvent(id: nil, event: nil, data: "")
            var dataLines: [String] = []
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix(":") { comments.append(String(line.dropFirst()).trimmingCharacters(in: .whitespaces)); continue }
                let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                let field = String(parts[0])
                var value = parts.count > 1 ? String(parts[1]) : ""
                if value.hasPrefix(" ") { value.removeFirst() }
                switch field {
                case "id": event.id = value
                case "event": event.event = value
                case "data": dataLines.append(value)
                default: break
                }
            }
            if event.event == nil && event.id == nil && dataLines.isEmpty { continue }
            event.data = dataLines.joined(separator: "\n")
            return event
        }
        return nil
    }

    private func dechunk() {
        guard chunked else {
            body += buffer
            buffer.removeAll()
            return
        }
        while !buffer.isEmpty {
            if pendingChunk > 0 {
                let take = min(pendingChunk, buffer.count)
                body += buffer[..<take]
                buffer.removeFirst(take)
                pendingChunk -= take
                if pendingChunk == 0 { pendingChunk = -2 }  // the CRLF after the chunk
                continue
            }
            if pendingChunk < 0 {
                let skip = min(-pendingChunk, buffer.count)
                buffer.removeFirst(skip)
                pendingChunk += skip
                continue
            }
            guard let end = find([13, 10]) else { return }
            let sizeText = String(decoding: buffer[..<end], as: UTF8.self).split(separator: ";").first ?? ""
            buffer.removeFirst(end + 2)
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return }
            if size == 0 { return }
            pendingChunk = size
        }
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for index in 0...(buffer.count - needle.count) where buffer[index..<(index + needle.count)].elementsEqual(needle) {
            return index
        }
        return nil
    }

    private func firstBlankLine(in bytes: [UInt8]) -> (start: Int, end: Int)? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == 10 && bytes[index + 1] == 10 {
            return (index, index + 2)
        }
        return nil
    }
}

public struct SSEReaderError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
