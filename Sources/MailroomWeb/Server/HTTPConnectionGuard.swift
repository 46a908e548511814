import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// What one HTTP connection may cost the server before it is cut off. The request handlers enforce
/// each endpoint's body limit themselves; these are the limits they cannot see: time spent waiting
/// for a header or a body that trickles in, and the bytes a refused body may still push at us.
public struct HTTPConnectionLimits: Sendable {
    /// The largest body any endpoint takes (the outbox's attachment upload); a declared
    /// `Content-Length` above it is refused with 413 before any handler runs.
    public var maxBodyBytes: Int
    /// From the connection's start, or the end of the previous answer, until the request head is complete.
    public var headerTimeout: TimeAmount
    /// From the request head until its body is complete.
    public var bodyTimeout: TimeAmount
    /// After a 413 the rest of the body is read and dropped for at most this long, so that the client,
    /// which is usually still sending, sees the answer instead of a reset; then the connection closes.
    public var lingerTimeout: TimeAmount

    public init(maxBodyBytes: Int = HTTPConnectionLimits.largestEndpointBody, headerTimeout: TimeAmount = .seconds(30),
                bodyTimeout: TimeAmount = .seconds(120), lingerTimeout: TimeAmount = .seconds(5)) {
        self.maxBodyBytes = maxBodyBytes
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.lingerTimeout = lingerTimeout
    }

    /// The outbox's attachment upload (25 MiB) with room for its multipart framing.
    public static let largestEndpointBody = (25 << 20) + (64 << 10)

    /// Hummingbird's HTTP/1.1 server with this guard in every connection's pipeline.
    public var server: HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [HTTPConnectionGuard(limits: self)]))
    }
}

/// Sits between the HTTP codec and Hummingbird's request loop. It closes a connection whose request
/// head or body does not arrive in time (slow-loris clients), refuses an announced body over the
/// server-wide limit with 413 itself, and closes the connection after any 413: Hummingbird would
/// otherwise either read the whole refused body or, when the client sent `Connection: close`, wait
/// for the client to close while the client waits for the server (issue 25).
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: HTTPConnectionLimits
    /// Requests whose answer has not ended yet (more than one only when a client pipelines).
    private var pendingAnswers = 0
    private var readingBody = false
    /// A 413 went out: everything read is dropped until the body ends or the linger time passes.
    private var discarding = false
    private var closeAfterAnswer = false
    private var timer: Scheduled<Void>?

    init(limits: HTTPConnectionLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(limits.headerTimeout, context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(limits.headerTimeout, context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if discarding {
            if case .end = part { context.close(promise: nil) }
            return
        }
        switch part {
        case .head(let head):
            if let length = head.headerFields[.contentLength].flatMap(Int.init), length > limits.maxBodyBytes {
                refuseTooLarge(context: context)
                return
            }
            pendingAnswers += 1
            readingBody = true
            arm(limits.bodyTimeout, context: context)
        case .body:
            break
        case .end:
            readingBody = false
            // While the handler answers there is no time limit: event streams last for hours.
            if pendingAnswers == 0 { arm(limits.headerTimeout, context: context) } else { disarm() }
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Dropped parts reach no consumer that would ask for more, so ask here.
        if discarding { context.read() }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status == .contentTooLarge:
            closeAfterAnswer = true
            head.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            if closeAfterAnswer {
                let written = context.eventLoop.makePromise(of: Void.self)
                written.futureResult.cascade(to: promise)
                context.writeAndFlush(data, promise: written)
                // A body already read in full leaves nothing to wait for.
                if readingBody { startDiscarding(after: written.futureResult, context: context) } else {
                    written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                }
            } else {
                context.write(data, promise: promise)
                pendingAnswers = max(0, pendingAnswers - 1)
                if pendingAnswers == 0 && !readingBody { arm(limits.headerTimeout, context: context) }
            }
        default:
            context.write(data, promise: promise)
        }
    }

    /// Answers 413 without involving the handlers: the announced body is over every endpoint's limit.
    private func refuseTooLarge(context: ChannelHandlerContext) {
        let body = #"{"error":{"code":"too_large","message":"the request body is larger than this server accepts"}}"#
        let head = HTTPResponse(status: .contentTooLarge, headerFields: [
            .contentType: "application/json; charset=utf-8", .contentLength: "\(body.utf8.count)", .connection: "close",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(string: body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        startDiscarding(after: written.futureResult, context: context)
    }

    private func startDiscarding(after answer: EventLoopFuture<Void>, context: ChannelHandlerContext) {
        discarding = true
        arm(limits.lingerTimeout, context: context)
        // Once the answer is out, a half-close tells the client it is complete even while it is still sending.
        answer.assumeIsolated().whenComplete { _ in context.close(mode: .output, promise: nil) }
        context.read()
    }

    private func arm(_ timeout: TimeAmount, context: ChannelHandlerContext) {
        disarm()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self else { return }
            self.timer = nil
            context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
