import Logging
import MailTransport
import NIOCore

/// Where a FETCH delivers message content. Called in order for each message section:
/// `begin`, `write` for every chunk, then `end` with the attributes of that FETCH response.
public protocol IMAPFetchSink: Sendable {
    func begin(_ start: IMAPSectionStart) async throws
    func write(_ bytes: ByteBuffer) async throws
    func end(_ message: IMAPFetchedAttributes) async throws
}

/// A section begins: which message and how large (nil when the server sent NIL).
public struct IMAPSectionStart: Sendable, Hashable {
    public var sequence: UInt32
    /// The UID when the server sent it before the section (Dovecot, Gmail and Outlook do).
    public var uid: IMAPUID?
    public var section: String
    public var size: Int?
}

/// The non-content attributes of one FETCH response.
public struct IMAPFetchedAttributes: Sendable, Hashable {
    public var sequence: UInt32
    public var uid: IMAPUID?
    public var flags: [IMAPFlag]?
    public var size: UInt64?
    public var internalDate: String?
    public var modSeq: UInt64?
    public var sections: [String] = []
    public var other: [String: String] = [:]
}

/// A message fetched whole (the convenience for small messages).
public struct IMAPFetchedMessage: Sendable, Hashable {
    public var uid: IMAPUID
    public var attributes: IMAPFetchedAttributes
    /// The content of the requested section (BODY[] or BODY[HEADER]).
    public var bytes: [UInt8]
    /// Set when the section was larger than the caller takes (`omittingLarger`): its size; `bytes` is then empty.
    public var omittedSize: Int? = nil
}

/// What to fetch.
public struct IMAPFetchItems: Sendable, Hashable {
    public var text: String
    public init(_ text: String) { self.text = text }
    /// The whole message without setting \Seen.
    public static let bodyPeek = IMAPFetchItems("UID FLAGS RFC822.SIZE BODY.PEEK[]")
    /// The whole message without setting \Seen, and only its UID besides: what ingest needs.
    /// RFC822.SIZE is not free for the server: Dovecot reads a Maildir message whose file name
    /// lacks its CRLF size through once more for it, and keeps doing so on later fetches (10% more
    /// of its CPU on a first fetch, 80% more on a second, in the ingest benchmark's mailbox).
    public static let wholeMessagePeek = IMAPFetchItems("UID BODY.PEEK[]")
    /// Only the header without setting \Seen.
    public static let headerPeek = IMAPFetchItems("UID FLAGS RFC822.SIZE BODY.PEEK[HEADER]")
    /// Metadata only.
    public static let flagsAndSize = IMAPFetchItems("UID FLAGS RFC822.SIZE INTERNALDATE")
}

public enum IMAPStoreOperation: String, Sendable {
    case add = "+FLAGS.SILENT"
    case remove = "-FLAGS.SILENT"
    case replace = "FLAGS.SILENT"
}

/// An event while IDLE (RFC 2177).
public enum IMAPIdleEvent: Sendable, Hashable {
    case exists(UInt32)
    case expunge(UInt32)
    case recent(UInt32)
    case flags(sequence: UInt32, [IMAPFlag])
    /// The server is closing the connection.
    case bye(String)
    case other(IMAPUntagged)
}

/// An IMAP4rev1 client connection (RFC 3501; works with IMAP4rev2 servers).
///
/// One command at a time. While IDLE is running, any other command first ends it with DONE.
