import Foundation

/// How an interaction ended (Motion's dispositions), global or for one account.
public struct Disposition: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// Nil: available on every account.
    public var accountId: String?
    public var active: Bool
    public var createdAt: Date?
    public var updatedAt: Date?

    public init(id: String = "", name: String, accountId: String? = nil, active: Bool = true) {
        self.id = id
        self.name = name
        self.accountId = accountId
        self.active = active
    }
}

/// A ready-made answer an agent inserts into a reply, with `{{ }}` variables.
public struct CannedAnswer: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var text: String?
    public var html: String?
    public var accountId: String?
    public var active: Bool
    public var createdAt: Date?
    public var updatedAt: Date?

    public init(id: String = "", name: String, text: String? = nil, html: String? = nil, accountId: String? = nil, active: Bool = true) {
        self.id = id
        self.name = name
        self.text = text
        self.html = html
        self.accountId = accountId
        self.active = active
    }
}

/// The request bodies for dispositions and canned answers: every field optional so one type serves create and update.
public struct DispositionInput: Decodable, Sendable {
    public var name: String?
    public var accountId: String??
    public var active: Bool?

    public func validated(updating current: Disposition?) throws -> Disposition {
        let name = (self.name ?? current?.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var errors: [FieldError] = []
        if name.isEmpty { errors.append(FieldError("name", "is required")) }
        if name.count > 200 { errors.append(FieldError("name", "must be at most 200 characters")) }
        guard errors.isEmpty else { throw DomainError.invalid(errors) }
        var result = current ?? Disposition(name: name)
        result.name = name
        if let accountId { result.accountId = accountId.flatMap { $0.isEmpty ? nil : $0 } }
        result.active = active ?? current?.active ?? true
        return result
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        accountId = c.contains(.accountId) ? .some(try c.decodeIfPresent(String.self, forKey: .accountId)) : nil
        active = try c.decodeIfPresent(Bool.self, forKey: .active)
    }

    enum CodingKeys: String, CodingKey { case name, accountId, active }
}

public struct CannedAnswerInput: Decodable, Sendable {
    public var name: String?
    public var text: String??
    public var html: String??
    public var accountId: String??
    public var active: Bool?

    public static let maxBodyLength = 200_000

    public func validated(updating current: CannedAnswer?) throws -> CannedAnswer {
        let name = (self.name ?? current?.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var result = current ?? CannedAnswer(name: name)
        result.name = name
        if let text { result.text = text.flatMap { $0.isEmpty ? nil : $0 } }
        if let html { result.html = html.flatMap { $0.isEmpty ? nil : $0 } }
        if let accountId { result.accountId = accountId.flatMap { $0.isEmpty ? nil : $0 } }
        result.active = active ?? current?.active ?? true
        var errors: [FieldError] = []
        if name.isEmpty { errors.append(FieldError("name", "is required")) }
        if name.count > 200 { errors.append(FieldError("name", "must be at most 200 characters")) }
        if result.text == nil && result.html == nil { errors.append(FieldError("text", "is required (or html)")) }
        if (result.text?.count ?? 0) > Self.maxBodyLength { errors.append(FieldError("text", "must be at most \(Self.maxBodyLength) characters")) }
        if (result.html?.count ?? 0) > Self.maxBodyLength { errors.append(FieldError("html", "must be at most \(Self.maxBodyLength) characters")) }
        guard errors.isEmpty else { throw DomainError.invalid(errors) }
        return result
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        text = c.contains(.text) ? .some(try c.decodeIfPresent(String.self, forKey: .text)) : nil
        html = c.contains(.html) ? .some(try c.decodeIfPresent(String.self, forKey: .html)) : nil
        accountId = c.contains(.accountId) ? .some(try c.decodeIfPresent(String.self, forKey: .accountId)) : nil
        active = try c.decodeIfPresent(Bool.self, forKey: .active)
    }

    enum CodingKeys: String, CodingKey { case name, text, html, accountId, active }
}

/// Settings that belong to the whole installation rather than one account.
public struct GlobalSettings: Codable, Sendable, Equatable {
    /// Senders whose mail is a delivery failure report (Ameyo's failure mail configuration).
    public var failureMailSenders: [String]
    /// The template used for invitation emails (Motion's Settings → General → Global).
    public var invitationTemplateKey: String?
    /// Where an invited user is sent to set a password.
    public var invitationLinkBaseAddress: String?
    /// The address people reach Mailroom at (`https://desk.example.com`): OAuth2 sign-ins return to
    /// `publicBaseURL/oauth2/callback`, and links in mail start with it.
    public var publicBaseURL: String?
    /// The account that sends Mailroom's own mail (invitations, password resets, token warnings).
    public var systemSender: SystemSenderSetting?
    /// How long an invitation link works, in hours (nil: `UserLink.defaultInvitationHours`).
    public var invitationLinkHours: Int?
    /// The installation's time zone (IANA name): times on the pages of users without one of their own.
    public var timeZone: String?
    /// Whether agents are online after signing in, or keep the presence they left with (nil: as left).
    public var presenceAfterSignIn: PresenceAfterSignIn?

    /// The zone when none is set.
    public static let defaultTimeZone = "UTC"

    /// The installation's time zone, a usable one.
    public var effectiveTimeZone: String { timeZone.flatMap { TimeZone(identifier: $0) == nil ? nil : $0 } ?? Self.defaultTimeZone }

    public static let defaultFailureMailSenders = [
        "mailer-daemon@googlemail.com",
        "mailer-daemon@google.com",
        "mailer-daemon@gmail.com",
        "mailer-daemon@yahoo.com",
        "mailer-daemon@yahoomail.com",
    ]

    public init(failureMailSenders: [String] = GlobalSettings.defaultFailureMailSenders,
                invitationTemplateKey: String? = nil, invitationLinkBaseAddress: String? = nil, publicBaseURL: String? = nil) {
        self.publicBaseURL = publicBaseURL
        self.failureMailSenders = failureMailSenders
        self.invitationTemplateKey = invitationTemplateKey
        self.invitationLinkBaseAddress = invitationLinkBaseAddress
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        failureMailSenders = try c.decodeIfPresent([String].self, forKey: .failureMailSenders) ?? Self.defaultFailureMailSenders
        invitationTemplateKey = try c.decodeIfPresent(String.self, forKey: .invitationTemplateKey).nilIfBlank
        invitationLinkBaseAddress = try c.decodeIfPresent(String.self, forKey: .invitationLinkBaseAddress).nilIfBlank
        publicBaseURL = try c.decodeIfPresent(String.self, forKey: .publicBaseURL).nilIfBlank
        systemSender = try c.decodeIfPresent(SystemSenderSetting.self, forKey: .systemSender)
        if systemSender?.accountId.isEmpty == true { systemSender = nil }
        invitationLinkHours = try c.decodeIfPresent(Int.self, forKey: .invitationLinkHours)
        timeZone = try c.decodeIfPresent(String.self, forKey: .timeZone).nilIfBlank
        presenceAfterSignIn = try c.decodeIfPresent(PresenceAfterSignIn.self, forKey: .presenceAfterSignIn)
    }

    public func validate() -> [FieldError] {
        var errors: [FieldError] = []
        for (index, sender) in failureMailSenders.enumerated() where !MailAddressSyntax.isValid(sender) {
            errors.append(FieldError("failureMailSenders[\(index)]", "must be a mail address such as mailer-daemon@example.com"))
        }
        if failureMailSenders.count > 1_000 { errors.append(FieldError("failureMailSenders", "must list at most 1000 addresses")) }
        if let base = invitationLinkBaseAddress {
            let url = URL(string: base)
            if url?.scheme == nil || !["http", "https"].contains(url?.scheme?.lowercased() ?? "") || url?.host == nil {
                errors.append(FieldError("invitationLinkBaseAddress", "must be an http or https address such as https://desk.example.com"))
            }
        }
        if let base = publicBaseURL {
            let url = URL(string: base)
            if url?.scheme == nil || !["http", "https"].contains(url?.scheme?.lowercased() ?? "") || url?.host == nil
                || url?.query != nil || url?.fragment != nil {
                errors.append(FieldError("publicBaseURL", "must be an http or https address such as https://desk.example.com"))
            }
        }
        if let hours = invitationLinkHours, !(1...720).contains(hours) {
            errors.append(FieldError("invitationLinkHours", "must be between 1 and 720 hours"))
        }
        if let timeZone, !TimeZoneName.isValid(timeZone) {
            errors.append(FieldError("timeZone", TimeZoneName.problem))
        }
        if let key = invitationTemplateKey, key.count > 100 {
            errors.append(FieldError("invitationTemplateKey", "must be at most 100 characters"))
        }
        return errors
    }

    /// Whether a message from this address is a failure report.
    public func isFailureMailSender(_ address: String) -> Bool {
        let address = address.lowercased()
        return failureMailSenders.contains { $0.lowercased() == address }
    }
}
