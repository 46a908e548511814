import Foundation
import MailMessage

/// The subject a reply goes out with when the agent leaves it as proposed: the ticket's subject
/// without reply prefixes, the account's subject prefix, and Mailroom's ticket tag (Ameyo's
/// "prefix" and "subject preview": the account editor previews exactly this).
public enum ReplySubject {
    public static func make(mode: ReplyRequest.Mode, ticketSubject: String, ticketNumber: Int64, prefix: String) -> String {
        let base = SubjectPrefixes.stripped(ticketSubject)
        let tag = SubjectNormalizer.tag(for: ticketNumber)
        let tagged = base.contains(tag) ? base : "\(base) \(tag)"
        let trimmed = prefix.trimmingCharacters(in: .whitespaces)
        let prefixed = trimmed.isEmpty ? tagged : "\(trimmed) \(tagged)"
        switch mode {
        case .forward: return "Fwd: " + prefixed
        case .new: return prefixed
        case .reply, .replyAll: return "Re: " + prefixed
        }
    }

    /// What the agent's subject field proposes; an agent's own subject is sent as typed.
    public static func chosen(_ typed: String?, mode: ReplyRequest.Mode, ticketSubject: String, ticketNumber: Int64,
                              prefix: String) -> String {
        if let typed, !typed.trimmingCharacters(in: .whitespaces).isEmpty { return typed }
        return make(mode: mode, ticketSubject: ticketSubject, ticketNumber: ticketNumber, prefix: prefix)
    }
}
