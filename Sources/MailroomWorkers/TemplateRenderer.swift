import Foundation
import MailroomCore
import Mustache

/// Renders `{{ }}` variables in signatures, canned answers, templates and the account's HTML wrapper.
public enum TemplateRenderer {
    /// The variables a message can use: ticket, customer, agent, account (and `body` in the account's wrapper).
    public static func context(ticket: Ticket, account: Account, agentName: String) -> [String: Any] {
        [
            "ticket": ["id": ticket.id, "number": String(ticket.number), "subject": ticket.subject, "status": ticket.status.rawValue,
                       "priority": ticket.priority.rawValue],
            "customer": ["name": ticket.customer.name ?? "", "address": ticket.customer.address, "email": ticket.customer.address],
            "agent": ["name": agentName],
            "account": ["name": account.name, "key": account.key, "fromName": account.fromName, "fromAddress": account.fromAddress,
                        "description": account.description],
        ]
    }

    /// HTML: variables are escaped (`{{{ }}}` inserts as is). Text: nothing is escaped.
    public static func render(_ source: String, context: [String: Any], asText: Bool = false) -> String {
        let prefixed = asText ? "{{% CONTENT_TYPE: TEXT}}" + source : source
        guard let template = try? MustacheTemplate(string: prefixed) else { return source }
        return template.render(context)
    }
}
