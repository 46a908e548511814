import MailTransport

extension SMTPConnection {
    /// "Verify SMTP connection": resolve, connect, TLS, greeting, EHLO, STARTTLS, authenticate.
    /// Never throws; never puts credentials in the report. Ends with QUIT.
    public static func check(_ endpoint: MailEndpoint, credentials: MailCredentials?, heloName: String = "localhost") async -> ConnectionCheckReport {
        let runner = ConnectionCheckRunner()
        guard let transport = await MailConnection.checkedConnect(endpoint, runner: runner) else {
            return runner.report(protocolName: "smtp", endpoint: endpoint)
        }
        let smtp = SMTPConnection(connection: transport, heloName: heloName)
        _ = await runner.step("greeting") { ((), try await smtp.readGreeting().description) }
        _ = await runner.step("ehlo") { () async throws -> ((), String?) in
            let reply = try await smtp.hello()
            let caps = await smtp.capabilities
            let keywords = caps.extensions.keys.map(\.keyword).sorted().joined(separator: " ")
            return ((), caps.isESMTP ? "\(reply.lines.first ?? "") (\(keywords))" : "HELO accepted (no ESMTP): \(reply)")
        }
        if endpoint.security == .starttls {
            _ = await runner.step("starttls") { () async throws -> ((), String?) in
                try await smtp.startTLS()
                return ((), MailConnection.tlsMessage(endpoint))
            }
        }
        if let credentials {
            _ = await runner.step("authenticate") { () async throws -> ((), String?) in
                try await smtp.authenticate(credentials)
                return ((), "authenticated")
            }
        }
        await smtp.quit()
        return runner.report(protocolName: "smtp", endpoint: endpoint)
    }
}
