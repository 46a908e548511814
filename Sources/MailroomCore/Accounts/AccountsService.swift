import Foundation

/// Account changes as the API and the web UI make them: build, check against other accounts, store.
public struct AccountsService: Sendable {
    let accounts: any AccountRepository

    public init(accounts: any AccountRepository) { self.accounts = accounts }

    public func create(_ request: JSONValue) async throws -> Account {
        let account = try AccountEditor.newAccount(from: request)
        try await checkOutgoingMapping(account)
        return try await accounts.create(account)
    }

    public func update(id: String, with patch: JSONValue) async throws -> Account {
        guard let current = try await accounts.find(id: id) else { throw DomainError.notFound("account \(id)") }
        guard current.deletedAt == nil else {
            throw DomainError.conflict(FieldError("id", "belongs to a deleted account, which cannot be changed"))
        }
        let account = try AccountEditor.updated(current, with: patch)
        try await checkOutgoingMapping(account)
        return try await accounts.update(account)
    }

    public func delete(id: String) async throws {
        try await accounts.delete(id: id, at: Date())
    }

    /// Ameyo's incoming-to-outgoing mapping must name a live account that can send.
    private func checkOutgoingMapping(_ account: Account) async throws {
        guard let targetId = account.outgoingAccountId else { return }
        guard let target = try await accounts.find(id: targetId), target.deletedAt == nil else {
            throw DomainError.invalid([FieldError("outgoingAccountId", "names no existing account")])
        }
        guard target.outgoing.protocol != .none else {
            throw DomainError.invalid([FieldError("outgoingAccountId", "names account '\(target.key)', which has no outgoing server")])
        }
    }
}
