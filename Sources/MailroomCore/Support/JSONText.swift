import MailMessage

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

    /// Writes `"key":value` after the object's opening brace (`first`) or a previous member.
    static func writeMember(_ key: String, _ value: some JSONTextWritable, first: Bool = false, into out: inout String) {
        out.append(first ? "{\"" : ",\"")
        out.append(key)
        out.append("\":")
        value.writeJSON(into: &out)
    }
}

extension String: JSONTextWritable {
    public func writeJSON(into out: inout String) { JSONStringLiteral.append(self, to: &out) }
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

extension AttachmentSummary: JSONTextWritable {
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
