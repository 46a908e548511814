import Foundation
import Testing
@testable import ExchangeClient

@Suite("EWS protocol: SOAP answers, faults, sync paging")
struct EWSProtocolTests {
    static func envelope(_ body: String) -> [UInt8] {
        Array("""
            <?xml version="1.0" encoding="utf-8"?>
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
            <s:Header><h:ServerVersionInfo xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" MajorVersion="15"/></s:Header>
            <s:Body xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">\(body)</s:Body></s:Envelope>
            """.utf8)
    }

    @Test func readsASyncFolderItemsPage() throws {
        let body = Self.envelope("""
            <m:SyncFolderItemsResponse><m:ResponseMessages><m:SyncFolderItemsResponseMessage ResponseClass="Success">
            <m:ResponseCode>NoError</m:ResponseCode><m:SyncState>H4sI&amp;state</m:SyncState>
            <m:IncludesLastItemInRange>false</m:IncludesLastItemInRange><m:Changes>
            <t:Create><t:Message><t:ItemId Id="AAMk1=" ChangeKey="x"/><t:DateTimeReceived>2026-12-01T10:00:00Z</t:DateTimeReceived></t:Message></t:Create>
            <t:Update><t:Message><t:ItemId Id="AAMk0=" ChangeKey="y"/></t:Message></t:Update>
            <t:Delete><t:ItemId Id="AAMk9=" ChangeKey="z"/></t:Delete>
            <t:Create><t:Message><t:ItemId Id="AAMk2="/></t:Message></t:Create>
            </m:Changes></m:SyncFolderItemsResponseMessage></m:ResponseMessages></m:SyncFolderItemsResponse>
            """)
        let messages = try EWSResponses.messages(body, operation: "SyncFolderItems")
        #expect(messages.count == 1)
        let page = try EWSResponses.syncPage(messages[0])
        #expect(page.syncState == "H4sI&state")
        #expect(!page.includesLastItem)
        #expect(page.created.map(\.id) == ["AAMk1=", "AAMk2="])
        #expect(page.created[0].received == Date(timeIntervalSince1970: 1_796_119_200))
    }

    @Test func anInvalidSyncStateIsItsOwnKind() throws {
        let body = Self.envelope("""
            <m:SyncFolderItemsResponse><m:ResponseMessages><m:SyncFolderItemsResponseMessage ResponseClass="Error">
            <m:MessageText>Synchronization state data is corrupt or otherwise invalid.</m:MessageText>
            <m:ResponseCode>ErrorInvalidSyncStateData</m:ResponseCode></m:SyncFolderItemsResponseMessage></m:ResponseMessages></m:SyncFolderItemsResponse>
            """)
        let message = try #require(try EWSResponses.messages(body, operation: "SyncFolderItems").first)
        #expect(!message.isSuccess)
        #expect(message.error.kind == .syncStateExpired)
        #expect(throws: ExchangeError.self) { try EWSResponses.syncPage(message) }
    }

    @Test func serverBusyFaultsCarryTheirBackOff() {
        let body = Self.envelope("""
            <s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode>
            <faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
            <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode>
            <e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now.</e:Message>
            <t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">1234</t:Value></t:MessageXml>
            </detail></s:Fault>
            """)
        #expect(throws: ExchangeError.self) { try EWSResponses.messages(body, operation: "GetItem") }
        let error = EWSErrors.httpError(status: 500, body: body, retryAfter: nil)
        #expect(error.kind == .rateLimited)
        #expect(error.code == "ErrorServerBusy")
        #expect(error.retryAfter == .milliseconds(1234))
        #expect(error.status == 500)
    }

    @Test func getItemReadsMIMEAndReportsVanishedItems() throws {
        let mime = Data("Subject: hi\r\n\r\nbody\r\n".utf8).base64EncodedString()
        let body = Self.envelope("""
            <m:GetItemResponse><m:ResponseMessages>
            <m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message>
            <t:MimeContent CharacterSet="UTF-8">\(mime)</t:MimeContent><t:ItemId Id="A"/></t:Message></m:Items></m:GetItemResponseMessage>
            <m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>The specified object was not found in the store.</m:MessageText>
            <m:ResponseCode>ErrorItemNotFound</m:ResponseCode><m:Items/></m:GetItemResponseMessage>
            </m:ResponseMessages></m:GetItemResponse>
            """)
        let messages = try EWSResponses.messages(body, operation: "GetItem")
        #expect(try EWSResponses.mime(messages[0]) == .message(Array("Subject: hi\r\n\r\nbody\r\n".utf8)))
        #expect(try EWSResponses.mime(messages[1]) == .vanished)
    }

    @Test(arguments: ["<s:Envelope", "not xml at all", "<a><b></a>", String(repeating: "<x>", count: 100) + String(repeating: "</x>", count: 100)])
    func malformedAnswersAreErrors(_ text: String) {
        do {
            _ = try EWSResponses.messages(Array(text.utf8), operation: "GetItem")
            Issue.record("accepted \(text.prefix(20))")
        } catch let error as ExchangeError {
            #expect(error.kind == .malformedResponse)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(arguments: [
        (401, "", ExchangeError.Kind.unauthorized), (503, "", .serverError), (404, "", .mailboxNotFound), (500, "<html/>", .serverError),
    ] as [(Int, String, ExchangeError.Kind)])
    func httpStatusesWithoutAFault(status: Int, body: String, kind: ExchangeError.Kind) {
        #expect(EWSErrors.httpError(status: status, body: Array(body.utf8), retryAfter: nil).kind == kind)
        if status == 503 { #expect(EWSErrors.httpError(status: 503, body: [], retryAfter: "4").retryAfter == .seconds(4)) }
    }

    @Test func requestsEscapeWhatTheyCarry() {
        let sync = EWSRequests.syncFolderItems(.distinguished("inbox", mailbox: "a&b@x.test"), syncState: "s<1>", maxChanges: 9_999)
        #expect(sync.contains("<t:EmailAddress>a&amp;b@x.test</t:EmailAddress>"))
        #expect(sync.contains("<m:SyncState>s&lt;1&gt;</m:SyncState>"))
        #expect(sync.contains("<m:MaxChangesReturned>512</m:MaxChangesReturned>"))
        #expect(EWSXML.escape("a\u{1}b\"'") == "ab&quot;&apos;")
        let create = EWSRequests.createItemSend(mimeBase64: "QQ==", savedCopyIn: nil)
        #expect(create.contains("MessageDisposition=\"SendOnly\"") && !create.contains("SavedItemFolderId"))
        let envelope = EWSRequests.envelope(create, impersonate: "box@x.test")
        #expect(envelope.contains("<t:PrimarySmtpAddress>box@x.test</t:PrimarySmtpAddress>"))
        #expect((try? EWSXML.parse(Array(envelope.utf8)))?.name == "Envelope")
    }

    @Test func aSyncRoundPagesAndStartsOverOnce() throws {
        var round = EWSSyncRound(savedState: "old")
        #expect(round.start() == .sync(state: "old"))
        #expect(try round.syncStateExpired() == .sync(state: nil))
        #expect(round.isFullListing)
        let first = try round.received(.init(syncState: "s1", includesLastItem: false, created: [("a", nil), ("b", nil)]))
        #expect(first == .sync(state: "s1"))
        let done = try round.received(.init(syncState: "s2", includesLastItem: true, created: [("b", nil), ("c", nil)]))
        #expect(done == .done(created: ["a", "b", "c"], received: [:], state: "s2", resynchronised: true))
        #expect(throws: ExchangeError.self) { _ = try round.syncStateExpired() }
    }
}

@Suite("EWS streaming: envelopes cut from the stream")
struct EWSEnvelopeSplitterTests {
    static let one = #"<?xml version="1.0"?><s:Envelope xmlns:s="x"><s:Body><a>x Envelope> y</a><b>Envelope></b></s:Body></s:Envelope>"#
    static let two = #"<Envelope><Body/></Envelope>"#

    @Test func envelopesComeOutWholeHoweverTheBytesArrive() throws {
        let stream = Array((Self.one + Self.two + Self.one).utf8)
        for size in [1, 2, 7, 64, stream.count] {
            var splitter = EWSEnvelopeSplitter()
            var envelopes: [String] = []
            for start in stride(from: 0, to: stream.count, by: size) {
                envelopes += try splitter.append(stream[start..<min(start + size, stream.count)]).map { String(decoding: $0, as: UTF8.self) }
            }
            #expect(envelopes == [Self.one, Self.two, Self.one], "chunks of \(size)")
        }
    }

    @Test func anEndlessEnvelopeIsAnError() {
        var splitter = EWSEnvelopeSplitter(maxEnvelopeBytes: 100)
        #expect(throws: ExchangeError.self) { _ = try splitter.append(Array(repeating: UInt8(ascii: "x"), count: 200)) }
    }
}
