import Logging
import MailTransport
import NIOCore

public actor IMAPConnection {
    public let connection: MailConnection

    /// The actor runs on its channel's event loop: no thread hop between the protocol logic and
    /// the socket, which keeps per-command latency at one loop turn.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        connection.channel.eventLoop.executor.asUnownedSerialExecutor()
    }
    public let endpoint: MailEndpoint
    public internal(set) var capabilities: Set<IMAPCapability> = []
    public private(set) var greeting: IMAPResponseText?
    public internal(set) var selected: IMAPMailboxStatus?
    public private(set) var isAuthenticated = false
    private var decoder: IMAPResponseDecoder
    private var tagCounter = 0
    private var idle = IMAPIdleStateMachine()
    private var idleEvents: [IMAPIdleEvent] = []
    private var closed = false
    let logger: Logger

    public init(connection: MailConnection, options: IMAPParserOptions = IMAPParserOptions(), logger: Logger = Logger(label: "mailroom.imap")) {
        self.connection = connection
        self.endpoint = connection.endpoint
        self.decoder = IMAPResponseDecoder(options: options)
        self.logger = logger
    }

    /// Connect, greeting, STARTTLS when the endpoint says so, CAPABILITY, and authenticate when
    /// credentials are given.
    public static func connect(
        to endpoint: MailEndpoint,
        credentials: MailCredentials?,
        options: IMAPParserOptions = IMAPParserOptions(),
        logger: Logger = Logger(label: "mailroom.imap")
    ) async throws -> IMAPConnection {
        let transport = try await MailConnection.connect(to: endpoint, logger: logger)
        let imap = IMAPConnection(connection: transport, options: options, logger: logger)
        do {
            try await imap.readGreeting()
            if endpoint.security == .starttls { try await imap.startTLS() }
            if let credentials, await !imap.isAuthenticated { try await imap.authenticate(credentials) }
            return imap
        } catch {
            await transport.close()
            throw error
        }
    }

    // MARK: session setup

    /// Reads `* OK` / `* PREAUTH` (or `* BYE`) and the capabilities.
    @discardableResult
    public func readGreeting() async throws -> IMAPResponseText {
        let event = try await nextEvent(step: "greeting", timeout: endpoint.connectionTimeout)
        guard case .response(.untagged(.status(let status, let text))) = event else {
            throw MailTransportError.protocolError("unexpected greeting", step: "greeting")
        }
        switch status {
        case .ok, .preauth:
            greeting = text
            if status == .preauth { isAuthenticated = true }
            if case .capability(let caps) = text.code { capabilities = Set(caps) } else { try await capability() }
            return text
        default:
            closed = true
            throw MailTransportError.serverReply(step: "greeting", code: nil, enhanced: nil, text: "\(status.rawValue) \(text.text)")
        }
    }

    @discardableResult
    public func capability() async throws -> Set<IMAPCapability> {
        var caps: [IMAPCapability]?
        try await execute("CAPABILITY", step: "CAPABILITY") { untagged in
            if case .capability(let c) = untagged { caps = c }
        }
        if let caps { capabilities = Set(caps) }
        return capabilities
    }

    /// STARTTLS (RFC 3501 6.2.1), then CAPABILITY again (the old list is discarded).
    public func startTLS() async throws {
        guard capabilities.contains(.startTLS) else {
            throw MailTransportError.unsupported("the server does not offer STARTTLS", step: "STARTTLS")
        }
        try await execute("STARTTLS", step: "STARTTLS", timeout: endpoint.connectionTimeout)
        if decoder.bufferedByteCount > 0 {
            throw MailTransportError.protocolError("the server sent data after its STARTTLS reply", step: "STARTTLS")
        }
        try await connection.startTLS()
        capabilities = []
        try await capability()
    }

    /// ID (RFC 2971); some providers (163.com, some Yahoo setups) require it. Nil when unsupported.
    public func id(_ fields: [String: String] = ["name": "Mailroom"]) async throws -> [String: String]? {
        guard capabilities.contains(.id) else { return nil }
        let list = fields.sorted { $0.key < $1.key }.map { "\(IMAPString.quoted($0.key)) \(IMAPString.quoted($0.value))" }.joined(separator: " ")
        var answer: [String: String]?
        try await execute("ID (\(list))", step: "ID") { untagged in
            if case .id(let f) = untagged { answer = f }
        }
        return answer
    }

    /// Password: AUTHENTICATE PLAIN when offered, else LOGIN. Token: XOAUTH2, else OAUTHBEARER.
    /// Uses SASL-IR when offered. A refusal is `.authenticationFailed` with the server's text.
    public func authenticate(_ credentials: MailCredentials) async throws {
        let step: String
        let mechanism: String
        let payload: String
        switch credentials.secret {
        case .password(let password):
            if capabilities.contains(.auth("PLAIN")) {
                step = "AUTHENTICATE PLAIN"
                mechanism = "PLAIN"
                payload = SASL.plain(username: credentials.username, password: password)
            } else {
                guard !capabilities.contains(.loginDisabled) else {
                    throw MailTransportError.unsupported("the server refuses LOGIN here (LOGINDISABLED); use TLS or STARTTLS", step: "LOGIN")
                }
                guard IMAPString.isSafeForQuoted(credentials.username), IMAPString.isSafeForQuoted(password) else {
                    throw MailTransportError.unsupported("the server offers only LOGIN, which cannot carry this user name or password", step: "LOGIN")
                }
                try await authCommand("LOGIN \(IMAPString.quoted(credentials.username)) \(IMAPString.quoted(password))", logAs: "LOGIN <redacted>", step: "LOGIN", response: nil)
                return
            }
        case .oauth2AccessToken(let token):
            if capabilities.contains(.auth("XOAUTH2")) || !capabilities.contains(.auth("OAUTHBEARER")) {
                step = "AUTHENTICATE XOAUTH2"
                mechanism = "XOAUTH2"
                payload = SASL.xoauth2(username: credentials.username, accessToken: token)
            } else {
                step = "AUTHENTICATE OAUTHBEARER"
                mechanism = "OAUTHBEARER"
                payload = SASL.oauthBearer(username: credentials.username, accessToken: token, host: endpoint.host, port: endpoint.port)
            }
        }
        if capabilities.contains(.saslIR) {
            try await authCommand("AUTHENTICATE \(mechanism) \(payload)", logAs: "AUTHENTICATE \(mechanism) <redacted>", step: step, response: nil)
        } else {
            try await authCommand("AUTHENTICATE \(mechanism)", logAs: nil, step: step, response: payload)
        }
    }

    private func authCommand(_ command: String, logAs: String?, step: String, response: String?) async throws {
        var response = response
        let tag = nextTag()
        try await connection.sendLine("\(tag) \(command)", logAs: "\(tag) \(logAs ?? LogRedaction.redactCommand(command))")
        while true {
            let event = try await nextEvent(step: step, timeout: endpoint.authTimeout)
            switch event {
            case .response(.continuation):
                // First challenge: send the payload; a later one (XOAUTH2 error details): empty line.
                try await connection.sendLine(response ?? "", logAs: "<redacted>")
                response = nil
            case .response(.tagged(let t, let status, let text)) where t == tag:
                if case .capability(let caps)? = text.code { capabilities = Set(caps) }
                guard status == .ok else {
                    throw MailTransportError.authenticationFailed(step: step, serverText: "\(status.rawValue) \(text.text)")
                }
                isAuthenticated = true
                if text.code == nil || !(text.code.map { if case .capability = $0 { return true } else { return false } } ?? false) {
                    try await capability()
                }
                return
            case .response(.untagged(let u)):
                try handleUnsolicited(u)
            default:
                try await skipFetch(event)
            }
        }
    }

    // MARK: messages

    /// UID SEARCH; answers the UIDs in ascending order.
    public func uidSearch(_ key: IMAPSearchKey) async throws -> [IMAPUID] {
        var uids: [IMAPUID] = []
        try await execute("UID SEARCH \(key.text)", step: "UID SEARCH") { untagged in
            if case .search(let found) = untagged { uids += found }
        }
        return uids.sorted()
    }

    /// UID FETCH with every message section streamed to `sink`. With `batchSize`, the set is
    /// split into commands of at most that many UIDs, pipelined two at a time.
    public func uidFetch(_ uids: IMAPUIDSet, items: IMAPFetchItems = .bodyPeek, batchSize: Int? = nil, into sink: some IMAPFetchSink) async throws {
        guard !uids.isEmpty else { return }
        let sets = batchSize.map { uids.batches(of: $0) } ?? [uids]
        try await fetch(sets.map { "UID FETCH \($0) (\(items.text))" }, step: "UID FETCH") { event in
            switch event {
            case .begin(let start): try await sink.begin(start)
            case .bytes(let bytes): try await sink.write(bytes)
            case .end(let attributes): try await sink.end(attributes)
            }
        }
    }

    /// UID FETCH returning whole messages: for small messages only. A message whose section is
    /// larger than `maxMessageBytes` fails with `.limitExceeded` (stream those with a sink), or,
    /// with `omittingLarger`, comes back without its bytes and with its `omittedSize` (the section
    /// is read from the connection and dropped), so that one huge message does not fail the rest.
    public func uidFetchMessages(_ uids: IMAPUIDSet, items: IMAPFetchItems = .bodyPeek, maxMessageBytes: Int = 64 * 1024 * 1024,
                                 omittingLarger: Bool = false) async throws -> [IMAPFetchedMessage] {
        guard !uids.isEmpty else { return [] }
        var messages: [IMAPFetchedMessage] = []
        var current: [UInt8] = []
        var omitted: Int?
        try await fetch(["UID FETCH \(uids) (\(items.text))"], step: "UID FETCH") { event in
            switch event {
            case .begin(let start):
                current = []
                omitted = nil
                if let size = start.size, size > maxMessageBytes {
                    guard omittingLarger else {
                        throw MailTransportError.limitExceeded("message of \(size) bytes is larger than \(maxMessageBytes)")
                    }
                    omitted = size
                } else {
                    current.reserveCapacity(start.size ?? 0)
                }
            case .bytes(let bytes):
                if omitted == nil { current += bytes.readableBytesView }
            case .end(let attributes):
                if let uid = attributes.uid {
                    messages.append(IMAPFetchedMessage(uid: uid, attributes: attributes, bytes: current, omittedSize: omitted))
                }
                current = []
                omitted = nil
            }
        }
        return messages
    }

    enum FetchEvent {
        case begin(IMAPSectionStart)
        case bytes(ByteBuffer)
        case end(IMAPFetchedAttributes)
    }

    /// Runs FETCH commands, reporting sections of every FETCH response that has one. FETCH
    /// responses without content (unsolicited flag changes) are not reported. Up to `depth`
    /// commands are in flight at once, so the server never waits for the client between them.
    ///
    /// `handle` runs on the connection's executor (`nonisolated(nonsending)`): a plain async
    /// closure would leave the actor for the global pool and come back for every event, several
    /// thread wake-ups per message.
    private func fetch(_ commands: [String], step: String, depth: Int = 2,
                       handle: nonisolated(nonsending) (FetchEvent) async throws -> Void) async throws {
        try await endIdleIfNeeded()
        guard !closed else { throw MailTransportError.connectionClosed(step: step) }
        var inFlight: [String] = []
        var nextCommand = 0
        var failure: (any Error)?
        while nextCommand < commands.count, inFlight.count < max(1, depth) {
            let tag = nextTag()
            try await connection.sendLine("\(tag) \(commands[nextCommand])")
            inFlight.append(tag)
            nextCommand += 1
        }
        var attributes: IMAPFetchedAttributes?
        var hadSection = false
        var sections: [String] = []
        while !inFlight.isEmpty {
            let event = try await nextEvent(step: step, timeout: endpoint.commandTimeout)
            switch event {
            case .fetchStart(let seq):
                attributes = IMAPFetchedAttributes(sequence: seq)
                hadSection = false
                sections = []
            case .fetchAttribute(let a):
                attributes?.apply(a)
            case .sectionStart(let section, let size):
                hadSection = true
                sections.append(section)
                if failure == nil {
                    do {
                        try await handle(.begin(IMAPSectionStart(sequence: attributes?.sequence ?? 0, uid: attributes?.uid, section: section, size: size)))
                    } catch {
                        failure = error
                    }
                }
            case .sectionBytes(let bytes):
                if failure == nil {
                    do { try await handle(.bytes(bytes)) } catch { failure = error }
                }
            case .sectionEnd:
                break
            case .fetchEnd:
                if var a = attributes, hadSection, failure == nil {
                    a.sections = sections
                    do { try await handle(.end(a)) } catch { failure = error }
                }
                attributes = nil
            case .response(.tagged(let t, let status, let text)) where t == inFlight.first:
                inFlight.removeFirst()
                if failure == nil {
                    do { try check(status, text, step: step) } catch { failure = error }
                }
                // After a failure the remaining answers are drained, nothing new is sent.
                if failure == nil, nextCommand < commands.count {
                    let tag = nextTag()
                    try await connection.sendLine("\(tag) \(commands[nextCommand])")
                    inFlight.append(tag)
                    nextCommand += 1
                }
            case .response(.untagged(let u)):
                try handleUnsolicited(u)
            case .response(let other):
                throw MailTransportError.protocolError("unexpected \(other)", step: step)
            }
        }
        if let failure { throw failure }
    }

    public func noop() async throws {
        try await execute("NOOP", step: "NOOP")
    }

    /// LOGOUT and close. Never throws.
    public func logout() async {
        if !closed {
            _ = try? await execute("LOGOUT", step: "LOGOUT", timeout: .seconds(5))
        }
        await close()
    }

    public func close() async {
        closed = true
        await connection.close()
    }

    // MARK: IDLE

    /// IDLE (RFC 2177) as an async sequence. Iterating starts IDLE; the sequence re-issues it
    /// (DONE, then IDLE again) every `reissueAfter` (default 29 minutes, below the 30-minute
    /// server timeout). Breaking out leaves IDLE running until the next command, which sends
    /// DONE first, or ``endIdle()``. Ends (nil) after the server's BYE.
    public nonisolated func idle(reissueAfter: Duration = .seconds(29 * 60)) -> IMAPIdleEvents {
        IMAPIdleEvents(connection: self, reissueAfter: reissueAfter)
    }

    /// Ends IDLE if running (DONE and the tagged OK).
    public func endIdle() async throws {
        try await endIdleIfNeeded()
    }

    func nextIdleEvent(reissueAfter: Duration) async throws -> IMAPIdleEvent? {
        guard capabilities.contains(.idle) else {
            throw MailTransportError.unsupported("the server does not support IDLE", step: "IDLE")
        }
        while true {
            if !idleEvents.isEmpty { return idleEvents.removeFirst() }
            if closed { return nil }
            switch idle.nextAction(now: .now) {
            case .startIdle:
                let tag = nextTag()
                try await connection.sendLine("\(tag) IDLE")
                idle.idleSent(tag: tag, reissueAfter: reissueAfter, now: .now)
                // Wait for "+ idling" (events may come first).
                while idle.isWaitingForContinuation {
                    let event = try await nextEvent(step: "IDLE", timeout: endpoint.commandTimeout)
                    try handleIdle(event)
                }
            case .sendDone:
                try await endIdleIfNeeded()
            case .wait(let remaining):
                let event: IMAPResponseEvent
                do {
                    event = try await nextEvent(step: "IDLE", timeout: remaining)
                } catch let error as MailTransportError where error.kind == .timeout {
                    continue // time to re-issue
                }
                try handleIdle(event)
            }
        }
    }

    private func handleIdle(_ event: IMAPResponseEvent) throws {
        switch event {
        case .response(.continuation):
            idle.continuationReceived()
        case .response(.untagged(let u)):
            switch u {
            case .exists(let n): idleEvents.append(.exists(n))
            case .expunge(let n): idleEvents.append(.expunge(n))
            case .recent(let n): idleEvents.append(.recent(n))
            case .status(.bye, let text):
                closed = true
                idleEvents.append(.bye(text.text))
            default: idleEvents.append(.other(u))
            }
            try handleUnsolicited(u)
        case .response(.tagged(let tag, let status, let text)):
            // IDLE refused or ended by the server.
            idle.taggedReceived(tag: tag)
            if status != .ok { throw MailTransportError.serverReply(step: "IDLE", code: nil, enhanced: nil, text: "\(status.rawValue) \(text.text)") }
        case .fetchStart(let seq):
            pendingIdleFlags = IMAPFetchedAttributes(sequence: seq)
        case .fetchAttribute(let a):
            pendingIdleFlags?.apply(a)
        case .fetchEnd:
            if let p = pendingIdleFlags, let flags = p.flags { idleEvents.append(.flags(sequence: p.sequence, flags)) }
            pendingIdleFlags = nil
        case .sectionStart, .sectionBytes, .sectionEnd:
            break
        }
    }

    private var pendingIdleFlags: IMAPFetchedAttributes?

    func endIdleIfNeeded() async throws {
        guard let tag = idle.doneNeeded() else { return }
        try await connection.sendLine("DONE")
        while idle.isActive {
            let event = try await nextEvent(step: "IDLE DONE", timeout: endpoint.commandTimeout)
            if case .response(.tagged(let t, _, _)) = event, t != tag {
                throw MailTransportError.protocolError("unexpected tag \(t) ending IDLE")
            }
            try handleIdle(event)
        }
    }

    // MARK: plumbing

    func nextTag() -> String {
        tagCounter += 1
        return "M\(tagCounter)"
    }

    /// Sends a command and waits for its tagged answer; untagged answers go to `untagged`.
    @discardableResult
    func execute(_ command: String, step: String, timeout: Duration? = nil, untagged: (IMAPUntagged) throws -> Void = { _ in }) async throws -> IMAPResponseText {
        try await endIdleIfNeeded()
        guard !closed else { throw MailTransportError.connectionClosed(step: step) }
        let tag = nextTag()
        try await connection.sendLine("\(tag) \(command)")
        while true {
            let event = try await nextEvent(step: step, timeout: timeout ?? endpoint.commandTimeout)
            switch event {
            case .response(.tagged(let t, let status, let text)) where t == tag:
                if case .capability(let caps)? = text.code { capabilities = Set(caps) }
                try check(status, text, step: step)
                return text
            case .response(.untagged(let u)):
                try untagged(u)
                try handleUnsolicited(u)
            case .response(.continuation):
                throw MailTransportError.protocolError("unexpected continuation request", step: step)
            case .response(.tagged(let t, _, _)):
                throw MailTransportError.protocolError("answer for unknown tag \(t)", step: step)
            default:
                try await skipFetch(event)
            }
        }
    }

    /// Unsolicited FETCH responses (flag changes) during other commands are read and dropped.
    func skipFetch(_ event: IMAPResponseEvent) async throws {
        _ = event
    }

    func check(_ status: IMAPStatus, _ text: IMAPResponseText, step: String) throws {
        switch status {
        case .ok: return
        case .no:
            throw MailTransportError.serverReply(step: step, code: nil, enhanced: nil, text: "NO \(text.text)")
        case .bad:
            throw MailTransportError.protocolError("server answered BAD: \(text.text)", step: step)
        default:
            throw MailTransportError.protocolError("unexpected \(status.rawValue)", step: step)
        }
    }

    func handleUnsolicited(_ untagged: IMAPUntagged) throws {
        switch untagged {
        case .status(.bye, _):
            closed = true
        case .capability(let caps):
            capabilities = Set(caps)
        case .status(_, let text):
            if case .capability(let caps)? = text.code { capabilities = Set(caps) }
        case .exists(let n):
            selected?.exists = Int(n)
        case .expunge:
            if let s = selected, s.exists > 0 { selected?.exists = s.exists - 1 }
        default:
            break
        }
    }

    func nextEvent(step: String, timeout: Duration) async throws -> IMAPResponseEvent {
        while true {
            if let event = try decoder.next() {
                if case .response(let r) = event { logger.trace("S: \(r)") }
                return event
            }
            guard let bytes = try await connection.receive(timeout: timeout, step: step) else {
                closed = true
                throw MailTransportError.connectionClosed(step: step)
            }
            decoder.append(bytes)
        }
    }
}
