import Logging
import MailTransport
import NIOCore

// Folders, and the changes a session makes to messages (flags, expunge, move, copy, append).
extension IMAPConnection {
    // MARK: mailboxes

    public func list(reference: String = "", pattern: String = "*") async throws -> [IMAPMailboxInfo] {
        var result: [IMAPMailboxInfo] = []
        try await execute("LIST \(IMAPString.quoted(reference)) \(IMAPString.quoted(IMAPMailboxName.encode(pattern)))", step: "LIST") { untagged in
            if case .list(let info) = untagged { result.append(info) }
        }
        return result
    }

    /// SELECT: read-write; answers UIDVALIDITY, UIDNEXT, EXISTS.
    public func select(_ mailbox: String) async throws -> IMAPMailboxStatus {
        try await open(mailbox, command: "SELECT")
    }

    /// EXAMINE: read-only.
    public func examine(_ mailbox: String) async throws -> IMAPMailboxStatus {
        try await open(mailbox, command: "EXAMINE")
    }

    private func open(_ mailbox: String, command: String) async throws -> IMAPMailboxStatus {
        var status = IMAPMailboxStatus(name: mailbox)
        status.readOnly = command == "EXAMINE"
        selected = nil
        let tagged = try await execute("\(command) \(IMAPString.quoted(IMAPMailboxName.encode(mailbox)))", step: command) { untagged in
            switch untagged {
            case .exists(let n): status.exists = Int(n)
            case .recent(let n): status.recent = Int(n)
            case .flags(let f): status.flags = f
            case .status(.ok, let text):
                switch text.code {
                case .uidValidity(let v)?: status.uidValidity = v
                case .uidNext(let n)?: status.uidNext = n
                case .permanentFlags(let f)?: status.permanentFlags = f
                case .highestModSeq(let m)?: status.highestModSeq = m
                default: break
                }
            default: break
            }
        }
        if case .readOnly? = tagged.code { status.readOnly = true }
        if case .readWrite? = tagged.code { status.readOnly = false }
        selected = status
        return status
    }

    public func create(_ mailbox: String) async throws {
        try await execute("CREATE \(IMAPString.quoted(IMAPMailboxName.encode(mailbox)))", step: "CREATE")
    }

    public func status(_ mailbox: String, items: [String] = ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"]) async throws -> [String: UInt64] {
        var values: [String: UInt64] = [:]
        try await execute("STATUS \(IMAPString.quoted(IMAPMailboxName.encode(mailbox))) (\(items.joined(separator: " ")))", step: "STATUS") { untagged in
            if case .mailboxStatus(_, let v) = untagged { values = v }
        }
        return values
    }

    // MARK: changing messages

    /// UID STORE with .SILENT, in batches of `batchSize` UIDs per command.
    public func uidStore(_ uids: IMAPUIDSet, _ operation: IMAPStoreOperation, flags: [IMAPFlag], batchSize: Int = 1000) async throws {
        let list = flags.map(\.name).joined(separator: " ")
        for batch in uids.batches(of: batchSize) where !batch.isEmpty {
            try await execute("UID STORE \(batch) \(operation.rawValue) (\(list))", step: "UID STORE")
        }
    }

    /// UID EXPUNGE (RFC 4315): removes only these UIDs (they must carry \Deleted).
    public func uidExpunge(_ uids: IMAPUIDSet) async throws {
        guard capabilities.contains(.uidPlus) else {
            throw MailTransportError.unsupported("the server has no UIDPLUS; use expunge()", step: "UID EXPUNGE")
        }
        for batch in uids.batches(of: 1000) where !batch.isEmpty {
            try await execute("UID EXPUNGE \(batch)", step: "UID EXPUNGE")
        }
    }

    /// EXPUNGE: removes every message flagged \Deleted in the selected mailbox.
    public func expunge() async throws {
        try await execute("EXPUNGE", step: "EXPUNGE")
    }

    /// Marks \Deleted and expunges these UIDs (UID EXPUNGE when possible, else EXPUNGE).
    public func delete(_ uids: IMAPUIDSet) async throws {
        try await uidStore(uids, .add, flags: [.deleted])
        if capabilities.contains(.uidPlus) { try await uidExpunge(uids) } else { try await expunge() }
    }

    /// UID MOVE (RFC 6851), or COPY + STORE \Deleted + (UID) EXPUNGE where MOVE is missing.
    public func uidMove(_ uids: IMAPUIDSet, to mailbox: String) async throws {
        let target = IMAPString.quoted(IMAPMailboxName.encode(mailbox))
        for batch in uids.batches(of: 1000) where !batch.isEmpty {
            if capabilities.contains(.move) {
                try await execute("UID MOVE \(batch) \(target)", step: "UID MOVE")
            } else {
                try await execute("UID COPY \(batch) \(target)", step: "UID COPY")
                try await delete(batch)
            }
        }
    }

    public func uidCopy(_ uids: IMAPUIDSet, to mailbox: String) async throws {
        try await execute("UID COPY \(uids) \(IMAPString.quoted(IMAPMailboxName.encode(mailbox)))", step: "UID COPY")
    }

    /// APPEND (e.g. to the Sent folder). Answers the new UID when the server has UIDPLUS.
    @discardableResult
    public func append(to mailbox: String, message: some Collection<UInt8> & Sendable, flags: [IMAPFlag] = [.seen]) async throws -> (uidValidity: UInt32, uid: IMAPUID)? {
        try await endIdleIfNeeded()
        let nonSync = capabilities.contains(.literalPlus) || (capabilities.contains(.literalMinus) && message.count <= 4096)
        let tag = nextTag()
        let flagList = flags.isEmpty ? "" : " (\(flags.map(\.name).joined(separator: " ")))"
        let line = "\(tag) APPEND \(IMAPString.quoted(IMAPMailboxName.encode(mailbox)))\(flagList) {\(message.count)\(nonSync ? "+" : "")}"
        try await connection.sendLine(line)
        var sentBody = false
        if nonSync {
            try await sendLiteral(message)
            sentBody = true
        }
        while true {
            let event = try await nextEvent(step: "APPEND", timeout: endpoint.commandTimeout)
            switch event {
            case .response(.continuation) where !sentBody:
                try await sendLiteral(message)
                sentBody = true
            case .response(.tagged(let t, let status, let text)) where t == tag:
                try check(status, text, step: "APPEND")
                if case .appendUID(let validity, let uid)? = text.code { return (validity, uid) }
                return nil
            case .response(.untagged(let u)):
                try handleUnsolicited(u)
            default:
                try await skipFetch(event)
            }
        }
    }

    private func sendLiteral(_ message: some Collection<UInt8>) async throws {
        let chunk = 256 * 1024
        var index = message.startIndex
        while index != message.endIndex {
            let end = message.index(index, offsetBy: chunk, limitedBy: message.endIndex) ?? message.endIndex
            try await connection.send(connection.channel.allocator.buffer(bytes: message[index..<end]))
            index = end
        }
        try await connection.send(ByteBuffer(string: "\r\n"))
        logger.trace("C: <literal, \(message.count) bytes>")
    }
}
