import Foundation

/// One request inside a Graph JSON batch (`POST /$batch`): its id (unique in the batch), method and
/// URL relative to the version root (`/users/{mailbox}/messages/{id}/$value`).
public struct GraphBatchRequest: Sendable, Equatable {
    public var id: String
    public var method: String
    public var url: String

    public init(id: String, method: String, url: String) {
        self.id = id
        self.method = method
        self.url = url
    }
}

/// One answer inside a batch: its own status, headers (names in lower case) and body. A body
/// that is not JSON (a `$value`) comes base64-encoded on the wire and is decoded here.
public struct GraphBatchResponse: Sendable, Equatable {
    public var id: String
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    public init(id: String, status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.id = id
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var succeeded: Bool { (200..<300).contains(status) }

    /// The failure this answer stands for (only meaningful when it did not succeed).
    public var error: ExchangeError {
        GraphErrors.error(status: status, body: body, retryAfter: headers["retry-after"])
    }

    /// A throttled answer that says how long to wait (429, or 503/509 with Retry-After).
    public var throttled: Bool { !succeeded && error.kind == .rateLimited }
}

/// Graph's JSON batching as Microsoft documents it: at most 20 requests a batch; the batch answers
/// 200 whatever happened inside, each request has its own status; answers may come in any order
/// and are matched by id; without `dependsOn` Graph runs them in any order (and Outlook four at a
/// time), so only independent requests belong together.
public enum GraphBatch {
    public static let maxRequests = 20

    public static func encode(_ requests: [GraphBatchRequest]) throws -> [UInt8] {
        let list: [[String: String]] = requests.map { ["id": $0.id, "method": $0.method, "url": $0.url] }
        return Array(try JSONSerialization.data(withJSONObject: ["requests": list], options: [.withoutEscapingSlashes]))
    }

    /// Reads a batch answer; every request sent must be answered exactly once, by its id.
    public static func parse(_ body: [UInt8], ids: [String]) throws -> [String: GraphBatchResponse] {
        func malformed(_ what: String) -> ExchangeError {
            ExchangeError(.malformedResponse, message: "Graph's $batch answer \(what)")
        }
        guard let root = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let entries = root["responses"] as? [[String: Any]] else {
            throw malformed("is not a batch of responses (\(body.count) bytes)")
        }
        let expected = Set(ids)
        var answers: [String: GraphBatchResponse] = [:]
        for entry in entries {
            guard let id = entry["id"] as? String, expected.contains(id) else {
                throw malformed("answers a request that was not sent")
            }
            guard answers[id] == nil else { throw malformed("answers request \(id) twice") }
            guard let status = (entry["status"] as? NSNumber)?.intValue else {
                throw malformed("has an answer without a status")
            }
            var headers: [String: String] = [:]
            for (name, value) in entry["headers"] as? [String: Any] ?? [:] {
                headers[name.lowercased()] = (value as? String) ?? (value as? NSNumber)?.stringValue
            }
            answers[id] = GraphBatchResponse(id: id, status: status, headers: headers,
                                             body: try Self.body(entry["body"], contentType: headers["content-type"], id: id))
        }
        if let missing = ids.first(where: { answers[$0] == nil }) {
            throw malformed("has no answer for request \(missing)")
        }
        return answers
    }

    /// JSON bodies come as JSON values; anything else as a base64 string.
    static func body(_ value: Any?, contentType: String?, id: String) throws -> [UInt8] {
        switch value {
        case nil, is NSNull:
            return []
        case let text as String:
            if contentType?.lowercased().contains("json") == true { return Array(text.utf8) }
            guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }) else {
                throw ExchangeError(.malformedResponse, message: "Graph's $batch answer \(id) has a body that is not base64")
            }
            return Array(data)
        case let object:
            guard JSONSerialization.isValidJSONObject(object),
                  let data = try? JSONSerialization.data(withJSONObject: object) else {
                return Array("\(object)".utf8)
            }
            return Array(data)
        }
    }
}

extension GraphClient {
    /// The path of a request inside a batch, relative to the version root.
    func batchPath(_ suffix: String) -> String {
        "/users/\(Self.pathSegment(mailbox))\(suffix)"
    }

    /// Sends one batch (at most 20 requests); the batch as a whole goes through ``send`` (token
    /// refresh, throttling of the whole batch), the answers inside come back as they are.
    public func batch(_ requests: [GraphBatchRequest], maxBodyBytes: Int = 16 << 20, freshToken: Bool = false) async throws -> [String: GraphBatchResponse] {
        precondition(requests.count <= GraphBatch.maxRequests, "a Graph batch takes at most 20 requests")
        let response = try await send(.POST, "\(baseURL)/$batch", body: try GraphBatch.encode(requests),
                                      contentType: "application/json", maxBodyBytes: maxBodyBytes, freshToken: freshToken)
        return try GraphBatch.parse(response.body, ids: requests.map(\.id))
    }

    /// A batch whose throttled answers are sent again, alone, after the longest wait they asked for,
    /// when that is at most ``maxInlineWait`` (three times at most); the others are not sent twice.
    /// Answers refused as unauthorized (the token expired meanwhile) are sent again once with a
    /// fresh token. What still failed after that is returned as it is, for the caller to throw.
    func batchRetryingThrottled(_ requests: [GraphBatchRequest], maxBodyBytes: Int) async throws -> [String: GraphBatchResponse] {
        var answers = try await batch(requests, maxBodyBytes: maxBodyBytes)
        let refused = requests.filter { answers[$0.id]?.status == 401 }
        if !refused.isEmpty {
            answers.merge(try await batch(refused, maxBodyBytes: maxBodyBytes, freshToken: true)) { $1 }
        }
        for _ in 0..<3 {
            let throttled = requests.filter { answers[$0.id]?.throttled == true }
            guard !throttled.isEmpty else { break }
            let wait = throttled.compactMap { answers[$0.id]?.error.retryAfter }.max() ?? .seconds(1)
            guard wait <= maxInlineWait else { break }
            try await Task.sleep(for: wait)
            answers.merge(try await batch(throttled, maxBodyBytes: maxBodyBytes)) { $1 }
        }
        return answers
    }

    /// The raw MIME of messages, 20 `$value` requests a batch, one batch at a time (Graph runs
    /// four of a batch at once, the mailbox's limit). A message gone meanwhile is `vanished`; one
    /// larger than `maxBytes` is `tooLarge`; when a batch's answer is larger than its messages may
    /// be together, its messages are fetched one by one so that only the large one is reported.
    public func mimeBatched(_ messageIds: [String], maxBytes: Int) async throws -> [ExchangeDownload] {
        var results: [ExchangeDownload] = []
        for start in stride(from: 0, to: messageIds.count, by: GraphBatch.maxRequests) {
            let chunk = Array(messageIds[start..<min(start + GraphBatch.maxRequests, messageIds.count)])
            let requests = chunk.enumerated().map { index, id in
                GraphBatchRequest(id: String(index + 1), method: "GET", url: batchPath("/messages/\(Self.pathSegment(id))/$value"))
            }
            // base64 makes 3 bytes 4; the rest is the JSON around them.
            let limit = chunk.count * (maxBytes / 3 * 4 + 8_192) + 65_536
            let answers: [String: GraphBatchResponse]
            do {
                answers = try await batchRetryingThrottled(requests, maxBodyBytes: limit)
            } catch is SharedHTTP.BodyTooLarge {
                for id in chunk { results.append(try await mime(messageId: id, maxBytes: maxBytes)) }
                continue
            }
            for request in requests {
                let answer = answers[request.id]!
                if answer.succeeded {
                    results.append(answer.body.count > maxBytes ? .tooLarge(size: answer.body.count) : .message(answer.body))
                    continue
                }
                let error = answer.error
                guard error.kind == .itemNotFound else { throw error }
                results.append(.vanished)
            }
        }
        return results
    }

    /// Deletes messages (Graph moves them to Deleted Items), 20 a batch; one already gone is fine.
    public func deleteBatched(_ messageIds: [String]) async throws {
        for start in stride(from: 0, to: messageIds.count, by: GraphBatch.maxRequests) {
            let chunk = messageIds[start..<min(start + GraphBatch.maxRequests, messageIds.count)]
            let requests = chunk.enumerated().map { index, id in
                GraphBatchRequest(id: String(index + 1), method: "DELETE", url: batchPath("/messages/\(Self.pathSegment(id))"))
            }
            let answers = try await batchRetryingThrottled(requests, maxBodyBytes: 1 << 20)
            for request in requests {
                let answer = answers[request.id]!
                if answer.succeeded || answer.error.kind == .itemNotFound { continue }
                throw answer.error
            }
        }
    }
}

extension GraphClient {
    /// The id of the message with this Message-ID (`<…>`) in a folder, if it is there.
    public func messageId(internetMessageId: String, inFolder folderId: String) async throws -> String? {
        struct List: Decodable {
            struct Message: Decodable { var id: String }
            var value: [Message]
        }
        let quoted = internetMessageId.replacingOccurrences(of: "'", with: "''")
        let filter = "internetMessageId eq '\(quoted)'"
            .addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "+&=#")))!
        let body = try await send(.GET, "\(userURL)/mailFolders/\(Self.pathSegment(folderId))/messages?$filter=\(filter)&$select=id&$top=2").body
        guard let list = try? JSONDecoder().decode(List.self, from: Data(body)) else {
            throw ExchangeError(.malformedResponse, message: "Graph's message list could not be read")
        }
        return list.value.first?.id
    }

    /// Deletes a message for good (not to Deleted Items); one already gone is fine.
    public func permanentlyDelete(messageId: String) async throws {
        do {
            _ = try await send(.POST, "\(userURL)/messages/\(Self.pathSegment(messageId))/permanentDelete")
        } catch let error as ExchangeError where error.kind == .itemNotFound {
            return
        }
    }

    /// Moves a message to another folder (it gets a new id there).
    public func move(messageId: String, toFolder folderId: String) async throws {
        let body = Array(try JSONEncoder().encode(["destinationId": folderId]))
        _ = try await send(.POST, "\(userURL)/messages/\(Self.pathSegment(messageId))/move", body: body, contentType: "application/json")
    }
}
