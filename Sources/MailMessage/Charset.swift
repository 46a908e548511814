import Foundation
#if canImport(CoreFoundation)
import CoreFoundation
#endif

/// A character set named by a MIME `charset` parameter or an encoded word.
///
/// A struct with static members rather than a closed enum: servers meet labels we never
/// listed, and `Charset(label:)` resolves the common aliases to one decoder each.
public struct Charset: Sendable, Hashable, CustomStringConvertible {
    /// The canonical, lowercase name, e.g. `utf-8`, `windows-1251`, `shift_jis`.
    public let name: String
    let decoding: Decoding

    enum Decoding: Sendable, Hashable {
        case utf8
        case ascii
        /// One byte, one character; the table is built once from the platform's converter.
        case singleByte(cfEncoding: UInt32)
        /// Multibyte sets decoded by CoreFoundation; the first encoding that accepts the
        /// bytes wins, so a strict label can fall back to its vendor superset.
        case coreFoundation([UInt32])
        /// EUC-JP is missing from CoreFoundation on Linux; it maps arithmetically onto
        /// Shift_JIS, which is present.
        case eucJP
        case utf16(UTF16ByteOrder?)
    }

    enum UTF16ByteOrder: Sendable, Hashable { case bigEndian, littleEndian }

    init(name: String, decoding: Decoding) {
        self.name = name
        self.decoding = decoding
    }

    public var description: String { name }

    // The name identifies the charset; comparing the decoder too would only cost time.
    public static func == (lhs: Charset, rhs: Charset) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    public static let utf8 = Charset(name: "utf-8", decoding: .utf8)
    public static let usASCII = Charset(name: "us-ascii", decoding: .ascii)
    /// Decoded with the Windows-1252 table: mail labelled Latin-1 is almost always 1252 in
    /// practice (curly quotes, euro sign), as the WHATWG encoding standard also concludes.
    public static let iso8859_1 = Charset(name: "iso-8859-1", decoding: .singleByte(cfEncoding: 0x0500))
    public static let iso8859_2 = Charset(name: "iso-8859-2", decoding: .singleByte(cfEncoding: 0x0202))
    public static let iso8859_5 = Charset(name: "iso-8859-5", decoding: .singleByte(cfEncoding: 0x0205))
    public static let iso8859_7 = Charset(name: "iso-8859-7", decoding: .singleByte(cfEncoding: 0x0207))
    public static let iso8859_15 = Charset(name: "iso-8859-15", decoding: .singleByte(cfEncoding: 0x020F))
    public static let windows1250 = Charset(name: "windows-1250", decoding: .singleByte(cfEncoding: 0x0501))
    public static let windows1251 = Charset(name: "windows-1251", decoding: .singleByte(cfEncoding: 0x0502))
    public static let windows1252 = Charset(name: "windows-1252", decoding: .singleByte(cfEncoding: 0x0500))
    public static let koi8R = Charset(name: "koi8-r", decoding: .singleByte(cfEncoding: 0x0A02))
    public static let koi8U = Charset(name: "koi8-u", decoding: .singleByte(cfEncoding: 0x0A08))
    public static let gb18030 = Charset(name: "gb18030", decoding: .coreFoundation([0x0632]))
    public static let big5 = Charset(name: "big5", decoding: .coreFoundation([0x0A03, 0x0423, 0x0A06]))
    public static let shiftJIS = Charset(name: "shift_jis", decoding: .coreFoundation([0x0420, 0x0A01]))
    public static let eucJP = Charset(name: "euc-jp", decoding: .eucJP)
    public static let iso2022JP = Charset(name: "iso-2022-jp", decoding: .coreFoundation([0x0820, 0x0821, 0x0822]))
    public static let eucKR = Charset(name: "euc-kr", decoding: .coreFoundation([0x0422, 0x0940]))
    public static let utf16 = Charset(name: "utf-16", decoding: .utf16(nil))
    public static let utf16BE = Charset(name: "utf-16be", decoding: .utf16(.bigEndian))
    public static let utf16LE = Charset(name: "utf-16le", decoding: .utf16(.littleEndian))

    /// Resolves a label as found in mail (any case, quoted, with an RFC 2231 language
    /// suffix) to a charset; nil for labels this platform cannot decode.
    public init?(label: some StringProtocol) {
        var key = label.utf8.filter { $0 != ASCII.quote && !ASCII.isWhitespace($0) }
        if let star = key.firstIndex(of: ASCII.asterisk) { key.removeSubrange(star...) }
        let normalized = String(decoding: key.map(ASCII.lowercased), as: UTF8.self)
        guard let found = Charset.byAlias[normalized] ?? Charset.isoFamily(normalized) else { return nil }
        self = found
    }

    /// `true` for charsets where bytes below 0x80 are ASCII, so line ends and markup can be
    /// found on the raw bytes.
    var isASCIICompatible: Bool {
        switch decoding {
        case .utf16: return false
        default: return true
        }
    }

    var isMultibyte: Bool {
        switch decoding {
        case .coreFoundation, .eucJP: return true
        default: return false
        }
    }

    /// Decodes `bytes`, or returns nil when they are not valid in this charset (which is how
    /// a mislabelled body is noticed). Single-byte charsets always succeed.
    public func decode(_ bytes: some Collection<UInt8>) -> String? {
        switch decoding {
        case .utf8:
            return String(validating: bytes, as: UTF8.self)
        case .ascii:
            guard !bytes.contains(where: { $0 >= 0x80 }) else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        case .singleByte(let cfEncoding):
            return SingleByteTable.table(for: cfEncoding).decode(bytes)
        case .coreFoundation(let encodings):
            if !bytes.contains(where: { $0 >= 0x80 || $0 == 0x1B }) { return String(decoding: bytes, as: UTF8.self) }
            let array = Array(bytes)
            if let first = encodings.first, Charset.doubleByteEncodings.contains(first),
               let text = array.withUnsafeBufferPointer({ DoubleByteTable.table(for: first).decode($0) }) {
                return text
            }
            for encoding in encodings {
                if let text = CoreFoundationDecoder.decode(array, encoding: encoding) { return text }
            }
            return nil
        case .eucJP:
            guard let shiftJIS = EUCJPConverter.shiftJISBytes(fromEUCJP: bytes) else { return nil }
            return Charset.shiftJIS.decode(shiftJIS)
        case .utf16(let order):
            return UTF16Decoder.decode(Array(bytes), order: order)
        }
    }

    /// CoreFoundation encodings decoded through a `DoubleByteTable`: CP932, GB18030 (its
    /// two-byte part), Big5, CP949.
    static let doubleByteEncodings: Set<UInt32> = [0x0420, 0x0632, 0x0A03, 0x0422]

    private static let byAlias: [String: Charset] = {
        var table: [String: Charset] = [:]
        func add(_ charset: Charset, _ aliases: [String]) {
            table[charset.name] = charset
            for alias in aliases { table[alias] = charset }
        }
        add(.utf8, ["utf8", "unicode-1-1-utf-8", "x-unicode20utf8", "unicode-2-0-utf-8"])
        add(.usASCII, ["ascii", "us", "ansi_x3.4-1968", "ansi_x3.4-1986", "iso646-us", "iso-ir-6", "cp367", "ibm367", "646", "csascii", "default"])
        add(.iso8859_1, ["latin1", "l1", "iso-ir-100", "cp819", "ibm819", "csisolatin1", "iso_8859-1:1987", "iso88591"])
        add(.windows1250, ["cp1250", "x-cp1250", "win-1250"])
        add(.windows1251, ["cp1251", "x-cp1251", "win-1251"])
        add(.windows1252, ["cp1252", "x-cp1252", "win-1252"])
        for (number, code) in [(1253, 0x0503), (1254, 0x0504), (1255, 0x0505), (1256, 0x0506), (1257, 0x0507), (1258, 0x0508)] as [(Int, UInt32)] {
            add(Charset(name: "windows-\(number)", decoding: .singleByte(cfEncoding: code)), ["cp\(number)", "x-cp\(number)", "win-\(number)"])
        }
        add(Charset(name: "windows-874", decoding: .singleByte(cfEncoding: 0x041D)), ["cp874", "tis-620", "iso-8859-11", "x-cp874"])
        add(Charset(name: "ibm866", decoding: .singleByte(cfEncoding: 0x0413)), ["cp866", "866", "csibm866"])
        add(Charset(name: "macintosh", decoding: .singleByte(cfEncoding: 0x0000)), ["mac", "x-mac-roman", "macroman", "csmacintosh"])
        add(.koi8R, ["koi8", "cskoi8r", "koi"])
        add(.koi8U, ["koi8-ru"])
        add(.gb18030, ["gb2312", "gbk", "x-gbk", "cp936", "ms936", "windows-936", "euc-cn", "csgb2312", "chinese", "iso-ir-58", "gb_2312-80", "gb_2312", "x-euc-cn"])
        add(.big5, ["big5-hkscs", "x-x-big5", "cn-big5", "csbig5", "cp950", "x-big5", "big-5"])
        add(.shiftJIS, ["shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "cp932", "ms932", "x-ms-cp932"])
        add(.eucJP, ["eucjp", "x-euc-jp", "cseucpkdfmtjapanese", "x-eucjp"])
        add(.iso2022JP, ["csiso2022jp", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-3"])
        add(.eucKR, ["euckr", "ks_c_5601-1987", "ks_c_5601", "ks_c_5601-1989", "ksc5601", "ksc_5601", "cp949", "windows-949", "korean", "csksc56011987", "iso-ir-149", "uhc", "x-windows-949"])
        add(.utf16, ["ucs-2", "utf16", "iso-10646-ucs-2", "csunicode", "unicode"])
        add(.utf16BE, ["unicodefffe", "utf16be"])
        add(.utf16LE, ["utf16le"])
        return table
    }()

    /// The ISO-8859 family is written in many ways (`ISO8859-2`, `iso_8859-2`, `latin2`).
    private static func isoFamily(_ label: String) -> Charset? {
        let named: [String: Int] = ["latin2": 2, "latin3": 3, "latin4": 4, "cyrillic": 5, "arabic": 6, "greek": 7,
                                    "hebrew": 8, "latin5": 9, "latin6": 10, "latin7": 13, "latin8": 14, "latin9": 15,
                                    "latin10": 16, "l2": 2, "l3": 3, "l4": 4, "l5": 9, "l6": 10, "l9": 15]
        var number = named[label]
        if number == nil {
            var rest = Substring(label)
            for prefix in ["iso-8859-", "iso8859-", "iso_8859-", "iso-8859_", "iso8859_", "iso_8859_", "iso8859", "iso-ir-"] where rest.hasPrefix(prefix) {
                rest = rest.dropFirst(prefix.count)
                break
            }
            guard rest.count < label.count else { return nil }
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            let suffix = rest.dropFirst(digits.count)
            // "iso-8859-8-i" (logical order Hebrew) and "iso_8859-2:1987" name the same tables.
            guard suffix.isEmpty || suffix == "-i" || suffix == "-e" || suffix.hasPrefix(":") else { return nil }
            number = Int(digits)
        }
        guard let number, (1...16).contains(number), number != 12 else { return nil }
        if number == 1 { return .iso8859_1 }
        if number == 11 { return byAlias["windows-874"] }
        return Charset(name: "iso-8859-\(number)", decoding: .singleByte(cfEncoding: 0x0200 + UInt32(number)))
    }
}

/// 256 code points for one single-byte charset, filled once by asking the platform for each
/// byte; unknown bytes decode to U+FFFD so decoding never fails.
final class SingleByteTable: Sendable {
    let scalars: [UInt32]

    private init(cfEncoding: UInt32) {
        var scalars = (0..<256).map { UInt32($0) }
        let encoding = String.Encoding(rawValue: UInt(0x8000_0000 | cfEncoding))
        let high = Data((0x80...0xFF).map { UInt8($0) })
        if let all = String(data: high, encoding: encoding), all.unicodeScalars.count == 128 {
            for (offset, scalar) in all.unicodeScalars.enumerated() { scalars[0x80 + offset] = scalar.value }
        } else {
            for byte in 0x80...0xFF {
                let text = String(data: Data([UInt8(byte)]), encoding: encoding)
                scalars[byte] = text?.unicodeScalars.first?.value ?? 0xFFFD
            }
        }
        self.scalars = scalars
    }

    func decode(_ bytes: some Collection<UInt8>) -> String {
        if let text = bytes.withContiguousStorageIfAvailable({ decode($0) }) { return text }
        return Array(bytes).withUnsafeBufferPointer { decode($0) }
    }

    func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        if !bytes.contains(where: { $0 >= 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        return scalars.withUnsafeBufferPointer { table in
            String(unsafeUninitializedCapacity: bytes.count * 3) { output in
                var written = 0
                for byte in bytes {
                    if byte < 0x80 {
                        output[written] = byte
                        written += 1
                        continue
                    }
                    let scalar = table[Int(byte)]
                    if scalar < 0x800 {
                        output[written] = UInt8(truncatingIfNeeded: 0xC0 | (scalar >> 6))
                        output[written + 1] = UInt8(truncatingIfNeeded: 0x80 | (scalar & 0x3F))
                        written += 2
                    } else {
                        output[written] = UInt8(truncatingIfNeeded: 0xE0 | (scalar >> 12))
                        output[written + 1] = UInt8(truncatingIfNeeded: 0x80 | ((scalar >> 6) & 0x3F))
                        output[written + 2] = UInt8(truncatingIfNeeded: 0x80 | (scalar & 0x3F))
                        written += 3
                    }
                }
                return written
            }
        }
    }

    private static let cache = TableCache()

    static func table(for cfEncoding: UInt32) -> SingleByteTable { cache.table(for: cfEncoding) }

    private final class TableCache: @unchecked Sendable {
        // Guarded by `lock`; tables are immutable once built.
        private var tables: [UInt32: SingleByteTable] = [:]
        private let lock = NSLock()

        func table(for cfEncoding: UInt32) -> SingleByteTable {
            lock.lock()
            defer { lock.unlock() }
            if let table = tables[cfEncoding] { return table }
            let table = SingleByteTable(cfEncoding: cfEncoding)
            tables[cfEncoding] = table
            return table
        }
    }
}

/// Decodes through CoreFoundation (ICU underneath on Linux) straight to UTF-8 bytes; going
/// through `String(data:encoding:)` costs a second conversion via NSString bridging.
enum CoreFoundationDecoder {
    private static let utf8Encoding = CFStringEncoding(0x0800_0100)

    static func decode(_ bytes: [UInt8], encoding: UInt32) -> String? {
        bytes.withUnsafeBufferPointer { input -> String? in
            guard let base = input.baseAddress,
                  let string = CFStringCreateWithBytes(kCFAllocatorDefault, base, input.count, CFStringEncoding(encoding), false) else { return nil }
            let range = CFRangeMake(0, CFStringGetLength(string))
            var needed: CFIndex = 0
            _ = CFStringGetBytes(string, range, utf8Encoding, 0, false, nil, 0, &needed)
            return String(unsafeUninitializedCapacity: needed) { buffer in
                var used: CFIndex = 0
                _ = CFStringGetBytes(string, range, utf8Encoding, 0, false, buffer.baseAddress, needed, &used)
                return used
            }
        }
    }
}

enum EUCJPConverter {
    /// Rewrites EUC-JP as Shift_JIS. JIS X 0208 maps arithmetically; JIS X 0212 (0x8F) has no
    /// Shift_JIS form and becomes the geta mark 〓, the customary substitute. Nil on bytes that
    /// are not EUC-JP.
    static func shiftJISBytes(fromEUCJP bytes: some Collection<UInt8>) -> [UInt8]? {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let lead = input[index]
            if lead < 0x80 {
                output.append(lead)
                index += 1
            } else if lead == 0x8E {
                guard index + 1 < input.count, (0xA1...0xDF).contains(input[index + 1]) else { return nil }
                output.append(input[index + 1])
                index += 2
            } else if lead == 0x8F {
                guard index + 2 < input.count else { return nil }
                output.append(contentsOf: [0x81, 0xAC])
                index += 3
            } else if (0xA1...0xFE).contains(lead) {
                guard index + 1 < input.count, (0xA1...0xFE).contains(input[index + 1]) else { return nil }
                let row = Int(lead & 0x7F), cell = Int(input[index + 1] & 0x7F)
                let first = ((row + 1) >> 1) + (row <= 0x5E ? 0x70 : 0xB0)
                let second: Int
                if row & 1 == 1 {
                    second = cell + 0x1F + (cell >= 0x60 ? 1 : 0)
                } else {
                    second = cell + 0x7E
                }
                output.append(UInt8(truncatingIfNeeded: first))
                output.append(UInt8(truncatingIfNeeded: second))
                index += 2
            } else {
                return nil
            }
        }
        return output
    }
}

enum UTF16Decoder {
    static func decode(_ bytes: [UInt8], order declared: Charset.UTF16ByteOrder?) -> String {
        var start = 0
        var order = declared
        if bytes.count >= 2 {
            if bytes[0] == 0xFE && bytes[1] == 0xFF { order = .bigEndian; start = 2 }
            else if bytes[0] == 0xFF && bytes[1] == 0xFE { order = .littleEndian; start = 2 }
        }
        if order == nil {
            // No BOM: Windows writes little endian although RFC 2781 says big; ASCII-heavy
            // text shows which half of each unit is zero.
            var zeroAtEven = 0, zeroAtOdd = 0
            for (offset, byte) in bytes.prefix(512).enumerated() where byte == 0 {
                if offset & 1 == 0 { zeroAtEven += 1 } else { zeroAtOdd += 1 }
            }
            order = zeroAtOdd > zeroAtEven ? .littleEndian : .bigEndian
        }
        var units: [UInt16] = []
        units.reserveCapacity((bytes.count - start) / 2)
        var index = start
        while index + 1 < bytes.count {
            let high = order == .bigEndian ? bytes[index] : bytes[index + 1]
            let low = order == .bigEndian ? bytes[index + 1] : bytes[index]
            units.append(UInt16(high) << 8 | UInt16(low))
            index += 2
        }
        return String(decoding: units, as: UTF16.self)
    }
}
