import Foundation
import Testing
@testable import MailroomCore

/// What an account image may be (by its first bytes) and the template font's CSS (issue 24).
@Suite struct AccountImageKindTests {
    @Test(arguments: [
        ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0], ImageKind.png),
        ([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], .jpeg),
        (Array("GIF89a....".utf8), .gif),
        (Array("GIF87a....".utf8), .gif),
        (Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8), .webp),
    ] as [([UInt8], ImageKind)])
    func picturesAreToldByTheirBytes(bytes: [UInt8], kind: ImageKind) {
        #expect(ImageKind.sniff(bytes) == kind)
        #expect(ImageKind.problem(with: bytes) == nil)
    }

    @Test(arguments: [
        Array(#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.utf8),
        Array("<?xml version=\"1.0\"?><svg/>".utf8),
        Array("GIF8".utf8),
        Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVE".utf8),
        [0x89, 0x50, 0x4E, 0x47],
        [],
    ] as [[UInt8]])
    func everythingElseIsRefused(bytes: [UInt8]) {
        #expect(ImageKind.sniff(bytes) == nil)
        #expect(ImageKind.problem(with: bytes)?.contains("is not a PNG, JPEG, GIF or WebP image") == true)
    }

    @Test func aLargePictureIsRefusedWithItsSize() {
        let bytes = [UInt8]([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + Array(repeating: 0, count: 3 * 1_048_576)
        #expect(ImageKind.problem(with: bytes) == "is 3.0 MB; an image may be at most 1 MB")
    }

    @Test func theFontBecomesInlineCSSFromAFixedList() throws {
        #expect(MessageFont(family: .georgia, size: 15).css == "font-family: Georgia, 'Times New Roman', serif; font-size: 15px")
        #expect(MessageFont(family: .default, size: 12).css == "font-size: 12px")
        #expect(MessageFont().css == nil)
        #expect(MessageFont(family: .arial, size: 99).validate().map(\.field) == ["font.size"])
        #expect(MessageFont(family: .arial, size: 8).validate().isEmpty)
        // A family outside the list is refused, so no CSS text of a request reaches a message.
        let injected = Data(#"{"family": "x; background: url(https://evil.example)"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MessageFont.self, from: injected) }
    }
}
