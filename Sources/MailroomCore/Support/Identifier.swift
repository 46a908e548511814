import Foundation

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
        // 80 random bits from two draws (each draw is a getrandom call; one per character was a
        // sixth of the cost of recording a send).
        var random = SystemRandomNumberGenerator()
        for half in 0..<2 {
            var bits = random.next() as UInt64
            for index in (10 + half * 8)..<(18 + half * 8) {
                bytes[index] = alphabet[Int(bits & 31)]
                bits >>= 5
            }
        }
        return String(decoding: bytes, as: UTF8.self)
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
