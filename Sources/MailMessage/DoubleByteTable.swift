import Foundation

/// A lookup table for a double-byte charset (Shift_JIS, GBK, Big5, EUC-KR), filled once from
/// the platform's converter. Decoding through the table skips ICU and the UTF-16 round trip,
/// which made CJK bodies the slowest part of parsing. Anything the table does not know (an
/// unassigned pair, a GB18030 four-byte sequence) makes `decode` return nil and the caller
/// falls back to the platform converter, so results never differ from it.
final class DoubleByteTable: Sendable {
    /// Code point for a single high byte (half-width katakana in Shift_JIS), 0 when the byte
    /// leads a pair.
    private let single: [UInt32]
    /// Code point for lead << 8 | trail, 0 when unassigned.
    private let pairs: [UInt32]
    /// Some converters (ICU's IBM-derived CP932) swap a few control characters; bytes below
    /// 0x80 are copied as they are only when the converter does the same.
    private let asciiIsIdentity: Bool

    private init(cfEncoding: UInt32) {
        var single = [UInt32](repeating: 0, count: 256)
        var pairs = [UInt32](repeating: 0, count: 65_536)
        let low = (0..<0x80).map { UInt8($0) }
        if let scalars = Self.scalars(of: low, cfEncoding), scalars.count == 0x80 {
            for (byte, scalar) in scalars.enumerated() { single[byte] = scalar }
            asciiIsIdentity = scalars.enumerated().allSatisfy { UInt32($0.offset) == $0.element }
        } else {
            asciiIsIdentity = false
        }
        for lead in 0x80...0xFF {
            if let scalars = Self.scalars(of: [UInt8(lead)], cfEncoding), scalars.count == 1 {
                single[lead] = scalars[0]
                continue
            }
            let trails = Array(0x40...0xFE).filter { $0 != 0x7F }
            let joined = trails.flatMap { [UInt8(lead), UInt8($0)] }
            if let scalars = Self.scalars(of: joined, cfEncoding), scalars.count == trails.count {
                for (trail, scalar) in zip(trails, scalars) { pairs[lead << 8 | trail] = scalar }
                continue
            }
            for trail in trails {
                if let scalars = Self.scalars(of: [UInt8(lead), UInt8(trail)], cfEncoding), scalars.count == 1, scalars[0] >= 0x80 {
                    pairs[lead << 8 | trail] = scalars[0]
                }
            }
        }
        self.single = single
        self.pairs = pairs
    }

    private static func scalars(of bytes: [UInt8], _ cfEncoding: UInt32) -> [UInt32]? {
        CoreFoundationDecoder.decode(bytes, encoding: cfEncoding).map { $0.unicodeScalars.map(\.value) }
    }

    /// The code point of a two-byte sequence, 0 when unassigned.
    func scalar(lead: UInt8, trail: UInt8) -> UInt32 { pairs[Int(lead) << 8 | Int(trail)] }

    func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let count = bytes.count
        var failed = false
        let text = single.withUnsafeBufferPointer { single in
            pairs.withUnsafeBufferPointer { pairs in
                String(unsafeUninitializedCapacity: count * 3) { output -> Int in
                    var written = 0
                    var index = 0
                    func emit(_ scalar: UInt32) {
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
                            // Supplementary characters take four bytes from two source bytes;
                            // leave them to the platform converter.
                            failed = true
                        }
                    }
                    while index < count, !failed {
                        let byte = bytes[index]
                        if byte < 0x80 {
                            // Control characters are left to the platform converter, which
                            // maps some of them differently depending on context.
                            guard asciiIsIdentity, byte >= 0x20 || byte == ASCII.tab || byte == ASCII.lf || byte == ASCII.cr, byte != 0x7F else {
                                failed = true
                                break
                            }
                            output[written] = byte
                            written += 1
                            index += 1
                        } else if single[Int(byte)] != 0 {
                            emit(single[Int(byte)])
                            index += 1
                        } else if index + 1 < count, case let scalar = pairs[Int(byte) << 8 | Int(bytes[index + 1])], scalar != 0 {
                            emit(scalar)
                            index += 2
                        } else {
                            failed = true
                        }
                    }
                    return failed ? 0 : written
                }
            }
        }
        return failed ? nil : text
    }

    private static let cache = Cache()

    static func table(for cfEncoding: UInt32) -> DoubleByteTable { cache.table(for: cfEncoding) }

    private final class Cache: @unchecked Sendable {
        // Guarded by `lock`; tables are immutable once built.
        private var tables: [UInt32: DoubleByteTable] = [:]
        private let lock = NSLock()

        func table(for cfEncoding: UInt32) -> DoubleByteTable {
            lock.lock()
            defer { lock.unlock() }
            if let table = tables[cfEncoding] { return table }
            let table = DoubleByteTable(cfEncoding: cfEncoding)
            tables[cfEncoding] = table
            return table
        }
    }
}
