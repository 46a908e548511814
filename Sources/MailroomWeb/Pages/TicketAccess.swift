import Foundation
import MailroomCore

/// Which tickets a person may open in the web application. Supervisors and administrators see
/// every ticket; an agent sees the tickets assigned to them and those waiting in their queues.
/// Anything else answers "not found", so that changing the number in the address tells nothing.
public enum TicketAccess {
    public static func canSee(_ ticket: Ticket, userId: String?, role: Role, queueIds: Set<String>) -> Bool {
        if role >= .supervisor { return true }
        if let agentId = ticket.agentId, agentId == userId { return true }
        if let queueId = ticket.queueId, queueIds.contains(queueId) { return true }
        return false
    }
}
