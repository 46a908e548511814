import Foundation

/// What the caller does to move a ticket to another account.
public enum AccountTransferAction: Sendable, Equatable {
    /// Withdraw the ticket's open offers (`TicketRouting.cancel`).
    case cancelRouting
    case moveToAccount(accountId: String)
    /// Clear the queue and the agent: the ticket belongs to nobody in the new account yet.
    case clearAssignment
    case markUnread
    /// Send the customer a notice rendered from this template (with the new account's settings).
    case sendNotice(templateId: String)
    /// Route it as the new account would route a new ticket.
    case runRules(accountId: String)
}

/// Moving a ticket to another account (issue 6's account transfer): it arrives unread and is
/// routed by the new account's rules, optionally after a templated notice to the customer.
public enum AccountTransfer {
    public static func plan(ticket: Ticket, to target: Account, noticeTemplateId: String?) throws(DomainError) -> [AccountTransferAction] {
        if !ticket.isOpen {
            throw .conflict(FieldError("status", "the ticket is closed; reopen it before moving it to another account"))
        }
        if target.id == ticket.accountId {
            throw .invalid([FieldError("accountId", "is the ticket's account already; choose another account")])
        }
        if target.deletedAt != nil {
            throw .invalid([FieldError("accountId", "names a deleted account")])
        }
        let notice = noticeTemplateId.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        var actions: [AccountTransferAction] = [.cancelRouting, .moveToAccount(accountId: target.id), .clearAssignment, .markUnread]
        if let notice { actions.append(.sendNotice(templateId: notice)) }
        actions.append(.runRules(accountId: target.id))
        return actions
    }
}
