import ClientTestSupport
@testable import MailTransport
import Foundation
import NIOCore
import Testing

@Suite struct RedactionTests {
    @Test(arguments: [
        ("a1 LOGIN alice s3cret", "a1 LOGIN <redacted>"),
        ("a1 login \"alice\" {6+}", "a1 LOGIN <redacted>"),
        ("a2 AUTHENTICATE PLAIN AGFsaWNlAHMzY3JldA==", "a2 AUTHENTICATE PLAIN <redacted>"),
        ("a2 AUTHENTICATE XOAUTH2", "a2 AUTHENTICATE XOAUTH2"),
        ("PASS s3cret", "PASS <redacted>"),
        ("pass s3cret", "PASS <redacted>"),
        ("AUTH PLAIN AGFsaWNlAHMzY3JldA==", "AUTH PLAIN <redacted>"),
        ("AUTH LOGIN", "AUTH LOGIN"),
        ("APOP alice 0123456789abcdef", "APOP alice <redacted>"),
        ("USER alice", "USER alice"),
        ("a3 SELECT INBOX", "a3 SELECT INBOX"),
        ("MAIL FROM:<a@b>", "MAIL FROM:<a@b>"),
    ])
    func redaction(line: String, expected: String) {
        #expect(LogRedaction.redactCommand(line) == expected)
        #expect(!LogRedaction.redactCommand(line).contains("s3cret"))
    }

    @Test func credentialsNeverShowTheSecret() {
        let password = MailCredentials.password("alice", "s3cret")
        let token = MailCredentials.oauth2("alice", accessToken: "ya29.s3cret")
        for text in [password.description, password.debugDescription, "\(password)", String(reflecting: token), "\(token)"] {
            #expect(!text.contains("s3cret"))
            #expect(text.contains("alice"))
        }
    }
}

@Suite struct SASLTests {
    @Test func plain() {
        #expect(SASL.plain(username: "alice", password: "s3cret") == "AGFsaWNlAHMzY3JldA==")
    }

    @Test func xoauth2() {
        let decoded = Base64.decode(SASL.xoauth2(username: "a@b.c", accessToken: "tok")).map { String(decoding: $0, as: UTF8.self) }
        #expect(decoded == "user=a@b.c\u{1}auth=Bearer tok\u{1}\u{1}")
    }

    @Test func oauthBearerEscapesTheUser() {
        let decoded = Base64.decode(SASL.oauthBearer(username: "a,b=c", accessToken: "tok", host: "h", port: 993)).map { String(decoding: $0, as: UTF8.self) }
        #expect(decoded == "n,a=a=2Cb=3Dc,\u{1}host=h\u{1}port=993\u{1}auth=Bearer tok\u{1}\u{1}")
    }

    @Test(arguments: ["", "f", "fo", "foo", "foob", "fooba", "foobar", "\u{0}\u{ff}é"])
    func base64RoundTrip(text: String) {
        #expect(Base64.decode(Base64.encode(Array(text.utf8))) == Array(text.utf8))
    }

    @Test func base64Known() {
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fooba".utf8)) == "Zm9vYmE=")
        #expect(Base64.decode("not base64!") == nil)
    }
}

@Suite struct EnhancedStatusCodeTests {
    @Test(arguments: [
        ("5.1.1 User unknown", "5.1.1", "User unknown"),
        ("4.7.0 Try again", "4.7.0", "Try again"),
        ("2.0.0", "2.0.0", ""),
        ("5.7.139 Authentication unsuccessful", "5.7.139", "Authentication unsuccessful"),
    ])
    func parses(text: String, code: String, rest: String) throws {
        let (status, remainder) = try #require(EnhancedStatusCode.parse(prefixOf: Substring(text)))
        #expect(status.description == code)
        #expect(remainder == Substring(rest))
    }

    @Test(arguments: ["6.6.0 nope", "5.1 x", "5.1.1x", "hello", "5..1 x", "51.1.1 x"])
    func rejects(text: String) {
        #expect(EnhancedStatusCode.parse(prefixOf: Substring(text)) == nil)
    }
}

@Suite struct LineReaderTests {
    @Test(arguments: Chunking.allCases)
    func splitsLines(chunking: Chunking) throws {
        var reader = LineReader(maxLineLength: 100)
        var lines: [String] = []
        for chunk in chunking.split(Array("one\r\ntwo\nthree\r\n\r\npartial".utf8)) {
            reader.append(ByteBuffer(bytes: chunk))
            while let line = try reader.nextLine() { lines.append(String(buffer: line)) }
        }
        #expect(lines == ["one", "two", "three", ""])
        #expect(reader.bufferedByteCount == "partial".utf8.count)
    }
}

@Suite struct ConnectErrorTests {
    @Test func unknownHost() async {
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await MailConnection.connect(to: MailEndpoint(host: "no-such-host.invalid", port: 993, security: .tls))
        }
        #expect(error?.kind == .unknownHost)
        #expect(error?.step == "resolve")
    }

    @Test func tlsHandshakeTimesOutAgainstASilentServer() async throws {
        let server = try await ScriptedServer(greeting: nil)
        defer { Task { await server.stop() } }
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await MailConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .tls, connectionTimeout: .milliseconds(300)))
        }
        #expect(error?.kind == .timeout)
        #expect(error?.step == "TLS handshake")
    }

    @Test func tlsAgainstAPlainServerIsATLSError() async throws {
        let server = try await ScriptedServer(greeting: .init("* OK plain IMAP here\r\n", close: false))
        defer { Task { await server.stop() } }
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await MailConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .tls, connectionTimeout: .seconds(2)))
        }
        #expect(error?.kind == .tls)
        #expect(error?.tlsReason == .plainPort, "\(String(describing: error))")
        #expect(error.map { ErrorWords.isRaw($0.message) } == false)
    }
}

/// Issue 27: library error text never reaches a page; these are the words instead.
@Suite struct ErrorWordsTests {
    struct PSQLError: Error, CustomStringConvertible { var description: String { "PSQLError(code: connectionClosed)" } }
    struct Mystery: Error {}

    @Test func boringSSLCodesBecomeAdvice() {
        let plain = ErrorWords.tlsReason(libraryText: "handshakeFailed(NIOSSL.BoringSSLError.sslError([Error: 268435703 error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER]))")
        #expect(plain == .plainPort)
        let old = ErrorWords.tlsReason(libraryText: "sslError([error:1000042e:SSL routines:OPENSSL_internal:TLSV1_ALERT_PROTOCOL_VERSION])")
        #expect(old.message.contains("share no TLS version"))
        #expect(!ErrorWords.isRaw(old.message))
    }

    @Test func plainGreetingsAreRecognised() {
        for greeting in ["* OK Dovecot ready.", "+OK POP3 ready", "220 mail.example.com ESMTP", "* PREAUTH hi"] {
            #expect(MailConnection.isPlainGreeting(Array(greeting.utf8)), "\(greeting)")
        }
        #expect(!MailConnection.isPlainGreeting([0x16, 0x03, 0x03, 0x00, 0x40]))
    }

    /// A server that resets the connection on the ClientHello, before its greeting is read.
    @Test func aPlainServerThatResetsOnTheClientHelloIsStillAPlainPort() async throws {
        let server = try await ScriptedServer(greeting: .init("* OK plain IMAP here\r\n", close: false)) { _ in .init("", close: true) }
        defer { Task { await server.stop() } }
        let error = await #expect(throws: MailTransportError.self) {
            _ = try await MailConnection.connect(to: MailEndpoint(host: "127.0.0.1", port: server.port, security: .tls, connectionTimeout: .seconds(2)))
        }
        #expect(error?.kind == .tls)
    }

    @Test func theProtocolsTLSPortIsNamed() {
        #expect(TLSFailureReason.plainPortMessage(protocolName: "imap") == "this port does not speak TLS: try STARTTLS or none, or port 993")
        #expect(TLSFailureReason.plainPortMessage(protocolName: "pop3").hasSuffix("port 995"))
        #expect(TLSFailureReason.plainPortMessage(protocolName: "smtp").hasSuffix("port 465"))
    }

    @Test func libraryErrorsInWords() {
        #expect(ErrorWords.describe(IOError(errnoCode: ECONNRESET, reason: "read")) == "the connection failed: the server reset the connection")
        #expect(ErrorWords.describe(ChannelError.ioOnClosedChannel) == "the connection was closed")
        #expect(ErrorWords.describe(PSQLError()).hasPrefix("the database did not answer"))
        let foundation = ErrorWords.describe(NSError(domain: "x", code: 1))
        #expect(!foundation.contains("The operation could not be completed"))
        for text in [ErrorWords.describe(Mystery()), ErrorWords.describe(PSQLError()), foundation] {
            #expect(!ErrorWords.isRaw(text), "\(text)")
        }
        #expect(ErrorWords.isRaw("The operation could not be completed. (x error 1.)"))
        #expect(ErrorWords.isRaw("PSQLError(code: server)"))
        struct OwnWords: Error, CustomStringConvertible { var description: String { "the token endpoint refused the refresh token" } }
        #expect(ErrorWords.describe(OwnWords()) == "the token endpoint refused the refresh token")
    }
}

@Suite struct TLSClassificationTests {
    @Test func reasons() {
        let now: time_t = 1_800_000_000
        let valid = (verified: true, notValidBefore: now - 100, notValidAfter: now + 100)
        #expect(MailConnection.classify([(false, now - 100, now + 100)], now: now) == .selfSigned)
        #expect(MailConnection.classify([valid, (false, now - 100, now - 1)], now: now) == .expired)
        #expect(MailConnection.classify([(false, now + 10, now + 100)], now: now) == .notYetValid)
        #expect(MailConnection.classify([valid, valid, (false, now - 100, now + 100)], now: now) == .wrongHost)
        #expect(MailConnection.classify([(false, now - 100, now + 100), (false, now - 100, now + 100)], now: now) == .untrustedIssuer)
    }
}

/// A connection check's steps carry words for people beside the identifiers programs match on.
@Suite struct ConnectionCheckLabelTests {
    @Test func stepsKeepTheirIdentifierAndAddWords() throws {
        let step = ConnectionCheckStep(name: "authenticate", outcome: .failed, durationMilliseconds: 12, message: "rejected")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(step)) as? [String: Any])
        #expect(json["name"] as? String == "authenticate")
        #expect(json["label"] as? String == "Sign in")
        #expect(ConnectionCheckStep.label(for: "openFolder") == "Open the folder")
        #expect(ConnectionCheckStep.label(for: "connect") == "Connect")
        // A step without words of its own shows its identifier rather than nothing.
        #expect(ConnectionCheckStep.label(for: "somethingNew") == "somethingNew")
        // A report read back from JSON written before labels existed still decodes.
        let old = #"{"name":"connect","outcome":"ok","durationMilliseconds":3}"#
        #expect(try JSONDecoder().decode(ConnectionCheckStep.self, from: Data(old.utf8)).name == "connect")
    }
}
