// libFuzzer entry for the MailMessage sources, compiled into one module with them by
// scripts/fuzz-mime. Every public entry point that reads untrusted bytes is driven here;
// libFuzzer reports crashes, hangs (-timeout) and memory growth (-rss_limit_mb).

@_cdecl("LLVMFuzzerTestOneInput")
public func mailMessageFuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    exercise(MIMEMessage(parsing: bytes))
    // Tiny limits reach the truncation paths that ordinary inputs never hit.
    let tight = ParseOptions(maxHeaderCount: 3, maxHeaderSectionBytes: 64, maxLineLength: 78, maxNestingDepth: 2, maxPartCount: 4)
    exercise(MIMEMessage(parsing: bytes, options: tight))
    let slice = bytes[...]
    _ = AddressParser.parse(slice)
    _ = DateParser.parse(slice)
    _ = MessageIDParser.parseList(slice)
    _ = EncodedWords.decode(slice)
    _ = ContentType.parse(slice)
    _ = TextDecoding.decode(bytes, declaredLabel: "iso-2022-jp", isHTML: true)
    _ = TextDecoding.decode(bytes, declaredLabel: "euc-jp", isHTML: false)
    for label in ["utf-7", "hz-gb-2312", "iso-2022-kr"] { _ = TextDecoding.decode(bytes, declaredLabel: label, isHTML: false) }
    // The unrolled SHA-256 must not depend on how its input is split.
    var hasher = SHA256()
    let cut = count > 0 ? Int(bytes[0]) % (count + 1) : 0
    bytes[..<cut].withUnsafeBytes { hasher.update($0) }
    bytes[cut...].withUnsafeBytes { hasher.update($0) }
    if hasher.finalize() != SHA256.hash(bytes) { fatalError("SHA-256 differs when the input is split at \(cut)") }
    _ = QuotedPrintable.decode(slice)
    _ = Base64Decoder.decode(slice)
    return 0
}

private func exercise(_ message: MIMEMessage) {
    let summary = MessageSummary(message)
    _ = try? summary.jsonData()
    for part in message.parts {
        var sink = MemorySink()
        _ = try? message.decodeBody(of: part, into: &sink)
        if sink.bytes != message.decodedBody(of: part) {
            fatalError("streamed and in-memory decoding differ for part \(part.index)")
        }
    }
    exerciseExtras(message, summary)
}
