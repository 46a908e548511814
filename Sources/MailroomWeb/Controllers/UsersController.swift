import Foundation
import Hummingbird
import MailroomCore
import MailroomStore

struct UsersController {
    let users: any UserRepository
    let tokens: any TokenRepository
    let routingStore: any RoutingRepository
    let routing: (any RoutingOperations)?
    /// Failed sign-ins per address and per client; nil only in tests that build the controller alone.
    var signInLimiter: SignInLimiter? = nil
    /// Invitations and the audit trail (issue 26); nil only in tests that build the controller alone.
    var peopleMail: PeopleMail? = nil

    /// Routes that work without a token (signing in).
    func addPublicRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.post("auth/tokens", use: signIn)
    }

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("users", use: list)
        api.post("users", use: create)
        api.get("users/me", use: me)
        api.get("users/:id", use: show)
        api.patch("users/:id", use: update)
        api.put("users/:id", use: update)
        api.put("users/:id/presence", use: setPresence)
        api.get("users/:id/tokens", use: listTokens)
        api.post("users/:id/tokens", use: createToken)
        api.delete("users/:id/tokens/:tokenId", use: deleteToken)
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<JSONValue>> {
        try context.require(.supervisor)
        var all = try await users.list()
        if let campaign = try await QueuesController.campaignFilter(request, routing: routingStore) {
            all = all.filter { campaign.userIds.contains($0.id) }
        }
        let presence = try await routingStore.presence(userIds: all.map(\.id))
        return JSONResponse(ItemList(try all.map { try Self.withPresence($0, presence[$0.id]) }))
    }

    /// A user as the API shows them: with `presence` `{state, reason, since}` (offline when never set).
    static func withPresence(_ user: User, _ record: PresenceRecord?) throws -> JSONValue {
        var object = try JSONValue(encoding: user).objectValue ?? [:]
        let record = record ?? .offline(user.id)
        object["presence"] = .object([
            "state": .string(record.state.rawValue), "reason": record.reason.map(JSONValue.string) ?? .null,
            "since": record.since.map { .string(ISO8601.format($0)) } ?? .null,
        ])
        return .object(object)
    }

    private func view(_ user: User) async throws -> JSONValue {
        try Self.withPresence(user, try await routingStore.presence(userIds: [user.id])[user.id])
    }

    /// An agent sets their own presence; supervisors and administrators anyone's.
    @Sendable func setPresence(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<PresenceRecord> {
        let id = try request.parameter("id", context: context)
        try requireSelfOr(.supervisor, id: id, context: context)
        guard try await users.find(id: id) != nil else { throw APIError.notFound("user \(id)") }
        let input = try await JSONBody.decode(AgentPresence.self, request, context: context)
        let errors = input.validate()
        guard errors.isEmpty else { throw APIError.invalid(errors) }
        if let routing { return JSONResponse(try await routing.setPresence(userId: id, presence: input)) }
        return JSONResponse(try await routingStore.setPresence(userId: id, presence: input))
    }

    @Sendable func create(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<User> {
        let principal = try context.require(.admin)
        let input = try await JSONBody.decode(UserInput.self, request, context: context)
        let (user, password) = try input.validated(updating: nil)
        let hash = try password.map(PasswordHasher.hash)
        // A missing invitation setting is reported before the user exists, naming the setting.
        if input.invite == true, let peopleMail { _ = try await peopleMail.invitationSetup(try await peopleMail.store.settings.globalSettings()) }
        let created = try await users.create(user, passwordHash: hash)
        await audit(.by(principal, action: "user.created", targetType: "user", targetId: created.id,
                        details: ["email": created.email, "role": created.role.rawValue]))
        if input.invite == true, let peopleMail { try await peopleMail.invite(created, by: principal) }
        return JSONResponse(created, status: .created)
    }

    private func audit(_ event: AuditEvent) async {
        guard let peopleMail else { return }
        try? await peopleMail.people.record(event)
    }

    @Sendable func me(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<JSONValue> {
        let principal = try context.caller()
        guard let userId = principal.userId, let user = try await users.find(id: userId) else {
            // The bootstrap token belongs to no stored user.
            return JSONResponse(try JSONValue(encoding: User(id: "", name: principal.name, email: "", role: principal.role)))
        }
        return JSONResponse(try await view(user))
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<JSONValue> {
        let id = try request.parameter("id", context: context)
        try requireSelfOr(.supervisor, id: id, context: context)
        guard let user = try await users.find(id: id) else { throw APIError.notFound("user \(id)") }
        return JSONResponse(try await view(user))
    }

    @Sendable func update(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<User> {
        let principal = try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard let current = try await users.find(id: id) else { throw APIError.notFound("user \(id)") }
        let input = try await JSONBody.decode(UserInput.self, request, context: context)
        let (user, password) = try input.validated(updating: current)
        let hash = try password.map(PasswordHasher.hash)
        let updated = try await users.update(user, passwordHash: hash)
        if updated.role != current.role {
            await audit(.by(principal, action: "user.roleChanged", targetType: "user", targetId: id,
                            details: ["from": current.role.rawValue, "to": updated.role.rawValue]))
        }
        if updated.active != current.active {
            await audit(.by(principal, action: updated.active ? "user.reactivated" : "user.deactivated", targetType: "user", targetId: id))
        }
        if hash != nil { await audit(.by(principal, action: "user.passwordSet", targetType: "user", targetId: id)) }
        // More capacity, or a reactivated user, may take waiting tickets now.
        if updated.capacity != current.capacity || updated.active != current.active { await routing?.agentsChanged(userId: id) }
        return JSONResponse(updated)
    }

    struct IssuedToken: Encodable, Sendable {
        let id: String
        let name: String
        let token: String
        let userId: String
        let createdAt: Date
        let expiresAt: Date?
    }

    struct TokenRequest: Decodable {
        var name: String?
        var expiresInDays: Int?
    }

    @Sendable func createToken(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<IssuedToken> {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard let user = try await users.find(id: id) else { throw APIError.notFound("user \(id)") }
        var input = TokenRequest()
        if request.headers[.contentLength].map({ $0 != "0" }) ?? false {
            input = try await JSONBody.decode(TokenRequest.self, request, context: context)
        }
        if let days = input.expiresInDays, !(1...3650).contains(days) {
            throw APIError.invalid([FieldError("expiresInDays", "must be between 1 and 3650")])
        }
        let issued = try await issueToken(for: user, name: input.name ?? "api", expiresInDays: input.expiresInDays)
        return JSONResponse(issued, status: .created)
    }

    @Sendable func listTokens(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<APIToken>> {
        let id = try request.parameter("id", context: context)
        try requireSelfOr(.admin, id: id, context: context)
        return JSONResponse(ItemList(try await tokens.list(userId: id)))
    }

    @Sendable func deleteToken(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        let id = try request.parameter("id", context: context)
        try requireSelfOr(.admin, id: id, context: context)
        let tokenId = try request.parameter("tokenId", context: context)
        guard try await tokens.list(userId: id).contains(where: { $0.id == tokenId }) else { throw APIError.notFound("token \(tokenId)") }
        try await tokens.delete(id: tokenId)
        return .noContent
    }

    struct SignIn: Decodable {
        let email: String
        let password: Secret
        var name: String?
    }

    /// Sign-in for programs: email and password give a token.
    @Sendable func signIn(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<IssuedToken> {
        let input = try await JSONBody.decode(SignIn.self, request, context: context)
        let refusal = APIError.unauthorized("the email or password is wrong, or the user is deactivated")
        let address = input.email.trimmingCharacters(in: .whitespaces)
        if let wait = signInLimiter?.retryAfter(address: address, client: context.clientAddress) {
            throw APIError.tooManyRequests(retryAfter: wait,
                                           "too many failed sign-ins for this address or from this client; retry after the time in Retry-After")
        }
        guard let user = try await users.find(email: address), user.active,
              let hash = try await users.passwordHash(userId: user.id) else {
            // Spend the same time as a real check so that timing does not tell which emails exist.
            _ = PasswordHasher.verify(input.password, against: Self.decoyHash)
            signInLimiter?.recordFailure(address: address, client: context.clientAddress)
            throw refusal
        }
        guard PasswordHasher.verify(input.password, against: hash) else {
            signInLimiter?.recordFailure(address: address, client: context.clientAddress)
            throw refusal
        }
        signInLimiter?.recordSuccess(address: address)
        return JSONResponse(try await issueToken(for: user, name: input.name ?? "sign-in", expiresInDays: 30), status: .created)
    }

    private static let decoyHash = (try? PasswordHasher.hash(Secret("decoy password for timing"))) ?? ""

    private func issueToken(for user: User, name: String, expiresInDays: Int?) async throws -> IssuedToken {
        let secret = TokenHasher.newToken()
        let now = Date()
        let expires = expiresInDays.map { now.addingTimeInterval(Double($0) * 86_400) }
        let name = String(name.prefix(100))
        let stored = try await tokens.create(APIToken(id: "", userId: user.id, name: name, createdAt: now, expiresAt: expires),
                                             hash: TokenHasher.hash(secret))
        return IssuedToken(id: stored.id, name: stored.name, token: secret, userId: user.id, createdAt: now, expiresAt: expires)
    }

    private func requireSelfOr(_ role: Role, id: String, context: MailroomRequestContext) throws {
        let principal = try context.caller()
        if principal.userId == id { return }
        try context.require(role)
    }
}
