// Reply helpers and the builder, driven by whatever the parser made of the input: quoting
// and splitting must cope with any text, and building from parsed values must produce a
// message that parses back to the same subject and text.
func exerciseExtras(_ message: MIMEMessage, _ summary: MessageSummary) {
    _ = ReplyQuoting.quotedOriginal(of: message)
    _ = ReplyQuoting.replySubject(summary.subject)
    _ = ReplyQuoting.threadingIDs(for: message)
    if let text = summary.text { _ = ReplyExtractor.split(text) }
    if let html = summary.html { _ = HTMLText.plainText(html) }
    _ = message.autoReplySignals.suppressesAutoReply

    var builder = MessageBuilder(from: summary.from.first ?? Mailbox(address: "fuzz@helpdesk.test"))
    builder.to = summary.to
    builder.subject = summary.subject ?? ""
    builder.text = summary.text
    builder.html = summary.html
    builder.references = summary.references
    let rebuilt = MIMEMessage(parsing: builder.build())
    let again = MessageSummary(rebuilt)
    // Header values are trimmed and unfolded on parse, and control characters other than
    // tab cannot survive a header, so compare only subjects that are already in that form.
    let subject = builder.subject
    let headerSafe = subject.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F && $0.value != 0xFFFD }
        && subject == subject.trimming(" \t") && !subject.contains("  ") && !subject.isEmpty
    if headerSafe && again.subject != subject {
        fatalError("builder round trip changed the subject: \(subject.debugDescription) -> \(String(describing: again.subject?.debugDescription))")
    }
}
