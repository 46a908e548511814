import Foundation
import Logging
import MailroomCore

/// Runs the account's rules, then the global ones, on a new ticket (or a message on a ticket nobody
/// holds) and applies what they decide. Mail no rule routes stays visible in the unassigned view.
///
/// Offers, queues' strategies and the wait-for-agent path are the `RoutingService`'s: this step
/// hands it the rules' target, and every later message of a ticket.
public struct RoutingStep: Sendable {
    let store: Repositories
    let logger: Logger
    /// Wakes the sender after an auto-reply was queued.
    let onQueued: @Sendable () -> Void
    /// Wakes the webhook sender after a rule's webhook was queued.
    let onWebhook: @Sendable () -> Void
    /// Offers what the rules decide; nil records the rules' queue or agent on the ticket and offers nothing.
    let service: RoutingService?
    let rules: RuleRunner

    public init(store: some RepositoryProvider, logger: Logger, service: RoutingService? = nil, onQueued: @escaping @Sendable () -> Void = {},
                onWebhook: @escaping @Sendable () -> Void = {}) {
        self.store = store.repositories
        self.logger = logger
        self.service = service
        self.onQueued = onQueued
        self.onWebhook = onWebhook
        self.rules = RuleRunner(store: store.repositories)
    }

    /// Queues one delivery per webhook URL the rules named; the sender posts and retries them.
    func queueWebhooks(_ urls: [String], ticketId: String, message: TicketMessage, ruleIds: [String]) async {
        guard !urls.isEmpty else { return }
        do {
            // The ticket as it is after the rules changed it, so the receiver sees queue, tags and priority.
            guard let ticket = try await store.tickets.ticket(id: ticketId) else { return }
            let payload = WebhookPayload.ticketRouted(ticket: ticket, message: message, ruleIds: ruleIds)
            for url in urls {
                try await store.webhooks.enqueue(url: url, event: WebhookPayload.ticketRouted, ticketId: ticketId, ruleIds: ruleIds,
                                                 payload: payload)
            }
            onWebhook()
        } catch {
            logger.error("could not queue a rule's webhook", metadata: ["ticket": "\(ticketId)", "error": "\(error)"])
        }
    }

    let guardrail = AutoReplyGuard()

    /// Sends a rule's auto-reply unless the guard says no: never to machines, lists or daemons, once per
    /// ticket or first message only as the rule says, and at most N per sender per hour.
    func autoReply(_ request: AutoReplyRequest, ticket: Ticket, message: TicketMessage, headers: [HeaderField], account: Account,
                   isNew: Bool) async {
        do {
            var found = try await store.templates.find(id: request.action.templateId)
            if found == nil { found = try await store.templates.find(key: request.action.templateId) }
            guard let template = found else {
                logger.warning("auto-reply template not found", metadata: ["rule": "\(request.ruleId)", "template": "\(request.action.templateId)"])
                return
            }
            let sender = message.from.first
            let recipients = AutoReplyGuard.recipients(request.action.recipients, from: message.from, cc: message.cc,
                                                       ownAddresses: [account.fromAddress])
            guard let primary = recipients.first else { return }
            let history = try await store.outbox.autoReplyHistory(ticketId: ticket.id, recipient: primary.address)
            let verdict = guardrail.decide(mode: request.action.mode, signals: AutomaticMailSignals(headers: headers, sender: sender),
                                           history: AutoReplyHistory(sentOnTicket: history.onTicket, sentToSenderInLastHour: history.toRecipientLastHour,
                                                                     isFirstMessageOfTicket: isNew))
            guard verdict == .send else {
                logger.info("auto-reply suppressed", metadata: ["ticket": "\(ticket.id)", "reason": "\(verdict)"])
                return
            }
            _ = try await ReplyComposer(store: store).composeAutoReply(ticket: ticket, template: template, recipients: recipients,
                                                                        account: account, headers: AutoReplyGuard.outgoingHeaders)
            try await store.outbox.recordAutoReply(ticketId: ticket.id, recipients: recipients.map(\.address))
            onQueued()
        } catch {
            logger.error("auto-reply failed", metadata: ["ticket": "\(ticket.id)", "error": "\(error)"])
        }
    }

    /// Runs after a batch's commit, message by message in order. The batch is one moment: each
    /// account's rules are read once for all of its messages.
    public func run(after batch: [CommittedMessage]) async {
        var rules = RulesOfTheMoment()
        for committed in batch {
            await run(after: committed.outcome, account: committed.account, mail: committed.mail, createdTicket: committed.createdTicket,
                      rules: &rules)
        }
    }

    /// `mail`: the message as the pipeline parsed it, when at hand, so rules with header
    /// conditions need not read the raw message back and parse it again. `createdTicket`: the
    /// ticket as the message created it, so it need not be read back.
    public func run(after outcome: IngestOutcome, account: Account, mail: InboundMail? = nil, createdTicket: Ticket? = nil) async {
        var rules = RulesOfTheMoment()
        await run(after: outcome, account: account, mail: mail, createdTicket: createdTicket, rules: &rules)
    }

    /// Accounts' rules read once and kept for as long as one batch's steps run.
    struct RulesOfTheMoment {
        private var byAccount: [String: [RoutingRule]] = [:]

        mutating func rules(for accountId: String, store: Repositories) async throws -> [RoutingRule] {
            if let known = byAccount[accountId] { return known }
            let read = try await store.rules.rules(for: accountId)
            byAccount[accountId] = read
            return read
        }
    }

    func run(after outcome: IngestOutcome, account: Account, mail: InboundMail?, createdTicket: Ticket?,
             rules: inout RulesOfTheMoment) async {
        switch outcome {
        case .created(let ticketId, let messageId):
            await route(ticketId: ticketId, messageId: messageId, account: account, isNew: true, mail: mail,
                        createdTicket: createdTicket.flatMap { $0.id == ticketId ? $0 : nil }, rules: &rules)
        case .appended(let ticketId, let messageId, _):
            if let service {
                // The seeds' wait for the assigned agent, or a message event for whoever holds it.
                guard await service.newMessage(ticketId: ticketId, messageId: messageId) else { return }
            }
            await route(ticketId: ticketId, messageId: messageId, account: account, isNew: false, mail: mail, rules: &rules)
        case .bounce(let ticketId, let messageId):
            _ = await service?.newMessage(ticketId: ticketId, messageId: messageId)
        case .duplicate, .skipped, .quarantined:
            return
        }
    }

    /// Runs the rules on a ticket nobody holds and starts what they decide.
    func route(ticketId: String, messageId: String, account: Account, isNew: Bool, mail: InboundMail? = nil) async {
        var rules = RulesOfTheMoment()
        await route(ticketId: ticketId, messageId: messageId, account: account, isNew: isNew, mail: mail, rules: &rules)
    }

    func route(ticketId: String, messageId: String, account: Account, isNew: Bool, mail: InboundMail?, createdTicket: Ticket? = nil,
               rules cache: inout RulesOfTheMoment) async {
        do {
            var ticket: Ticket? = isNew ? createdTicket : nil
            if !isNew {
                ticket = try await store.tickets.ticket(id: ticketId)
                guard let ticket, ticket.queueId == nil && ticket.agentId == nil else { return }
            }
            let accountRules = try await cache.rules(for: account.id, store: store)
            var decision = RoutingDecision()
            var headers: [HeaderField] = []
            var message: TicketMessage?
            if !accountRules.isEmpty {
                // Only rules need the ticket and the message as stored; most new tickets of an
                // account without rules go to the unassigned view without reading either again.
                if ticket == nil { ticket = try await store.tickets.ticket(id: ticketId) }
                message = try await store.tickets.message(id: messageId)
                guard let message, ticket != nil else { return }
                (decision, headers) = try await rules.decide(accountRules, message: message, account: account, isNew: isNew,
                                                             headers: mail.map(RuleRunner.headers(of:)))
            }
            var queueId: String?
            var agentId: String?
            // Without a routing service (tools, tests) the rules' target is only recorded on the ticket.
            if service == nil {
                switch decision.route {
                case .unrouted: break
                case .queue(let id): queueId = id
                case .agent(let id, _): agentId = id
                }
            }
            // Rules that change nothing on the ticket (or no rules at all) cost no transaction.
            let changesTicket = !decision.tags.isEmpty || decision.priority != nil || queueId != nil || agentId != nil
                || decision.closeWithDispositionId != nil
            if changesTicket {
                try await store.tickets.applyRouting(ticketId: ticketId, tags: decision.tags, priority: decision.priority, queueId: queueId,
                                                     agentId: agentId, closeWithDisposition: decision.closeWithDispositionId)
            }
            if let ticket, let message {
                for request in decision.autoReplies {
                    await autoReply(request, ticket: ticket, message: message, headers: headers, account: account, isNew: isNew)
                }
            }
            if let service, decision.closeWithDispositionId == nil {
                // A ticket created now has no routing yet; as created, it is what the service would read,
                // unless the rules just changed it.
                try await service.start(ticketId: ticketId, target: decision.route, account: account,
                                        newTicket: isNew && !changesTicket ? createdTicket : nil)
            }
            if let message {
                await queueWebhooks(decision.webhooks, ticketId: ticketId, message: message, ruleIds: decision.matchedRuleIds)
            }
        } catch {
            logger.error("routing rules failed; the ticket stays unassigned", metadata: ["ticket": "\(ticketId)", "error": "\(error)"])
        }
    }
}

/// Runs an account's rules, then the global ones, on one stored message.
struct RuleRunner: Sendable {
    let store: Repositories

    func decide(message: TicketMessage, account: Account, isNew: Bool) async throws -> (RoutingDecision, [HeaderField]) {
        try await decide(try await store.rules.rules(for: account.id), message: message, account: account, isNew: isNew)
    }

    /// The same, with the rules (the account's, then the global ones) read already; `known`: the
    /// message's header fields when the caller has them (otherwise the raw message is parsed again).
    func decide(_ rules: [RoutingRule], message: TicketMessage, account: Account, isNew: Bool,
                headers known: [HeaderField]? = nil) async throws -> (RoutingDecision, [HeaderField]) {
        guard !rules.isEmpty else { return (RoutingDecision(), []) }
        var headers = known ?? []
        if known == nil, let raw = try await store.rawMail.blob(sha256: message.rawSha256), let mail = try? InboundMailParser.parse(raw) {
            headers = Self.headers(of: mail)
        }
        let input = RoutingInput(message: message, headers: headers, receivedAt: message.createdAt, isNewTicket: isNew)
        // Campaigns are read only when a rule routes within one.
        let campaigns = rules.contains { $0.campaignId != nil } ? try await store.routing.campaigns() : []
        return (RuleEngine(rules: rules, accountId: account.id, campaigns: campaigns).evaluate(input), headers)
    }

    /// A parsed message's header fields as rules see them.
    static func headers(of mail: InboundMail) -> [HeaderField] {
        mail.headers
    }
}
