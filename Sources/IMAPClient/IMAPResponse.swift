import NIOCore

public enum IMAPStatus: String, Sendable, Hashable {
    case ok = "OK", no = "NO", bad = "BAD", preauth = "PREAUTH", bye = "BYE"
}

/// `resp-text-code` (RFC 3501 7.1, RFC 4315 UIDPLUS, RFC 5530, RFC 7162).
public enum IMAPResponseCode: Sendable, Hashable {
    case alert
    case capability([IMAPCapability])
    case permanentFlags([IMAPFlag])
    case readOnly
    case readWrite
    case tryCreate
    case uidNext(IMAPUID)
    case uidValidity(UInt32)
    case unseen(UInt32)
    case highestModSeq(UInt64)
    case appendUID(uidValidity: UInt32, uid: IMAPUID)
    case copyUID(uidValidity: UInt32, source: String, destination: String)
    case authenticationFailed
    case other(String, String?)
}

/// `resp-text = ["[" resp-text-code "]" SP] text`
public struct IMAPResponseText: Sendable, Hashable {
    public var code: IMAPResponseCode?
    public var text: String
}

/// A complete response other than FETCH (FETCH is delivered as a stream of events).
public enum IMAPResponse: Sendable, Hashable {
    case tagged(tag: String, status: IMAPStatus, IMAPResponseText)
    case continuation(String)
    case untagged(IMAPUntagged)
}

public enum IMAPUntagged: Sendable, Hashable {
    case status(IMAPStatus, IMAPResponseText)
    case capability([IMAPCapability])
    case flags([IMAPFlag])
    case list(IMAPMailboxInfo)
    case search([UInt32])
    case exists(UInt32)
    case recent(UInt32)
    case expunge(UInt32)
    case mailboxStatus(mailbox: String, [String: UInt64])
    case enabled([String])
    case id([String: String])
    /// Anything else, kept as its keyword and raw text.
    case other(String, String)
}

/// A FETCH attribute other than message content.
public enum IMAPFetchAttribute: Sendable, Hashable {
    case uid(IMAPUID)
    case flags([IMAPFlag])
    case rfc822Size(UInt64)
    case internalDate(String)
    case modSeq(UInt64)
    case gmailMessageID(UInt64)
    case gmailThreadID(UInt64)
    case other(String, String)
}

/// What the decoder produces, in order.
public enum IMAPResponseEvent: Sendable, Equatable {
    case response(IMAPResponse)
    /// `* n FETCH (` was read.
    case fetchStart(sequence: UInt32)
    case fetchAttribute(IMAPFetchAttribute)
    /// A body section starts (`BODY[...]`, `BINARY[...]`, `RFC822*`); `size` nil for NIL.
    case sectionStart(section: String, size: Int?)
    case sectionBytes(ByteBuffer)
    case sectionEnd
    /// The closing `)` of a FETCH response.
    case fetchEnd
}
