import Foundation

/// The steps a fetched or imported message takes before the store's transaction, in order (they
/// go on in ``IngestSteps``, inside it):
///
/// a. a message too large to fetch is listed in the quarantine by its header and left on the server;
/// b. one larger than the account's maximum is quarantined, raw;
/// c. one that does not parse, or whose parse took too long, is quarantined, raw;
/// d. a delivery report is recognised: a DSN (the parser's), mail to one of our VERP return paths,
///    or mail from a failure-mail sender of the global settings;
/// e. the account's header filters skip it, quarantine it, or tag it.
///
/// Every verdict is a value; the pipeline carries them out and the store commits them.
public enum IngestTriage {
    /// What the parse of one message came to.
    public enum Parse: Sendable {
        /// Parsed, with the account's header filters decided on it.
        case parsed(filtering: HeaderFilterOutcome)
        /// The parser refused it; the text says why.
        case refused(String)
        case timedOut(after: Duration)
    }

    public enum Verdict: Sendable, Equatable {
        case quarantine(QuarantineReason, detail: String)
        case skip(reason: String)
        case ingest(tags: [String])
    }

    /// Step a's entry detail: what happened and what the administrator can do.
    public static func tooLargeToFetchDetail(size: Int, fetchLimit: Int) -> String {
        "the message has \(size) bytes, more than the \(fetchLimit) a fetch takes at once; it was left on the "
            + "server and is not deleted there while this entry exists: save it from the mailbox by other means, then discard "
            + "this entry (with deleteOnFetch, the fetcher's next session then deletes it)"
    }

    /// Steps b, c and e for a fetched message (step a never reaches a parse).
    public static func verdict(rawSize: Int, maxMessageBytes: Int, parse: Parse) -> Verdict {
        // b.
        if rawSize > maxMessageBytes {
            return .quarantine(.tooLarge, detail: "the message has \(rawSize) bytes, more than the account's maximum of \(maxMessageBytes); "
                + "raise incoming.maxMessageBytes and replay it to ingest it")
        }
        // c.
        switch parse {
        case .refused(let why):
            return .quarantine(.unparseable, detail: why)
        case .timedOut(let limit):
            return .quarantine(.timedOut, detail: "parsing took longer than \(limit); the message may be built to exhaust parsers")
        case .parsed(let filtering):
            // e.
            switch filtering {
            case .skip(let filter):
                return .skip(reason: "header filter on \(filter.header)")
            case .quarantine(let filter):
                return .quarantine(.headerFilter, detail: "the header filter on \(filter.header) (\(filter.match.rawValue) '\(filter.value)') quarantines it")
            case .accept(let tags):
                return .ingest(tags: tags)
            }
        }
    }

    /// Step d: why a message that the parser did not read as a DSN is a delivery report all the
    /// same, or nil. `failureMailSender` is asked only when there is no VERP address (it may read settings).
    public enum BounceEvidence: Sendable, Equatable {
        case verp(outboxIds: [String])
        case failureMailSender
    }

    public static func bounceEvidence(_ mail: InboundMail, verpOutboxIds: [String],
                                      failureMailSender: (String) async throws -> Bool) async rethrows -> BounceEvidence? {
        guard mail.bounce == nil else { return verpOutboxIds.isEmpty ? nil : .verp(outboxIds: verpOutboxIds) }
        if !verpOutboxIds.isEmpty { return .verp(outboxIds: verpOutboxIds) }
        if let sender = mail.sender, try await failureMailSender(sender.address) { return .failureMailSender }
        return nil
    }
}
