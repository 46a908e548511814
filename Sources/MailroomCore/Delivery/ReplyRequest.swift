import Foundation

/// `POST /api/v1/tickets/{id}/replies`: what an agent writes.
public struct ReplyRequest: Sendable, Decodable {
    public enum Mode: String, NamedValues { case reply, replyAll, forward, new }

    public var mode: Mode
    public var to: [String]?
    public var cc: [String]?
    public var bcc: [String]?
    public var subject: String?
    public var text: String?
    public var html: String?
    public var cannedAnswerId: String?
    public var attachmentIds: [String]?

    public static let maxBodyLength = 1_000_000
    public static let maxRecipients = 100

    enum CodingKeys: String, CodingKey { case mode, to, cc, bcc, subject, text, html, cannedAnswerId, attachmentIds }

    public init(mode: Mode = .reply, to: [String]? = nil, cc: [String]? = nil, bcc: [String]? = nil, subject: String? = nil,
                text: String? = nil, html: String? = nil, cannedAnswerId: String? = nil, attachmentIds: [String]? = nil) {
        self.mode = mode
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.subject = subject
        self.text = text
        self.html = html
        self.cannedAnswerId = cannedAnswerId
        self.attachmentIds = attachmentIds
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(mode: try c.decodeIfPresent(Mode.self, forKey: .mode) ?? .reply,
                  to: try c.decodeIfPresent([String].self, forKey: .to), cc: try c.decodeIfPresent([String].self, forKey: .cc),
                  bcc: try c.decodeIfPresent([String].self, forKey: .bcc), subject: try c.decodeIfPresent(String.self, forKey: .subject),
                  text: try c.decodeIfPresent(String.self, forKey: .text), html: try c.decodeIfPresent(String.self, forKey: .html),
                  cannedAnswerId: try c.decodeIfPresent(String.self, forKey: .cannedAnswerId),
                  attachmentIds: try c.decodeIfPresent([String].self, forKey: .attachmentIds))
    }

    public func validate() -> [FieldError] {
        var errors: [FieldError] = []
        for (field, list) in [("to", to), ("cc", cc), ("bcc", bcc)] {
            guard let list else { continue }
            if list.count > Self.maxRecipients { errors.append(FieldError(field, "must list at most \(Self.maxRecipients) addresses")) }
            for (index, address) in list.enumerated() where !MailAddressSyntax.isValid(address) {
                errors.append(FieldError("\(field)[\(index)]", "must be a mail address such as ann@example.com"))
            }
        }
        if (mode == .forward || mode == .new), (to ?? []).isEmpty, mode == .forward {
            errors.append(FieldError("to", "is required to forward"))
        }
        if (text ?? "").isEmpty && (html ?? "").isEmpty && cannedAnswerId == nil && mode != .forward {
            errors.append(FieldError("text", "is required (or html, or cannedAnswerId)"))
        }
        if (text?.count ?? 0) > Self.maxBodyLength { errors.append(FieldError("text", "is too long")) }
        if (html?.count ?? 0) > Self.maxBodyLength { errors.append(FieldError("html", "is too long")) }
        if let subject, subject.count > 998 { errors.append(FieldError("subject", "must be at most 998 characters")) }
        if let attachmentIds, attachmentIds.count > 50 {
            errors.append(FieldError("attachmentIds", "must list at most 50 attachments"))
        }
        return errors
    }
}

/// A canned answer rendered for one ticket (its variables filled in), for the agent to put into
/// the message and edit before sending.
public struct CannedAnswerRendering: Codable, Sendable, Equatable {
    public var cannedAnswerId: String
    public var text: String
    public var html: String?

    public init(cannedAnswerId: String, text: String, html: String?) {
        self.cannedAnswerId = cannedAnswerId
        self.text = text
        self.html = html
    }
}
