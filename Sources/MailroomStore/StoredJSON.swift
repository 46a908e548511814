import Foundation
import MailroomCore

/// Values the store keeps as JSON text in a column (lists, documents).
enum StoredJSON {
    static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try JSONCoding.encoder.encode(value), as: UTF8.self)
    }

    /// A value stored by ``encode(_:)`` or `JSONText`. Most list columns hold `[]`, which needs no decoder.
    static func decode<T: Decodable>(_ text: String, as type: T.Type) throws -> T {
        if text == "[]", let empty = [] as? T { return empty }
        return try JSONCoding.decoder.decode(type, from: Data(text.utf8))
    }
}
