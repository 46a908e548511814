import Foundation

/// Byte values the grammars below refer to, named as in RFC 5234's core rules.
@usableFromInline enum ASCII {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let hash: UInt8 = 0x23
    static let apostrophe: UInt8 = 0x27
    static let openParen: UInt8 = 0x28
    static let closeParen: UInt8 = 0x29
    static let asterisk: UInt8 = 0x2A
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let lessThan: UInt8 = 0x3C
    static let equals: UInt8 = 0x3D
    static let greaterThan: UInt8 = 0x3E
    static let question: UInt8 = 0x3F
    static let at: UInt8 = 0x40
    static let backslash: UInt8 = 0x5C
    static let underscore: UInt8 = 0x5F

    @inline(__always) static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab || byte == cr || byte == lf
    }

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    @inline(__always) static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A
    }

    // Inlinable for `equalsIgnoringCase`, which other modules inline.
    @inlinable @inline(__always) static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    @inline(__always) static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}

extension Collection where Element == UInt8 {
    /// ASCII case-insensitive comparison with a lowercase ASCII literal.
    ///
    /// Inlinable so that callers in other modules get it specialised for their collection (a
    /// generic call per byte cost more than the comparison, on every header of every message).
    @inlinable
    public func equalsIgnoringCase(_ lowercaseLiteral: String) -> Bool {
        guard count == lowercaseLiteral.utf8.count else { return false }
        return zip(self, lowercaseLiteral.utf8).allSatisfy { ASCII.lowercased($0) == $1 }
    }

    func hasPrefixIgnoringCase(_ lowercaseLiteral: String) -> Bool {
        var iterator = makeIterator()
        for expected in lowercaseLiteral.utf8 {
            guard let byte = iterator.next(), ASCII.lowercased(byte) == expected else { return false }
        }
        return true
    }
}

extension ArraySlice where Element == UInt8 {
    /// The slice without leading and trailing whitespace (SP, HTAB, CR, LF).
    func trimmingWhitespace() -> ArraySlice<UInt8> {
        var lower = startIndex
        var upper = endIndex
        while lower < upper, ASCII.isWhitespace(self[lower]) { lower += 1 }
        while upper > lower, ASCII.isWhitespace(self[upper - 1]) { upper -= 1 }
        return self[lower..<upper]
    }

    var isASCII: Bool { allSatisfy { $0 < 0x80 } }
}

extension String {
    /// Lowercased ASCII letters only; header names and tokens are ASCII by grammar, and
    /// Unicode lowercasing is both slower and wrong for them.
    var asciiLowercased: String {
        let hasUppercase = utf8.withContiguousStorageIfAvailable { bytes in bytes.contains { $0 >= 0x41 && $0 <= 0x5A } }
            ?? utf8.contains { $0 >= 0x41 && $0 <= 0x5A }
        if !hasUppercase { return self }
        return String(decoding: utf8.map(ASCII.lowercased), as: UTF8.self)
    }

    /// Builds a string from bytes known or required to be ASCII; other bytes are decoded as
    /// UTF-8 with replacement, so this never fails.
    init(asciiBytes bytes: some Collection<UInt8>) {
        self = String(decoding: bytes, as: UTF8.self)
    }
}

/// Finds line ends quickly: `memchr` is vectorised, a Swift loop over bytes is not.
@inline(__always)
func indexOfByte(_ byte: UInt8, in buffer: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int? {
    guard start < end, let base = buffer.baseAddress else { return nil }
    guard let found = memchr(base + start, Int32(byte), end - start) else { return nil }
    return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
}
