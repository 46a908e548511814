/// Every limit the parser enforces, in one place, so that hostile input costs bounded memory
/// and time. Input beyond a limit is not an error: the parser keeps what it has, skips the rest
/// and records a `ParseWarning`.
public struct ParseOptions: Sendable, Hashable {
    /// Header fields kept per header section (message or part).
    public var maxHeaderCount: Int
    /// Bytes of one header section; the rest of an oversized section is skipped.
    public var maxHeaderSectionBytes: Int
    /// Bytes of one physical header line; longer lines are cut.
    public var maxLineLength: Int
    /// Multipart and message/rfc822 nesting; deeper entities are kept as opaque leaves.
    public var maxNestingDepth: Int
    /// Entities (parts) in the whole message, the root included.
    public var maxPartCount: Int
    /// Bytes decoded from base64 or quoted-printable message/rfc822 parts so that the message
    /// inside can be parsed; past it such parts stay opaque. Each level of nesting holds a
    /// decoded copy, so without this limit 40 levels of quoted-printable could need 40 times
    /// the message's size.
    public var maxEmbeddedDecodedBytes: Int
    /// The SHA-256 used for attachment digests (see `AttachmentDigester`).
    public var digester: AttachmentDigester

    public init(
        maxHeaderCount: Int = 1_000,
        maxHeaderSectionBytes: Int = 256 * 1024,
        maxLineLength: Int = 64 * 1024,
        maxNestingDepth: Int = 40,
        maxPartCount: Int = 5_000,
        maxEmbeddedDecodedBytes: Int = 64 * 1024 * 1024,
        digester: AttachmentDigester = .portable
    ) {
        self.maxHeaderCount = max(1, maxHeaderCount)
        self.maxHeaderSectionBytes = max(64, maxHeaderSectionBytes)
        self.maxLineLength = max(78, maxLineLength)
        self.maxNestingDepth = max(1, maxNestingDepth)
        self.maxPartCount = max(1, maxPartCount)
        self.maxEmbeddedDecodedBytes = max(0, maxEmbeddedDecodedBytes)
        self.digester = digester
    }

    public static let `default` = ParseOptions()
}

/// Something the parser had to repair or skip. The message is still usable; warnings explain
/// why a value may be incomplete (for a quarantine view or `mailroom parse`).
public struct ParseWarning: Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let emptyMessage = Code(rawValue: "emptyMessage")
        public static let malformedHeader = Code(rawValue: "malformedHeader")
        public static let tooManyHeaders = Code(rawValue: "tooManyHeaders")
        public static let headerSectionTooLarge = Code(rawValue: "headerSectionTooLarge")
        public static let lineTooLong = Code(rawValue: "lineTooLong")
        public static let missingBoundary = Code(rawValue: "missingBoundary")
        public static let boundaryNotFound = Code(rawValue: "boundaryNotFound")
        public static let truncatedMultipart = Code(rawValue: "truncatedMultipart")
        public static let nestingTooDeep = Code(rawValue: "nestingTooDeep")
        public static let tooManyParts = Code(rawValue: "tooManyParts")
        public static let embeddedMessageTooLarge = Code(rawValue: "embeddedMessageTooLarge")
        public static let unknownCharset = Code(rawValue: "unknownCharset")
        public static let charsetMismatch = Code(rawValue: "charsetMismatch")
        public static let rawEightBitHeader = Code(rawValue: "rawEightBitHeader")
        public static let malformedEncoding = Code(rawValue: "malformedEncoding")
        public static let unknownTransferEncoding = Code(rawValue: "unknownTransferEncoding")
        public static let invalidDate = Code(rawValue: "invalidDate")
        public static let missingDate = Code(rawValue: "missingDate")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// Errors the library throws. Parsing never throws (it warns); reading files and writing to
/// sinks can.
public struct MailMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case unreadableFile
        case fileTooLarge
        case sinkFailed
        case notAPart
    }

    private let code: Code
    public let detail: String

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public static func unreadableFile(_ path: String, reason: String) -> MailMessageError {
        MailMessageError(.unreadableFile, "cannot read \(path): \(reason); check that the file exists and is readable")
    }

    public static func fileTooLarge(_ path: String, limit: Int) -> MailMessageError {
        MailMessageError(.fileTooLarge, "\(path) is larger than the limit of \(limit) bytes; raise the limit or quarantine the message")
    }

    public static func sinkFailed(_ reason: String) -> MailMessageError {
        MailMessageError(.sinkFailed, "writing a decoded body failed: \(reason); check free disk space and permissions")
    }

    public static func notAPart(_ index: Int) -> MailMessageError {
        MailMessageError(.notAPart, "part index \(index) does not exist in this message; use an index from `parts`")
    }


    public var isUnreadableFile: Bool { code == .unreadableFile }
    public var description: String { detail }
}
