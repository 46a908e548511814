import Foundation

extension TicketRouting {
    /// "Take it" (an agent of the ticket's queue) or "Assign to…" (a supervisor for an agent): the
    /// ticket becomes the agent's without waiting for an offer, under the rules of accepting one:
    /// the agent needs free capacity, and an agent who holds it already wins over a late taker.
    /// Open offers to others close as taken. `replacingHolder`: a supervisor reassigns a ticket
    /// someone holds.
    public mutating func take(for userId: String, replacingHolder: Bool, at now: Date, context: RoutingContext) -> [RoutingAction] {
        var actions = advance(to: now, context: context)
        if case .finished(.assigned(let holder)) = stage, holder == userId || !replacingHolder {
            actions.append(.acceptRefused(by: userId, reason: .alreadyTaken(by: holder)))
            return scheduled(actions)
        }
        guard context.agents[userId]?.hasFreeCapacity ?? false else {
            actions.append(.acceptRefused(by: userId, reason: .atCapacity))
            return scheduled(actions)
        }
        if let index = latestOpenOffer(userId) {
            offers[index].state = .accepted
        } else {
            offers.append(Offer(userId: userId, offeredAt: now, deadline: now, state: .accepted))
        }
        let others = closeOpenOffers(as: .taken)
        stage = .finished(.assigned(userId: userId))
        actions.append(.assign(to: userId))
        if !others.isEmpty { actions.append(.notifyTaken(agents: others, by: userId)) }
        return scheduled(actions)
    }
}
