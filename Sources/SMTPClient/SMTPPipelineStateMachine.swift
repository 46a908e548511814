import MailTransport

/// Mail transactions one after another on a connection whose server offers PIPELINING
/// (RFC 2920), as a plain state machine: the caller asks ``nextAction()`` what to do, does it, and
/// reports what happened (``add(tag:_:)``, ``noMoreMessages()``, ``replyReceived(_:)``,
/// ``connectionFailed(_:)``).
///
/// A message's envelope (RSET when the previous transaction did not end with its end-of-data
/// reply, MAIL, RCPT..., DATA) goes out as one group. Once DATA is answered with 354, the message
/// content goes out followed, in the same write, by the next message's envelope (RFC 2920 3.1:
/// the content may be followed by the next commands), so each message costs one round trip.
/// Replies are matched to their commands in order, and each message gets its own outcome from
/// its own replies, decided as ``SMTPTransactionStateMachine`` decides it for one message: a
/// refusal of one message does not touch the next.
///
/// No RSET follows a transaction that ended with the end-of-data reply (whatever its code): that
/// reply ends the transaction (RFC 5321 4.1.1.4, the buffers are cleared). A transaction that
/// failed before it (sender or every recipient refused, DATA refused) is reset before the next.
///
/// When the connection fails (closed, timeout, a 421, a refused RSET), the oldest message waiting
/// for a reply fails with that error, as a lone transaction would; a message behind it, of which
/// only the envelope went out, is reported ``Outcome/notSent(_:)``: the server cannot have taken
/// it, and it may go out again over another connection.
public struct SMTPPipelineStateMachine: Sendable {
    /// The commands of one message.
    public struct Envelope: Sendable, Equatable {
        public var mailCommand: String
        public var recipients: [String]
        public var rcptCommands: [String]

        public init(mailCommand: String, recipients: [String], rcptCommands: [String]) {
            precondition(!recipients.isEmpty && recipients.count == rcptCommands.count, "one RCPT command per recipient, at least one")
            self.mailCommand = mailCommand
            self.recipients = recipients
            self.rcptCommands = rcptCommands
        }
    }

    /// What became of one message.
    public enum Outcome: Sendable, Equatable {
        /// Accepted for at least one recipient.
        case sent(SMTPSendResult)
        /// Refused, or the connection failed while it was this message's turn: what
        /// ``SMTPConnection/send(from:to:message:)-([UInt8])`` would have thrown.
        case failed(MailTransportError)
        /// Only its envelope went out before the connection failed: not sent, not refused.
        case notSent(MailTransportError)
    }

    /// What goes out before a write's command lines.
    public enum Content: Sendable, Equatable {
        /// The dot-stuffed content of the message with this tag, then ".".
        case message(Int)
        /// Only "." (DATA was accepted although the transaction had failed; RFC 2920 3.1).
        case dotOnly
    }

    public enum Action: Sendable, Equatable {
        /// Ask the caller for the next message: answer with ``add(tag:_:)`` or ``noMoreMessages()``.
        case needMessage
        /// Write the content (if any) and then these command lines (no CRLF), in one write.
        case write(content: Content?, lines: [String])
        /// Read the next reply; `step` names what it answers (for a timeout's message).
        case readReply(step: String)
        /// The outcome of the message with this tag.
        case deliver(tag: Int, Outcome)
        /// Nothing is in flight and no more messages come. The connection may carry more
        /// (with a new machine) unless `connectionUsable` is false.
        case done(connectionUsable: Bool)
    }

    private enum Expect: Sendable, Equatable {
        case rset, mail, rcpt(Int), data, endOfData
    }

    private struct Transaction: Sendable {
        let tag: Int
        let envelope: Envelope
        var mailReply: SMTPReply?
        var recipientReplies: [SMTPRecipientResult] = []
        var failure: MailTransportError?

        init(tag: Int, envelope: Envelope) {
            self.tag = tag
            self.envelope = envelope
        }

        var anyRecipientAccepted: Bool { recipientReplies.contains(where: \.accepted) }

        func noRecipientError() -> MailTransportError {
            let first = recipientReplies.first?.reply
            let texts = recipientReplies.map { "\($0.address): \($0.reply)" }.joined(separator: "; ")
            return .serverReply(step: "RCPT TO", code: first?.code, enhanced: first?.enhancedStatus, text: "no recipient accepted: \(texts)")
        }
    }

    /// Replies awaited, in the order the commands went out, with the message each belongs to.
    private var expected: [(tag: Int, expect: Expect)] = []
    private var expectedHead = 0
    /// Messages in flight, oldest first: at most two (one awaiting its end-of-data reply, the next its envelope's replies).
    private var transactions: [Transaction] = []
    private var deliveries: [(tag: Int, outcome: Outcome)] = []
    private var pendingWrite: (content: Content?, lines: [String])?
    /// Content whose DATA was answered with 354, held back to go out with the next message's envelope.
    private var heldContent: (tag: Int, content: Content)?
    private var askedForMessage = false
    private var exhausted = false
    private var closed = false
    /// The last transaction did not end with an end-of-data reply: RSET before the next MAIL.
    public private(set) var needsReset: Bool

    /// - Parameter needsReset: the connection's previous transaction failed before its end of data.
    public init(needsReset: Bool = false) {
        self.needsReset = needsReset
    }

    private var awaitingReplies: Bool { expectedHead < expected.count }

    public mutating func nextAction() -> Action {
        if !deliveries.isEmpty {
            let (tag, outcome) = deliveries.removeFirst()
            return .deliver(tag: tag, outcome)
        }
        if let write = pendingWrite {
            pendingWrite = nil
            return .write(content: write.content, lines: write.lines)
        }
        if closed { return .done(connectionUsable: false) }
        if askedForMessage { return .needMessage }
        // A new envelope may go out when nothing is in flight, or with the content held back.
        if !exhausted && (transactions.isEmpty || heldContent != nil) {
            askedForMessage = true
            return .needMessage
        }
        if let held = heldContent {
            heldContent = nil
            expected.append((held.tag, .endOfData))
            return .write(content: held.content, lines: [])
        }
        if awaitingReplies {
            return .readReply(step: expected[expectedHead].expect == .endOfData ? "end of data" : "MAIL transaction")
        }
        return .done(connectionUsable: true)
    }

    /// The next message, after ``Action/needMessage``. `tag` names it in the outcome.
    public mutating func add(tag: Int, _ envelope: Envelope) {
        precondition(askedForMessage, "add(tag:_:) answers .needMessage")
        askedForMessage = false
        var lines: [String] = []
        var content: Content?
        if let held = heldContent {
            heldContent = nil
            expected.append((held.tag, .endOfData))
            content = held.content
        }
        if needsReset {
            needsReset = false
            expected.append((tag, .rset))
            lines.append("RSET")
        }
        expected.append((tag, .mail))
        lines.append(envelope.mailCommand)
        for index in envelope.rcptCommands.indices {
            expected.append((tag, .rcpt(index)))
            lines.append(envelope.rcptCommands[index])
        }
        expected.append((tag, .data))
        lines.append("DATA")
        transactions.append(Transaction(tag: tag, envelope: envelope))
        pendingWrite = (content, lines)
    }

    /// No message now, after ``Action/needMessage``: what is in flight finishes, then ``Action/done(connectionUsable:)``.
    public mutating func noMoreMessages() {
        precondition(askedForMessage, "noMoreMessages() answers .needMessage")
        askedForMessage = false
        exhausted = true
    }

    public mutating func replyReceived(_ reply: SMTPReply) {
        guard awaitingReplies else {
            connectionFailed(.protocolError("unexpected SMTP reply \(reply)"))
            return
        }
        let (tag, expect) = expected[expectedHead]
        expectedHead += 1
        if expectedHead == expected.count {
            expected.removeAll(keepingCapacity: true)
            expectedHead = 0
        }
        guard let index = transactions.firstIndex(where: { $0.tag == tag }) else {
            connectionFailed(.protocolError("SMTP reply \(reply) for no transaction"))
            return
        }
        if reply.code == 421 {
            // The server is closing the connection.
            fail(reply.error(step: Self.stepName(expect)), head: tag)
            return
        }
        switch expect {
        case .rset:
            if !reply.isPositiveCompletion { fail(reply.error(step: "RSET"), head: tag) }
        case .mail:
            transactions[index].mailReply = reply
            if !reply.isPositiveCompletion { transactions[index].failure = reply.error(step: "MAIL FROM") }
        case .rcpt(let recipient):
            transactions[index].recipientReplies.append(
                SMTPRecipientResult(address: transactions[index].envelope.recipients[recipient], reply: reply))
        case .data:
            let transaction = transactions[index]
            if reply.code == 354 {
                if transaction.failure != nil || !transaction.anyRecipientAccepted {
                    if transaction.failure == nil { transactions[index].failure = transaction.noRecipientError() }
                    heldContent = (tag, .dotOnly)
                } else {
                    heldContent = (tag, .message(tag))
                }
                return
            }
            // The transaction may be open on the server (MAIL accepted): reset it before the next.
            needsReset = true
            let error = transaction.failure ?? (transaction.anyRecipientAccepted ? reply.error(step: "DATA") : transaction.noRecipientError())
            finish(at: index, .failed(error))
        case .endOfData:
            // The end-of-data reply ends the transaction, whatever it says.
            needsReset = false
            let transaction = transactions[index]
            if let failure = transaction.failure {
                finish(at: index, .failed(failure))
            } else if reply.isPositiveCompletion, let mailReply = transaction.mailReply {
                finish(at: index, .sent(SMTPSendResult(mailReply: mailReply, recipients: transaction.recipientReplies, dataReply: reply)))
            } else {
                finish(at: index, .failed(reply.error(step: "end of data")))
            }
        }
    }

    /// The connection failed (closed, timed out, a write failed): the oldest message waiting for
    /// a reply fails with `error`, the ones behind it are not sent, and the machine is done.
    public mutating func connectionFailed(_ error: MailTransportError) {
        fail(error, head: awaitingReplies ? expected[expectedHead].tag : heldContent?.tag ?? transactions.first?.tag)
    }

    /// Ends the machine: `head`, the message whose turn it was, fails with `error`; the others were not sent.
    private mutating func fail(_ error: MailTransportError, head: Int?) {
        for transaction in transactions {
            deliveries.append((transaction.tag, transaction.tag == head ? .failed(error) : .notSent(error)))
        }
        transactions.removeAll()
        expected.removeAll()
        expectedHead = 0
        heldContent = nil
        pendingWrite = nil
        askedForMessage = false
        closed = true
    }

    private mutating func finish(at index: Int, _ outcome: Outcome) {
        deliveries.append((transactions[index].tag, outcome))
        transactions.remove(at: index)
    }

    private static func stepName(_ expect: Expect) -> String {
        switch expect {
        case .rset: return "RSET"
        case .mail: return "MAIL FROM"
        case .rcpt: return "RCPT TO"
        case .data: return "DATA"
        case .endOfData: return "end of data"
        }
    }
}

/// One message for ``SMTPConnection/sendAll(next:outcome:)``.
public struct SMTPOutgoingMessage: Sendable {
    /// The envelope sender (MAIL FROM).
    public var sender: String
    public var recipients: [String]
    /// The RFC 5322 message; line endings are normalised and dots stuffed on the way out.
    public var content: [UInt8]

    public init(sender: String, recipients: [String], content: [UInt8]) {
        self.sender = sender
        self.recipients = recipients
        self.content = content
    }
}
