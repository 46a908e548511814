import Foundation
import MailroomCore
import Testing
import MailMessage

/// The hand-written column JSON must be the text Mailroom's JSON writes for clients (JSONEncoder's
/// settings, absent optionals as null), so that rows written either way read back the same.
@Suite struct JSONTextTests {
    static func encoded(_ value: some Encodable) throws -> String {
        String(decoding: try JSONCoding.clientJSON(value), as: UTF8.self)
    }

    /// Every control character, quotes, backslashes, slashes, non-ASCII letters, emoji, and a
    /// string with nothing to escape.
    static let awkwardStrings: [String] = [
        "", "plain", "Ann \"the\" O'Hara", "back\\slash", "a/b", "Zoë Ünal", "東京", "🙂 ok",
        String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }), "tab\tand\nnew\r\nline", "\u{7F}del", "end\\",
    ]

    @Test func stringsAreEscapedAsJSONEncoderEscapesThem() throws {
        for text in Self.awkwardStrings {
            #expect(JSONText.encode(text) == (try Self.encoded(text)), "\(text.debugDescription)")
            #expect(JSONText.encode([text, text]) == (try Self.encoded([text, text])))
        }
    }

    @Test func addressListsMatchJSONEncoder() throws {
        let lists: [[EmailAddress]] = [
            [],
            [EmailAddress(name: nil, address: "ann@example.com")],
            Self.awkwardStrings.map { EmailAddress(name: $0, address: "x\($0.count)@example.com") },
        ]
        for list in lists {
            #expect(JSONText.encode(list) == (try Self.encoded(list)))
            #expect(try JSONCoding.decoder.decode([EmailAddress].self, from: Data(JSONText.encode(list).utf8)) == list)
        }
    }

    @Test func attachmentListsMatchJSONEncoder() throws {
        let list = [
            AttachmentSummary(filename: "report \"Q3\".pdf", contentType: "application/pdf", size: 123_456, sha256: String(repeating: "ab", count: 32),
                           contentId: nil, inline: false),
            AttachmentSummary(filename: nil, contentType: "image/png", size: 0, sha256: "00", contentId: "logo@x/y", inline: true),
        ]
        #expect(JSONText.encode(list) == (try Self.encoded(list)))
        #expect(try JSONCoding.decoder.decode([AttachmentSummary].self, from: Data(JSONText.encode(list).utf8)) == list)
    }
}
