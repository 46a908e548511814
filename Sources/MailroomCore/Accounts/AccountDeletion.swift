import Foundation

/// What deleting an account stops (Ameyo: "the campaigns, queues, and users using this media
/// profile will be disabled"), listed for the administrator before they confirm. The store's
/// `delete` does exactly these: queues lose the account, rules and the account's own dispositions
/// and canned answers are disabled, mapped accounts reply from their own server again.
public struct AccountDeletion: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var kind: Kind
        public var names: [String]

        public enum Kind: String, Sendable, Equatable {
            case queues, rules, dispositions, cannedAnswers, mappings, users, campaigns
        }
    }

    public var items: [Item]

    /// - Parameters:
    ///   - queues: every queue; those serving the account stop serving it.
    ///   - rules: every rule; the account's own enabled ones are disabled.
    ///   - accounts: every live account; those replying through this one reply from their own server.
    ///   - users: every user; members of the account's queues who serve no other live account's queue
    ///     are named as no longer serving any account.
    public static func plan(account: Account, queues: [AgentQueue], rules: [RoutingRule], dispositions: [Disposition],
                            cannedAnswers: [CannedAnswer], accounts: [Account], users: [User], campaigns: [Campaign] = []) -> AccountDeletion {
        let own = queues.filter { $0.accountIds.contains(account.id) }
        let live = Set(accounts.filter { $0.id != account.id && $0.deletedAt == nil }.map(\.id))
        let servingOthers = Set(queues.filter { !$0.accountIds.filter(live.contains).isEmpty }.flatMap { $0.members.map(\.userId) })
        let members = Set(own.flatMap { $0.members.map(\.userId) })
        let onlyHere = users.filter { members.contains($0.id) && !servingOthers.contains($0.id) }
        let items: [Item] = [
            Item(kind: .queues, names: own.map(\.name)),
            Item(kind: .rules, names: rules.filter { $0.accountId == account.id && $0.enabled }.map(\.name)),
            Item(kind: .dispositions, names: dispositions.filter { $0.accountId == account.id && $0.active }.map(\.name)),
            Item(kind: .cannedAnswers, names: cannedAnswers.filter { $0.accountId == account.id && $0.active }.map(\.name)),
            Item(kind: .mappings, names: accounts.filter { $0.deletedAt == nil && $0.outgoingAccountId == account.id }.map(\.name)),
            Item(kind: .users, names: onlyHere.map(\.name)),
            Item(kind: .campaigns, names: campaigns.filter { $0.accountIds.contains(account.id) }.map(\.name)),
        ]
        return AccountDeletion(items: items.filter { !$0.names.isEmpty })
    }

    /// One line per kind, as the confirmation shows it.
    public var lines: [String] {
        items.map { item in
            let names = item.names.map { "“\($0)”" }.joined(separator: ", ")
            switch item.kind {
            case .queues: return "Queues stop serving it: \(names)"
            case .rules: return "Its routing rules are disabled: \(names)"
            case .dispositions: return "Its dispositions are disabled: \(names)"
            case .cannedAnswers: return "Its canned answers are disabled: \(names)"
            case .mappings: return "Accounts replying through it reply from their own server again: \(names)"
            case .users: return "Users who served only this account serve no account any more (they stay users): \(names)"
            case .campaigns: return "Campaigns lose it: \(names)"
            }
        } + ["Fetching and sending stop; mail waiting in the outbox fails."]
    }
}
