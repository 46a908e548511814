import Foundation

/// Where decoded body bytes go when they should not be held in memory (large attachments).
/// `MIMEMessage.decodeBody(of:into:)` calls `write` with chunks of at most about 64 KiB.
public protocol AttachmentSink {
    mutating func write(_ chunk: UnsafeRawBufferPointer) throws
}

/// Size and SHA-256 of a decoded body, computed while it streams.
public struct DecodedBodyInfo: Sendable, Hashable {
    public let size: Int
    /// Lowercase hex.
    public let sha256: String
}

/// Hashes what passes through on the way to another sink.
struct HashingSink<Inner: AttachmentSink>: AttachmentSink {
    var inner: Inner
    var hasher: any SHA256Hashing

    mutating func write(_ chunk: UnsafeRawBufferPointer) throws {
        hasher.update(chunk)
        try inner.write(chunk)
    }
}

/// Discards the bytes; useful when only size and digest are wanted.
public struct DiscardingSink: AttachmentSink {
    public init() {}
    public mutating func write(_ chunk: UnsafeRawBufferPointer) throws {}
}

/// Collects the bytes in memory (tests, small bodies).
public struct MemorySink: AttachmentSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public mutating func write(_ chunk: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: chunk) }
}

/// Writes to a file, created or truncated when the sink is made.
public final class FileAttachmentSink: AttachmentSink {
    private let handle: FileHandle
    public let path: String

    public init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw MailMessageError.sinkFailed("cannot create \(path)")
        }
        self.handle = handle
        self.path = path
    }

    public func write(_ chunk: UnsafeRawBufferPointer) throws {
        do {
            try handle.write(contentsOf: Data(chunk))
        } catch {
            throw MailMessageError.sinkFailed("\(path): \(error.localizedDescription)")
        }
    }

    public func close() throws {
        do { try handle.close() } catch { throw MailMessageError.sinkFailed("\(path): \(error.localizedDescription)") }
    }

    deinit { try? handle.close() }
}

extension MIMEMessage {
    static let streamChunkSize = 64 * 1024

    /// Decodes a part's body chunk by chunk into `sink`, never holding more than one chunk of
    /// decoded bytes, and returns its size and SHA-256.
    @discardableResult
    public func decodeBody(of part: MIMEPart, into sink: inout some AttachmentSink) throws -> DecodedBodyInfo {
        var hashing = HashingSink(inner: sink, hasher: options.digester.hasher())
        let size = try streamDecodedBody(of: part, into: &hashing)
        sink = hashing.inner
        return DecodedBodyInfo(size: size, sha256: SHA256.hex(hashing.hasher.finalize()))
    }

    /// Decodes a part's body chunk by chunk into `sink` without hashing; returns the size.
    @discardableResult
    public func streamDecodedBody(of part: MIMEPart, into sink: inout some AttachmentSink) throws -> Int {
        var size = 0
        func emit(_ bytes: [UInt8]) throws {
            guard !bytes.isEmpty else { return }
            try bytes.withUnsafeBytes { try sink.write($0) }
            size += bytes.count
        }
        let raw = bytes(of: part)
        let range = part.bodyRange
        var start = range.lowerBound
        switch part.transferEncoding {
        case .base64:
            var decoder = Base64Decoder()
            // Every chunk decodes into one scratch buffer, with no zero-filling or array
            // bookkeeping per chunk: on attachment-heavy mail this loop and the digest are
            // most of the parse time.
            let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: Base64Decoder.maxOutputCount(forInputCount: Self.streamChunkSize))
            defer { scratch.deallocate() }
            try raw.withUnsafeBufferPointer { all in
                while start < range.upperBound {
                    let end = min(range.upperBound, start + Self.streamChunkSize)
                    let count = decoder.decode(UnsafeBufferPointer(rebasing: all[start..<end]), into: scratch)
                    if count > 0 {
                        try sink.write(UnsafeRawBufferPointer(start: scratch, count: count))
                        size += count
                    }
                    start = end
                }
            }
            var tail: [UInt8] = []
            decoder.finish(into: &tail)
            try emit(tail)
        case .quotedPrintable:
            while start < range.upperBound {
                var end = min(range.upperBound, start + Self.streamChunkSize)
                if end < range.upperBound {
                    // Cut after a line end so no "=XY" or soft break is split between chunks.
                    if let lineEnd = raw[start..<end].lastIndex(of: ASCII.lf), lineEnd + 1 > start {
                        end = lineEnd + 1
                    } else {
                        while end > start + 3, raw[end - 1] == ASCII.equals || raw[end - 2] == ASCII.equals { end -= 1 }
                    }
                }
                try emit(QuotedPrintable.decode(raw[start..<end]))
                start = end
            }
        default:
            if part.transferEncoding.isUUEncode {
                try emit(UUDecoder.decode(raw[range]))
            } else {
                while start < range.upperBound {
                    let end = min(range.upperBound, start + Self.streamChunkSize)
                    try raw[start..<end].withUnsafeBytes { try sink.write($0) }
                    size += end - start
                    start = end
                }
            }
        }
        return size
    }

    /// Size and SHA-256 of a part's decoded body without keeping it.
    public func digest(of part: MIMEPart) -> DecodedBodyInfo {
        var sink = DiscardingSink()
        // DiscardingSink never throws.
        return (try? decodeBody(of: part, into: &sink)) ?? DecodedBodyInfo(size: 0, sha256: options.digester.hexDigest(UnsafeRawBufferPointer(start: nil, count: 0)))
    }
}

extension MIMEMessage {
    /// The decoded content of the attachment that the message's summary listed at `index` with
    /// this SHA-256 (nil when none matches). Attachments of received mail are kept only inside
    /// the raw message; the digest makes sure the part cut out is the one the agent was shown,
    /// even if a later parser orders the parts differently.
    public func attachmentContent(index: Int, sha256: String) -> [UInt8]? {
        let all = self.parts
        let listed = body.attachments.compactMap { all.indices.contains($0.partIndex) ? all[$0.partIndex] : nil }
        // The one at `index` first; each part digested once.
        let order = (listed.indices.contains(index) ? [index] : []) + listed.indices.filter { $0 != index }
        for position in order where digest(of: listed[position]).sha256 == sha256 {
            return decodedBody(of: listed[position])
        }
        return nil
    }
}
