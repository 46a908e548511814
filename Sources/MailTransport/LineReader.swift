import NIOCore

/// Splits inbound bytes into lines (CRLF, or a bare LF from sloppy servers), with a length limit.
/// `nextLine()` returning nil means "need more bytes"; an over-long line is an error.
public struct LineReader: Sendable {
    public private(set) var buffer: ByteBuffer
    public var maxLineLength: Int
    private var scanned = 0

    public init(maxLineLength: Int = 64 * 1024) {
        self.buffer = ByteBuffer()
        self.maxLineLength = maxLineLength
    }

    public var bufferedByteCount: Int { buffer.readableBytes }

    public mutating func append(_ bytes: ByteBuffer) {
        if buffer.readableBytes == 0 {
            buffer = bytes
            scanned = 0
        } else {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }
    }

    /// The next line without its line ending, or nil when no complete line is buffered.
    public mutating func nextLine() throws -> ByteBuffer? {
        let view = buffer.readableBytesView
        let start = view.startIndex + scanned
        if let lf = view[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let length = lf - view.startIndex
            var end = length
            if end > 0, view[lf - 1] == UInt8(ascii: "\r") { end -= 1 }
            if end > maxLineLength { throw MailTransportError.limitExceeded("server line longer than \(maxLineLength) bytes") }
            let line = buffer.getSlice(at: buffer.readerIndex, length: end)!
            buffer.moveReaderIndex(forwardBy: length + 1)
            scanned = 0
            if buffer.readableBytes == 0 { buffer.clear() }
            return line
        }
        scanned = view.count
        if scanned > maxLineLength + 1 { throw MailTransportError.limitExceeded("server line longer than \(maxLineLength) bytes") }
        return nil
    }

    /// Up to `maxLength` buffered bytes, for protocols that switch to raw bytes.
    public mutating func takeBytes(upTo maxLength: Int) -> ByteBuffer? {
        guard buffer.readableBytes > 0 else { return nil }
        let slice = buffer.readSlice(length: min(maxLength, buffer.readableBytes))
        scanned = 0
        return slice
    }
}
