import Foundation

/// A JSON string literal (RFC 8259 section 7): quotes, backslashes and control characters escaped as
/// Foundation's JSONEncoder escapes them, everything else as it is. The one string escaper of every
/// JSON the project writes by hand (`mailroom parse`, the store's list columns, the outbox's columns).
public enum JSONStringLiteral {
    public static func append(_ value: String, to out: inout String) {
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
}
