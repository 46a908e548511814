import Logging
import MailTransport
import NIOCore

/// Receives a retrieved message as it arrives (dot-stuffing already removed).
public protocol POP3MessageSink: Sendable {
    func write(_ bytes: ByteBuffer) async throws
}

/// A POP3 client connection (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034).
/// Deletions (DELE) take effect only when ``quit()`` succeeds.
public actor POP3Connection {
    public let connection: MailConnection

    /// The actor runs on its channel's event loop: no thread hop between the protocol logic and
    /// the socket, which keeps per-command latency at one loop turn.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        connection.channel.eventLoop.executor.asUnownedSerialExecutor()
    }
    public let endpoint: MailEndpoint
    public private(set) var greeting: POP3Response?
    public internal(set) var capabilities = POP3Capabilities()
    public private(set) var isAuthenticated = false
    public var maxLineLength = 64 * 1024
    private var reader = LineReader(maxLineLength: 64 * 1024)
    private var closed = false
    private let logger: Logger

    public init(connection: MailConnection, logger: Logger = Logger(label: "mailroom.pop3")) {
        self.connection = connection
        self.endpoint = connection.endpoint
        self.logger = logger
    }

    /// Connect, greeting, CAPA, STLS when the endpoint says so, and authenticate when
    /// credentials are given.
    public static func connect(to endpoint: MailEndpoint, credentials: MailCredentials?, logger: Logger = Logger(label: "mailroom.pop3")) async throws -> POP3Connection {
        let transport = try await MailConnection.connect(to: endpoint, logger: logger)
        let pop = POP3Connection(connection: transport, logger: logger)
        do {
            try await pop.readGreeting()
            try await pop.capa()
            if endpoint.security == .starttls { try await pop.startTLS() }
            if let credentials { try await pop.authenticate(credentials) }
            return pop
        } catch {
            await transport.close()
            throw error
        }
    }

    @discardableResult
    public func readGreeting() async throws -> POP3Response {
        let response = try await readResponse(step: "greeting", timeout: endpoint.connectionTimeout)
        guard response.isOK else {
            closed = true
            throw response.error(step: "greeting")
        }
        greeting = response
        return response
    }

    /// CAPA; an empty set when the server does not know it.
    @discardableResult
    public func capa() async throws -> POP3Capabilities {
        let response = try await command("CAPA", step: "CAPA", timeout: endpoint.connectionTimeout)
        guard response.isOK else {
            capabilities = POP3Capabilities()
            return capabilities
        }
        let lines = try await readMultilineText(step: "CAPA", timeout: endpoint.connectionTimeout)
        capabilities = POP3Capabilities(lines: lines)
        return capabilities
    }

    public func startTLS() async throws {
        guard capabilities.supports(.stls) else {
            throw MailTransportError.unsupported("the server does not offer STLS", step: "STLS")
        }
        let response = try await command("STLS", step: "STLS", timeout: endpoint.connectionTimeout)
        guard response.isOK else { throw response.error(step: "STLS") }
        if reader.bufferedByteCount > 0 {
            throw MailTransportError.protocolError("the server sent data after its STLS reply", step: "STLS")
        }
        try await connection.startTLS()
        try await capa()
    }

    /// Token: AUTH XOAUTH2 (or OAUTHBEARER). Password: AUTH PLAIN when offered, else USER/PASS.
    public func authenticate(_ credentials: MailCredentials) async throws {
        let mechanisms = capabilities.saslMechanisms
        switch credentials.secret {
        case .oauth2AccessToken(let token):
            if !mechanisms.contains("XOAUTH2"), mechanisms.contains("OAUTHBEARER") {
                try await sasl("OAUTHBEARER", SASL.oauthBearer(username: credentials.username, accessToken: token, host: endpoint.host, port: endpoint.port))
            } else {
                try await sasl("XOAUTH2", SASL.xoauth2(username: credentials.username, accessToken: token))
            }
        case .password(let password):
            if mechanisms.contains("PLAIN") {
                try await sasl("PLAIN", SASL.plain(username: credentials.username, password: password))
            } else {
                let user = try await command("USER \(credentials.username)", step: "USER", timeout: endpoint.authTimeout)
                guard user.isOK else { throw MailTransportError.authenticationFailed(step: "USER", serverText: user.description) }
                let pass = try await command("PASS \(password)", step: "PASS", timeout: endpoint.authTimeout, logAs: "PASS <redacted>")
                guard pass.isOK else { throw MailTransportError.authenticationFailed(step: "PASS", serverText: pass.description) }
                isAuthenticated = true
            }
        }
    }

    /// AUTH with an initial response (RFC 5034 4); a later challenge is answered with "*"
    /// (cancel), as XOAUTH2 sends its error details that way.
    private func sasl(_ mechanism: String, _ payload: String) async throws {
        let step = "AUTH \(mechanism)"
        var response = try await command("AUTH \(mechanism) \(payload)", step: step, timeout: endpoint.authTimeout, logAs: "AUTH \(mechanism) <redacted>")
        if response.status == .continuation {
            response = try await command("*", step: step, timeout: endpoint.authTimeout, logAs: "*")
        }
        guard response.isOK else { throw MailTransportError.authenticationFailed(step: step, serverText: response.description) }
        isAuthenticated = true
    }

    // MARK: transaction state

    /// STAT: number of messages and total size in octets.
    public func stat() async throws -> (count: Int, size: Int) {
        let response = try await okCommand("STAT", step: "STAT")
        let parts = response.text.split(separator: " ")
        guard parts.count >= 2, let count = Int(parts[0]), let size = Int(parts[1]) else {
            throw MailTransportError.protocolError("bad STAT answer \(response.text.debugDescription)", step: "STAT")
        }
        return (count, size)
    }

    /// UIDL for all messages: message number to unique id.
    public func uidl() async throws -> [(number: Int, uid: String)] {
        _ = try await okCommand("UIDL", step: "UIDL")
        return try await readMultilineText(step: "UIDL", timeout: endpoint.commandTimeout).map { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let n = Int(parts[0]) else {
                throw MailTransportError.protocolError("bad UIDL line \(line.debugDescription)", step: "UIDL")
            }
            return (n, String(parts[1]))
        }
    }

    /// UIDL for one message; nil when the server says there is no such message.
    public func uidl(_ number: Int) async throws -> String? {
        let response = try await command("UIDL \(number)", step: "UIDL", timeout: endpoint.commandTimeout)
        guard response.isOK else { return nil }
        let parts = response.text.split(separator: " ", maxSplits: 1)
        return parts.count == 2 ? String(parts[1]) : nil
    }

    /// LIST: message number to size.
    public func list() async throws -> [(number: Int, size: Int)] {
        _ = try await okCommand("LIST", step: "LIST")
        return try await readMultilineText(step: "LIST", timeout: endpoint.commandTimeout).compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let n = Int(parts[0]), let size = Int(parts[1]) else { return nil }
            return (n, size)
        }
    }

    /// TOP: the header and the first `lines` body lines. More than `maxBytes` fails with
    /// `.limitExceeded` (and closes the connection), or with `truncating`, answers the first
    /// `maxBytes` and reads past the rest: a message without a blank line is all header.
    public func top(_ number: Int, lines: Int = 0, maxBytes: Int = 1024 * 1024, truncating: Bool = false) async throws -> [UInt8] {
        _ = try await okCommand("TOP \(number) \(lines)", step: "TOP")
        return try await collect(step: "TOP", maxBytes: maxBytes, truncating: truncating)
    }

    /// RETR streamed to `sink`.
    public func retrieve(_ number: Int, into sink: some POP3MessageSink) async throws {
        _ = try await okCommand("RETR \(number)", step: "RETR")
        var decoder = POP3DotDecoder()
        while true {
            var input = reader.takeBytes(upTo: Int.max) ?? ByteBuffer()
            var output = ByteBuffer()
            decoder.decode(&input, into: &output)
            if input.readableBytes > 0 { reader.append(input) }
            if output.readableBytes > 0 { try await sink.write(output) }
            if decoder.isFinished { return }
            guard let chunk = try await connection.receive(timeout: endpoint.commandTimeout, step: "RETR") else {
                closed = true
                throw MailTransportError.connectionClosed(step: "RETR")
            }
            reader.append(chunk)
        }
    }

    /// RETR returning the whole message (for small messages).
    public func retrieve(_ number: Int, maxBytes: Int = 64 * 1024 * 1024) async throws -> [UInt8] {
        _ = try await okCommand("RETR \(number)", step: "RETR")
        return try await collect(step: "RETR", maxBytes: maxBytes)
    }

    private func collect(step: String, maxBytes: Int, truncating: Bool = false) async throws -> [UInt8] {
        var decoder = POP3DotDecoder()
        var output = ByteBuffer()
        var kept: [UInt8]?
        while true {
            var input = reader.takeBytes(upTo: Int.max) ?? ByteBuffer()
            decoder.decode(&input, into: &output)
            if input.readableBytes > 0 { reader.append(input) }
            if output.readableBytes > maxBytes || kept != nil {
                guard truncating else {
                    closed = true
                    await connection.close()
                    throw MailTransportError.limitExceeded("message larger than \(maxBytes) bytes")
                }
                if kept == nil { kept = Array(output.readableBytesView.prefix(maxBytes)) }
                output.clear()
            }
            if decoder.isFinished { return kept ?? Array(output.readableBytesView) }
            guard let chunk = try await connection.receive(timeout: endpoint.commandTimeout, step: step) else {
                closed = true
                throw MailTransportError.connectionClosed(step: step)
            }
            reader.append(chunk)
        }
    }

    public func delete(_ number: Int) async throws {
        _ = try await okCommand("DELE \(number)", step: "DELE")
    }

    /// RSET: undo DELE marks.
    public func reset() async throws {
        _ = try await okCommand("RSET", step: "RSET")
    }

    public func noop() async throws {
        _ = try await okCommand("NOOP", step: "NOOP")
    }

    /// QUIT: commits deletions. Throws when the server reports it could not remove them.
    public func quit() async throws {
        defer { closed = true }
        let response = try await command("QUIT", step: "QUIT", timeout: endpoint.commandTimeout)
        await connection.close()
        guard response.isOK else { throw response.error(step: "QUIT") }
    }

    /// Closes without QUIT: deletions are NOT committed.
    public func close() async {
        closed = true
        await connection.close()
    }

    // MARK: plumbing

    private func okCommand(_ line: String, step: String) async throws -> POP3Response {
        let response = try await command(line, step: step, timeout: endpoint.commandTimeout)
        guard response.isOK else { throw response.error(step: step) }
        return response
    }

    private func command(_ line: String, step: String, timeout: Duration, logAs: String? = nil) async throws -> POP3Response {
        guard !closed else { throw MailTransportError.connectionClosed(step: step) }
        try await connection.sendLine(line, logAs: logAs)
        return try await readResponse(step: step, timeout: timeout)
    }

    private func readLine(step: String, timeout: Duration) async throws -> ByteBuffer {
        while true {
            if let line = try reader.nextLine() { return line }
            guard let chunk = try await connection.receive(timeout: timeout, step: step) else {
                closed = true
                throw MailTransportError.connectionClosed(step: step)
            }
            reader.append(chunk)
        }
    }

    private func readResponse(step: String, timeout: Duration) async throws -> POP3Response {
        let response = try POP3Response.parse(try await readLine(step: step, timeout: timeout))
        logger.trace("S: \(response)")
        return response
    }

    /// Lines of a multi-line answer (CAPA, UIDL, LIST), un-stuffed, up to the final ".".
    private func readMultilineText(step: String, timeout: Duration) async throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try await readLine(step: step, timeout: timeout)
            var text = String(buffer: line)
            if text == "." { return lines }
            if text.hasPrefix(".") { text.removeFirst() }
            lines.append(text)
            if lines.count > 10_000_000 { throw MailTransportError.limitExceeded("multi-line answer too long") }
        }
    }
}
