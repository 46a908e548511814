/// A closed set of names read from JSON; an unknown name is rejected with the list of allowed ones.
public protocol NamedValues: RawRepresentable, CaseIterable, Codable, Sendable where RawValue == String {}

extension NamedValues {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let raw = try c.decode(String.self)
        guard let value = Self(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "must be one of \(Self.allowedNames), not '\(raw.prefix(64))'")
        }
        self = value
    }

    public static var allowedNames: String {
        allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
    }
}
