import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// One TCP (optionally TLS) connection to a mail server, with pull-style reads.
///
/// The channel handler only buffers inbound bytes and holds back reads while the consumer lags
/// (bounded memory); protocol logic lives in the clients. All methods may be called from any task,
/// but one reader at a time.
public final class MailConnection: Sendable {
    public let endpoint: MailEndpoint
    public let channel: any Channel
    private let handler: NIOLoopBound<InboundBufferHandler>
    public let logger: Logger

    private init(endpoint: MailEndpoint, channel: any Channel, handler: NIOLoopBound<InboundBufferHandler>, logger: Logger) {
        self.endpoint = endpoint
        self.channel = channel
        self.handler = handler
        self.logger = logger
    }

    // MARK: connecting

    /// getaddrinfo blocks, so it runs on threads of its own: the shared NIO pool also serves
    /// SQLite (sqlite-nio), and a busy database must not delay connecting to a mail server.
    static let resolverPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    /// Resolves the host name (getaddrinfo on the resolver threads), bounded by the connection timeout.
    /// An IP address needs no lookup.
    public static func resolve(_ endpoint: MailEndpoint) async throws -> SocketAddress {
        let host = endpoint.host
        let port = endpoint.port
        if let literal = try? SocketAddress(ipAddress: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port) {
            return literal
        }
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let work = resolverPool.runIfActive(eventLoop: eventLoop) { () throws -> SocketAddress in
            do {
                return try SocketAddress.makeAddressResolvingHost(host, port: port)
            } catch {
                throw MailTransportError.unknownHost(host)
            }
        }
        return try await withTimeout(work, on: eventLoop, timeout: endpoint.connectionTimeout, step: "resolve \(host)").get()
    }

    /// Resolve, connect and, for `.tls`, complete the TLS handshake. `.starttls` connects in plain
    /// text; the protocol client calls ``startTLS()`` after its command.
    public static func connect(to endpoint: MailEndpoint, logger: Logger = Logger(label: "mailroom.transport")) async throws -> MailConnection {
        let address = try await resolve(endpoint)
        return try await connect(to: endpoint, address: address, implicitTLS: endpoint.security == .tls, logger: logger)
    }

    /// Connects to an already resolved address; with `implicitTLS` also completes the handshake
    /// (the TLS handler is in place before the first byte is read).
    public static func connect(
        to endpoint: MailEndpoint,
        address: SocketAddress,
        implicitTLS: Bool,
        logger: Logger = Logger(label: "mailroom.transport"),
        tcpConnected: (Duration) -> Void = { _ in }
    ) async throws -> MailConnection {
        let started = ContinuousClock.now
        var logger = logger
        logger[metadataKey: "mail.server"] = "\(endpoint.host):\(endpoint.port)"
        let tlsContext = implicitTLS ? try makeTLSContext(endpoint) : nil
        let hostname = serverHostname(endpoint)
        let slot = HandlerSlot()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(Int64(endpoint.connectionTimeout.nanoseconds)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let inbound = InboundBufferHandler()
                    slot.handler = NIOLoopBound(inbound, eventLoop: channel.eventLoop)
                    slot.handshake = nil
                    if let tlsContext {
                        let promise = channel.eventLoop.makePromise(of: Void.self)
                        inbound.handshakePromise = promise
                        slot.handshake = promise.futureResult
                        try channel.pipeline.syncOperations.addHandler(makeTLSHandler(context: tlsContext, serverHostname: hostname, recorder: inbound))
                    }
                    try channel.pipeline.syncOperations.addHandler(inbound, name: InboundBufferHandler.name)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(to: address).get()
        } catch {
            throw mapConnectError(error, endpoint: endpoint)
        }
        tcpConnected(ContinuousClock.now - started)
        guard let handler = slot.handler else { throw MailTransportError.connectionClosed(step: "connect") }
        let handshake = slot.handshake
        let connection = MailConnection(endpoint: endpoint, channel: channel, handler: handler, logger: logger)
        logger.debug("connected")
        if let handshake {
            do {
                try await connection.awaitHandshake(handshake)
            } catch let error as MailTransportError where error.tlsReason?.code == "handshake" {
                await connection.close()
                // A server on a plain port often resets the connection on the ClientHello before its
                // greeting is read: a second, plain connection tells whether the port greets in text.
                if await speaksPlainText(endpoint, address: address) { throw MailTransportError.tls(.plainPort) }
                throw error
            } catch {
                await connection.close()
                throw error
            }
        }
        return connection
    }

    /// After a failed implicit-TLS handshake: whether the port greets in plain text (IMAP, POP3, SMTP).
    static func speaksPlainText(_ endpoint: MailEndpoint, address: SocketAddress) async -> Bool {
        var probe = endpoint
        probe.security = .none
        probe.connectionTimeout = min(endpoint.connectionTimeout, .seconds(3))
        guard let plain = try? await connect(to: probe, address: address, implicitTLS: false) else { return false }
        let received = try? await plain.receive(timeout: probe.connectionTimeout, step: "greeting")
        await plain.close()
        guard let buffer = received ?? nil else { return false }
        return isPlainGreeting(Array(buffer.readableBytesView.prefix(16)))
    }

    /// "* OK", "* PREAUTH", "* BYE" (IMAP), "+OK", "-ERR" (POP3), "220", "421" (SMTP).
    static func isPlainGreeting(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        return ["* OK", "* PREAUTH", "* BYE", "+OK", "-ERR", "220", "421"].contains { text.hasPrefix($0) }
    }

    /// Plain connection, no TLS (for STARTTLS and for probes).
    public static func connect(to endpoint: MailEndpoint, address: SocketAddress, logger: Logger = Logger(label: "mailroom.transport")) async throws -> MailConnection {
        try await connect(to: endpoint, address: address, implicitTLS: false, logger: logger)
    }

    static func makeTLSContext(_ endpoint: MailEndpoint) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if endpoint.acceptAnyCertificate { configuration.certificateVerification = .none }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw MailTransportError.tls(.handshake("cannot set up TLS: \(ErrorWords.describe(error))"))
        }
    }

    static func serverHostname(_ endpoint: MailEndpoint) -> String? {
        // SNI and host name checks take a DNS name; for an IP address NIOSSL checks the peer address.
        (try? SocketAddress(ipAddress: endpoint.host, port: 0)) == nil ? endpoint.host : nil
    }

    private func awaitHandshake(_ handshake: EventLoopFuture<Void>) async throws {
        do {
            try await Self.withTimeout(handshake, on: channel.eventLoop, timeout: endpoint.connectionTimeout, step: "TLS handshake").get()
            logger.debug("TLS established")
        } catch let error as MailTransportError where error.kind != .connectionClosed {
            throw error
        } catch {
            throw await diagnoseTLSFailure(error)
        }
    }

    static func mapConnectError(_ error: any Error, endpoint: MailEndpoint) -> MailTransportError {
        if let e = error as? MailTransportError { return e }
        if let e = error as? ChannelError, case .connectTimeout = e {
            return .timeout(step: "connect", after: endpoint.connectionTimeout)
        }
        if let e = error as? IOError {
            switch e.errnoCode {
            case ECONNREFUSED: return .connectionRefused(endpoint.host, endpoint.port)
            case ETIMEDOUT: return .timeout(step: "connect", after: endpoint.connectionTimeout)
            default: return .connectionFailed(endpoint.host, endpoint.port, ErrorWords.describe(e))
            }
        }
        if let e = error as? NIOConnectionError {
            if e.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) {
                return .connectionRefused(endpoint.host, endpoint.port)
            }
            if e.dnsAAAAError != nil && e.dnsAError != nil { return .unknownHost(endpoint.host) }
        }
        return .connectionFailed(endpoint.host, endpoint.port, ErrorWords.describe(error))
    }

    // MARK: TLS

    /// Starts TLS on this connection after a successful STARTTLS/STLS reply and waits for the
    /// handshake. Bytes the server sent before the handshake and not yet read are an error
    /// (STARTTLS response injection).
    public func startTLS() async throws {
        let context = try Self.makeTLSContext(endpoint)
        let hostname = Self.serverHostname(endpoint)
        let handler = self.handler
        let channel = self.channel
        let handshake: EventLoopFuture<Void> = channel.eventLoop.flatSubmit {
            let h = handler.value
            if h.bufferedByteCount > 0 {
                return channel.eventLoop.makeFailedFuture(MailTransportError.protocolError("the server sent data before the TLS handshake"))
            }
            do {
                let ssl = try makeTLSHandler(context: context, serverHostname: hostname, recorder: h)
                let promise = channel.eventLoop.makePromise(of: Void.self)
                h.handshakePromise = promise
                try channel.pipeline.syncOperations.addHandler(ssl, position: .before(h))
                return promise.futureResult
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
        try await awaitHandshake(handshake)
    }

    /// Turns a handshake error into a reason a user can act on, from what the verification
    /// callback saw (each certificate with BoringSSL's verdict).
    private func diagnoseTLSFailure(_ error: any Error) async -> MailTransportError {
        if let transport = error as? MailTransportError, transport.kind == .connectionClosed {
            return .tls(.handshake("the server closed the connection during the handshake"))
        }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return .tls(.wrongHost)
        }
        let text = "\(error)"
        guard text.contains("CERTIFICATE_VERIFY_FAILED") else {
            if case NIOSSLError.uncleanShutdown? = error as? NIOSSLError {
                return .tls(.handshake("the server closed the connection during the handshake"))
            }
            return .tls(ErrorWords.tlsReason(libraryText: text))
        }
        let handler = self.handler
        let records = (try? await channel.eventLoop.submit { handler.value.verification }.get()) ?? []
        return .tls(Self.classify(records, now: time(nil)))
    }

    /// `records` come root first, leaf last (BoringSSL's callback order).
    static func classify(_ records: [(verified: Bool, notValidBefore: time_t, notValidAfter: time_t)], now: time_t) -> TLSFailureReason {
        guard let leaf = records.last else { return .handshake("certificate verification failed") }
        if records.contains(where: { !$0.verified && $0.notValidAfter < now }) { return .expired }
        if records.contains(where: { !$0.verified && $0.notValidBefore > now }) { return .notYetValid }
        if records.count == 1 { return leaf.verified ? .wrongHost : .selfSigned }
        if records.dropLast().allSatisfy(\.verified) && !leaf.verified { return .wrongHost }
        return .untrustedIssuer
    }

    public var isTLS: Bool {
        get async {
            (try? await channel.pipeline.handler(type: NIOSSLClientHandler.self).map { _ in true }.get()) ?? false
        }
    }

    // MARK: reading and writing

    /// The next bytes from the server, or nil when the server closed the connection.
    /// Fails with `.timeout(step:)` when nothing arrives within `timeout`.
    public func receive(timeout: Duration, step: String, isolation: isolated (any Actor)? = #isolation) async throws -> ByteBuffer? {
        let handler = self.handler
        let eventLoop = channel.eventLoop
        // Bytes already here are taken at once, without a promise and a task switch.
        if eventLoop.inEventLoop, let buffer = handler.value.takeBuffered() { return buffer }
        let future = eventLoop.inEventLoop
            ? handler.value.nextBuffer(timeout: timeout, step: step)
            : eventLoop.flatSubmit { handler.value.nextBuffer(timeout: timeout, step: step) }
        return try await withTaskCancellationHandler(operation: {
            try await future.valueOnCallerExecutor(isolation: isolation)
        }, onCancel: {
            eventLoop.execute { handler.value.cancelPendingRead() }
        }, isolation: isolation)
    }

    /// Writes and flushes.
    public func send(_ buffer: ByteBuffer, isolation: isolated (any Actor)? = #isolation) async throws {
        do {
            try await channel.writeAndFlush(buffer).valueOnCallerExecutor(isolation: isolation)
        } catch {
            throw Self.mapIOError(error)
        }
    }

    /// Writes and flushes without waiting for the write to complete, for a write that a read
    /// follows: a failed write closes the channel, so that read fails instead. Saves a task switch
    /// per write when called on the channel's event loop (a client actor running there).
    public func sendWithoutWaiting(_ buffer: ByteBuffer) {
        if channel.eventLoop.inEventLoop {
            channel.writeAndFlush(buffer, promise: nil)
        } else {
            let channel = self.channel
            channel.eventLoop.execute { channel.writeAndFlush(buffer, promise: nil) }
        }
    }

    /// Writes a command line (CRLF appended); `logAs` is what the trace log shows.
    public func sendLine(_ line: String, logAs: String? = nil, isolation: isolated (any Actor)? = #isolation) async throws {
        logger.trace("C: \(logAs ?? LogRedaction.redactCommand(line))")
        var buffer = channel.allocator.buffer(capacity: line.utf8.count + 2)
        buffer.writeString(line)
        buffer.writeStaticString("\r\n")
        try await send(buffer, isolation: isolation)
    }

    /// Every error that reaches a client is a ``MailTransportError``.
    static func mapIOError(_ error: any Error) -> any Error {
        switch error {
        case is MailTransportError, is CancellationError:
            return error
        case let e as ChannelError where e == .ioOnClosedChannel || e == .alreadyClosed || e == .eof:
            return MailTransportError.connectionClosed(step: nil)
        case let e as IOError:
            return MailTransportError(kind: .connectionClosed, message: "the connection was lost: \(ErrorWords.describe(e))")
        case let e as NIOSSLError:
            if case .uncleanShutdown = e { return MailTransportError.connectionClosed(step: nil) }
            let reason = ErrorWords.tlsReason(libraryText: "\(e)")
            return MailTransportError(kind: .tls, message: reason.message, tlsReason: reason)
        default:
            return MailTransportError(kind: .connectionClosed, message: ErrorWords.describe(error))
        }
    }

    /// Closes the connection (no protocol goodbye; the clients send LOGOUT/QUIT first).
    public func close() async {
        try? await channel.close().get()
    }

    // MARK: timeouts

    /// Completes with `future`, or fails with a timeout naming `step`, whichever comes first.
    public static func withTimeout<T: Sendable>(_ future: EventLoopFuture<T>, on eventLoop: any EventLoop, timeout: Duration, step: String) -> EventLoopFuture<T> {
        guard eventLoop.inEventLoop else {
            return eventLoop.flatSubmit { withTimeout(future, on: eventLoop, timeout: timeout, step: step) }
        }
        let promise = eventLoop.makePromise(of: T.self)
        let done = NIOLoopBoundBox(false, eventLoop: eventLoop)
        let task = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.nanoseconds))) {
            if !done.value {
                done.value = true
                promise.fail(MailTransportError.timeout(step: step, after: timeout))
            }
        }
        future.hop(to: eventLoop).whenComplete { result in
            task.cancel()
            if !done.value {
                done.value = true
                promise.completeWith(result)
            }
        }
        return promise.futureResult
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    public var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

/// Buffers inbound bytes for one pull-style reader; holds back `read` while more than
/// `highWaterMark` bytes wait, so a slow consumer never makes memory grow without bound.
final class InboundBufferHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    static let name = "mailroom.inbound"

    private var queue = CircularBuffer<ByteBuffer>()
    private(set) var bufferedByteCount = 0
    private var pending: EventLoopPromise<ByteBuffer?>?
    private var pendingTimeout: Scheduled<Void>?
    private var failure: (any Error)?
    private var closed = false
    private var heldRead = false
    private var context: ChannelHandlerContext?
    var handshakePromise: EventLoopPromise<Void>?
    /// What certificate verification saw, for error messages.
    var verification: [(verified: Bool, notValidBefore: time_t, notValidAfter: time_t)] = []
    let highWaterMark = 1 << 20

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard buffer.readableBytes > 0 else { return }
        if let pending {
            self.pending = nil
            pendingTimeout?.cancel()
            pendingTimeout = nil
            pending.succeed(buffer)
        } else {
            queue.append(buffer)
            bufferedByteCount += buffer.readableBytes
        }
    }

    func read(context: ChannelHandlerContext) {
        if bufferedByteCount >= highWaterMark {
            heldRead = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            handshakePromise?.succeed(())
            handshakePromise = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        handshakePromise?.fail(MailTransportError.connectionClosed(step: "TLS handshake"))
        handshakePromise = nil
        if let pending {
            self.pending = nil
            pendingTimeout?.cancel()
            pending.succeed(nil)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failure == nil { failure = error }
        if let handshakePromise {
            self.handshakePromise = nil
            handshakePromise.fail(error)
        }
        if let pending {
            self.pending = nil
            pendingTimeout?.cancel()
            pending.fail(MailConnection.mapIOError(error))
        }
        context.close(promise: nil)
    }

    /// The oldest buffered bytes, if any.
    func takeBuffered() -> ByteBuffer? {
        guard let buffer = queue.popFirst() else { return nil }
        bufferedByteCount -= buffer.readableBytes
        if heldRead, bufferedByteCount < highWaterMark / 2, let context {
            heldRead = false
            context.read()
        }
        return buffer
    }

    func nextBuffer(timeout: Duration, step: String) -> EventLoopFuture<ByteBuffer?> {
        let eventLoop = context?.eventLoop
        if let buffer = takeBuffered() {
            return (eventLoop ?? EmbeddedEventLoopStandIn.loop).makeSucceededFuture(buffer)
        }
        guard let eventLoop, let context else {
            return EmbeddedEventLoopStandIn.loop.makeSucceededFuture(nil)
        }
        if let failure { return eventLoop.makeFailedFuture(MailConnection.mapIOError(failure)) }
        if closed { return eventLoop.makeSucceededFuture(nil) }
        if pending != nil {
            // Two tasks reading one connection: refuse instead of mixing their answers.
            return eventLoop.makeFailedFuture(MailTransportError.protocolError("the connection is already being read by another task; use one connection per task", step: step))
        }
        let promise = eventLoop.makePromise(of: ByteBuffer?.self)
        pending = promise
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        pendingTimeout = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.nanoseconds))) {
            let this = bound.value
            guard let pending = this.pending, pending.futureResult === promise.futureResult else { return }
            this.pending = nil
            this.pendingTimeout = nil
            pending.fail(MailTransportError.timeout(step: step, after: timeout))
        }
        if heldRead {
            heldRead = false
            context.read()
        }
        return promise.futureResult
    }

    func cancelPendingRead() {
        if let pending {
            self.pending = nil
            pendingTimeout?.cancel()
            pendingTimeout = nil
            pending.fail(CancellationError())
        }
    }
}

/// Only reached when the handler was removed from its pipeline (connection torn down).
enum EmbeddedEventLoopStandIn {
    static var loop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
}

/// Builds the TLS handler with a callback that only records BoringSSL's verdict per certificate
/// (it never changes it), so a failure can say "expired" or "self-signed".
protocol TLSHandlerMaking {
    static func make(context: NIOSSLContext, serverHostname: String?, recorder: InboundBufferHandler) throws -> NIOSSLClientHandler
}

enum TLSHandlers: TLSHandlerMaking {
    @available(*, deprecated, message: "uses the per-certificate verification callback to explain failures")
    static func make(context: NIOSSLContext, serverHostname: String?, recorder: InboundBufferHandler) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverHostname) { result, certificate in
            recorder.verification.append((result == .certificateVerified, certificate.notValidBefore, certificate.notValidAfter))
            return result
        }
    }
}

/// Written once by the channel initializer on the event loop, read after the connect future
/// completed (which orders the accesses).
private final class HandlerSlot: @unchecked Sendable {
    var handler: NIOLoopBound<InboundBufferHandler>?
    var handshake: EventLoopFuture<Void>?
}

func makeTLSHandler(context: NIOSSLContext, serverHostname: String?, recorder: InboundBufferHandler) throws -> NIOSSLClientHandler {
    try makeTLSHandler(TLSHandlers.self, context: context, serverHostname: serverHostname, recorder: recorder)
}

private func makeTLSHandler<Maker: TLSHandlerMaking>(_: Maker.Type, context: NIOSSLContext, serverHostname: String?, recorder: InboundBufferHandler) throws -> NIOSSLClientHandler {
    try Maker.make(context: context, serverHostname: serverHostname, recorder: recorder)
}

extension EventLoopFuture where Value: Sendable {
    /// Like `get()`, but resumes on the caller's executor. The clients' actors run on the
    /// channel's event loop, so awaiting I/O there involves no thread switch.
    func valueOnCallerExecutor(isolation: isolated (any Actor)? = #isolation) async throws -> Value {
        try await withCheckedThrowingContinuation(isolation: isolation) { (continuation: CheckedContinuation<Value, any Error>) in
            self.whenComplete { result in continuation.resume(with: result) }
        }
    }
}

/// Runs Swift tasks on one NIO event loop. Use with `withTaskExecutorPreference` around a loop
/// that drives one connection (an outbox sender, a fetcher): continuations resumed by the event
/// loop then continue there instead of waking a thread of the global pool, which on a busy
/// machine is most of a command's latency.
public final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

extension MailConnection {
    /// A task executor on this connection's event loop (see ``EventLoopTaskExecutor``).
    public var taskExecutor: EventLoopTaskExecutor { EventLoopTaskExecutor(channel.eventLoop) }
}
