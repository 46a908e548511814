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
        /// EUC-JP is missing from CoreFoundation on Linux; see `EUCJPTable`.
        case eucJP
        /// Seven-bit encodings that switch into another character set after a shift byte
        /// (UTF-7 `+`, HZ `~`, ISO-2022-KR escape), decoded by CoreFoundation; text without
        /// the shift byte is plain ASCII.
        case sevenBitShifted(cfEncoding: UInt32, shift: UInt8)
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
    /// RFC 2152, still met in mail from old Exchange servers.
    public static let utf7 = Charset(name: "utf-7", decoding: .sevenBitShifted(cfEncoding: 0x0400_0100, shift: 0x2B))
    /// RFC 1557.
    public static let iso2022KR = Charset(name: "iso-2022-kr", decoding: .sevenBitShifted(cfEncoding: 0x0840, shift: 0x1B))
    /// RFC 1843.
    public static let hzGB2312 = Charset(name: "hz-gb-2312", decoding: .sevenBitShifted(cfEncoding: 0x0A05, shift: 0x7E))

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
        case .coreFoundation, .eucJP, .sevenBitShifted: return true
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
            if !bytes.contains(where: { $0 >= 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
            return Array(bytes).withUnsafeBufferPointer { EUCJPTable.shared.decode($0) }
        case .sevenBitShifted(let cfEncoding, let shift):
            if bytes.contains(where: { $0 >= 0x80 }) { return nil }
            if !bytes.contains(shift) { return String(decoding: bytes, as: UTF8.self) }
            return CoreFoundationDecoder.decode(Array(bytes), encoding: cfEncoding)
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
        add(.utf7, ["utf7", "unicode-1-1-utf-7", "csunicode11utf7", "x-unicode20utf7", "unicode-2-0-utf-7"])
        add(.iso2022KR, ["csiso2022kr"])
        add(.hzGB2312, ["hz", "hz-gb2312", "x-hz-gb-2312"])
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

/// EUC-JP (code set 1 JIS X 0208, code set 2 half-width katakana after 0x8E, code set 3
/// JIS X 0212 after 0x8F) decoded through one table, built once: CoreFoundation on Linux has
/// no EUC-JP converter, but its CP932 table (via the arithmetic EUC-JP to Shift_JIS mapping)
/// covers JIS X 0208 with the NEC and IBM extensions Windows mailers use, and its
/// ISO-2022-JP-2 converter covers JIS X 0212 (`ESC $ ( D`), which has no Shift_JIS form.
final class EUCJPTable: Sendable {
    /// Code points for the 94 x 94 cells of JIS X 0208 then JIS X 0212; 0 when unassigned.
    private let cells: [UInt32]

    static let shared = EUCJPTable()

    private init() {
        var cells = [UInt32](repeating: 0, count: 2 * 94 * 94)
        let cp932 = DoubleByteTable.table(for: 0x0420)
        for row in 0..<94 {
            for cell in 0..<94 {
                let (lead, trail) = Self.shiftJIS(row: row + 1, cell: cell + 1)
                cells[row * 94 + cell] = cp932.scalar(lead: lead, trail: trail)
            }
        }
        // One conversion per row; a row with unassigned cells is retried cell by cell.
        let escape: [UInt8] = [0x1B, 0x24, 0x28, 0x44], back: [UInt8] = [0x1B, 0x28, 0x42]
        let iso2022JP2: UInt32 = 0x0821
        for row in 0..<94 {
            let pairs = (0..<94).flatMap { [UInt8(0x21 + row), UInt8(0x21 + $0)] }
            if let text = CoreFoundationDecoder.decode(escape + pairs + back, encoding: iso2022JP2),
               case let scalars = Array(text.unicodeScalars), scalars.count == 94,
               !scalars.contains(where: { $0.value == 0xFFFD || $0.value == 0x1A }) {
                for (cell, scalar) in scalars.enumerated() { cells[94 * 94 + row * 94 + cell] = scalar.value }
                continue
            }
            for cell in 0..<94 {
                let bytes = escape + [UInt8(0x21 + row), UInt8(0x21 + cell)] + back
                if let text = CoreFoundationDecoder.decode(bytes, encoding: iso2022JP2), text.unicodeScalars.count == 1,
                   let scalar = text.unicodeScalars.first, scalar.value >= 0x80, scalar.value != 0xFFFD {
                    cells[94 * 94 + row * 94 + cell] = scalar.value
                }
            }
        }
        self.cells = cells
    }

    /// JIS row and cell (1-94) to Shift_JIS bytes.
    private static func shiftJIS(row: Int, cell: Int) -> (UInt8, UInt8) {
        let jisRow = row + 0x20, jisCell = cell + 0x20
        let first = ((jisRow + 1) >> 1) + (jisRow <= 0x5E ? 0x70 : 0xB0)
        let second = jisRow & 1 == 1 ? jisCell + 0x1F + (jisCell >= 0x60 ? 1 : 0) : jisCell + 0x7E
        return (UInt8(truncatingIfNeeded: first), UInt8(truncatingIfNeeded: second))
    }

    /// Nil when the bytes are not EUC-JP (a bad sequence or an unassigned character), which
    /// is how a mislabelled body is noticed.
    func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let count = bytes.count
        var failed = false
        let text = cells.withUnsafeBufferPointer { cells in
            String(unsafeUninitializedCapacity: count * 3) { output -> Int in
                var written = 0
                var index = 0
                while index < count {
                    let lead = bytes[index]
                    let scalar: UInt32
                    if lead < 0x80 {
                        output[written] = lead
                        written += 1
                        index += 1
                        continue
                    } else if lead == 0x8E, index + 1 < count, (0xA1...0xDF).contains(bytes[index + 1]) {
                        scalar = 0xFF61 + UInt32(bytes[index + 1] - 0xA1)
                        index += 2
                    } else if lead == 0x8F, index + 2 < count, (0xA1...0xFE).contains(bytes[index + 1]), (0xA1...0xFE).contains(bytes[index + 2]) {
                        scalar = cells[94 * 94 + Int(bytes[index + 1] - 0xA1) * 94 + Int(bytes[index + 2] - 0xA1)]
                        index += 3
                    } else if (0xA1...0xFE).contains(lead), index + 1 < count, (0xA1...0xFE).contains(bytes[index + 1]) {
                        scalar = cells[Int(lead - 0xA1) * 94 + Int(bytes[index + 1] - 0xA1)]
                        index += 2
                    } else {
                        scalar = 0
                    }
                    guard scalar != 0 else { failed = true; return 0 }
                    // Three bytes of UTF-8 at most: both tables are in the Basic Multilingual
                    // Plane, and the output has room for three per input byte.
                    if scalar < 0x800 {
                        output[written] = UInt8(truncatingIfNeeded: 0xC0 | (scalar >> 6))
                        output[written + 1] = UInt8(truncatingIfNeeded: 0x80 | (scalar & 0x3F))
                        written += 2
                    } else if scalar < 0x10000 {
                        output[written] = UInt8(truncatingIfNeeded: 0xE0 | (scalar >> 12))
                        output[written + 1] = UInt8(truncatingIfNeeded: 0x80 | ((scalar >> 6) & 0x3F))
                        output[written + 2] = UInt8(truncatingIfNeeded: 0x80 | (scalar & 0x3F))
                        written += 3
                    } else {
                        failed = true
                        return 0
                    }
                }
                return written
            }
        }
        return failed ? nil : text
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
