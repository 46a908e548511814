/// Values written as JSON text by hand, for the few shapes the store writes into columns for every
/// ingested message (address lists, references, attachment lists). The text is the one
/// ``JSONCoding/encoder`` writes (sorted keys, `null` for absent optionals, slashes unescaped), so
/// either decodes what the other wrote; JSONEncoder made for every column was a large part of an
/// ingest's time on the database thread.
public protocol JSONTextWritable {
    func writeJSON(into out: inout String)
}

public enum JSONText {
    /// The JSON text of `value`.
    public static func encode(_ value: some JSONTextWritable) -> String {
        var out = ""
        value.writeJSON(into: &out)
        return out
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped as JSONEncoder does.
    static func writeString(_ value: String, into out: inout String) {
        out.append("\"")
        let utf8 = value.utf8
        // Most strings need no escape at all: appended whole.
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(value)
            out.append("\"")
            return
        }
        var run = utf8.startIndex
        var index = utf8.startIndex
        func flush(upTo end: String.UTF8View.Index) {
            if run < end { out.append(contentsOf: value[run..<end]) }
        }
        while index < utf8.endIndex {
            let byte = utf8[index]
            let escape: String?
            switch byte {
            case UInt8(ascii: "\""): escape = "\\\""
            case UInt8(ascii: "\\"): escape = "\\\\"
            case 0x08: escape = "\\b"
            case 0x0C: escape = "\\f"
            case 0x0A: escape = "\\n"
            case 0x0D: escape = "\\r"
            case 0x09: escape = "\\t"
            case 0..<0x20:
                let hex = String(byte, radix: 16)
                escape = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escape = nil
            }
            if let escape {
                flush(upTo: index)
                out.append(escape)
                run = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        flush(upTo: utf8.endIndex)
        out.append("\"")
    }

    /// Writes `"key":value` after the object's opening brace (`first`) or a previous member.
    static func writeMember(_ key: String, _ value: some JSONTextWritable, first: Bool = false, into out: inout String) {
        out.append(first ? "{\"" : ",\"")
        out.append(key)
        out.append("\":")
        value.writeJSON(into: &out)
    }
}

extension String: JSONTextWritable {
    public func writeJSON(into out: inout String) { JSONText.writeString(self, into: &out) }
}

extension Int: JSONTextWritable {
    public func writeJSON(into out: inout String) { out.append(String(self)) }
}

extension Bool: JSONTextWritable {
    public func writeJSON(into out: inout String) { out.append(self ? "true" : "false") }
}

extension Optional: JSONTextWritable where Wrapped: JSONTextWritable {
    public func writeJSON(into out: inout String) {
        if let self { self.writeJSON(into: &out) } else { out.append("null") }
    }
}

extension Array: JSONTextWritable where Element: JSONTextWritable {
    public func writeJSON(into out: inout String) {
        out.append("[")
        for (offset, element) in enumerated() {
            if offset > 0 { out.append(",") }
            element.writeJSON(into: &out)
        }
        out.append("]")
    }
}

extension EmailAddress: JSONTextWritable {
    public func writeJSON(into out: inout String) {
        JSONText.writeMember("address", address, first: true, into: &out)
        JSONText.writeMember("name", name, into: &out)
        out.append("}")
    }
}

extension AttachmentInfo: JSONTextWritable {
    public func writeJSON(into out: inout String) {
        JSONText.writeMember("contentId", contentId, first: true, into: &out)
        JSONText.writeMember("contentType", contentType, into: &out)
        JSONText.writeMember("filename", filename, into: &out)
        JSONText.writeMember("inline", inline, into: &out)
        JSONText.writeMember("sha256", sha256, into: &out)
        JSONText.writeMember("size", size, into: &out)
        out.append("}")
    }
}
