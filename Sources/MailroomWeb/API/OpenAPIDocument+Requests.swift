import Foundation
import MailroomCore

/// How requests are described: query parameters as the controllers check them, and request
/// bodies as the server decodes them.
extension OpenAPIDocument {
    /// What the server takes in each query parameter (the controllers' checks, stated).
    static func querySchema(_ name: String, path: String) -> JSONValue {
        let text: String
        switch (name, path) {
        case ("state", "/api/v1/outbox"): text = #"{"enum": ["queued", "sending", "sent", "retrying", "failed", "bounced"]}"#
        case ("state", _): text = #"{"enum": ["pending", "sending", "delivered", "failed"]}"#
        case ("status", _): text = #"{"enum": ["new", "open", "pending", "closed"]}"#
        case ("unread", _), ("unassigned", _), ("includeReplayed", _):
            text = #"{"type": "string", "pattern": "^(?i:true|false|yes|no|1|0)$", "description": "true, false, yes, no, 1 or 0"}"#
        case ("includeDeleted", _), ("inline", _):
            text = #"{"type": "string", "description": "true or 1 turns it on; anything else leaves it off"}"#
        case ("since", _), ("until", _), ("before", _): text = #"{"type": "string", "format": "date-time"}"#
        case ("limit", _): text = #"{"type": "integer", "minimum": 1, "maximum": 500}"#
        case ("filename", _):
            text = #"{"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^/\\\\\\u0000-\\u001f]+$", "description": "a file name without a path"}"#
        case ("lastEventId", _): text = #"{"type": "string", "description": "an event id to resume after; anything else starts afresh"}"#
        default: text = #"{"type": "string"}"#
        }
        return (try? JSONCoding.decoder.decode(JSONValue.self, from: Data(text.utf8))) ?? .object(["type": .string("string")])
    }

    /// A request body's schema from the shape it describes. The server decodes a `null` as a field
    /// left out, so every optional field also takes null. A partial body (`partial`) changes some
    /// fields: the shape's `required` and `anyOf` apply to the result, not to the body.
    static func requestVariant(_ schema: JSONValue, partial: Bool) -> JSONValue {
        guard case .object(var object) = schema else { return schema }
        // Shapes nested by reference are taken as request bodies too (their `Body` variants).
        if case .string(let reference) = object["$ref"], reference.hasPrefix(componentPrefix), !reference.hasSuffix("Body") {
            object["$ref"] = .string(reference + "Body")
            return .object(object)
        }
        if let items = object["items"] { object["items"] = requestVariant(items, partial: false) }
        if partial {
            object["required"] = nil
            object["anyOf"] = nil
        }
        if case .array(let parts) = object["allOf"] {
            object["allOf"] = .array(parts.map { requestVariant($0, partial: partial) })
        }
        guard case .object(var properties) = object["properties"] else { return .object(object) }
        var required: Set<String> = []
        if case .array(let names) = object["required"] {
            for case .string(let name) in names { required.insert(name) }
        }
        for (name, property) in properties {
            // The server ignores read-only fields sent back to it (a client may send what it read).
            if case .object(let field) = property, field["readOnly"] == .bool(true) {
                properties[name] = .object(["description": .string("read-only: ignored in a request, whatever it holds")])
                continue
            }
            let nested = requestVariant(property, partial: false)
            properties[name] = required.contains(name) ? nested : orNull(nested)
        }
        object["properties"] = .object(properties)
        return .object(object)
    }

    static let componentPrefix = "#/components/schemas/"

    /// The `Body` variant of every shape a request variant refers to, nested ones included.
    static func addReferencedBodies(to schemas: inout [String: JSONValue]) {
        var pending = Array(schemas.keys.filter { $0.hasSuffix("Body") || $0.hasSuffix("Change") })
        while let name = pending.popLast() {
            for reference in references(in: schemas[name] ?? .null) where schemas[reference] == nil && reference.hasSuffix("Body") {
                guard let shape = schemas[String(reference.dropLast(4))] else { continue }
                schemas[reference] = requestVariant(shape, partial: false)
                pending.append(reference)
            }
        }
    }

    private static func references(in schema: JSONValue) -> [String] {
        switch schema {
        case .object(let object):
            var found: [String] = []
            if case .string(let reference) = object["$ref"], reference.hasPrefix(componentPrefix) {
                found.append(String(reference.dropFirst(componentPrefix.count)))
            }
            for value in object.values { found += references(in: value) }
            return found
        case .array(let values): return values.flatMap(references(in:))
        default: return []
        }
    }

    private static func orNull(_ property: JSONValue) -> JSONValue {
        guard case .object(var object) = property else { return property }
        if case .string(let type) = object["type"] {
            object["type"] = type == "null" ? .string(type) : .array([.string(type), .string("null")])
        } else if case .array(var types) = object["type"] {
            if !types.contains(.string("null")) { types.append(.string("null")) }
            object["type"] = .array(types)
        } else if case .array(var values) = object["enum"] {
            if !values.contains(.null) { values.append(.null) }
            object["enum"] = .array(values)
        } else if object["$ref"] != nil || object["anyOf"] != nil || object["allOf"] != nil {
            return .object(["anyOf": .array([property, .object(["type": .string("null")])])])
        }
        return .object(object)
    }
}
