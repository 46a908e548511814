import MailTransport

extension IMAPConnection {
    /// "Test connection" for IMAP: resolve, connect, TLS, greeting, STARTTLS, authenticate,
    /// and open the folder read-only (EXAMINE). Never throws; never puts credentials in the report.
    public static func check(_ endpoint: MailEndpoint, credentials: MailCredentials?, mailbox: String = "INBOX") async -> ConnectionCheckReport {
        let runner = ConnectionCheckRunner()
        guard let transport = await MailConnection.checkedConnect(endpoint, runner: runner) else {
            return runner.report(protocolName: "imap", endpoint: endpoint)
        }
        let imap = IMAPConnection(connection: transport)
        _ = await runner.step("greeting") { ((), try await imap.readGreeting().text) }
        if endpoint.security == .starttls {
            _ = await runner.step("starttls") { () async throws -> ((), String?) in
                try await imap.startTLS()
                return ((), MailConnection.tlsMessage(endpoint))
            }
        }
        if let credentials {
            _ = await runner.step("authenticate") { () async throws -> ((), String?) in
                if await !imap.isAuthenticated { try await imap.authenticate(credentials) }
                return ((), "authenticated")
            }
            _ = await runner.step("openFolder") { () async throws -> ((), String?) in
                let status = try await imap.examine(mailbox)
                return ((), "\(mailbox): \(status.exists) messages, UIDVALIDITY \(status.uidValidity.map(String.init) ?? "none")")
            }
        }
        await imap.logout()
        return runner.report(protocolName: "imap", endpoint: endpoint)
    }
}
