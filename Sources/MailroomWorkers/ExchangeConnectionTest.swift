import ExchangeClient
import Foundation
import MailroomCore
import MailTransport

/// The connection test's steps for Graph and EWS accounts: credentials, mailbox, folder.
enum ExchangeConnectionTest {
    /// The connection test uses the credentials as stored (a provider's account gets a fresh token first, see OAuth2ConnectionTest).
    static func storedHeader(_ connection: ServerConnection) -> @Sendable (Bool) async throws -> String {
        let credentials = Account.credentials(connection.auth)
        return { _ in try ExchangeAuthorization.header(credentials) }
    }

    static func graph(_ account: Account, incoming: Bool) async -> ConnectionCheckReport {
        let connection = incoming ? account.incoming.connection : account.outgoing.connection
        let header = storedHeader(connection)
        let client = GraphClient(baseURL: connection.graphBaseURL, mailbox: account.exchangeMailbox(connection),
                                 timeout: .seconds(connection.connectionTimeoutSeconds + connection.authTimeoutSeconds),
                                 acceptAnyCertificate: connection.acceptAnyCertificate, maxInlineWait: .zero, authorization: header)
        var steps = Steps()
        await steps.run("token") {
            _ = try await header(false)
            return connection.auth.oauth2?.providerId != nil ? "an access token from the account's provider" : "an access token"
        }
        await steps.run("mailbox") { "opened \(client.mailbox) (\(try await client.mailboxDisplayName()))" }
        if incoming {
            await steps.run("folder") {
                let id = try await client.folderId(account.incoming.mailbox)
                let summary = try await client.folderSummary(id)
                return "\(summary.name): \(summary.count.map { "\($0) messages" } ?? "readable")"
            }
        } else {
            steps.note("send", "sendMail is tried with the first reply (Graph has no way to check the Mail.Send permission without sending)")
        }
        return steps.report(protocolName: "Graph", url: client.baseURL, acceptAnyCertificate: connection.acceptAnyCertificate)
    }

    static func ews(_ account: Account, incoming: Bool) async -> ConnectionCheckReport {
        let connection = incoming ? account.incoming.connection : account.outgoing.connection
        let header = storedHeader(connection)
        let client = EWSClient(url: connection.ewsURL, mailbox: account.exchangeMailbox(connection),
                               timeout: .seconds(connection.connectionTimeoutSeconds + connection.authTimeoutSeconds),
                               acceptAnyCertificate: connection.acceptAnyCertificate, impersonate: connection.auth.method == .oauth2,
                               maxInlineWait: .zero, authorization: header)
        var steps = Steps()
        var endpoint = client.url
        if endpoint.isEmpty {
            // No endpoint in the settings: what Autodiscover finds is what the account will use.
            await steps.run("autodiscover") {
                endpoint = try await client.endpoint()
                return "found \(endpoint) for \(client.mailbox)"
            }
        }
        await steps.run(connection.auth.method == .oauth2 ? "token" : "credentials") {
            _ = try await header(false)
            return connection.auth.method == .oauth2 ? "an access token (the mailbox is named by impersonation)" : "Basic over TLS"
        }
        let folderName = incoming ? account.incoming.mailbox : (account.outgoing.sentFolder ?? "inbox")
        await steps.run(incoming ? "folder" : "mailbox") {
            let folder = try await client.folder(folderName)
            let summary = try await client.folderSummary(folder)
            return "\(client.mailbox): \(summary.name)\(summary.count.map { ", \($0) items" } ?? "")"
        }
        if !incoming {
            steps.note("send", "CreateItem is tried with the first reply (\(account.outgoing.sentFolder == nil ? "SendOnly" : "SendAndSaveCopy"))")
        }
        return steps.report(protocolName: "EWS", url: endpoint, acceptAnyCertificate: connection.acceptAnyCertificate)
    }

    /// Steps run in order until one fails, each timed, each failure in words an administrator can act on.
    struct Steps {
        let runner = ConnectionCheckRunner()
        var failed = false

        mutating func run(_ name: String, _ body: () async throws -> String) async {
            guard !failed else { return }
            let start = ContinuousClock.now
            do {
                let message = try await body()
                runner.record(name, .ok, duration: ContinuousClock.now - start, message: message)
            } catch let error as ExchangeError {
                failed = true
                runner.record(name, .failed, duration: ContinuousClock.now - start, message: ExchangeErrorClasses.advice(error))
            } catch let error as OAuth2Error {
                failed = true
                runner.record(name, .failed, duration: ContinuousClock.now - start, message: error.description)
            } catch {
                failed = true
                runner.record(name, .failed, duration: ContinuousClock.now - start, message: "unexpected error: \(type(of: error))")
            }
        }

        func note(_ name: String, _ message: String) {
            guard !failed else { return }
            runner.record(name, .ok, duration: .zero, message: message)
        }

        func report(protocolName: String, url: String, acceptAnyCertificate: Bool) -> ConnectionCheckReport {
            let parts = URLComponents(string: url)
            let endpoint = MailEndpoint(host: parts?.host ?? url, port: parts?.port ?? 443, security: .tls,
                                        acceptAnyCertificate: acceptAnyCertificate)
            var report = runner.report(protocolName: protocolName, endpoint: endpoint)
            report.ok = !failed
            return report
        }
    }
}
