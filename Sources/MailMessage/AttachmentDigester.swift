/// Incremental SHA-256, as attachment digests use it.
public protocol SHA256Hashing {
    mutating func update(_ bytes: UnsafeRawBufferPointer)
    /// The 32-byte digest. The hasher is not used afterwards.
    mutating func finalize() -> [UInt8]
}

extension SHA256: SHA256Hashing {}

/// The SHA-256 implementation behind attachment digests (`AttachmentSummary.sha256`,
/// `MIMEMessage.decodeBody(of:into:)`), chosen in `ParseOptions.digester`.
///
/// This target depends on Foundation only, so the default is its own portable SHA-256. On
/// attachment-heavy mail hashing is most of the parse time, and a library that reaches the
/// CPU's SHA instructions (swift-crypto's BoringSSL) is several times faster; a program that
/// links one wraps it in a digester and passes that in. Every digester must give the same
/// digests: only the speed differs.
public struct AttachmentDigester: Sendable, Hashable, CustomStringConvertible {
    /// Names the implementation; two digesters with the same name are taken to be the same.
    public let name: String
    private let makeHasher: @Sendable () -> any SHA256Hashing

    public init(name: String, makeHasher: @escaping @Sendable () -> any SHA256Hashing) {
        self.name = name
        self.makeHasher = makeHasher
    }

    /// MailMessage's own SHA-256, in portable Swift.
    public static let portable = AttachmentDigester(name: "portable") { SHA256() }

    /// A fresh hasher for one body.
    public func hasher() -> any SHA256Hashing { makeHasher() }

    /// The lowercase hex digest of `bytes`.
    public func hexDigest(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = makeHasher()
        hasher.update(bytes)
        return SHA256.hex(hasher.finalize())
    }

    public var description: String { name }

    public static func == (lhs: AttachmentDigester, rhs: AttachmentDigester) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}
