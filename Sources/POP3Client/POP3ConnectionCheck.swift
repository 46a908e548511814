import MailTransport

extension POP3Connection {
    /// "Test connection" for POP3: resolve, connect, TLS, greeting, STLS, authenticate, and
    /// open the mailbox (STAT). Never throws; never puts credentials in the report.
    public static func check(_ endpoint: MailEndpoint, credentials: MailCredentials?) async -> ConnectionCheckReport {
        let runner = ConnectionCheckRunner()
        guard let transport = await MailConnection.checkedConnect(endpoint, runner: runner) else {
            return runner.report(protocolName: "pop3", endpoint: endpoint)
        }
        let pop = POP3Connection(connection: transport)
        _ = await runner.step("greeting") { () async throws -> ((), String?) in
            let greeting = try await pop.readGreeting()
            try await pop.capa()
            return ((), greeting.text)
        }
        if endpoint.security == .starttls {
            _ = await runner.step("starttls") { () async throws -> ((), String?) in
                try await pop.startTLS()
                return ((), MailConnection.tlsMessage(endpoint))
            }
        }
        if let credentials {
            _ = await runner.step("authenticate") { () async throws -> ((), String?) in
                try await pop.authenticate(credentials)
                return ((), "authenticated")
            }
            _ = await runner.step("openFolder") { () async throws -> ((), String?) in
                let stat = try await pop.stat()
                return ((), "\(stat.count) messages, \(stat.size) bytes")
            }
            try? await pop.quit()
        } else {
            try? await pop.quit()
        }
        return runner.report(protocolName: "pop3", endpoint: endpoint)
    }
}
