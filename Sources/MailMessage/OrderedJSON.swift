import Foundation

/// A JSON value with ordered object keys. Foundation's JSONEncoder on Linux orders keys by
/// hash, and `mailroom parse` promises DESIGN.md's order to people reading its output.
indirect enum OrderedJSON {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    static func optional(_ value: String?) -> OrderedJSON { value.map(OrderedJSON.string) ?? .null }

    func serialized(pretty: Bool) -> [UInt8] {
        var output: [UInt8] = []
        write(into: &output, pretty: pretty, indent: 0)
        return output
    }

    private func write(into output: inout [UInt8], pretty: Bool, indent: Int) {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): output.append(contentsOf: String(value).utf8)
        case .string(let value): Self.writeString(value, into: &output)
        case .array(let values):
            if values.isEmpty { output.append(contentsOf: "[]".utf8); return }
            output.append(UInt8(ascii: "["))
            for (offset, value) in values.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                Self.newline(&output, pretty: pretty, indent: indent + 1)
                value.write(into: &output, pretty: pretty, indent: indent + 1)
            }
            Self.newline(&output, pretty: pretty, indent: indent)
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            if members.isEmpty { output.append(contentsOf: "{}".utf8); return }
            output.append(UInt8(ascii: "{"))
            for (offset, member) in members.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                Self.newline(&output, pretty: pretty, indent: indent + 1)
                Self.writeString(member.0, into: &output)
                output.append(contentsOf: (pretty ? ": " : ":").utf8)
                member.1.write(into: &output, pretty: pretty, indent: indent + 1)
            }
            Self.newline(&output, pretty: pretty, indent: indent)
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ output: inout [UInt8], pretty: Bool, indent: Int) {
        guard pretty else { return }
        output.append(ASCII.lf)
        output.append(contentsOf: repeatElement(ASCII.space, count: indent * 2))
    }

    static func writeString(_ value: String, into output: inout [UInt8]) {
        var literal = ""
        JSONStringLiteral.append(value, to: &literal)
        output.append(contentsOf: literal.utf8)
    }
}

extension Mailbox {
    var orderedJSON: OrderedJSON { .object([("name", .optional(name)), ("address", .string(address))]) }
}

extension AttachmentSummary {
    var orderedJSON: OrderedJSON {
        .object([("filename", .optional(filename)), ("contentType", .string(contentType)), ("size", .int(size)),
                 ("sha256", .string(sha256)), ("contentId", .optional(contentId)), ("inline", .bool(inline))])
    }
}

extension DeliveryStatusReport {
    var orderedJSON: OrderedJSON {
        .object([
            ("originalMessageId", .optional(originalMessageId)),
            ("recipients", .array(recipients.map { recipient in
                .object([("address", .string(recipient.address)), ("action", .optional(recipient.action)),
                         ("status", .optional(recipient.status)), ("diagnosticCode", .optional(recipient.diagnosticCode))])
            })),
        ])
    }
}

extension MessageSummary {
    var orderedJSON: OrderedJSON {
        .object([
            ("messageId", .optional(messageId)),
            ("inReplyTo", .array(inReplyTo.map(OrderedJSON.string))),
            ("references", .array(references.map(OrderedJSON.string))),
            ("subject", .optional(subject)),
            ("date", .optional(date)),
            ("from", .array(from.map(\.orderedJSON))),
            ("sender", .array(sender.map(\.orderedJSON))),
            ("replyTo", .array(replyTo.map(\.orderedJSON))),
            ("to", .array(to.map(\.orderedJSON))),
            ("cc", .array(cc.map(\.orderedJSON))),
            ("bcc", .array(bcc.map(\.orderedJSON))),
            ("autoSubmitted", .string(autoSubmitted)),
            ("text", .optional(text)),
            ("html", .optional(html)),
            ("attachments", .array(attachments.map(\.orderedJSON))),
            ("deliveryStatus", deliveryStatus?.orderedJSON ?? .null),
            ("warnings", .array(warnings.map(OrderedJSON.string))),
        ])
    }
}
