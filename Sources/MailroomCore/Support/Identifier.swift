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
        var random = SystemRandomNumberGenerator()
        for index in 10..<26 { bytes[index] = alphabet[Int(random.next() & 31)] }
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
