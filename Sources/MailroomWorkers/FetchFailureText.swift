import ExchangeClient
import MailTransport
import MailroomCore

/// What an account's status shows for a failed fetch: what went wrong, at which step, and what to
/// check, in the words of the connection test. The log keeps the error's full description.
enum FetchFailureText {
    static func of(_ error: any Error, protocolName: String? = nil) -> String {
        if let exchange = error as? ExchangeError { return ExchangeErrorClasses.advice(exchange) }
        guard let error = error as? MailTransportError else { return ErrorWords.describe(error) }
        if error.tlsReason == .plainPort, let protocolName { return TLSFailureReason.plainPortMessage(protocolName: protocolName) }
        let advice = ConnectionCheckRunner.advice(for: error)
        guard let step = error.step, !advice.contains("during \(step)") else { return advice }
        return "\(advice) (at \(step))"
    }

    /// The kind of problem, for the account's health (`FetchHealth`).
    static func kind(of error: any Error) -> FetchProblemKind {
        if let exchange = error as? ExchangeError {
            switch exchange.kind {
            case .unauthorized, .accessDenied: return .authentication
            case .connection: return exchange.transport == .timedOut ? .timeout : exchange.transport == .tls ? .tls : .connection
            case .unknownHost: return .connection
            default: return .other
            }
        }
        guard let error = error as? MailTransportError else { return .other }
        switch error.kind {
        case .authenticationFailed: return .authentication
        case .timeout: return .timeout
        case .tls: return .tls
        case .unknownHost, .connectionRefused, .connectionFailed, .connectionClosed: return .connection
        default: return .other
        }
    }
}
