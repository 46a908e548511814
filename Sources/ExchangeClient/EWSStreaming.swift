import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Cuts a GetStreamingEvents body, which is SOAP envelope after SOAP envelope in one chunked
/// answer, into whole envelopes as bytes arrive (each then goes to the XML parser). Bounded: an
/// envelope larger than `maxEnvelopeBytes` is an error, not an endless buffer.
public struct EWSEnvelopeSplitter: Sendable {
    private var buffer: [UInt8] = []
    private var scanned = 0
    let maxEnvelopeBytes: Int

    public init(maxEnvelopeBytes: Int = 4 << 20) { self.maxEnvelopeBytes = maxEnvelopeBytes }

    private static let endTag = Array("Envelope>".utf8)

    /// Adds bytes; answers the envelopes completed by them.
    public mutating func append(_ bytes: some Sequence<UInt8>) throws -> [[UInt8]] {
        buffer.append(contentsOf: bytes)
        var envelopes: [[UInt8]] = []
        var start = 0
        var index = max(scanned, 0)
        let tag = Self.endTag
        while index + tag.count <= buffer.count {
            if buffer[index] == tag[0], buffer[index..<index + tag.count].elementsEqual(tag), isClosing(at: index, from: start) {
                let end = index + tag.count
                envelopes.append(Array(buffer[start..<end]))
                start = end
                index = end
                continue
            }
            index += 1
        }
        buffer.removeFirst(start)
        scanned = max(0, buffer.count - tag.count + 1)
        if buffer.count > maxEnvelopeBytes {
            throw ExchangeError(.malformedResponse, message: "a streaming notification was larger than \(maxEnvelopeBytes) bytes")
        }
        return envelopes
    }

    /// Whether the `Envelope>` at `index` ends a closing tag (`</…:Envelope>`).
    private func isClosing(at index: Int, from start: Int) -> Bool {
        var i = index - 1
        while i >= start, buffer[i] != UInt8(ascii: "<") {
            let byte = buffer[i]
            let nameByte = byte == UInt8(ascii: ":") || byte == UInt8(ascii: "/") || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            if !nameByte { return false }
            i -= 1
        }
        return i >= start && i + 1 < buffer.count && buffer[i + 1] == UInt8(ascii: "/")
    }
}

extension EWSClient {
    /// A streaming subscription to new mail in `folder`; answers its id.
    public func subscribeStreaming(_ folder: EWSFolder) async throws -> String {
        let body = "<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds>\(folder.xml)</t:FolderIds><t:EventTypes>"
            + "<t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType></t:EventTypes>"
            + "</m:StreamingSubscriptionRequest></m:Subscribe>"
        let message = try await single("Subscribe", body)
        guard let id = message.node.child("SubscriptionId")?.trimmedText, !id.isEmpty else {
            throw ExchangeError(.malformedResponse, message: "the Subscribe answer has no SubscriptionId")
        }
        return id
    }

    public func unsubscribe(_ subscriptionId: String) async {
        _ = try? await call("Unsubscribe", "<m:Unsubscribe><m:SubscriptionId>\(EWSXML.escape(subscriptionId))</m:SubscriptionId></m:Unsubscribe>")
    }

    /// Holds one GetStreamingEvents connection open for up to `minutes`, calling `onEvent` for each
    /// notification that carries an event; returns when the server closes the stream (the caller
    /// opens the next). A subscription the server no longer knows is thrown (kind `other`, code
    /// `ErrorSubscriptionNotFound`): subscribe again.
    public func streamEvents(_ subscriptionId: String, minutes: Int = 30, onEvent: @Sendable () -> Void) async throws {
        let body = "<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>\(EWSXML.escape(subscriptionId))</t:SubscriptionId>"
            + "</m:SubscriptionIds><m:ConnectionTimeout>\(min(max(minutes, 1), 30))</m:ConnectionTimeout></m:GetStreamingEvents>"
        var headers = HTTPHeaders()
        headers.add(name: "Authorization", value: try await authorization(false))
        headers.add(name: "Content-Type", value: "text/xml; charset=utf-8")
        if impersonate { headers.add(name: "X-AnchorMailbox", value: mailbox) }
        let url = try await endpoint()
        let response = try await SharedHTTP.open(method: .POST, url: url, headers: headers,
                                                 body: Array(EWSRequests.envelope(body, impersonate: impersonate ? mailbox : nil).utf8),
                                                 timeout: .seconds(minutes * 60 + 120), acceptAnyCertificate: acceptAnyCertificate)
        guard response.status == .ok else {
            let rest = try? await response.body.collect(upTo: 1 << 20)
            throw EWSErrors.httpError(status: Int(response.status.code), body: rest.map { Array($0.readableBytesView) } ?? [],
                                      retryAfter: response.headers.first(name: "Retry-After"))
        }
        var splitter = EWSEnvelopeSplitter()
        do {
            for try await part in response.body {
                for envelope in try splitter.append(part.readableBytesView) {
                    for message in try EWSResponses.messages(envelope, operation: "GetStreamingEvents") {
                        guard message.isSuccess else { throw message.error }
                        let events = message.node.descendants("Notification").flatMap { $0.children.filter { $0.name.hasSuffix("Event") } }
                        if !events.isEmpty { onEvent() }
                        if message.node.child("ConnectionStatus")?.trimmedText == "Closed" { return }
                    }
                }
            }
        } catch let error as ExchangeError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw SharedHTTP.transportError(error, host: URLComponents(string: url)?.host ?? "the server")
        }
    }
}
