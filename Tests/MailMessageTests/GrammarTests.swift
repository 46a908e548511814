import Foundation
import Testing
@testable import MailMessage

@Suite("Dates")
struct DateTests {
    @Test(arguments: [
        ("Sun, 22 Nov 2026 10:00:00 +0000", "2026-11-22T10:00:00Z"),
        ("22 Nov 2026 11:00:00 +0100", "2026-11-22T10:00:00Z"),
        ("Sun, 22 Nov 2026 05:00:00 -0500 (EST)", "2026-11-22T10:00:00Z"),
        ("Sun, 22 Nov 26 10:00:00 GMT", "2026-11-22T10:00:00Z"),
        ("Sun, 22 Nov 2026 02:00 PST", "2026-11-22T10:00:00Z"),
        ("Sun, 22 November 2026 10:00:00 UT", "2026-11-22T10:00:00Z"),
        ("Sun Nov 22 10:00:00 2026", "2026-11-22T10:00:00Z"),
        ("2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z"),
        ("2026-11-22T12:00:00.123+02:00", "2026-11-22T10:00:00Z"),
        ("Sun, 22 Nov 2026 10.00.00 +0000", "2026-11-22T10:00:00Z"),
        ("sun, 22 nov 2026 10:00:00 +0000", "2026-11-22T10:00:00Z"),
        ("Sunday, November 22, 2026 10:00 AM", "2026-11-22T10:00:00Z"),
        ("22 Nov 2026 10:00:00 PM +0000", "2026-11-22T22:00:00Z"),
        ("Sun,22 Nov 2026 10:00:00 +0000", "2026-11-22T10:00:00Z"),
        ("22-Nov-2026 10:00:00 +0000", "2026-11-22T10:00:00Z"),
        ("22.11.2026 10:00", "2026-11-22T10:00:00Z"),
        ("Mon, 29 Feb 2028 23:59:59 +1400", "2028-02-29T09:59:59Z"),
        ("1 Jan 1970 00:00:00 +0000", "1970-01-01T00:00:00Z"),
        ("Thu, 01 Jan 99 00:00:00 +0000", "1999-01-01T00:00:00Z"),
    ])
    func parsesDates(input: String, expected: String) throws {
        let date = try #require(DateParser.parse(input))
        #expect(DateParser.iso8601(date) == expected)
    }

    @Test(arguments: ["", "yesterday", "31 Feb 2026 10:00:00 +0000", "Sun, 22 Foo 2026", "99:99", "Sun, 22 Nov 2026 25:61:00 +0000"])
    func rejectsNonsense(input: String) {
        #expect(DateParser.parse(input) == nil)
    }

    @Test func writesRFC5322() {
        #expect(DateParser.rfc5322(Date(timeIntervalSince1970: 1_795_341_600)) == "Sun, 22 Nov 2026 10:00:00 +0000")
        #expect(DateParser.rfc5322(Date(timeIntervalSince1970: 0)) == "Thu, 1 Jan 1970 00:00:00 +0000")
    }
}

@Suite("Addresses")
struct AddressTests {
    @Test(arguments: [
        ("ann@example.com", [Mailbox(address: "ann@example.com")]),
        ("Ann <ann@example.com>", [Mailbox(name: "Ann", address: "ann@example.com")]),
        ("\"Ann \\\"The Boss\\\" Lee\" <ann@example.com>", [Mailbox(name: "Ann \"The Boss\" Lee", address: "ann@example.com")]),
        ("ann@example.com (Ann Lee)", [Mailbox(name: "Ann Lee", address: "ann@example.com")]),
        ("\"very.(),:;<>[]\\\".VERY.\\\"very@\\\\ \\\"very\\\".unusual\"@strange.example.com",
         [Mailbox(address: "\"very.(),:;<>[]\\\".VERY.\\\"very@\\\\ \\\"very\\\".unusual\"@strange.example.com")]),
        ("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Mary <mary@x.test>",
         [Mailbox(name: "Ed Jones", address: "c@a.test"), Mailbox(address: "joe@where.test"), Mailbox(name: "John", address: "jdoe@one.test"), Mailbox(name: "Mary", address: "mary@x.test")]),
        ("undisclosed-recipients:;", [Mailbox]()),
        ("=?utf-8?B?w4Vzw6U=?= <asa@example.se>", [Mailbox(name: "Åså", address: "asa@example.se")]),
        ("\"=?utf-8?Q?Ren=C3=A9e?=\" <renee@example.fr>", [Mailbox(name: "Renée", address: "renee@example.fr")]),
        ("Ann <ann@example.com", [Mailbox(name: "Ann", address: "ann@example.com")]),
        ("Müller <müller@exämple.de>", [Mailbox(name: "Müller", address: "müller@exämple.de")]),
        ("<ann@example.com>, , bob@example.com,", [Mailbox(address: "ann@example.com"), Mailbox(address: "bob@example.com")]),
        ("John Q. Public <jqp@example.com>", [Mailbox(name: "John Q. Public", address: "jqp@example.com")]),
        ("ann @ example . com", [Mailbox(address: "ann@example.com")]),
    ])
    func parsesMailboxes(input: String, expected: [Mailbox]) {
        #expect(AddressParser.mailboxes(Array(input.utf8)[...]) == expected)
    }

    @Test func keepsGroups() {
        let parsed = AddressParser.parse("Team: a@x.test, b@x.test;")
        #expect(parsed == [.group(name: "Team", members: [Mailbox(address: "a@x.test"), Mailbox(address: "b@x.test")])])
    }

    @Test(arguments: [
        (Mailbox(name: "Ann", address: "a@x.test"), "Ann <a@x.test>"),
        (Mailbox(name: "Doe, John", address: "a@x.test"), "\"Doe, John\" <a@x.test>"),
        (Mailbox(address: "a@x.test"), "a@x.test"),
        (Mailbox(name: "Zoë", address: "a@x.test"), "=?UTF-8?B?Wm/Dqw==?= <a@x.test>"),
    ])
    func writesHeaderValues(mailbox: Mailbox, expected: String) {
        #expect(mailbox.headerValue == expected)
    }
}

@Suite("Encoded words and parameters")
struct EncodedWordTests {
    @Test(arguments: [
        ("=?ISO-8859-1?Q?a?=", "a"),
        ("=?ISO-8859-1?Q?a?= b", "a b"),
        ("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"),
        ("=?ISO-8859-1?Q?a?=\r\n   =?ISO-8859-1?Q?b?=", "ab"),
        ("=?ISO-8859-1?Q?a_b?=", "a b"),
        ("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b"),
        ("=?utf-8?q?caf=C3=A9?=", "café"),
        ("=?UTF-8?B?w6k=?=", "é"),
        ("=?UTF-8?B?w6k?=", "é"),
        ("=?utf-8*en?q?hello?=", "hello"),
        ("=?utf-8?B?4oI=?==?utf-8?B?rA==?=", "€"),
        ("prefix=?utf-8?q?X?=suffix", "prefixXsuffix"),
        ("=?unknown-charset?q?abc?=", "abc"),
        ("=?utf-8?x?abc?=", "=?utf-8?x?abc?="),
        ("=?utf-8?q?unterminated", "=?utf-8?q?unterminated"),
        ("=?koi8-r?b?8NLJ18XU?=", "Привет"),
        ("=?iso-2022-jp?B?GyRCJDMkcyRLJEEkTxsoQg==?=", "こんにちは"),
        ("=?shift_jis?B?grGC8YLJgr+CzQ==?=", "こんにちは"),
        ("=?utf-8?q?with spaces inside?=", "with spaces inside"),
    ])
    func decodes(input: String, expected: String) {
        #expect(EncodedWords.decode(input) == expected)
    }

    @Test(arguments: ["Grüße", "Здравствуйте, где мой заказ? Это очень длинная тема письма для проверки", "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀", "plain", "=?not?=", ""])
    func encodeRoundTrips(text: String) {
        let encoded = EncodedWords.encode(text)
        #expect(encoded.utf8.allSatisfy { $0 < 0x80 })
        let unfolded = encoded.replacingOccurrences(of: "\r\n", with: "")
        #expect(EncodedWords.decode(unfolded) == text)
        for word in encoded.components(separatedBy: "\r\n ") { #expect(word.utf8.count <= 75) }
    }

    @Test(arguments: [
        ("text/plain; charset=\"utf-8\"", "text/plain", ["charset": "utf-8"]),
        ("TEXT/HTML; CHARSET=ISO-8859-1 (comment)", "text/html", ["charset": "ISO-8859-1"]),
        ("multipart/mixed; boundary=\"=_x y;z\"", "multipart/mixed", ["boundary": "=_x y;z"]),
        ("application/pdf; name*=utf-8''%E2%82%AC%20rate.pdf", "application/pdf", ["name": "€ rate.pdf"]),
        ("application/pdf; name*0=\"long\"; name*1=\"name.pdf\"", "application/pdf", ["name": "longname.pdf"]),
        ("application/pdf; name*1=\"b.pdf\"; name*0*=utf-8'en'%C3%A4", "application/pdf", ["name": "äb.pdf"]),
        ("application/pdf; name=\"C:\\dir\\file.pdf\"", "application/pdf", ["name": "C:\\dir\\file.pdf"]),
        ("application/pdf; name=\"unterminated.pdf", "application/pdf", ["name": "unterminated.pdf"]),
        ("text", "text/plain", [:]),
        ("", "text/plain", [:]),
        ("garbage/", "text/plain", [:]),
        ("image/png;;; name=a.png;", "image/png", ["name": "a.png"]),
    ])
    func parsesContentType(input: String, mediaType: String, parameters: [String: String]) {
        let parsed = ContentType.parse(Array(input.utf8)[...])
        #expect(parsed.mediaType.description == mediaType)
        #expect(parsed.parameters == parameters)
    }

    @Test func messageIDLists() {
        #expect(MessageIDParser.parseList(Array("<a@b> <c@d>\r\n <e@f>".utf8)[...]) == ["a@b", "c@d", "e@f"])
        #expect(MessageIDParser.parseList(Array("Your message of Monday <a@b>".utf8)[...]) == ["a@b"])
        #expect(MessageIDParser.parseList(Array("a@b, c@d".utf8)[...]) == ["a@b", "c@d"])
        #expect(MessageIDParser.parseList(Array("(comment <x@y>) <a@b>".utf8)[...]) == ["a@b"])
        #expect(MessageIDParser.parseList(Array("<a@b".utf8)[...]) == ["a@b"])
    }
}

@Suite("Transfer encodings")
struct TransferEncodingTests {
    @Test(arguments: [
        ("SGVsbG8gd29ybGQ=", "Hello world"),
        ("SGVsbG8gd29ybGQ", "Hello world"),
        ("SGVs\r\nbG8g\r\nd29y bGQ=", "Hello world"),
        ("SGVsbG8=V29ybGQ=", "HelloWorld"),
        ("SGVsbG8gd29ybGQ=\r\n\r\n", "Hello world"),
        ("", ""),
        ("!!!!", ""),
    ])
    func base64(input: String, expected: String) {
        #expect(String(decoding: Base64Decoder.decode(Array(input.utf8)), as: UTF8.self) == expected)
    }

    @Test(arguments: [
        ("caf=C3=A9", "café"),
        ("caf=c3=a9", "café"),
        ("soft=\r\nbreak", "softbreak"),
        ("soft=\nbreak", "softbreak"),
        ("soft=  \r\nbreak", "softbreak"),
        ("trailing   \r\nspace", "trailing\r\nspace"),
        ("bad=ZZ escape", "bad=ZZ escape"),
        ("ends with =", "ends with "),
        ("a=3Db", "a=b"),
    ])
    func quotedPrintable(input: String, expected: String) {
        #expect(String(decoding: QuotedPrintable.decode(Array(input.utf8)), as: UTF8.self) == expected)
    }

    @Test(arguments: 0..<40)
    func encodersRoundTrip(seed: Int) {
        var rng = SeededGenerator(state: UInt64(seed))
        let bytes = (0..<Int.random(in: 0...3000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        #expect(Base64Decoder.decode(Base64Encoder.encode(bytes)) == bytes)
        #expect(QuotedPrintable.decode(QuotedPrintable.encode(bytes, isText: false)) == bytes)
        let qp = QuotedPrintable.encode(bytes, isText: false)
        #expect(qp.split(separator: ASCII.lf).allSatisfy { $0.count <= 77 })
    }
}

@Suite("SHA-256")
struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownVectors(input: String, expected: String) {
        #expect(SHA256.hex(SHA256.hash(Array(input.utf8))) == expected)
    }

    @Test func millionAs() {
        #expect(SHA256.hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000))) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test(arguments: [1, 3, 63, 64, 65, 1000])
    func incrementalMatchesOneShot(chunk: Int) {
        let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var hasher = SHA256()
        var start = 0
        while start < bytes.count {
            hasher.update(bytes[start..<min(bytes.count, start + chunk)])
            start += chunk
        }
        #expect(hasher.finalize() == SHA256.hash(bytes))
    }
}

@Suite("Charsets")
struct CharsetTests {
    @Test(arguments: [
        ("UTF8", "utf-8"), ("latin1", "iso-8859-1"), ("ISO_8859-2", "iso-8859-2"), ("iso8859-15", "iso-8859-15"),
        ("\"windows-1251\"", "windows-1251"), ("cp1252", "windows-1252"), ("x-gbk", "gb18030"), ("GB2312", "gb18030"),
        ("ks_c_5601-1987", "euc-kr"), ("SJIS", "shift_jis"), ("x-euc-jp", "euc-jp"), ("utf-8*en", "utf-8"),
        ("latin2", "iso-8859-2"), ("KOI8-U", "koi8-u"), ("Big5-HKSCS", "big5"), ("ascii", "us-ascii"),
    ])
    func resolvesAliases(label: String, name: String) {
        #expect(Charset(label: label)?.name == name)
    }

    @Test(arguments: ["x-unknown", "", "iso-8859-99", "utf-9"])
    func rejectsUnknownLabels(label: String) {
        #expect(Charset(label: label) == nil)
    }

    @Test func fallbackChain() {
        // Declared wrong, meta right.
        let html = Array("<meta charset=\"koi8-r\"><p>".utf8) + [0xF0, 0xD2, 0xC9]
        #expect(TextDecoding.decode(html, declaredLabel: "utf-8", isHTML: true).text.hasSuffix("При"))
        // No label: UTF-8, then Windows-1252.
        #expect(TextDecoding.decode(Array("é".utf8), declaredLabel: nil, isHTML: false).text == "é")
        #expect(TextDecoding.decode([0x93, 0x61, 0x94], declaredLabel: nil, isHTML: false).text == "“a”")
        // A truncated multibyte body keeps its good lines.
        let sjis: [UInt8] = [0x82, 0xB1, 0x82, 0xF1, 0x0A, 0x82]
        let salvaged = TextDecoding.decode(sjis, declaredLabel: "shift_jis", isHTML: false)
        #expect(salvaged.text.hasPrefix("こん\n"))
    }
}

@Suite("Double-byte tables")
struct DoubleByteTableTests {
    /// Whatever the table decodes, it decodes exactly as the platform converter does.
    @Test(arguments: [UInt32(0x0420), 0x0632, 0x0A03, 0x0422])
    func agreesWithThePlatformConverter(encoding: UInt32) {
        let table = DoubleByteTable.table(for: encoding)
        var rng = SeededGenerator(state: UInt64(encoding))
        var decodedByTable = 0
        for _ in 0..<3000 {
            // Mostly plausible lead/trail pairs, some ASCII, some noise.
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes.append(UInt8.random(in: 0x20...0x7E, using: &rng))
                case 3: bytes.append(UInt8.random(in: 0...255, using: &rng))
                default: bytes += [UInt8.random(in: 0x81...0xFE, using: &rng), UInt8.random(in: 0x40...0xFE, using: &rng)]
                }
            }
            guard let viaTable = bytes.withUnsafeBufferPointer({ table.decode($0) }) else { continue }
            decodedByTable += 1
            #expect(viaTable == CoreFoundationDecoder.decode(bytes, encoding: encoding), "\(bytes)")
        }
        #expect(decodedByTable > 100)
    }
}

@Suite("ASCII case folding")
struct CaseFoldingTests {
    @Test(arguments: [
        ("delivered-to", true), ("Delivered-To", true), ("DELIVERED-TO", true), ("dElIvErEd-tO", true),
        ("delivered-t", false), ("delivered-too", false), ("delivered_to", false), ("", false),
    ])
    func comparesWithALowercaseLiteral(_ text: String, _ equal: Bool) {
        #expect(text.utf8.equalsIgnoringCase("delivered-to") == equal)
        #expect(Array(text.utf8)[...].equalsIgnoringCase("delivered-to") == equal)
    }

    /// Only A-Z fold: "@" and "[" sit next to them in ASCII and differ from "`" and "{" by the same bit.
    @Test func foldsLettersOnly() {
        #expect("[X@]".utf8.equalsIgnoringCase("[x@]"))
        #expect(!"[x@]".utf8.equalsIgnoringCase("{x`}"))
        #expect(!"É".utf8.equalsIgnoringCase("é"))
    }
}
