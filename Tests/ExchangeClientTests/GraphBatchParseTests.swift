import Foundation
import Testing
@testable import ExchangeClient

@Suite("Graph $batch: requests and answers")
struct GraphBatchParseTests {
    @Test func encodesRequestsWithIdsMethodsAndRelativeURLs() throws {
        let body = try GraphBatch.encode([GraphBatchRequest(id: "1", method: "GET", url: "/users/a%40b/messages/X/$value")])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: [[String: String]]])
        #expect(object["requests"] == [["id": "1", "method": "GET", "url": "/users/a%40b/messages/X/$value"]])
    }

    @Test func readsAnswersInAnyOrderDecodingBase64AndKeepingJSONErrors() throws {
        let mime = Data("From: a@b\r\n\r\nHello".utf8).base64EncodedString()
        let body = #"""
        {"responses": [
          {"id": "2", "status": 429, "headers": {"Retry-After": "7", "Content-Type": "application/json"},
           "body": {"error": {"code": "ApplicationThrottled", "message": "slow down"}}},
          {"id": "3", "status": 404, "headers": {"Content-Type": "application/json"},
           "body": {"error": {"code": "ErrorItemNotFound", "message": "gone"}}},
          {"id": "1", "status": 200, "headers": {"Content-Type": "text/plain"}, "body": "\#(mime)"},
          {"id": "4", "status": 204, "headers": {}}]}
        """#
        let answers = try GraphBatch.parse(Array(body.utf8), ids: ["1", "2", "3", "4"])
        #expect(String(decoding: try #require(answers["1"]).body, as: UTF8.self) == "From: a@b\r\n\r\nHello")
        let throttled = try #require(answers["2"])
        #expect(throttled.throttled)
        #expect(throttled.error.kind == .rateLimited && throttled.error.retryAfter == .seconds(7))
        #expect(throttled.error.code == "ApplicationThrottled")
        #expect(answers["3"]?.error.kind == .itemNotFound)
        #expect(answers["4"]?.succeeded == true && answers["4"]?.body.isEmpty == true)
    }

    @Test(arguments: [
        #"{"responses": [{"id": "1", "status": 200}]}"#,  // request 2 unanswered
        #"{"responses": [{"id": "1", "status": 200}, {"id": "1", "status": 200}, {"id": "2", "status": 200}]}"#,
        #"{"responses": [{"id": "1", "status": 200}, {"id": "9", "status": 200}]}"#,
        #"{"responses": [{"id": "1"}, {"id": "2", "status": 200}]}"#,
        #"{"responses": [{"id": "1", "status": 200, "headers": {"Content-Type": "text/plain"}, "body": "%%%"}, {"id": "2", "status": 200}]}"#,
        #"{"value": []}"#, "<html>",
    ])
    func malformedBatchAnswersAreErrors(_ body: String) {
        do {
            _ = try GraphBatch.parse(Array(body.utf8), ids: ["1", "2"])
            Issue.record("must not be accepted: \(body)")
        } catch let error as ExchangeError {
            #expect(error.kind == .malformedResponse)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
