import MailTransport
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The outcome for one recipient.
public struct SMTPRecipientResult: Sendable, Hashable, Codable {
    public var address: String
    public var reply: SMTPReply
    public var accepted: Bool { reply.isPositiveCompletion }
}

/// The outcome of one message: every recipient's reply and the reply to the end of data.
public struct SMTPSendResult: Sendable, Hashable, Codable {
    public var mailReply: SMTPReply
    public var recipients: [SMTPRecipientResult]
    public var dataReply: SMTPReply
    public var acceptedRecipients: [String] { recipients.filter(\.accepted).map(\.address) }
    public var rejectedRecipients: [SMTPRecipientResult] { recipients.filter { !$0.accepted } }
}

/// One mail transaction (optional RSET, MAIL, RCPT..., DATA, body, end of data) as a plain state
/// machine: it says which lines to send and decides from each reply what happens next.
/// With PIPELINING all envelope commands go out at once (RFC 2920) and replies are matched in order.
public struct SMTPTransactionStateMachine: Sendable {
    public enum Action: Sendable, Equatable {
        /// Send these command lines (no CRLF), in order, then wait for replies.
        case send([String])
        /// Wait for the next reply.
        case awaitReply
        /// Send the dot-stuffed message followed by "." (DATA was accepted).
        case sendBody
        /// DATA was accepted although no recipient was: send only "." (RFC 2920 3.1), then fail.
        case sendEmptyBody
        /// The message is accepted for at least one recipient.
        case finished(SMTPSendResult)
        /// The transaction failed; the connection stays usable unless `connectionUsable` is false.
        case failed(MailTransportError, connectionUsable: Bool)
    }

    private enum Expect: Sendable, Equatable {
        case rset, mail, rcpt(Int), data, endOfData
    }

    let mailCommand: String
    let recipients: [String]
    let rcptCommands: [String]
    let pipelining: Bool
    let sendRset: Bool

    private var queue: [Expect] = []
    private var mailReply: SMTPReply?
    private var recipientReplies: [SMTPRecipientResult] = []
    private var failure: MailTransportError?
    private var awaitingEmptyBody = false
    /// The end of data was answered (whatever the reply): the transaction is over on the server.
    public private(set) var reachedEndOfData = false

    public init(mailCommand: String, recipients: [String], rcptCommands: [String], pipelining: Bool, sendRset: Bool) {
        self.mailCommand = mailCommand
        self.recipients = recipients
        self.rcptCommands = rcptCommands
        self.pipelining = pipelining
        self.sendRset = sendRset
    }

    public mutating func start() -> Action {
        var lines: [String] = []
        if sendRset {
            queue.append(.rset)
            lines.append("RSET")
            if !pipelining { return .send(lines) }
        }
        return sendEnvelope(after: lines)
    }

    private mutating func sendEnvelope(after lines: [String]) -> Action {
        var lines = lines
        queue.append(.mail)
        lines.append(mailCommand)
        if pipelining {
            for i in rcptCommands.indices {
                queue.append(.rcpt(i))
                lines.append(rcptCommands[i])
            }
            queue.append(.data)
            lines.append("DATA")
        }
        return .send(lines)
    }

    public mutating func replyReceived(_ reply: SMTPReply) -> Action {
        guard !queue.isEmpty else {
            return .failed(.protocolError("unexpected SMTP reply \(reply)"), connectionUsable: false)
        }
        let expect = queue.removeFirst()
        if reply.code == 421 {
            return .failed(reply.error(step: stepName(expect)), connectionUsable: false)
        }
        switch expect {
        case .rset:
            if !reply.isPositiveCompletion {
                return .failed(reply.error(step: "RSET"), connectionUsable: false)
            }
            return pipelining ? next() : sendEnvelope(after: [])
        case .mail:
            mailReply = reply
            if !reply.isPositiveCompletion {
                failure = reply.error(step: "MAIL FROM")
                if !pipelining { return .failed(failure!, connectionUsable: true) }
            } else if !pipelining {
                queue.append(.rcpt(0))
                return .send([rcptCommands[0]])
            }
            return next()
        case .rcpt(let i):
            recipientReplies.append(SMTPRecipientResult(address: recipients[i], reply: reply))
            if !pipelining {
                if i + 1 < rcptCommands.count {
                    queue.append(.rcpt(i + 1))
                    return .send([rcptCommands[i + 1]])
                }
                if recipientReplies.contains(where: \.accepted) {
                    queue.append(.data)
                    return .send(["DATA"])
                }
                return .failed(noRecipientError(), connectionUsable: true)
            }
            return next()
        case .data:
            if reply.code == 354 {
                if failure != nil || !recipientReplies.contains(where: \.accepted) {
                    if failure == nil { failure = noRecipientError() }
                    queue.append(.endOfData)
                    awaitingEmptyBody = true
                    return .sendEmptyBody
                }
                queue.append(.endOfData)
                return .sendBody
            }
            if let failure { return .failed(failure, connectionUsable: true) }
            if !recipientReplies.contains(where: \.accepted) { return .failed(noRecipientError(), connectionUsable: true) }
            return .failed(reply.error(step: "DATA"), connectionUsable: true)
        case .endOfData:
            reachedEndOfData = true
            if awaitingEmptyBody, let failure { return .failed(failure, connectionUsable: true) }
            guard reply.isPositiveCompletion, let mailReply else {
                return .failed(reply.error(step: "end of data"), connectionUsable: true)
            }
            return .finished(SMTPSendResult(mailReply: mailReply, recipients: recipientReplies, dataReply: reply))
        }
    }

    private func next() -> Action {
        if queue.isEmpty, let failure { return .failed(failure, connectionUsable: true) }
        return .awaitReply
    }

    private func noRecipientError() -> MailTransportError {
        let first = recipientReplies.first?.reply
        let texts = recipientReplies.map { "\($0.address): \($0.reply)" }.joined(separator: "; ")
        return .serverReply(step: "RCPT TO", code: first?.code, enhanced: first?.enhancedStatus, text: "no recipient accepted: \(texts)")
    }

    private func stepName(_ expect: Expect) -> String {
        switch expect {
        case .rset: return "RSET"
        case .mail: return "MAIL FROM"
        case .rcpt: return "RCPT TO"
        case .data: return "DATA"
        case .endOfData: return "end of data"
        }
    }
}

/// Dot-stuffing and line-ending normalisation for DATA (RFC 5321 4.5.2), streaming.
public struct SMTPDotStuffer: Sendable {
    private var atLineStart = true
    private var lastWasCR = false

    public init() {}

    /// Appends `input` to `output`, doubling a "." at the start of a line and turning bare LF
    /// into CRLF. Finds line ends with memchr and copies the runs between them at once.
    public mutating func encode(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        let n = input.count
        guard n > 0, let base = input.baseAddress else { return }
        var start = 0
        var i = 0
        while i < n {
            if atLineStart {
                atLineStart = false
                if input[i] == UInt8(ascii: ".") {
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: input[start..<i]))
                    output.writeInteger(UInt8(ascii: "."))
                    start = i
                }
            }
            guard let found = memchr(base + i, Int32(UInt8(ascii: "\n")), n - i) else {
                lastWasCR = input[n - 1] == UInt8(ascii: "\r")
                break
            }
            let lf = UnsafeRawPointer(found) - base
            let afterCR = lf > 0 ? input[lf - 1] == UInt8(ascii: "\r") : lastWasCR
            if !afterCR {
                output.writeBytes(UnsafeRawBufferPointer(rebasing: input[start..<lf]))
                output.writeInteger(UInt8(ascii: "\r"))
                start = lf
            }
            atLineStart = true
            lastWasCR = false
            i = lf + 1
        }
        output.writeBytes(UnsafeRawBufferPointer(rebasing: input[start..<n]))
    }

    public mutating func encode(_ input: ByteBuffer, into output: inout ByteBuffer) {
        input.withUnsafeReadableBytes { encode($0, into: &output) }
    }

    /// Ends the data: a line break if the message did not end with one, then ".\r\n".
    public mutating func finish(into output: inout ByteBuffer) {
        if lastWasCR {
            output.writeInteger(UInt8(ascii: "\n"))
        } else if !atLineStart {
            output.writeStaticString("\r\n")
        }
        output.writeStaticString(".\r\n")
        atLineStart = true
        lastWasCR = false
    }

    /// Array conveniences (tests, small messages).
    public mutating func encode(_ input: [UInt8], into output: inout [UInt8]) {
        var buffer = ByteBuffer()
        input.withUnsafeBytes { encode($0, into: &buffer) }
        output += buffer.readableBytesView
    }

    public mutating func finish(into output: inout [UInt8]) {
        var buffer = ByteBuffer()
        finish(into: &buffer)
        output += buffer.readableBytesView
    }
}
