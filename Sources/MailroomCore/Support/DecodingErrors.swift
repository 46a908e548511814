/// Turns a decoding failure into an error that names the field the way the JSON spells it.
extension FieldError {
    public init(_ error: DecodingError) {
        func path(_ codingPath: [any CodingKey]) -> String {
            var text = ""
            for key in codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text
        }
        switch error {
        case .typeMismatch(let type, let context):
            self.init(path(context.codingPath), "must be \(Self.describe(type))")
        case .valueNotFound(let type, let context):
            self.init(path(context.codingPath), "must be \(Self.describe(type)), not null")
        case .keyNotFound(let key, let context):
            self.init(path(context.codingPath + [key]), "is required")
        case .dataCorrupted(let context):
            let message = context.debugDescription.hasPrefix("Cannot initialize")
                ? "has a value that is not one of the allowed values"
                : context.debugDescription
            self.init(path(context.codingPath), message)
        @unknown default:
            self.init("", "is not valid")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is Secret.Type: return "a string"
        case is Int.Type, is Int64.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is Array<Any>.Type: return "an array"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object"
        }
    }
}
