import Foundation

/// The automatic-mail signals of an inbound message (RFC 3834 and the de-facto headers).
public struct AutomaticMailSignals: Sendable, Equatable {
    public enum Signal: Sendable, Hashable {
        /// `Auto-Submitted` with any value other than `no`.
        case autoSubmitted(String)
        /// `Precedence: bulk | list | junk | auto_reply`.
        case precedence(String)
        case xAutoreply
        case xAutorespond
        /// `List-Id` or `List-Unsubscribe`: mail from a mailing list.
        case mailingList
        /// `X-Auto-Response-Suppress` containing `All`, `AutoReply` or `OOF`.
        case suppressRequested
        /// mailer-daemon@, postmaster@, noreply@, no-reply@ and similar.
        case automaticSender(String)
        /// The message has no sender address to reply to.
        case noSender
    }

    public var signals: [Signal]

    public var isAutomatic: Bool { !signals.isEmpty }

    /// Local parts that never belong to a person who reads replies.
    static let automaticLocalParts: Set<String> = [
        "mailer-daemon", "postmaster", "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
        "bounce", "bounces",
    ]

    public init(headers: [HeaderField], sender: EmailAddress?) {
        var signals: [Signal] = []
        func values(_ name: String) -> [String] {
            headers.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }
                .map { $0.value.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        for value in values("Auto-Submitted") {
            // The keyword may carry parameters: `auto-replied; owner-email=...`.
            let keyword = value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            if !keyword.isEmpty && keyword != "no" { signals.append(.autoSubmitted(keyword)) }
        }
        for value in values("Precedence") where ["bulk", "list", "junk", "auto_reply"].contains(value.lowercased()) {
            signals.append(.precedence(value.lowercased()))
        }
        if !values("X-Autoreply").isEmpty { signals.append(.xAutoreply) }
        if !values("X-Autorespond").isEmpty { signals.append(.xAutorespond) }
        if !values("List-Id").isEmpty || !values("List-Unsubscribe").isEmpty { signals.append(.mailingList) }
        for value in values("X-Auto-Response-Suppress") {
            let tokens = value.split(whereSeparator: { $0 == "," || $0 == " " }).map { $0.lowercased() }
            if tokens.contains(where: { ["all", "autoreply", "oof"].contains($0) }) { signals.append(.suppressRequested) }
        }
        if let sender, !sender.address.isEmpty {
            let local = sender.key.split(separator: "@").first.map(String.init) ?? ""
            let base = local.split(separator: "+").first.map(String.init) ?? local
            if Self.automaticLocalParts.contains(base) { signals.append(.automaticSender(sender.key)) }
        } else {
            signals.append(.noSender)
        }
        self.signals = signals
    }
}

/// What is known about auto-replies already sent, read from the store by the caller.
public struct AutoReplyHistory: Sendable, Equatable {
    /// Auto-replies sent on this ticket so far.
    public var sentOnTicket: Int
    /// Auto-replies sent to this sender (any ticket, any account) in the hour before now.
    public var sentToSenderInLastHour: Int
    /// Whether the inbound message is the one that opened the ticket.
    public var isFirstMessageOfTicket: Bool

    public init(sentOnTicket: Int, sentToSenderInLastHour: Int, isFirstMessageOfTicket: Bool) {
        self.sentOnTicket = sentOnTicket
        self.sentToSenderInLastHour = sentToSenderInLastHour
        self.isFirstMessageOfTicket = isFirstMessageOfTicket
    }
}

public enum AutoReplyVerdict: Sendable, Equatable {
    case send
    case suppress(AutoReplySuppression)
}

public enum AutoReplySuppression: Sendable, Equatable {
    /// The inbound message is itself automatic, from a list, or from a daemon (RFC 3834 section 2).
    case automaticMessage([AutomaticMailSignals.Signal])
    case alreadyRepliedOnTicket
    case notFirstMessage
    /// The sender has had `limit` auto-replies within the last hour.
    case hourlyLimitReached(limit: Int)
}

/// Decides whether one auto-reply may go out, so that Mailroom never answers a machine and
/// two auto-responders cannot ping-pong.
public struct AutoReplyGuard: Sendable, Equatable {
    /// At most this many auto-replies to one sender per hour (`N`).
    public var perSenderHourlyLimit: Int

    public static let defaultPerSenderHourlyLimit = 3

    public init(perSenderHourlyLimit: Int = AutoReplyGuard.defaultPerSenderHourlyLimit) {
        self.perSenderHourlyLimit = perSenderHourlyLimit
    }

    /// The headers every auto-reply carries (RFC 3834 section 5, plus the Microsoft and
    /// Precedence conventions other responders read).
    public static let outgoingHeaders: [HeaderField] = [
        HeaderField(name: "Auto-Submitted", value: "auto-replied"),
        HeaderField(name: "X-Auto-Response-Suppress", value: "All"),
        HeaderField(name: "Precedence", value: "auto_reply"),
    ]

    public func decide(mode: AutoReplyMode, signals: AutomaticMailSignals, history: AutoReplyHistory) -> AutoReplyVerdict {
        if signals.isAutomatic { return .suppress(.automaticMessage(signals.signals)) }
        switch mode {
        case .oncePerTicket where history.sentOnTicket > 0:
            return .suppress(.alreadyRepliedOnTicket)
        case .firstMessageOnly where !history.isFirstMessageOfTicket:
            return .suppress(.notFirstMessage)
        default:
            break
        }
        if history.sentToSenderInLastHour >= perSenderHourlyLimit {
            return .suppress(.hourlyLimitReached(limit: perSenderHourlyLimit))
        }
        return .send
    }

    /// Who the auto-reply goes to: the sender (Reply-To when given, as RFC 3834 section 4
    /// allows), and for `senderAndCc` the Cc too, without the account's own addresses or
    /// automatic addresses, each once.
    public static func recipients(_ choice: AutoReplyRecipients, from: [EmailAddress], replyTo: [EmailAddress] = [],
                                  cc: [EmailAddress], ownAddresses: Set<String>) -> [EmailAddress] {
        let own = Set(ownAddresses.map { $0.lowercased() })
        var result: [EmailAddress] = []
        var seen = Set<String>()
        let primary = replyTo.isEmpty ? from : replyTo
        for address in primary + (choice == .senderAndCc ? cc : []) {
            let key = address.key
            guard !key.isEmpty, !own.contains(key), !seen.contains(key),
                  !AutomaticMailSignals(headers: [], sender: address).isAutomatic else { continue }
            seen.insert(key)
            result.append(address)
        }
        return result
    }
}
