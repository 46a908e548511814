import MailTransport
@testable import MailroomWorkers
import Testing

/// An account's status tells an administrator what failed, where, and what to check.
@Suite struct FetchFailureTextTests {
    @Test func transportErrorsSayWhatToCheckAndWhere() {
        let refused = FetchFailureText.of(MailTransportError.connectionRefused("imap.example.com", 993))
        #expect(refused == "connection refused by imap.example.com:993: check the port and that the server accepts connections from here (at connect)")
        let login = FetchFailureText.of(MailTransportError.authenticationFailed(step: "LOGIN", serverText: "[AUTHENTICATIONFAILED] Authentication failed."))
        #expect(login.hasPrefix("authentication failed: [AUTHENTICATIONFAILED] Authentication failed.: check the user name and password"))
        #expect(login.hasSuffix("(at LOGIN)"))
        let select = FetchFailureText.of(MailTransportError.serverReply(step: "SELECT", code: nil, enhanced: nil, text: "Mailbox doesn't exist: Support"))
        #expect(select == "Mailbox doesn't exist: Support (at SELECT)")
        // A step the text names already is not repeated.
        let timeout = FetchFailureText.of(MailTransportError.timeout(step: "LOGIN", after: .seconds(5)))
        #expect(!timeout.contains("(at LOGIN)") && timeout.contains("raise the timeout"))
    }

    @Test func otherErrorsKeepTheirOwnDescription() {
        struct Refused: Error, CustomStringConvertible { var description: String { "the token endpoint refused the refresh token" } }
        #expect(FetchFailureText.of(Refused()) == "the token endpoint refused the refresh token")
    }
}
