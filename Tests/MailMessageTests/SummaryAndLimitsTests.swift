import Foundation
import Testing
@testable import MailMessage

@Suite("mailroom parse JSON")
struct SummaryJSONTests {
    @Test func fieldNamesOrderAndNulls() throws {
        let summary = try Fixture.summary("simple-plain.eml")
        let json = try summary.jsonString(pretty: false)
        let keys = ["messageId", "inReplyTo", "references", "subject", "date", "from", "sender", "replyTo", "to", "cc", "bcc",
                    "autoSubmitted", "text", "html", "attachments", "deliveryStatus", "warnings"]
        var last = json.startIndex
        for key in keys {
            let range = try #require(json.range(of: "\"\(key)\":"), "\(key) missing")
            #expect(range.lowerBound >= last, "\(key) out of order")
            last = range.lowerBound
        }
        #expect(json.contains("\"html\":null"))
        #expect(json.contains("\"deliveryStatus\":null"))
        #expect(json.contains("\"sender\":[]"))
        #expect(json.contains("\"messageId\":\"CAF1234.5678@mail.example.com\""))
        #expect(json.contains("\"date\":\"2026-11-22T10:00:00Z\""))
        #expect(json.contains("\"from\":[{\"name\":\"Ann Example\",\"address\":\"ann@example.com\"}]"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Set(object.keys) == Set(keys))
    }

    @Test func attachmentAndDeliveryStatusShapes() throws {
        let bounce = try Fixture.summary("dsn-bounce.eml")
        let object = try #require(try JSONSerialization.jsonObject(with: bounce.jsonData()) as? [String: Any])
        let status = try #require(object["deliveryStatus"] as? [String: Any])
        #expect(status["originalMessageId"] as? String == "ticket-1234.reply-1@helpdesk.test")
        let recipients = try #require(status["recipients"] as? [[String: Any]])
        #expect(Set(recipients[0].keys) == ["address", "action", "status", "diagnosticCode"])
        let attachments = try #require(object["attachments"] as? [[String: Any]])
        #expect(Set(attachments[0].keys) == ["filename", "contentType", "size", "sha256", "contentId", "inline"])
        #expect(attachments[0]["filename"] is NSNull)
        #expect(attachments[0]["contentId"] is NSNull)
        #expect((attachments[0]["sha256"] as? String)?.count == 64)
    }

    @Test func mailboxWithoutNameHasNullName() throws {
        let summary = MessageSummary(MIMEMessage(parsing: crlf("From: a@x.test\n\nhi")))
        #expect(try summary.jsonString(pretty: false).contains("\"from\":[{\"name\":null,\"address\":\"a@x.test\"}]"))
        #expect(summary.warnings == ["missingDate: the message has no Date field"])
    }

    @Test func escapesControlCharacters() throws {
        let summary = MessageSummary(MIMEMessage(parsing: crlf("Subject: a\u{1}b \"q\" \\ /\nDate: 1 Jan 2026 00:00 +0000\n\nx")))
        let json = try summary.jsonString(pretty: false)
        #expect(json.contains("\"subject\":\"a\\u0001b \\\"q\\\" \\\\ /\""))
    }

    @Test func compactAndPrettyAgree() throws {
        let summary = try Fixture.summary("related-inline-image.eml")
        let pretty = try JSONSerialization.jsonObject(with: summary.jsonData(pretty: true)) as? NSDictionary
        let compact = try JSONSerialization.jsonObject(with: summary.jsonData(pretty: false)) as? NSDictionary
        #expect(pretty == compact)
    }
}

@Suite("Limits and streaming")
struct LimitsTests {
    @Test func headerCountLimit() {
        let text = (0..<50).map { "X-H\($0): v" }.joined(separator: "\n") + "\n\nbody"
        let message = MIMEMessage(parsing: crlf(text), options: ParseOptions(maxHeaderCount: 10))
        #expect(message.headers.count == 10)
        #expect(message.warnings.contains { $0.code == .tooManyHeaders })
        #expect(message.textBody == "body")
    }

    @Test func headerSectionAndLineLimits() {
        let long = String(repeating: "a", count: 10_000)
        let text = "Subject: \(long)\nX-Other: \(long)\nX-Third: x\n\nbody"
        let message = MIMEMessage(parsing: crlf(text), options: ParseOptions(maxHeaderSectionBytes: 8_000, maxLineLength: 5_000))
        #expect(message.subject?.count == 5_000 - "Subject: ".count)
        #expect(message.warnings.contains { $0.code == .lineTooLong })
        #expect(message.warnings.contains { $0.code == .headerSectionTooLarge })
        #expect(message.headers.first(named: "x-third") == nil)
        #expect(message.textBody == "body")
    }

    @Test func hugeFoldedHeaderIsBounded() {
        let text = "Subject: start\n" + String(repeating: " more\n", count: 200_000) + "\nbody"
        let message = MIMEMessage(parsing: crlf(text))
        #expect((message.subject?.utf8.count ?? 0) <= ParseOptions.default.maxHeaderSectionBytes)
        #expect(message.textBody == "body")
    }

    @Test(arguments: ["base64", "quoted-printable", "8bit"])
    func streamedDecodingMatchesInMemory(encoding: String) throws {
        var rng = SeededGenerator(state: 99)
        let payload = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let encoded: [UInt8]
        switch encoding {
        case "base64": encoded = Base64Encoder.encode(payload)
        case "quoted-printable": encoded = QuotedPrintable.encode(payload, isText: false)
        default: encoded = payload.map { $0 == ASCII.cr || $0 == ASCII.lf ? 0x20 : $0 }
        }
        let head = crlf("Content-Type: application/octet-stream\nContent-Transfer-Encoding: \(encoding)\n\n")
        let message = MIMEMessage(parsing: head + encoded)
        var sink = MemorySink()
        let info = try message.decodeBody(of: message.root, into: &sink)
        #expect(sink.bytes == message.decodedBody(of: message.root))
        #expect(info.size == sink.bytes.count)
        #expect(info.sha256 == SHA256.hex(SHA256.hash(sink.bytes)))
        if encoding != "8bit" { #expect(sink.bytes == payload) }
    }

    @Test func fileSinkWritesAttachment() throws {
        let message = try Fixture.message("related-inline-image.eml")
        let part = try #require(message.parts.first { $0.filename == "invoice.pdf" })
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mailroom-sink-\(UUID().uuidString).pdf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var sink = try FileAttachmentSink(path: path)
        let info = try message.decodeBody(of: part, into: &sink)
        try sink.close()
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written.count == info.size)
        #expect(written == message.decodedBody(of: part))
        #expect(written.starts(with: Array("%PDF-1.4".utf8)))
    }

    @Test func unreadableFileIsATypedError() {
        #expect(throws: MailMessageError.self) { try MIMEMessage(contentsOfFile: "/nonexistent/mail.eml") }
        do {
            _ = try MessageFile.read(path: "/nonexistent/mail.eml")
        } catch let error as MailMessageError {
            #expect(error.isUnreadableFile)
            #expect(error.description.contains("/nonexistent/mail.eml"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func pathologicalInputsFinishQuickly() {
        let inputs: [[UInt8]] = [
            Array(repeating: ASCII.lf, count: 1_000_000),
            Array(String(repeating: "=?", count: 200_000).utf8),
            crlf("Subject: " + String(repeating: "=?utf-8?q?", count: 50_000) + "\n\nx"),
            crlf("From: " + String(repeating: "(", count: 100_000) + "\n\nx"),
            crlf("From: " + String(repeating: "<", count: 100_000) + "\n\nx"),
            crlf("Content-Type: multipart/mixed; boundary=a\n\n" + String(repeating: "--a\n", count: 100_000)),
            crlf("Content-Type: multipart/mixed; " + String(repeating: "x*1=a; ", count: 50_000) + "\n\nx"),
        ]
        for input in inputs {
            let start = Date()
            _ = MessageSummary(MIMEMessage(parsing: input))
            #expect(Date().timeIntervalSince(start) < 20)
        }
    }
}

@Suite("Multipart splitting")
struct MultipartSplitterTests {
    /// The plain reading of RFC 2046: every line, in order, checked for being a delimiter.
    static func referenceSplit(_ bytes: [UInt8], boundary: [UInt8]) -> (parts: [Range<Int>], sawClose: Bool) {
        var parts: [Range<Int>] = []
        var partStart: Int?
        var lineStart = 0
        while lineStart < bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: ASCII.lf) ?? bytes.count
            var line = Array(bytes[lineStart..<lineEnd])
            while let last = line.last, last == ASCII.space || last == ASCII.tab || last == ASCII.cr { line.removeLast() }
            let dashBoundary = [ASCII.minus, ASCII.minus] + boundary
            if line == dashBoundary || line == dashBoundary + [ASCII.minus, ASCII.minus] {
                if let start = partStart {
                    var end = lineStart
                    if end > start, bytes[end - 1] == ASCII.lf { end -= 1 }
                    if end > start, bytes[end - 1] == ASCII.cr { end -= 1 }
                    parts.append(start..<max(start, end))
                }
                if line.count > dashBoundary.count { return (parts, true) }
                partStart = lineEnd < bytes.count ? lineEnd + 1 : bytes.count
            }
            lineStart = lineEnd + 1
        }
        if let start = partStart { parts.append(start..<bytes.count) }
        return (parts, false)
    }

    @Test(arguments: 0..<300)
    func agreesWithTheLineByLineReading(seed: Int) {
        var rng = SeededGenerator(state: UInt64(seed) &+ 1000)
        let boundary = Array("b-1".utf8)
        let pieces: [[UInt8]] = [Array("--b-1".utf8), Array("--b-1--".utf8), Array("--b-12".utf8), Array("-".utf8), Array("--".utf8),
                                 Array("text - more".utf8), [ASCII.cr, ASCII.lf], [ASCII.lf], [ASCII.space], Array("--b-1 ".utf8), Array("x--b-1".utf8), Array("QUJD".utf8)]
        var bytes: [UInt8] = []
        for _ in 0..<Int.random(in: 0...40, using: &rng) { bytes += pieces.randomElement(using: &rng) ?? [] }
        let expected = Self.referenceSplit(bytes, boundary: boundary)
        let actual = bytes.withUnsafeBufferPointer { MultipartSplitter.split($0, range: 0..<$0.count, boundary: boundary, maxParts: 1000) }
        #expect(actual.parts == expected.parts, "\(String(decoding: bytes, as: UTF8.self).debugDescription)")
        #expect(actual.sawClose == expected.sawClose)
    }
}
