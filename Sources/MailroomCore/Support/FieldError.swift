/// One problem with one input field, named by its JSON path (`incoming.port`).
public struct FieldError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// Errors the domain reports to whoever called it; the web layer maps each to a status code.
public enum DomainError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input is well-formed but breaks a rule; every broken rule is listed.
    case invalid([FieldError])
    /// Something with this identity already exists, or the change conflicts with the current state.
    case conflict(FieldError)
    /// No such object (or the caller may not know it exists).
    case notFound(String)

    public var description: String {
        switch self {
        case .invalid(let errors): return errors.map(\.description).joined(separator: "; ")
        case .conflict(let error): return error.description
        case .notFound(let what): return "\(what) not found"
        }
    }
}
