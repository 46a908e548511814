import Foundation

/// What a one-time link in a mail lets its holder do.
public enum UserLinkPurpose: String, Sendable, Codable {
    case invitation
    case passwordReset
}

/// A single-use link's record: the token itself is mailed once, only its hash is stored.
public struct UserLink: Sendable, Equatable {
    public var id: String
    public var userId: String
    public var purpose: UserLinkPurpose
    public var createdAt: Date
    public var expiresAt: Date
    public var usedAt: Date?
    public var revokedAt: Date?
    /// The outbox row of the mail that carried it (its delivery state and the server's reply).
    public var outboxId: String?
    /// Who asked for it (an administrator's name), nil for a reset the user asked for.
    public var createdBy: String?

    public init(id: String, userId: String, purpose: UserLinkPurpose, createdAt: Date, expiresAt: Date,
                usedAt: Date? = nil, revokedAt: Date? = nil, outboxId: String? = nil, createdBy: String? = nil) {
        self.id = id
        self.userId = userId
        self.purpose = purpose
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.revokedAt = revokedAt
        self.outboxId = outboxId
        self.createdBy = createdBy
    }

    public enum Standing: Equatable, Sendable { case usable, used, revoked, expired }

    public func standing(at now: Date) -> Standing {
        if usedAt != nil { return .used }
        if revokedAt != nil { return .revoked }
        if expiresAt <= now { return .expired }
        return .usable
    }

    /// Invitations last 72 hours unless the settings say otherwise; resets one hour.
    public static let defaultInvitationHours = 72
    public static let resetLifetime: TimeInterval = 3_600
}

/// One entry of the audit trail: who did what to whom, and when. Never a secret.
public struct AuditEvent: Codable, Sendable, Equatable {
    public var id: String
    public var at: Date
    /// The acting user's id (nil: the bootstrap token, the setup page or the system).
    public var actorId: String?
    public var actorName: String
    /// `user.invited`, `user.passwordReset`, `user.roleChanged`, `user.deactivated`, `account.credentialsChanged`, ...
    public var action: String
    public var targetType: String
    public var targetId: String?
    public var details: [String: String]

    public init(id: String = "", at: Date = Date(), actorId: String?, actorName: String, action: String, targetType: String,
                targetId: String?, details: [String: String] = [:]) {
        self.id = id
        self.at = at
        self.actorId = actorId
        self.actorName = actorName
        self.action = action
        self.targetType = targetType
        self.targetId = targetId
        self.details = details
    }

    public static func by(_ principal: Principal?, action: String, targetType: String, targetId: String?,
                          details: [String: String] = [:]) -> AuditEvent {
        AuditEvent(actorId: principal?.userId, actorName: principal?.name ?? "system", action: action, targetType: targetType,
                   targetId: targetId, details: details)
    }
}

/// The account that sends Mailroom's own mail (invitations, password resets, token warnings).
public struct SystemSenderSetting: Codable, Sendable, Equatable {
    public var accountId: String

    public init(accountId: String) { self.accountId = accountId }

    /// A form that clears the choice sends `{"accountId": null}`: read as no sender.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        accountId = try c.decodeIfPresent(String.self, forKey: .accountId) ?? ""
    }

    enum CodingKeys: String, CodingKey { case accountId }
}

/// The `{{ }}` names a template uses, checked before it is saved: Mustache renders an unknown name
/// as nothing, so a misspelt `{{ user.nmae }}` would otherwise go out as an empty greeting.
public enum TemplateVariables {
    /// What an invitation template may use.
    public static let invitation: Set<String> = [
        "user.name", "user.email", "user.role", "user.alias", "invitation.link", "invitation.expiresAt", "sender.name",
        "settings.publicBaseURL", "settings.invitationLinkBaseAddress", "settings.invitationTemplateKey",
    ]

    /// Errors for `field`: an unclosed or empty tag, or (with `allowed`) a name not in it.
    public static func check(_ source: String, field: String, allowed: Set<String>?) -> [FieldError] {
        var errors: [FieldError] = []
        var rest = source[...]
        var sections: [String] = []
        while let open = rest.range(of: "{{") {
            let triple = rest[open.upperBound...].hasPrefix("{")
            let bodyStart = triple ? rest.index(after: open.upperBound) : open.upperBound
            let closer = triple ? "}}}" : "}}"
            guard let close = rest[bodyStart...].range(of: closer) else {
                let line = source[..<open.lowerBound].filter { $0 == "\n" }.count + 1
                errors.append(FieldError(field, "has an unclosed tag on line \(line): every {{ needs a matching \(closer)"))
                break
            }
            var body = rest[bodyStart..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            var sigil: Character? = nil
            if let first = body.first, "#^/&!>".contains(first) {
                sigil = first
                body = body.dropFirst().trimmingCharacters(in: .whitespaces)
            }
            if sigil == "!" || sigil == ">" { continue }
            if body.hasPrefix("%") { continue }
            if body.isEmpty {
                errors.append(FieldError(field, "has an empty {{ }} tag"))
                continue
            }
            if sigil == "/" {
                if sections.last == body { sections.removeLast() } else {
                    errors.append(FieldError(field, "closes section '\(body)' that was not opened"))
                }
                continue
            }
            if sigil == "#" || sigil == "^" { sections.append(body) }
            if let allowed, body != ".", !allowed.contains(body) {
                errors.append(FieldError(field, "uses the unknown variable '\(body)'; allowed: \(allowed.sorted().joined(separator: ", "))"))
            }
        }
        for section in sections { errors.append(FieldError(field, "opens section '\(section)' without closing it ({{/\(section)}})")) }
        return errors
    }
}
