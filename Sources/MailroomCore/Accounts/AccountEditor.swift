/// Builds accounts from API documents: a whole one on create, a merge patch on update.
///
/// Both paths decode through `Account`'s one decoder (so defaults live in one place),
/// then fill defaults and presets, then check the rules.
public enum AccountEditor {
    /// Fields the client cannot set: the server owns identity and timestamps.
    static let serverOwnedFields: Set<String> = ["id", "createdAt", "updatedAt", "deletedAt"]

    public static func newAccount(from request: JSONValue) throws -> Account {
        guard var document = request.objectValue else {
            throw DomainError.invalid([FieldError("", "the request body must be a JSON object")])
        }
        for field in serverOwnedFields { document[field] = nil }
        // A preset means "this provider's mailbox": read it over IMAP and send over SMTP unless told otherwise.
        if let service = document["service"], service != .string(MailService.custom.rawValue), service != .null {
            document["incoming"] = defaultingProtocol(document["incoming"], to: IncomingProtocol.imap.rawValue)
            document["outgoing"] = defaultingProtocol(document["outgoing"], to: OutgoingProtocol.smtp.rawValue)
        }
        var account = try decode(.object(document))
        account.applyDefaults()
        let errors = AccountValidator.validate(account)
        guard errors.isEmpty else { throw DomainError.invalid(errors) }
        return account
    }

    public static func updated(_ current: Account, with patch: JSONValue) throws -> Account {
        guard var changes = patch.objectValue else {
            throw DomainError.invalid([FieldError("", "the request body must be a JSON object")])
        }
        for field in serverOwnedFields { changes[field] = nil }
        // A client that knows only `transfer.enabled` switches both kinds of transfer with it.
        if var transfer = changes["transfer"]?.objectValue, let enabled = transfer["enabled"],
           transfer["toQueue"] == nil, transfer["toAgent"] == nil {
            transfer["toQueue"] = enabled
            transfer["toAgent"] = enabled
            changes["transfer"] = .object(transfer)
        }
        let base = try JSONValue(encoding: current)
        var account = try decode(base.merging(.object(changes)))
        account.id = current.id
        account.createdAt = current.createdAt
        account.updatedAt = current.updatedAt
        account.deletedAt = current.deletedAt
        account.incoming.connection.auth.keepSecrets(from: current.incoming.connection.auth)
        account.outgoing.connection.auth.keepSecrets(from: current.outgoing.connection.auth)
        account.applyDefaults()
        if let conflict = AccountValidator.immutableChange(from: current, to: account) {
            throw DomainError.conflict(conflict)
        }
        let errors = AccountValidator.validate(account)
        guard errors.isEmpty else { throw DomainError.invalid(errors) }
        return account
    }

    static func decode(_ document: JSONValue) throws -> Account {
        do {
            return try document.decode(Account.self)
        } catch let error as DecodingError {
            throw DomainError.invalid([FieldError(error)])
        }
    }

    private static func defaultingProtocol(_ server: JSONValue?, to name: String) -> JSONValue {
        var object = server?.objectValue ?? [:]
        if object["protocol"] == nil || object["protocol"] == .null { object["protocol"] = .string(name) }
        return .object(object)
    }
}

extension ServerAuth {
    /// The API never returns credentials, so an update that leaves one out means "keep it".
    mutating func keepSecrets(from old: ServerAuth) {
        guard method == old.method else { return }
        if password == nil { password = old.password }
        if var oauth2, let previous = old.oauth2 {
            oauth2.clientSecret = oauth2.clientSecret ?? previous.clientSecret
            oauth2.refreshToken = oauth2.refreshToken ?? previous.refreshToken
            oauth2.accessToken = oauth2.accessToken ?? previous.accessToken
            self.oauth2 = oauth2
        }
    }
}

/// The credentials of an account, kept apart so the store can encrypt them as one value.
public struct AccountSecrets: Codable, Sendable, Equatable {
    public struct AuthSecrets: Codable, Sendable, Equatable {
        public var password: String?
        public var clientSecret: String?
        public var refreshToken: String?
        public var accessToken: String?

        var isEmpty: Bool { password == nil && clientSecret == nil && refreshToken == nil && accessToken == nil }
    }

    public var incoming: AuthSecrets
    public var outgoing: AuthSecrets

    public init(of account: Account) {
        func extract(_ auth: ServerAuth) -> AuthSecrets {
            AuthSecrets(password: auth.password?.revealed, clientSecret: auth.oauth2?.clientSecret?.revealed,
                        refreshToken: auth.oauth2?.refreshToken?.revealed, accessToken: auth.oauth2?.accessToken?.revealed)
        }
        incoming = extract(account.incoming.connection.auth)
        outgoing = extract(account.outgoing.connection.auth)
    }

    public var isEmpty: Bool { incoming.isEmpty && outgoing.isEmpty }

    /// Puts the credentials back into an account read without them.
    public func restore(into account: inout Account) {
        func restore(_ secrets: AuthSecrets, into auth: inout ServerAuth) {
            auth.password = secrets.password.map(Secret.init)
            if auth.oauth2 != nil {
                auth.oauth2?.clientSecret = secrets.clientSecret.map(Secret.init)
                auth.oauth2?.refreshToken = secrets.refreshToken.map(Secret.init)
                auth.oauth2?.accessToken = secrets.accessToken.map(Secret.init)
            }
        }
        restore(incoming, into: &account.incoming.connection.auth)
        restore(outgoing, into: &account.outgoing.connection.auth)
    }
}
