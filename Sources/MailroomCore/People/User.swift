import Foundation

public enum Role: String, NamedValues, Comparable {
    case agent, supervisor, admin

    private var rank: Int {
        switch self {
        case .agent: return 0
        case .supervisor: return 1
        case .admin: return 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// Someone who signs in: an administrator, a supervisor or an agent.
public struct User: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// Stored lowercased; the sign-in name.
    public var email: String
    public var role: Role
    /// A short name shown to customers instead of the full name (`{{ agent.alias }}`).
    public var alias: String?
    /// How many email tickets the agent handles at once.
    public var capacity: Int
    public var active: Bool
    /// The IANA time zone the user reads times in; nil: the installation's (global settings).
    public var timeZone: String?
    public var createdAt: Date?
    public var updatedAt: Date?

    public static let defaultCapacity = 10
    public static let capacityRange = 1...1_000

    public init(id: String = "", name: String, email: String, role: Role, alias: String? = nil,
                capacity: Int = User.defaultCapacity, active: Bool = true) {
        self.id = id
        self.name = name
        self.email = email
        self.role = role
        self.alias = alias
        self.capacity = capacity
        self.active = active
    }
}

/// A request to create or change a user; the password travels only inward.
public struct UserInput: Decodable, Sendable {
    public var name: String?
    public var email: String?
    public var role: Role?
    public var password: Secret?
    public var alias: String?
    public var capacity: Int?
    public var active: Bool?
    /// On creation: mail an invitation (default: when the invitation settings are complete).
    public var invite: Bool?
    /// An IANA name; empty (or null) clears it, so the installation's zone applies.
    public var timeZone: String?

    public static let minimumPasswordLength = 8

    public init(name: String? = nil, email: String? = nil, role: Role? = nil, password: Secret? = nil, alias: String? = nil,
                capacity: Int? = nil, active: Bool? = nil, invite: Bool? = nil) {
        self.name = name
        self.email = email
        self.role = role
        self.password = password
        self.alias = alias
        self.capacity = capacity
        self.active = active
        self.invite = invite
    }

    /// The password rules of the API, also applied by the set-password pages.
    public static func passwordErrors(_ password: Secret, field: String = "password") -> [FieldError] {
        var errors: [FieldError] = []
        if password.revealed.count < minimumPasswordLength {
            errors.append(FieldError(field, "must be at least \(minimumPasswordLength) characters"))
        }
        if password.revealed.count > 1_000 { errors.append(FieldError(field, "must be at most 1000 characters")) }
        return errors
    }

    public func validated(updating current: User?) throws -> (User, Secret?) {
        var errors: [FieldError] = []
        let name = (self.name ?? current?.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let email = (self.email ?? current?.email ?? "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let role = self.role ?? current?.role
        if name.isEmpty { errors.append(FieldError("name", "is required")) }
        if name.count > 200 { errors.append(FieldError("name", "must be at most 200 characters")) }
        if !MailAddressSyntax.isValid(email) { errors.append(FieldError("email", "must be a mail address such as ann@example.com")) }
        if role == nil { errors.append(FieldError("role", "is required: one of \(Role.allowedNames)")) }
        let capacity = self.capacity ?? current?.capacity ?? User.defaultCapacity
        if !User.capacityRange.contains(capacity) {
            errors.append(FieldError("capacity", "must be between \(User.capacityRange.lowerBound) and \(User.capacityRange.upperBound)"))
        }
        if let password { errors += Self.passwordErrors(password) }
        if let timeZone, !timeZone.isEmpty, !TimeZoneName.isValid(timeZone) { errors.append(FieldError("timeZone", TimeZoneName.problem)) }
        guard errors.isEmpty, let role else { throw DomainError.invalid(errors) }
        var user = current ?? User(name: name, email: email, role: role)
        user.name = name
        user.email = email
        user.role = role
        user.alias = alias.map { $0.isEmpty ? nil : $0 } ?? current?.alias
        user.capacity = capacity
        user.active = active ?? current?.active ?? true
        if let timeZone { user.timeZone = timeZone.isEmpty ? nil : timeZone }
        return (user, password)
    }
}

/// Who is making a request, after authentication.
public struct Principal: Sendable, Equatable {
    /// Nil for the bootstrap administrator token, which belongs to no user.
    public let userId: String?
    public let name: String
    public let role: Role

    public init(userId: String?, name: String, role: Role) {
        self.userId = userId
        self.name = name
        self.role = role
    }

    public static let bootstrapAdministrator = Principal(userId: nil, name: "administrator token", role: .admin)

    public func has(atLeast role: Role) -> Bool { self.role >= role }
}

/// An API token's record; the token itself is shown once, only its hash is stored.
public struct APIToken: Codable, Sendable, Equatable {
    public var id: String
    public var userId: String
    public var name: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var expiresAt: Date?

    public init(id: String, userId: String, name: String, createdAt: Date, lastUsedAt: Date? = nil, expiresAt: Date? = nil) {
        self.id = id
        self.userId = userId
        self.name = name
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
    }
}
