import Logging
import MailTransport
import NIOCore

extension IMAPFetchedAttributes {
    init(sequence: UInt32) { self.sequence = sequence }

    mutating func apply(_ attribute: IMAPFetchAttribute) {
        switch attribute {
        case .uid(let u): uid = u
        case .flags(let f): flags = f
        case .rfc822Size(let s): size = s
        case .internalDate(let d): internalDate = d
        case .modSeq(let m): modSeq = m
        case .gmailMessageID(let id): other["X-GM-MSGID"] = String(id)
        case .gmailThreadID(let id): other["X-GM-THRID"] = String(id)
        case .other(let name, let value): other[name] = value
        }
    }
}

/// IDLE events as an async sequence (see ``IMAPConnection/idle(reissueAfter:)``).
public struct IMAPIdleEvents: AsyncSequence, Sendable {
    public typealias Element = IMAPIdleEvent
    let connection: IMAPConnection
    let reissueAfter: Duration

    public struct AsyncIterator: AsyncIteratorProtocol {
        let connection: IMAPConnection
        let reissueAfter: Duration
        public mutating func next() async throws -> IMAPIdleEvent? {
            try await connection.nextIdleEvent(reissueAfter: reissueAfter)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(connection: connection, reissueAfter: reissueAfter)
    }
}
