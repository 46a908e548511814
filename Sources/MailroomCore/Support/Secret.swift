/// A credential held in memory (password, OAuth token, client secret).
///
/// `Secret` is deliberately not `Encodable` and prints as a placeholder, so a
/// credential cannot reach a JSON response, a log line or an error description
/// by accident: the only ways out are `revealed` (for the protocol client that
/// needs it) and the store's encryption.
public struct Secret: Sendable, Hashable, Decodable, CustomStringConvertible, CustomDebugStringConvertible {
    public let revealed: String

    public init(_ value: String) { self.revealed = value }

    public init(from decoder: any Decoder) throws {
        self.revealed = try decoder.singleValueContainer().decode(String.self)
    }

    public var isEmpty: Bool { revealed.isEmpty }
    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
}
