import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Makes object ids: 26 characters of Crockford base32, time first so ids sort by creation.
public enum Identifier {
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)

    public static func make(at date: Date = Date()) -> String {
        var bytes = [UInt8](repeating: 0, count: 26)
        var time = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        for index in stride(from: 9, through: 0, by: -1) {
            bytes[index] = alphabet[Int(time & 31)]
            time >>= 5
        }
        // 80 random bits from two draws; the draws come from a buffer filled by one getrandom call
        // per 64 of them (a call per draw was a sizeable share of an ingest's writer).
        for half in 0..<2 {
            var bits = RandomPool.next()
            for index in (10 + half * 8)..<(18 + half * 8) {
                bytes[index] = alphabet[Int(bits & 31)]
                bits >>= 5
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Random words from the system's generator, fetched many at a time.
private enum RandomPool {
    private struct Buffer {
        var words = [UInt64](repeating: 0, count: 64)
        var used = 64
    }
    private static let buffer = Mutex(Buffer())

    static func next() -> UInt64 {
        buffer.withLock { buffer in
            if buffer.used == buffer.words.count {
                buffer.words.withUnsafeMutableBytes { bytes in
                    #if canImport(Glibc)
                    // One getrandom call for the whole buffer.
                    arc4random_buf(bytes.baseAddress!, bytes.count)
                    #else
                    var generator = SystemRandomNumberGenerator()
                    for index in 0..<(bytes.count / 8) { bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: index * 8, as: UInt64.self) }
                    #endif
                }
                buffer.used = 0
            }
            defer { buffer.used += 1 }
            return buffer.words[buffer.used]
        }
    }
}

/// Where "now" comes from, so time-driven logic can be tested with a clock moved by hand.
public protocol WallClock: Sendable {
    func now() -> Date
}

public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}
