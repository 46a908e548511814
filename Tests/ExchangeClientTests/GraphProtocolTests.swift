import Foundation
import Testing
@testable import ExchangeClient

@Suite("Graph protocol: delta pages, paging, errors")
struct GraphProtocolTests {
    static let initial = "https://g/v1.0/users/a/mailFolders/inbox/messages/delta?changeType=created"

    @Test func parsesADeltaPageWithRemovedEntries() throws {
        let body = #"""
        {"@odata.context": "x", "value": [
          {"@odata.type": "#microsoft.graph.message", "id": "AAMk1", "receivedDateTime": "2026-12-01T10:00:00Z"},
          {"id": "AAMk2", "@removed": {"reason": "deleted"}}],
         "@odata.nextLink": "https://g/next?$skiptoken=1"}
        """#
        let page = try GraphDeltaPage.parse(Array(body.utf8))
        #expect(page.items.count == 2)
        #expect(page.items[0].id == "AAMk1")
        #expect(page.items[0].receivedDateTime == Date(timeIntervalSince1970: 1_796_119_200))
        #expect(page.items[1].removed)
        #expect(page.nextLink == "https://g/next?$skiptoken=1")
        #expect(page.deltaLink == nil)
    }

    @Test(arguments: [#"{"value": [{"id": "AAMk"#, #"{"value": []}"#, #"{"value": [{"subject": "x"}], "@odata.deltaLink": "d"}"#, "<html>"])
    func malformedPagesAreErrors(_ body: String) {
        #expect(throws: ExchangeError.self) { try GraphDeltaPage.parse(Array(body.utf8)) }
        do { _ = try GraphDeltaPage.parse(Array(body.utf8)) } catch let error as ExchangeError {
            #expect(error.kind == .malformedResponse)
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func aRoundFollowsNextLinksToTheDeltaLink() throws {
        var round = GraphDeltaRound(savedDeltaLink: nil, initialURL: Self.initial)
        #expect(round.start() == .get(Self.initial))
        #expect(round.isFullListing)
        let first = try round.received(GraphDeltaPage(items: [.init(id: "1"), .init(id: "2")], nextLink: "n1"))
        #expect(first == .get("n1"))
        let done = try round.received(GraphDeltaPage(items: [.init(id: "3")], deltaLink: "d1"))
        #expect(done == .done(items: [.init(id: "1"), .init(id: "2"), .init(id: "3")], deltaLink: "d1", resynchronised: false))
    }

    @Test func anExpiredLinkStartsOverOnceFromTheFolderQuery() throws {
        var round = GraphDeltaRound(savedDeltaLink: "old", initialURL: Self.initial)
        #expect(round.start() == .get("old"))
        #expect(!round.isFullListing)
        _ = try round.received(GraphDeltaPage(items: [.init(id: "x")], nextLink: "old-2"))
        // The items seen before the 410 are dropped: the full listing brings them again.
        #expect(try round.syncStateExpired() == .get(Self.initial))
        #expect(round.isFullListing)
        let done = try round.received(GraphDeltaPage(items: [.init(id: "1")], deltaLink: "new"))
        #expect(done == .done(items: [.init(id: "1")], deltaLink: "new", resynchronised: true))
    }

    @Test func aSecond410IsThrown() throws {
        var round = GraphDeltaRound(savedDeltaLink: "old", initialURL: Self.initial)
        _ = try round.syncStateExpired()
        #expect(throws: ExchangeError.self) { _ = try round.syncStateExpired() }
        var fresh = GraphDeltaRound(savedDeltaLink: nil, initialURL: Self.initial)
        #expect(throws: ExchangeError.self) { _ = try fresh.syncStateExpired() }
    }

    @Test func aPageThatLinksToItselfOrNeverEndsIsAnError() throws {
        var round = GraphDeltaRound(savedDeltaLink: nil, initialURL: Self.initial, maxPages: 3)
        _ = try round.received(GraphDeltaPage(items: [], nextLink: "a"))
        #expect(throws: ExchangeError.self) { _ = try round.received(GraphDeltaPage(items: [], nextLink: "a")) }
        var endless = GraphDeltaRound(savedDeltaLink: nil, initialURL: Self.initial, maxPages: 2)
        _ = try endless.received(GraphDeltaPage(items: [], nextLink: "a"))
        #expect(throws: ExchangeError.self) { _ = try endless.received(GraphDeltaPage(items: [], nextLink: "b")) }
    }

    @Test func createdKeepsTheLastStateOfEachIdAndDropsRemovedOnes() {
        let items: [GraphDeltaItem] = [.init(id: "a"), .init(id: "b"), .init(id: "a", removed: true), .init(id: "c"), .init(id: "b")]
        #expect(GraphDeltaRound.created(items).map(\.id) == ["b", "c"])
    }

    @Test(arguments: [
        (429, #"{"error": {"code": "TooManyRequests", "message": "slow down"}}"#, "7", ExchangeError.Kind.rateLimited),
        (503, #"{"error": {"code": "serviceNotAvailable", "message": "busy"}}"#, "2", .rateLimited),
        (503, #"{"error": {"code": "serviceNotAvailable", "message": "down"}}"#, nil, .serverError),
        (401, #"{"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}"#, nil, .unauthorized),
        (403, #"{"error": {"code": "ErrorAccessDenied", "message": "no"}}"#, nil, .accessDenied),
        (404, #"{"error": {"code": "ErrorItemNotFound", "message": "gone"}}"#, nil, .itemNotFound),
        (404, #"{"error": {"code": "ErrorInvalidUser", "message": "who"}}"#, nil, .mailboxNotFound),
        (410, #"{"error": {"code": "syncStateNotFound", "message": "expired"}}"#, nil, .syncStateExpired),
        (400, #"{"error": {"code": "ErrorInvalidRecipients", "message": "bad"}}"#, nil, .invalidRecipient),
        (400, #"{"error": {"code": "ErrorMimeContentInvalidBase64String", "message": "bad"}}"#, nil, .invalidRequest),
        (413, "", nil, .tooLarge),
        (500, "not json", nil, .serverError),
    ] as [(Int, String, String?, ExchangeError.Kind)])
    func errorsAreSorted(status: Int, body: String, retryAfter: String?, kind: ExchangeError.Kind) {
        let error = GraphErrors.error(status: status, body: Array(body.utf8), retryAfter: retryAfter)
        #expect(error.kind == kind)
        #expect(error.status == status)
        if kind == .rateLimited { #expect(error.retryAfter == .seconds(Int(retryAfter ?? "1")!)) }
    }

    @Test func retryAfterIsReadInSecondsAndCapped() {
        #expect(GraphErrors.parseRetryAfter("3") == .seconds(3))
        #expect(GraphErrors.parseRetryAfter("999999") == .seconds(3_600))
        #expect(GraphErrors.parseRetryAfter("Wed, 21 Oct 2026 07:28:00 GMT") == .seconds(60))
        #expect(GraphErrors.parseRetryAfter("") == nil)
    }

    @Test func descriptionsNameTheCodeButAreBounded() {
        let error = ExchangeError(.invalidRequest, code: "BadRequest", status: 400, message: String(repeating: "x", count: 2_000))
        #expect(error.description.hasPrefix("(HTTP 400 BadRequest) "))
        #expect(error.description.count < 450)
    }

    @Test func initialURLFiltersOnReceivedTime() {
        let client = GraphClient(baseURL: "https://g/v1.0/", mailbox: "a b@x.test") { _ in "Bearer t" }
        let url = client.initialDeltaURL(folderId: "inbox", receivedSince: Date(timeIntervalSince1970: 0))
        #expect(url == "https://g/v1.0/users/a%20b@x.test/mailFolders/inbox/messages/delta?changeType=created&$select=receivedDateTime&$filter=receivedDateTime%20ge%201970-01-01T00:00:00Z")
    }
}
