import NIOCore
import NIOPosix

/// A tiny misbehaving server on 127.0.0.1 for tests: it sends a greeting, answers each line with
/// the script's reply, and may close or fall silent.
public final class ScriptedServer: Sendable {
    public struct Reply: Sendable {
        public var bytes: [UInt8]
        public var close: Bool
        public init(_ text: String, close: Bool = false) {
            self.bytes = Array(text.utf8)
            self.close = close
        }
        public init(bytes: [UInt8], close: Bool = false) {
            self.bytes = bytes
            self.close = close
        }
        /// Say nothing.
        public static let silence = Reply("")
    }

    public let port: Int
    private let channel: any Channel

    /// `greeting` nil: never say anything (a server that hangs).
    public init(greeting: Reply?, script: @escaping @Sendable (String) -> Reply = { _ in .silence }) async throws {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptHandler(greeting: greeting, script: script))
                }
            }
        channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress!.port!
    }

    public func stop() async {
        try? await channel.close().get()
    }
}

final class ScriptHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let greeting: ScriptedServer.Reply?
    let script: @Sendable (String) -> ScriptedServer.Reply
    var pending: [UInt8] = []

    init(greeting: ScriptedServer.Reply?, script: @escaping @Sendable (String) -> ScriptedServer.Reply) {
        self.greeting = greeting
        self.script = script
    }

    func channelActive(context: ChannelHandlerContext) {
        if let greeting { send(greeting, context: context) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending += buffer.readBytes(length: buffer.readableBytes) ?? []
        while let lf = pending.firstIndex(of: 10) {
            var line = Array(pending[..<lf])
            pending.removeFirst(lf + 1)
            if line.last == 13 { line.removeLast() }
            send(script(String(decoding: line, as: UTF8.self)), context: context)
        }
    }

    private func send(_ reply: ScriptedServer.Reply, context: ChannelHandlerContext) {
        if !reply.bytes.isEmpty {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply.bytes)), promise: nil)
        }
        if reply.close { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
