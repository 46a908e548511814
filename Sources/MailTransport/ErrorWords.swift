import Foundation
import NIOCore
import NIOSSL

/// Library errors (NIO, NIOSSL's BoringSSL codes, the database driver, Foundation's "The
/// operation could not be completed") in words a person can act on. Their own descriptions name
/// types and codes that mean nothing on a page; they stay in the log, these words go to the page.
public enum ErrorWords {
    /// What to say for an error that is not one of Mailroom's own.
    public static func describe(_ error: any Error) -> String {
        switch error {
        case let error as MailTransportError:
            return error.message
        case let error as IOError:
            return "the connection failed: \(systemMessage(error.errnoCode))"
        case let error as ChannelError:
            switch error {
            case .connectTimeout: return "the connection timed out"
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed, .inputClosed: return "the connection was closed"
            default: return "the connection failed"
            }
        case let error as NIOSSLError:
            if case .uncleanShutdown = error { return "the server closed the connection" }
            return tlsReason(libraryText: "\(error)").message
        case is DecodingError:
            return "stored data could not be read (the log has the details)"
        default:
            let typeName = String(reflecting: type(of: error))
            // Mailroom's own errors (an OAuth2 refusal) describe themselves in words: kept.
            if let text = (error as? any CustomStringConvertible)?.description, !text.isEmpty, !isRaw(text), !isLibrary(typeName) {
                return text
            }
            return describe(typeName: typeName, text: "\(error)")
        }
    }

    private static func isLibrary(_ typeName: String) -> Bool {
        ["PSQLError", "PostgresError", "SQLiteError", "NIOSSL", "BoringSSL", "NIOConnectionError", "NIOCore", "NIOPosix", "NSError"]
            .contains { typeName.contains($0) }
    }

    /// For errors of modules this one cannot import (the database driver), by their type's name.
    static func describe(typeName: String, text: String) -> String {
        if typeName.contains("PSQLError") || typeName.contains("PostgresError") || typeName.contains("SQLiteError") {
            return "the database did not answer as expected (the log has the details); try again in a moment"
        }
        if typeName.contains("NIOSSL") || typeName.contains("BoringSSL") { return tlsReason(libraryText: text).message }
        if typeName.contains("NIOConnectionError") { return "the server could not be reached" }
        return "an internal error stopped this (the log has the details)"
    }

    /// True when text would show a library's inner workings to a person.
    public static func isRaw(_ text: String) -> Bool {
        let markers = ["NIOSSL", "BoringSSL", "PSQLError", "The operation could not be completed", "Error Domain=", "NIOCore.", "IOError(",
                       "NIOConnectionError", "ChannelError", "errno:", "OPENSSL_internal", "SSL routines"]
        return markers.contains { text.contains($0) }
    }

    /// A TLS failure from BoringSSL's text ("…:WRONG_VERSION_NUMBER…"), in words.
    public static func tlsReason(libraryText text: String) -> TLSFailureReason {
        let plain = ["WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "UNEXPECTED_RECORD", "RECORD_TOO_LARGE",
                     "HTTP_REQUEST", "DECODE_ERROR", "BAD_PACKET_LENGTH"]
        if plain.contains(where: text.contains) { return .plainPort }
        if ["NO_SHARED_CIPHER", "HANDSHAKE_FAILURE", "UNSUPPORTED_PROTOCOL", "PROTOCOL_VERSION", "NO_CIPHERS_AVAILABLE"].contains(where: text.contains) {
            return .handshake("the server and Mailroom share no TLS version or cipher (the server may offer only outdated TLS)")
        }
        if text.contains("CERTIFICATE") { return .handshake("the server's certificate was not accepted") }
        return .handshake("the server's TLS could not be negotiated")
    }

    private static func systemMessage(_ code: Int32) -> String {
        switch code {
        case ECONNRESET: return "the server reset the connection"
        case ECONNREFUSED: return "the server refused the connection"
        case ETIMEDOUT: return "the connection timed out"
        case EHOSTUNREACH, ENETUNREACH: return "the server's network cannot be reached from here"
        case EPIPE: return "the server closed the connection"
        default: return String(cString: strerror(code)).lowercased()
        }
    }
}

extension TLSFailureReason {
    /// TLS was tried on a port that speaks plain text first (the IMAP, POP3 or SMTP greeting came back).
    public static let plainPort = TLSFailureReason(
        code: "plainPort", message: "this port does not speak TLS: try STARTTLS or none, or the protocol's TLS port")

    /// The implicit-TLS port of a protocol ("imap": 993), to name in the advice for `plainPort`.
    public static func implicitTLSPort(protocolName: String) -> Int? {
        switch protocolName.lowercased() {
        case "imap", "imaps": 993
        case "pop3", "pop3s": 995
        case "smtp", "smtps": 465
        default: nil
        }
    }

    /// The advice with the protocol's port named: "… or port 993".
    public static func plainPortMessage(protocolName: String) -> String {
        guard let port = implicitTLSPort(protocolName: protocolName) else { return plainPort.message }
        return "this port does not speak TLS: try STARTTLS or none, or port \(port)"
    }
}
