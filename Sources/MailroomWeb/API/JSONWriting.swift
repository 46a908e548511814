import Foundation
import MailroomCore

extension JSONCoding {
    /// The JSON text of `value`, written by `JSONCoding.encoder` (the one JSON writer of the web
    /// layer: API bodies, event data lines and the JSON a page embeds); nil when it cannot be encoded.
    static func text(_ value: some Encodable) -> String? {
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }
}
