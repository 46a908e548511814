import Foundation
import IMAPClient
import Logging
import MailTransport
import MailroomCore

/// Copies sent messages into an account's Sent folder over one IMAP connection, kept open while
/// its sender connection works through a batch: a thousand replies are one login to the mail
/// server, not a thousand (providers throttle and lock out accounts that log in that often).
///
/// Best effort, as before: the message is sent either way. A kept connection the server has
/// dropped meanwhile is replaced once; a copy that still fails is logged, not retried.
actor SentFolderCopier {
    /// Updated in place when an OAuth2 access token is refreshed for a login.
    private var account: Account
    private let folder: String
    private let credentials: AccountCredentialSource
    private let logger: Logger
    private var connection: IMAPConnection?
    /// Logins attempted so far (what keeping the connection saves is visible in tests).
    private(set) var logins = 0

    /// Nil when the account keeps no copies: no Sent folder, or no IMAP server to put it on.
    /// - Parameter credentials: where the incoming server's login comes from (OAuth2 accounts get
    ///   a fresh access token when theirs is missing or about to expire, as the fetcher does).
    init?(account: Account, credentials: AccountCredentialSource, logger: Logger) {
        guard let folder = account.outgoing.sentFolder, account.incoming.protocol == .imap else { return nil }
        self.account = account
        self.folder = folder
        self.credentials = credentials
        self.logger = logger
    }

    func copy(_ raw: [UInt8]) async {
        let reused = connection != nil
        do {
            try await append(raw)
        } catch where reused {
            // The kept connection may have timed out between batches: one fresh try.
            await drop()
            do {
                try await append(raw)
            } catch {
                await report(error)
            }
        } catch {
            await report(error)
        }
    }

    /// Logs out of the kept connection.
    func finish() async {
        guard let connection else { return }
        self.connection = nil
        await connection.logout()
    }

    private func append(_ raw: [UInt8]) async throws {
        if connection == nil {
            var current = account
            let login = try await credentials.credentials(&current, .incoming)
            account = current
            logins += 1
            connection = try await IMAPConnection.connect(to: account.incomingEndpoint, credentials: login, logger: logger)
        }
        guard let connection else { return }
        _ = try await connection.append(to: folder, message: raw, flags: [.seen])
    }

    private func drop() async {
        guard let connection else { return }
        self.connection = nil
        await connection.close()
    }

    private func report(_ error: any Error) async {
        await drop()
        logger.warning("cannot copy a sent message to the Sent folder", metadata: [
            "account": "\(account.id)", "folder": "\(folder)", "error": "\((error as? MailTransportError)?.description ?? "\(error)")",
        ])
    }

    /// Closes the kept connection behind the copier's back, as a server dropping it would (tests).
    func loseConnectionForTesting() async {
        await connection?.close()
    }
}
