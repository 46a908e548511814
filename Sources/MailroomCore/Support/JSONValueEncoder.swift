import Foundation

/// Builds a ``JSONValue`` straight from an `Encodable`, giving what encoding it with
/// ``JSONCoding/encoder`` and decoding the text as a `JSONValue` gives, without the text in
/// between, except that an absent optional is `null` instead of a missing key. Every live event carries the ticket this way; going through JSON text and
/// `JSONDecoder` was most of the cost of routing a new ticket.
enum JSONValueEncoder {
    static func encode(_ value: some Encodable) throws -> JSONValue {
        let node = Node()
        try encode(value, into: node, codingPath: [])
        return node.materialized
    }

    /// One value under construction: a scalar, an object or an array, filled in by the containers.
    final class Node {
        var scalar: JSONValue?
        var object: [String: Node]?
        var array: [Node]?

        var materialized: JSONValue {
            if let object { return .object(object.mapValues(\.materialized)) }
            if let array { return .array(array.map(\.materialized)) }
            // A value that wrote nothing is `{}` to JSONEncoder.
            return scalar ?? .object([:])
        }
    }

    /// The values JSONEncoder (with Mailroom's settings) writes in a form of its own.
    static func encode(_ value: some Encodable, into node: Node, codingPath: [any CodingKey]) throws {
        switch value {
        case let json as JSONValue: node.scalar = json
        case let date as Date: node.scalar = .string(ISO8601.format(date))
        case let data as Data: node.scalar = .string(data.base64EncodedString())
        case let url as URL: node.scalar = .string(url.absoluteString)
        case let decimal as Decimal: node.scalar = .number(NSDecimalNumber(decimal: decimal).doubleValue)
        default: try value.encode(to: NodeEncoder(node: node, codingPath: codingPath))
        }
    }

    static func number(_ value: Double, codingPath: [any CodingKey]) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: codingPath, debugDescription: "\(value) is not valid in JSON"))
        }
        return .number(value)
    }

    /// A Float is written as its shortest text, which reads back as a Double of that text.
    static func number(_ value: Float, codingPath: [any CodingKey]) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: codingPath, debugDescription: "\(value) is not valid in JSON"))
        }
        return .number(Double(value.description) ?? Double(value))
    }

    struct NodeEncoder: Encoder {
        let node: Node
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if node.object == nil { node.object = [:] }
            return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if node.array == nil { node.array = [] }
            return Unkeyed(node: node, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey]

        private func child(_ key: Key) -> Node {
            let child = Node()
            node.object?[key.stringValue] = child
            return child
        }

        mutating func encodeNil(forKey key: Key) throws { child(key).scalar = .null }
        mutating func encode(_ value: Bool, forKey key: Key) throws { child(key).scalar = .bool(value) }
        mutating func encode(_ value: String, forKey key: Key) throws { child(key).scalar = .string(value) }
        mutating func encode(_ value: Double, forKey key: Key) throws { child(key).scalar = try number(value, codingPath: codingPath + [key]) }
        mutating func encode(_ value: Float, forKey key: Key) throws { child(key).scalar = try number(value, codingPath: codingPath + [key]) }
        mutating func encode(_ value: Int, forKey key: Key) throws { child(key).scalar = .number(Double(value)) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { child(key).scalar = .number(Double(value)) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { child(key).scalar = .number(Double(value)) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { child(key).scalar = .number(Double(value)) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { child(key).scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { child(key).scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { child(key).scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { child(key).scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { child(key).scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { child(key).scalar = .number(Double(value)) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try JSONValueEncoder.encode(value, into: child(key), codingPath: codingPath + [key])
        }

        // An absent optional is written as null, not left out: the API's shape (DESIGN.md) names every
        // field, and synthesized encoders then need no hand-written twin that only writes nulls.
        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try encodeOrNull(value, forKey: key) }

        private mutating func encodeOrNull<T: Encodable>(_ value: T?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            NodeEncoder(node: child(key), codingPath: codingPath + [key]).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            NodeEncoder(node: child(key), codingPath: codingPath + [key]).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder {
            let key = SuperKey()
            let child = Node()
            node.object?[key.stringValue] = child
            return NodeEncoder(node: child, codingPath: codingPath + [key])
        }

        mutating func superEncoder(forKey key: Key) -> any Encoder { NodeEncoder(node: child(key), codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        var count: Int { node.array?.count ?? 0 }

        private func next() -> Node {
            let child = Node()
            node.array?.append(child)
            return child
        }

        private var indexKey: any CodingKey { IndexKey(intValue: count) }

        mutating func encodeNil() throws { next().scalar = .null }
        mutating func encode(_ value: Bool) throws { next().scalar = .bool(value) }
        mutating func encode(_ value: String) throws { next().scalar = .string(value) }
        mutating func encode(_ value: Double) throws { next().scalar = try number(value, codingPath: codingPath + [indexKey]) }
        mutating func encode(_ value: Float) throws { next().scalar = try number(value, codingPath: codingPath + [indexKey]) }
        mutating func encode(_ value: Int) throws { next().scalar = .number(Double(value)) }
        mutating func encode(_ value: Int8) throws { next().scalar = .number(Double(value)) }
        mutating func encode(_ value: Int16) throws { next().scalar = .number(Double(value)) }
        mutating func encode(_ value: Int32) throws { next().scalar = .number(Double(value)) }
        mutating func encode(_ value: Int64) throws { next().scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt) throws { next().scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt8) throws { next().scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt16) throws { next().scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt32) throws { next().scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt64) throws { next().scalar = .number(Double(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let path = codingPath + [indexKey]
            try JSONValueEncoder.encode(value, into: next(), codingPath: path)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let path = codingPath + [indexKey]
            return NodeEncoder(node: next(), codingPath: path).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let path = codingPath + [indexKey]
            return NodeEncoder(node: next(), codingPath: path).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder {
            let path = codingPath + [indexKey]
            return NodeEncoder(node: next(), codingPath: path)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]

        mutating func encodeNil() throws { node.scalar = .null }
        mutating func encode(_ value: Bool) throws { node.scalar = .bool(value) }
        mutating func encode(_ value: String) throws { node.scalar = .string(value) }
        mutating func encode(_ value: Double) throws { node.scalar = try number(value, codingPath: codingPath) }
        mutating func encode(_ value: Float) throws { node.scalar = try number(value, codingPath: codingPath) }
        mutating func encode(_ value: Int) throws { node.scalar = .number(Double(value)) }
        mutating func encode(_ value: Int8) throws { node.scalar = .number(Double(value)) }
        mutating func encode(_ value: Int16) throws { node.scalar = .number(Double(value)) }
        mutating func encode(_ value: Int32) throws { node.scalar = .number(Double(value)) }
        mutating func encode(_ value: Int64) throws { node.scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt) throws { node.scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt8) throws { node.scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt16) throws { node.scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt32) throws { node.scalar = .number(Double(value)) }
        mutating func encode(_ value: UInt64) throws { node.scalar = .number(Double(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { try JSONValueEncoder.encode(value, into: node, codingPath: codingPath) }
    }

    struct IndexKey: CodingKey {
        var stringValue: String { "Index \(intValue ?? 0)" }
        var intValue: Int?
        init(intValue: Int) { self.intValue = intValue }
        init?(stringValue: String) { nil }
    }

    /// The key JSONEncoder files a `superEncoder()` under.
    struct SuperKey: CodingKey {
        var stringValue: String { "super" }
        var intValue: Int? { nil }
        init() {}
        init?(stringValue: String) { nil }
        init?(intValue: Int) { nil }
    }
}
