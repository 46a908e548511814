import ClientTestSupport
import IMAPClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import POP3Client
import SMTPClient
import Testing
@testable import MailTransport

/// Counts `read` calls that get past the handler under test.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

@Suite struct InboundBufferHandlerTests {
    @Test func holdsReadsWhileTheConsumerLagsAndResumesWhenItCatchesUp() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        let handler = InboundBufferHandler()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(handler)
        channel.read()
        #expect(counter.reads == 1)
        // 1.5 MB waiting, nobody reading: further reads are held back.
        for _ in 0..<3 { try channel.writeInbound(ByteBuffer(repeating: 0x61, count: 512 * 1024)) }
        channel.read()
        #expect(counter.reads == 1)
        // The consumer catches up: below half the high-water mark the held read goes out.
        for _ in 0..<3 {
            let buffer = try handler.nextBuffer(timeout: .seconds(1), step: "test").wait()
            #expect(buffer?.readableBytes == 512 * 1024)
        }
        #expect(counter.reads == 2)
        _ = try channel.finish()
    }

    @Test func closedConnectionAnswersNilAfterTheBufferedBytes() throws {
        let channel = EmbeddedChannel()
        let handler = InboundBufferHandler()
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "last words"))
        _ = try channel.finish()
        #expect(try handler.nextBuffer(timeout: .seconds(1), step: "test").wait() == ByteBuffer(string: "last words"))
    }
}

/// Collects every log message at trace level.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    let lines = NIOLockedValueBox<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lines.withLockedValue { $0.append("\(event.message) \(event.metadata ?? [:])") }
    }
}

@Suite struct NoSecretsInLogsTests {
    static let secret = "Pa55-w0rd-xyz"

    @Test func imapLoginAndAuthenticate() async throws {
        for caps in ["IMAP4rev1 AUTH=PLAIN", "IMAP4rev1 AUTH=PLAIN SASL-IR", "IMAP4rev1"] {
            let server = try await ScriptedServer(greeting: .init("* OK [CAPABILITY \(caps)] hi\r\n")) { line in
                let tag = line.split(separator: " ").first.map(String.init) ?? ""
                if line.hasSuffix("AUTHENTICATE PLAIN") { return .init("+ \r\n") }
                if !line.contains(" ") { return .init("A1 NO [AUTHENTICATIONFAILED] nope\r\n") }
                return .init("\(tag) NO [AUTHENTICATIONFAILED] nope\r\n")
            }
            let handler = CapturingLogHandler()
            let logger = Logger(label: "test") { _ in handler }
            let error = await #expect(throws: MailTransportError.self) {
                _ = try await IMAPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .none, authTimeout: .seconds(2)),
                                                     credentials: .password("alice", Self.secret), logger: logger)
            }
            await server.stop()
            let text = handler.lines.withLockedValue { $0.joined(separator: "\n") }
            #expect(text.contains("C: "), "trace logging was captured")
            #expect(!text.contains(Self.secret))
            #expect(!text.contains(SASL.plain(username: "alice", password: Self.secret)))
            #expect(error.map { !"\($0)".contains(Self.secret) } ?? true)
        }
    }

    @Test func smtpAndPOP3() async throws {
        let smtpServer = try await ScriptedServer(greeting: .init("220 hi\r\n")) { line in
            if line.hasPrefix("EHLO") { return .init("250-hi\r\n250 AUTH LOGIN\r\n") }
            if line.hasPrefix("AUTH LOGIN") || line == Base64.encode(Array("alice".utf8)) { return .init("334 x\r\n") }
            return .init("535 5.7.8 no\r\n")
        }
        let popServer = try await ScriptedServer(greeting: .init("+OK hi\r\n")) { line in
            if line == "CAPA" { return .init("+OK\r\nUSER\r\n.\r\n") }
            if line.hasPrefix("USER") { return .init("+OK\r\n") }
            return .init("-ERR [AUTH] no\r\n")
        }
        let handler = CapturingLogHandler()
        let logger = Logger(label: "test") { _ in handler }
        await #expect(throws: MailTransportError.self) {
            _ = try await SMTPConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: smtpServer.port, security: .none), credentials: .password("alice", Self.secret), logger: logger)
        }
        await #expect(throws: MailTransportError.self) {
            _ = try await POP3Connection.connect(to: MailEndpoint(host: "127.0.0.1", port: popServer.port, security: .none), credentials: .password("alice", Self.secret), logger: logger)
        }
        await smtpServer.stop()
        await popServer.stop()
        let text = handler.lines.withLockedValue { $0.joined(separator: "\n") }
        #expect(text.contains("PASS <redacted>"))
        #expect(!text.contains(Self.secret))
        #expect(!text.contains(Base64.encode(Array(Self.secret.utf8))))
    }
}
