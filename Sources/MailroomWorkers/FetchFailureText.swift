import ExchangeClient
import MailTransport

/// What an account's status shows for a failed fetch: what went wrong, at which step, and what to
/// check, in the words of the connection test. The log keeps the error's full description.
enum FetchFailureText {
    static func of(_ error: any Error) -> String {
        if let exchange = error as? ExchangeError { return ExchangeErrorClasses.advice(exchange) }
        guard let error = error as? MailTransportError else { return String(describing: error) }
        let advice = ConnectionCheckRunner.advice(for: error)
        guard let step = error.step, !advice.contains("during \(step)") else { return advice }
        return "\(advice) (at \(step))"
    }
}
