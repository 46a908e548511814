import Foundation
import MailroomCore
import Mustache

/// Renders `{{ }}` variables in signatures, canned answers, templates and the account's HTML wrapper.
public enum TemplateRenderer {
    /// The variables a message can use: ticket, customer, agent, account (and `body` in the account's wrapper).
    /// Every variable the editors offer has a value: an agent without an alias is called by name, a
    /// customer without a name by address.
    public static func context(ticket: Ticket, account: Account, agentName: String, agentAlias: String? = nil) -> [String: Any] {
        let customerName = ticket.customer.name.flatMap { $0.isEmpty ? nil : $0 } ?? ticket.customer.address
        let alias = agentAlias.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 } ?? agentName
        return [
            "ticket": ["id": ticket.id, "number": String(ticket.number), "subject": ticket.subject, "status": ticket.status.rawValue,
                       "priority": ticket.priority.rawValue],
            "customer": ["name": customerName, "address": ticket.customer.address, "email": ticket.customer.address],
            "agent": ["name": agentName, "alias": alias],
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
