import Foundation
@testable import MailroomWeb

/// The fields of a view type as a template sees them, read through its synthesized `Decodable`
/// conformance by a decoder that records every key asked for (no instance needed).
indirect enum ViewShape: Equatable, CustomStringConvertible {
    /// Rendered as text (strings and numbers).
    case text
    case bool
    case object(ViewObject)
    case list(ViewShape)

    var description: String {
        switch self {
        case .text: "text"
        case .bool: "bool"
        case .object(let object): "{" + object.fields.keys.sorted().joined(separator: ", ") + "}"
        case .list(let element): "[\(element)]"
        }
    }

    /// The shape of `type`, decoded field by field.
    static func of(_ type: any Decodable.Type) throws -> ViewShape {
        let recorder = ShapeRecorder()
        _ = try type.init(from: SchemaDecoder(recorder: recorder))
        return recorder.shape
    }
}

struct ViewObject: Equatable {
    struct Field: Equatable {
        var shape: ViewShape
        /// An empty optional reads as missing: Mustache then looks the name up in the outer contexts.
        var optional: Bool
    }

    var fields: [String: Field]
    /// Names two parts of a composed view both have (the first part would hide the second's).
    var duplicates: [String]
}

// MARK: Recording decoder

final class ShapeRecorder {
    enum Kind {
        case unknown, text, bool
        case object(ObjectRecord)
        case list(ShapeRecorder)
    }

    var kind = Kind.unknown

    var shape: ViewShape {
        switch kind {
        case .unknown, .text: .text
        case .bool: .bool
        case .object(let record): .object(record.object)
        case .list(let element): .list(element.shape)
        }
    }

    func objectRecord() -> ObjectRecord {
        if case .object(let record) = kind { return record }
        let record = ObjectRecord()
        kind = .object(record)
        return record
    }

    func listElement() -> ShapeRecorder {
        if case .list(let element) = kind { return element }
        let element = ShapeRecorder()
        kind = .list(element)
        return element
    }
}

final class ObjectRecord {
    var fields: [String: (recorder: ShapeRecorder, optional: Bool)] = [:]
    var optionalKeys: Set<String> = []
    var duplicates: [String] = []

    func record(_ key: String) -> ShapeRecorder {
        if fields[key] != nil { duplicates.append(key) }
        let recorder = ShapeRecorder()
        fields[key] = (recorder, optionalKeys.contains(key))
        optionalKeys.remove(key)
        return recorder
    }

    var object: ViewObject {
        ViewObject(fields: fields.mapValues { ViewObject.Field(shape: $0.recorder.shape, optional: $0.optional) }, duplicates: duplicates)
    }
}

struct SchemaDecoder: Decoder {
    let recorder: ShapeRecorder
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(KeyedSchema<Key>(record: recorder.objectRecord(), codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        UnkeyedSchema(element: recorder.listElement(), codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleSchema(recorder: recorder, codingPath: codingPath)
    }
}

/// A sample value of a leaf type, recording it as text or bool; nil for any other type.
private func leaf<T>(_ type: T.Type, into recorder: ShapeRecorder) -> T? {
    switch type {
    case is Bool.Type: recorder.kind = .bool; return false as! T
    case is String.Type: recorder.kind = .text; return "" as! T
    case is Double.Type: recorder.kind = .text; return Double(0) as! T
    case is Float.Type: recorder.kind = .text; return Float(0) as! T
    case is Int.Type: recorder.kind = .text; return Int(0) as! T
    case is Int8.Type: recorder.kind = .text; return Int8(0) as! T
    case is Int16.Type: recorder.kind = .text; return Int16(0) as! T
    case is Int32.Type: recorder.kind = .text; return Int32(0) as! T
    case is Int64.Type: recorder.kind = .text; return Int64(0) as! T
    case is UInt.Type: recorder.kind = .text; return UInt(0) as! T
    case is UInt8.Type: recorder.kind = .text; return UInt8(0) as! T
    case is UInt16.Type: recorder.kind = .text; return UInt16(0) as! T
    case is UInt32.Type: recorder.kind = .text; return UInt32(0) as! T
    case is UInt64.Type: recorder.kind = .text; return UInt64(0) as! T
    default: return nil
    }
}

private struct SchemaKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private struct KeyedSchema<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let record: ObjectRecord
    var codingPath: [any CodingKey]
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool { true }

    func decodeNil(forKey key: Key) throws -> Bool {
        record.optionalKeys.insert(key.stringValue)
        return false
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decode(type as Any.Type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decode(type as Any.Type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decode(type as Any.Type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decode(type as Any.Type, key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(type as Any.Type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decode(type as Any.Type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decode(type as Any.Type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decode(type as Any.Type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decode(type as Any.Type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decode(type as Any.Type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decode(type as Any.Type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decode(type as Any.Type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decode(type as Any.Type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decode(type as Any.Type, key) }

    private func decode<T>(_ type: Any.Type, _ key: Key) throws -> T {
        guard let value = leaf(T.self, into: record.record(key.stringValue)) else { throw Self.unsupported(type) }
        return value
    }

    static func unsupported(_ type: Any.Type) -> DecodingError {
        .typeMismatch(type, .init(codingPath: [], debugDescription: "views use strings, numbers, bools, arrays and views"))
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let recorder = record.record(key.stringValue)
        if let value = leaf(type, into: recorder) { return value }
        return try T(from: SchemaDecoder(recorder: recorder, codingPath: codingPath + [key]))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        KeyedDecodingContainer(KeyedSchema<NestedKey>(record: record.record(key.stringValue).objectRecord(), codingPath: codingPath + [key]))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        UnkeyedSchema(element: record.record(key.stringValue).listElement(), codingPath: codingPath + [key])
    }

    func superDecoder() throws -> any Decoder { SchemaDecoder(recorder: ShapeRecorder(), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { SchemaDecoder(recorder: record.record(key.stringValue), codingPath: codingPath) }
}

/// One element, so an array's element type is recorded once.
private struct UnkeyedSchema: UnkeyedDecodingContainer {
    let element: ShapeRecorder
    var codingPath: [any CodingKey]
    var count: Int? { 1 }
    var currentIndex = 0
    var isAtEnd: Bool { currentIndex > 0 }

    mutating func decodeNil() throws -> Bool { false }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try decodeLeaf(type) }
    mutating func decode(_ type: String.Type) throws -> String { try decodeLeaf(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try decodeLeaf(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try decodeLeaf(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try decodeLeaf(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try decodeLeaf(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try decodeLeaf(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try decodeLeaf(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try decodeLeaf(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try decodeLeaf(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeLeaf(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeLeaf(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeLeaf(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeLeaf(type) }

    private mutating func decodeLeaf<T: Decodable>(_ type: T.Type) throws -> T {
        currentIndex += 1
        guard let value = leaf(type, into: element) else { throw KeyedSchema<SchemaKey>.unsupported(type) }
        return value
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        currentIndex += 1
        if let value = leaf(type, into: element) { return value }
        return try T(from: SchemaDecoder(recorder: element, codingPath: codingPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        currentIndex += 1
        return KeyedDecodingContainer(KeyedSchema<NestedKey>(record: element.objectRecord(), codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        currentIndex += 1
        return UnkeyedSchema(element: element.listElement(), codingPath: codingPath)
    }

    mutating func superDecoder() throws -> any Decoder { SchemaDecoder(recorder: element, codingPath: codingPath) }
}

private struct SingleSchema: SingleValueDecodingContainer {
    let recorder: ShapeRecorder
    var codingPath: [any CodingKey]

    func decodeNil() -> Bool { false }

    func decode(_ type: Bool.Type) throws -> Bool { try decodeLeaf(type) }
    func decode(_ type: String.Type) throws -> String { try decodeLeaf(type) }
    func decode(_ type: Double.Type) throws -> Double { try decodeLeaf(type) }
    func decode(_ type: Float.Type) throws -> Float { try decodeLeaf(type) }
    func decode(_ type: Int.Type) throws -> Int { try decodeLeaf(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decodeLeaf(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodeLeaf(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodeLeaf(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodeLeaf(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decodeLeaf(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeLeaf(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeLeaf(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeLeaf(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeLeaf(type) }

    private func decodeLeaf<T: Decodable>(_ type: T.Type) throws -> T {
        guard let value = leaf(type, into: recorder) else { throw KeyedSchema<SchemaKey>.unsupported(type) }
        return value
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let value = leaf(type, into: recorder) { return value }
        return try T(from: SchemaDecoder(recorder: recorder, codingPath: codingPath))
    }
}
