import ExchangeClient
import MailroomCore

/// Graph and EWS failures in the seed's error classes (the table is in EXCHANGE.md), and the
/// sentence an administrator sees on the account's status.
enum ExchangeErrorClasses {
    static func deliveryClass(_ kind: ExchangeError.Kind) -> DeliveryErrorClass {
        switch kind {
        case .rateLimited: .networkRouting
        case .unauthorized, .accessDenied: .securityPolicy
        case .mailboxNotFound, .itemNotFound: .mailbox
        case .invalidRecipient: .addressing
        case .invalidRequest: .messageContent
        case .tooLarge, .serverError, .syncStateExpired: .mailSystem
        case .malformedResponse: .mailDeliveryProtocol
        case .connection: .connection
        case .unknownHost: .unknownHost
        case .other: .unidentified
        }
    }

    /// What to do about it, for the status page.
    static func advice(_ error: ExchangeError) -> String {
        let hint: String
        switch error.kind {
        case .rateLimited: hint = "Exchange is throttling this mailbox; Mailroom waits as it asks and goes on"
        case .unauthorized: hint = "Exchange refused the credentials: sign in again (modern authentication) or check the password"
        case .accessDenied: hint = "this identity may not open the mailbox: grant it access (or application permission Mail.ReadWrite)"
        case .mailboxNotFound:
            hint = "the mailbox or folder does not exist: check the address (mailboxAddress), the folder, and (Graph) that the "
                + "mailbox is in the tenant the app is registered in"
        case .itemNotFound: hint = "a message vanished before it could be read; nothing is lost"
        case .syncStateExpired: hint = "the server forgot the sync state; the folder is listed again (no message is taken twice)"
        case .invalidRequest, .invalidRecipient, .tooLarge: hint = "the server refused the request"
        case .serverError: hint = "the Exchange server failed; Mailroom tries again"
        case .malformedResponse: hint = "the server's answer could not be read; Mailroom tries again"
        case .connection: hint = "cannot reach the Exchange server"
        case .unknownHost: hint = "the server's host name does not resolve: check the URL"
        case .other: hint = "the server said no"
        }
        return "\(hint): \(error)"
    }
}
