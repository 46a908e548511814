import Logging
import MailTransport
import NIOCore

/// An SMTP client connection (RFC 5321) for sending.
///
/// `connect` runs greeting, EHLO (HELO fallback), STARTTLS and AUTH. `send` sends one message and
/// may be called many times on one connection; `sendAll` sends a stream of messages, each
/// message's envelope pipelined with the previous one's content when the server offers PIPELINING.
/// An RSET goes before a transaction only when the previous one failed before its end of data
/// (a transaction that got its end-of-data reply is over, RFC 5321 4.1.1.4).
public actor SMTPConnection {
    public let connection: MailConnection

    /// The actor runs on its channel's event loop: no thread hop between the protocol logic and
    /// the socket, which keeps per-command latency at one loop turn.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        connection.channel.eventLoop.executor.asUnownedSerialExecutor()
    }
    public let endpoint: MailEndpoint
    public private(set) var greeting: SMTPReply?
    public private(set) var capabilities = SMTPCapabilities(isESMTP: false)
    public private(set) var isAuthenticated = false
    private var reader = LineReader(maxLineLength: 16 * 1024)
    private var parser = SMTPReplyParser()
    /// The last transaction failed before its end of data: the server may still hold its envelope.
    private var needsReset = false
    private var broken = false
    /// Tests only: pipeline although the server does not announce PIPELINING (smtp-sink's reject
    /// modes do not announce it, but read pipelined commands all the same).
    private(set) var assumesPipelining = false
    private let heloName: String
    private let logger: Logger

    func assumePipelining() { assumesPipelining = true }

    /// Wraps an open transport connection (use ``connect(to:credentials:heloName:logger:)`` normally).
    public init(connection: MailConnection, heloName: String = "localhost", logger: Logger = Logger(label: "mailroom.smtp")) {
        self.connection = connection
        self.endpoint = connection.endpoint
        self.heloName = heloName
        self.logger = logger
    }

    /// Connects, reads the greeting, EHLO, STARTTLS when the endpoint says so, and AUTH when
    /// credentials are given.
    public static func connect(
        to endpoint: MailEndpoint,
        credentials: MailCredentials?,
        heloName: String = "localhost",
        logger: Logger = Logger(label: "mailroom.smtp")
    ) async throws -> SMTPConnection {
        let transport = try await MailConnection.connect(to: endpoint, logger: logger)
        let smtp = SMTPConnection(connection: transport, heloName: heloName, logger: logger)
        do {
            try await smtp.readGreeting()
            try await smtp.hello()
            if endpoint.security == .starttls {
                try await smtp.startTLS()
            }
            if let credentials {
                try await smtp.authenticate(credentials)
            }
            return smtp
        } catch {
            await transport.close()
            throw error
        }
    }

    // MARK: steps

    @discardableResult
    public func readGreeting() async throws -> SMTPReply {
        let reply = try await readReply(step: "greeting", timeout: endpoint.connectionTimeout)
        guard reply.code == 220 else {
            broken = true
            throw reply.error(step: "greeting")
        }
        greeting = reply
        return reply
    }

    /// EHLO, or HELO when the server does not know EHLO.
    @discardableResult
    public func hello() async throws -> SMTPReply {
        let reply = try await command("EHLO \(heloName)", step: "EHLO", timeout: endpoint.connectionTimeout)
        if reply.isPositiveCompletion {
            capabilities = SMTPCapabilities(ehloReply: reply)
            return reply
        }
        if reply.code == 421 { throw reply.error(step: "EHLO") }
        let helo = try await command("HELO \(heloName)", step: "HELO", timeout: endpoint.connectionTimeout)
        guard helo.isPositiveCompletion else { throw helo.error(step: "HELO") }
        capabilities = SMTPCapabilities(isESMTP: false)
        return helo
    }

    /// STARTTLS (RFC 3207) and a new EHLO; fails when the server does not offer it.
    public func startTLS() async throws {
        guard capabilities.supports(.startTLS) else {
            throw MailTransportError.unsupported("the server does not offer STARTTLS", step: "STARTTLS")
        }
        let reply = try await command("STARTTLS", step: "STARTTLS", timeout: endpoint.connectionTimeout)
        guard reply.code == 220 else { throw reply.error(step: "STARTTLS") }
        if reader.bufferedByteCount > 0 {
            throw MailTransportError.protocolError("the server sent data after its STARTTLS reply", step: "STARTTLS")
        }
        try await connection.startTLS()
        capabilities = SMTPCapabilities(isESMTP: false)
        try await hello()
    }

    /// AUTH (RFC 4954): XOAUTH2 for a token; PLAIN, else LOGIN for a password.
    public func authenticate(_ credentials: MailCredentials) async throws {
        let mechanisms = capabilities.authMechanisms
        let timeout = endpoint.authTimeout
        switch credentials.secret {
        case .oauth2AccessToken(let token):
            let step = "AUTH XOAUTH2"
            if !mechanisms.contains("XOAUTH2"), mechanisms.contains("OAUTHBEARER") {
                let payload = SASL.oauthBearer(username: credentials.username, accessToken: token, host: endpoint.host, port: endpoint.port)
                try await finishAuth(try await command("AUTH OAUTHBEARER \(payload)", step: "AUTH OAUTHBEARER", timeout: timeout), step: "AUTH OAUTHBEARER")
                return
            }
            let payload = SASL.xoauth2(username: credentials.username, accessToken: token)
            try await finishAuth(try await command("AUTH XOAUTH2 \(payload)", step: step, timeout: timeout), step: step)
        case .password(let password):
            if mechanisms.contains("PLAIN") || !mechanisms.contains("LOGIN") {
                let step = "AUTH PLAIN"
                let payload = SASL.plain(username: credentials.username, password: password)
                try await finishAuth(try await command("AUTH PLAIN \(payload)", step: step, timeout: timeout), step: step)
            } else {
                let step = "AUTH LOGIN"
                var reply = try await command("AUTH LOGIN", step: step, timeout: timeout)
                guard reply.code == 334 else { return try await finishAuth(reply, step: step) }
                reply = try await command(Base64.encode(Array(credentials.username.utf8)), step: step, timeout: timeout, logAs: "<username>")
                guard reply.code == 334 else { return try await finishAuth(reply, step: step) }
                reply = try await command(Base64.encode(Array(password.utf8)), step: step, timeout: timeout, logAs: "<redacted>")
                try await finishAuth(reply, step: step)
            }
        }
    }

    private func finishAuth(_ reply: SMTPReply, step: String) async throws {
        var reply = reply
        if reply.code == 334 {
            // XOAUTH2 failure: the server sends a base64 JSON challenge; answer with an empty line.
            reply = try await command("", step: step, timeout: endpoint.authTimeout, logAs: "<empty>")
        }
        guard reply.isPositiveCompletion else {
            if reply.code == 421 { broken = true }
            throw MailTransportError(kind: .authenticationFailed, step: step, message: "authentication failed: \(reply)", replyCode: reply.code, enhancedStatus: reply.enhancedStatus)
        }
        isAuthenticated = true
    }

    // MARK: sending

    /// Sends one message. Returns when the server accepted it for at least one recipient (the
    /// result lists every recipient's reply). Throws ``MailTransportError`` of kind `.serverReply`
    /// (code and enhanced status of the failing reply) when MAIL FROM, every RCPT TO, DATA or
    /// the end of data is refused, and other kinds when the connection fails.
    /// `message` is the RFC 5322 message; line endings are normalised and dots stuffed here.
    public func send(from sender: String, to recipients: [String], message: [UInt8]) async throws -> SMTPSendResult {
        try await send(from: sender, to: recipients, message: ByteBuffer(bytes: message))
    }

    /// See ``send(from:to:message:)-([UInt8])``; the message as a `ByteBuffer`.
    public func send(from sender: String, to recipients: [String], message: ByteBuffer) async throws -> SMTPSendResult {
        guard !broken else { throw MailTransportError.connectionClosed(step: "MAIL FROM") }
        let commands = try message.withUnsafeReadableBytes { try self.envelope(from: sender, to: recipients, content: $0) }
        var machine = SMTPTransactionStateMachine(
            mailCommand: commands.mailCommand,
            recipients: commands.recipients,
            rcptCommands: commands.rcptCommands,
            pipelining: capabilities.supports(.pipelining) || assumesPipelining,
            sendRset: needsReset
        )
        defer { needsReset = !machine.reachedEndOfData }
        var action = machine.start()
        while true {
            switch action {
            case .send(let lines):
                try await sendLines(lines)
                action = machine.replyReceived(try await readReply(step: "MAIL transaction", timeout: endpoint.commandTimeout))
            case .awaitReply:
                action = machine.replyReceived(try await readReply(step: "MAIL transaction", timeout: endpoint.commandTimeout))
            case .sendBody:
                try await sendBody(message)
                action = machine.replyReceived(try await readReply(step: "end of data", timeout: endpoint.commandTimeout))
            case .sendEmptyBody:
                try await sendLines(["."])
                action = machine.replyReceived(try await readReply(step: "end of data", timeout: endpoint.commandTimeout))
            case .finished(let result):
                return result
            case .failed(let error, let usable):
                if !usable { broken = true }
                throw error
            }
        }
    }

    /// The commands for one message, after the checks that need no round trip (SIZE, SMTPUTF8, the addresses).
    func envelope(from sender: String, to recipients: [String], content: UnsafeRawBufferPointer) throws -> SMTPPipelineStateMachine.Envelope {
        guard !recipients.isEmpty else { throw MailTransportError.protocolError("no recipients", step: "RCPT TO") }
        let size = content.count
        if let limit = capabilities.maximumMessageSize, size > limit {
            throw MailTransportError.serverReply(step: "SIZE", code: 552, enhanced: EnhancedStatusCode(statusClass: 5, subject: 3, detail: 4),
                                                 text: "message of \(size) bytes exceeds the server's SIZE limit of \(limit) bytes")
        }
        let needsUTF8 = !(sender.utf8.allSatisfy { $0 < 0x80 } && recipients.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 } })
        if needsUTF8, !capabilities.supports(.smtpUTF8) {
            throw MailTransportError.unsupported("an address is not ASCII and the server does not offer SMTPUTF8", step: "MAIL FROM")
        }
        for address in [sender] + recipients where address.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == UInt8(ascii: ">") }) {
            throw MailTransportError.protocolError("invalid address \(address.debugDescription)", step: "MAIL FROM")
        }
        var mail = "MAIL FROM:<\(sender)>"
        if capabilities.supports(.size) { mail += " SIZE=\(size)" }
        if capabilities.supports(.eightBitMIME), Self.hasEightBitBytes(content) { mail += " BODY=8BITMIME" }
        if needsUTF8 { mail += " SMTPUTF8" }
        return SMTPPipelineStateMachine.Envelope(mailCommand: mail, recipients: recipients, rcptCommands: recipients.map { "RCPT TO:<\($0)>" })
    }

    /// Eight bytes at a time.
    static func hasEightBitBytes(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return true }
            index += 8
        }
        while index < bytes.count {
            if bytes[index] >= 0x80 { return true }
            index += 1
        }
        return false
    }

    // MARK: sending a stream of messages

    /// Sends messages one after another until `next` has none, and hands each one's outcome to
    /// `outcome` as its last reply arrives. With PIPELINING (RFC 2920), each message's envelope
    /// goes out in the same write as the previous message's content, so a message costs one round
    /// trip; without, the messages go one at a time as with ``send(from:to:message:)-([UInt8])``.
    /// See ``SMTPPipelineStateMachine`` for how replies and failures are matched to messages.
    ///
    /// `next` is asked for a message when the connection can take one; nil ends the stream (a
    /// message may still be in flight then; its outcome comes before this returns). Both closures
    /// run on this connection's executor and must not block. A message refused before any byte
    /// went out (SIZE, SMTPUTF8, an invalid address) gets its `.failed` outcome at once.
    /// Returns false when the connection must not carry another message.
    public func sendAll<Item: Sendable>(
        next: @Sendable () -> (item: Item, message: SMTPOutgoingMessage)?,
        outcome: @Sendable (Item, SMTPPipelineStateMachine.Outcome) -> Void
    ) async -> Bool {
        guard !broken else { return false }
        guard capabilities.supports(.pipelining) || assumesPipelining else {
            while let (item, message) = next() {
                do {
                    outcome(item, .sent(try await send(from: message.sender, to: message.recipients, message: message.content)))
                } catch {
                    outcome(item, .failed(Self.transportError(error)))
                    if broken { return false }
                }
            }
            return true
        }
        var machine = SMTPPipelineStateMachine(needsReset: needsReset)
        var inFlight: [Int: (item: Item, message: SMTPOutgoingMessage)] = [:]
        var lastTag = 0
        while true {
            switch machine.nextAction() {
            case .needMessage:
                var added = false
                while !added, let (item, message) = next() {
                    do {
                        let envelope = try message.content.withUnsafeBytes {
                            try self.envelope(from: message.sender, to: message.recipients, content: $0)
                        }
                        lastTag += 1
                        inFlight[lastTag] = (item, message)
                        machine.add(tag: lastTag, envelope)
                        added = true
                    } catch {
                        outcome(item, .failed(Self.transportError(error)))
                    }
                }
                if !added { machine.noMoreMessages() }
            case .write(let content, let lines):
                // A read follows every write: a failed write closes the connection and that read fails.
                do {
                    switch content {
                    case .message(let tag): try await write(content: inFlight[tag]?.message.content ?? [], then: lines)
                    case .dotOnly: connection.sendWithoutWaiting(buffer(["."] + lines))
                    case nil: connection.sendWithoutWaiting(buffer(lines))
                    }
                } catch {
                    broken = true
                    machine.connectionFailed(Self.transportError(error))
                }
            case .readReply(let step):
                do {
                    machine.replyReceived(try await readReply(step: step, timeout: endpoint.commandTimeout))
                } catch {
                    machine.connectionFailed(Self.transportError(error))
                }
            case .deliver(let tag, let result):
                if let (item, _) = inFlight.removeValue(forKey: tag) { outcome(item, result) }
            case .done(let usable):
                needsReset = machine.needsReset
                if !usable { broken = true }
                return usable
            }
        }
    }

    /// Every error a message's outcome carries is a ``MailTransportError`` (a cancelled read is a closed connection).
    static func transportError(_ error: any Error) -> MailTransportError {
        error as? MailTransportError ?? MailTransportError(kind: .connectionClosed, message: "the sending stopped: \(ErrorWords.describe(error))")
    }

    /// The dot-stuffed content and its end, then `lines`; large content goes out in chunks.
    private func write(content: [UInt8], then lines: [String]) async throws {
        let chunkSize = 256 * 1024
        var stuffer = SMTPDotStuffer()
        var start = 0
        repeat {
            let end = min(start + chunkSize, content.count)
            let last = end == content.count
            let extra = last ? lines.reduce(8) { $0 + $1.utf8.count + 2 } : 0
            var out = connection.channel.allocator.buffer(capacity: (end - start) + (end - start) / 32 + extra)
            content[start..<end].withUnsafeBytes { stuffer.encode($0, into: &out) }
            if last {
                stuffer.finish(into: &out)
                for line in lines {
                    logger.trace("C: \(LogRedaction.redactCommand(line))")
                    out.writeString(line)
                    out.writeStaticString("\r\n")
                }
                // A read follows.
                connection.sendWithoutWaiting(out)
            } else {
                // Large content: each chunk waits for the socket, so memory stays bounded.
                try await connection.send(out)
            }
            start = end
        } while start < content.count
        logger.trace("C: <message data, \(content.count) bytes>")
    }

    private func sendBody(_ message: ByteBuffer) async throws {
        var stuffer = SMTPDotStuffer()
        let chunkSize = 256 * 1024
        var rest = message
        repeat {
            let chunk = rest.readSlice(length: min(chunkSize, rest.readableBytes))!
            var out = connection.channel.allocator.buffer(capacity: chunk.readableBytes + chunk.readableBytes / 32 + 8)
            stuffer.encode(chunk, into: &out)
            if rest.readableBytes == 0 { stuffer.finish(into: &out) }
            try await connection.send(out)
        } while rest.readableBytes > 0
        logger.trace("C: <message data, \(message.readableBytes) bytes>")
    }

    public func noop() async throws -> SMTPReply {
        try await command("NOOP", step: "NOOP", timeout: endpoint.commandTimeout)
    }

    public func reset() async throws {
        let reply = try await command("RSET", step: "RSET", timeout: endpoint.commandTimeout)
        guard reply.isPositiveCompletion else { throw reply.error(step: "RSET") }
    }

    /// QUIT and close. Never throws: the goodbye is best effort.
    public func quit() async {
        if !broken {
            _ = try? await command("QUIT", step: "QUIT", timeout: .seconds(5))
        }
        broken = true
        await connection.close()
    }

    public func close() async {
        broken = true
        await connection.close()
    }

    // MARK: plumbing

    func command(_ line: String, step: String, timeout: Duration, logAs: String? = nil) async throws -> SMTPReply {
        try await connection.sendLine(line, logAs: logAs)
        return try await readReply(step: step, timeout: timeout)
    }

    private func sendLines(_ lines: [String]) async throws {
        try await connection.send(buffer(lines))
    }

    private func buffer(_ lines: [String]) -> ByteBuffer {
        var buffer = connection.channel.allocator.buffer(capacity: lines.reduce(0) { $0 + $1.utf8.count + 2 })
        for line in lines {
            logger.trace("C: \(LogRedaction.redactCommand(line))")
            buffer.writeString(line)
            buffer.writeStaticString("\r\n")
        }
        return buffer
    }

    func readReply(step: String, timeout: Duration) async throws -> SMTPReply {
        do {
            while true {
                while let line = try reader.nextLine() {
                    if let reply = try parser.parse(line: line) {
                        logger.trace("S: \(reply)")
                        return reply
                    }
                }
                guard let chunk = try await connection.receive(timeout: timeout, step: step) else {
                    throw MailTransportError.connectionClosed(step: step)
                }
                reader.append(chunk)
            }
        } catch {
            broken = true
            throw error
        }
    }
}
