import Foundation
import Logging
import MailroomCore
import MailroomStore

/// Runs the account's rules, then the global ones, on a new ticket (or a message on a ticket nobody
/// holds) and applies what they decide. Mail no rule routes stays visible in the unassigned view.
///
/// Offers, queues' strategies and the wait-for-agent path are decided by `MailroomCore`'s routing
/// state machines; this step records the rules' target on the ticket.
public struct RoutingStep: Sendable {
    let store: SQLStore
    let logger: Logger

    public init(store: SQLStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func run(after outcome: IngestOutcome, account: Account) async {
        let ticketId: String
        let messageId: String
        let isNew: Bool
        switch outcome {
        case .created(let ticket, let message): (ticketId, messageId, isNew) = (ticket, message, true)
        case .appended(let ticket, let message, _): (ticketId, messageId, isNew) = (ticket, message, false)
        case .bounce, .duplicate, .skipped, .quarantined: return
        }
        do {
            guard let ticket = try await store.tickets.ticket(id: ticketId), isNew || (ticket.queueId == nil && ticket.agentId == nil),
                  let message = try await store.tickets.message(id: messageId) else { return }
            let rules = try await store.rules.rules(for: account.id)
            guard !rules.isEmpty else { return }
            var headers: [MessageHeader] = []
            if let raw = try await store.tickets.blob(sha256: message.rawSha256), let mail = try? InboundMailParser.parse(raw) {
                headers = mail.headers.map { MessageHeader($0.name, $0.value) }
            }
            let input = RoutingInput(message: message, headers: headers, receivedAt: message.createdAt, isNewTicket: isNew)
            let decision = RuleEngine(rules: rules, accountId: account.id).evaluate(input)
            var queueId: String?
            var agentId: String?
            switch decision.route {
            case .unrouted: break
            case .queue(let id): queueId = id
            case .agent(let id, _): agentId = id
            }
            try await store.tickets.applyRouting(ticketId: ticketId, tags: decision.tags, priority: decision.priority, queueId: queueId,
                                                 agentId: agentId, closeWithDisposition: decision.closeWithDispositionId)
        } catch {
            logger.error("routing rules failed; the ticket stays unassigned", metadata: ["ticket": "\(ticketId)", "error": "\(error)"])
        }
    }
}
