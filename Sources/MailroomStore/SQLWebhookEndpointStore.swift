import Crypto
import Foundation
import MailroomCore
import SQLKit

/// Webhook endpoints and their signing secrets, sealed with the data directory's key (`SecretBox`)
/// like account passwords. A secret leaves this store only as the answer to `create` or `rotate`
/// (shown once) and to `signingSecrets(url:)`, which the sender uses and never logs.
public struct SQLWebhookEndpointStore: WebhookEndpointRepository {
    let database: MailroomDatabase
    let secrets: SecretBox

    public init(database: MailroomDatabase, secrets: SecretBox) {
        self.database = database
        self.secrets = secrets
    }

    static let columns: SQLQueryString = "id, url, created_at, rotated_at, previous_secret_expires_at"

    /// A new random secret: 32 bytes, base64url, with a prefix that makes a leaked one easy to recognise.
    static func newSecret() -> Secret {
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return Secret("whsec_" + text)
    }

    /// Registers `url` with a new secret; a URL has one endpoint, so a second registration is a conflict.
    public func create(url: String, now: Date = Date()) async throws -> WebhookEndpointSecret {
        let problems = WebhookEndpoint.validate(url: url)
        guard problems.isEmpty else { throw DomainError.invalid(problems) }
        let secret = Self.newSecret()
        let sealed = try secrets.seal(Data(secret.revealed.utf8))
        let endpoint = WebhookEndpoint(id: Identifier.make(at: now), url: url, createdAt: now)
        try await database.transaction { db in
            let existing = try await db.raw("SELECT id FROM webhook_endpoints WHERE url = \(bind: url)").first()
            guard existing == nil else {
                throw DomainError.conflict(FieldError("url", "already has a webhook endpoint; rotate its secret instead"))
            }
            try await db.raw("""
                INSERT INTO webhook_endpoints (id, url, secret_sealed, previous_secret_sealed, previous_secret_expires_at, created_at, rotated_at)
                VALUES (\(bind: endpoint.id), \(bind: url), \(bind: sealed), NULL, NULL, \(bind: Timestamp.from(now)), NULL)
                """).run()
        }
        return WebhookEndpointSecret(endpoint: endpoint, secret: secret)
    }

    public func list() async throws -> [WebhookEndpoint] {
        try await database.withConnection { db in
            try await db.raw("SELECT \(Self.columns) FROM webhook_endpoints ORDER BY created_at, id").all().map(Self.endpoint(from:))
        }
    }

    public func endpoint(id: String) async throws -> WebhookEndpoint? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(Self.columns) FROM webhook_endpoints WHERE id = \(bind: id)").first().map(Self.endpoint(from:))
        }
    }

    /// Replaces the secret; the one it replaces keeps signing for `overlapSeconds` so receivers can
    /// switch without losing a delivery. Nil when there is no such endpoint.
    public func rotate(id: String, overlapSeconds: Int, now: Date = Date()) async throws -> WebhookEndpointSecret? {
        guard WebhookEndpoint.overlapRange.contains(overlapSeconds) else {
            throw DomainError.invalid([FieldError("overlapSeconds", "must be from \(WebhookEndpoint.overlapRange.lowerBound) to \(WebhookEndpoint.overlapRange.upperBound)")])
        }
        let secret = Self.newSecret()
        let sealed = try secrets.seal(Data(secret.revealed.utf8))
        let expires = now.addingTimeInterval(TimeInterval(overlapSeconds))
        return try await database.transaction { db -> WebhookEndpointSecret? in
            guard let row = try await db.raw("SELECT secret_sealed FROM webhook_endpoints WHERE id = \(bind: id)").first() else { return nil }
            let current = try row.decode(column: "secret_sealed", as: String.self)
            // With no overlap the old secret stops at once, so it is not kept at all.
            let previous: String? = overlapSeconds > 0 ? current : nil
            try await db.raw("""
                UPDATE webhook_endpoints SET secret_sealed = \(bind: sealed), previous_secret_sealed = \(bind: previous),
                    previous_secret_expires_at = \(bind: previous == nil ? nil : Timestamp.from(expires)), rotated_at = \(bind: Timestamp.from(now))
                WHERE id = \(bind: id)
                """).run()
            let updated = try await db.raw("SELECT \(Self.columns) FROM webhook_endpoints WHERE id = \(bind: id)").first().map(Self.endpoint(from:))
            return updated.map { WebhookEndpointSecret(endpoint: $0, secret: secret) }
        }
    }

    /// False when there was no such endpoint. Deliveries to its URL are then sent unsigned.
    public func delete(id: String) async throws -> Bool {
        try await database.withConnection { db in
            !(try await db.raw("DELETE FROM webhook_endpoints WHERE id = \(bind: id) RETURNING id").all().isEmpty)
        }
    }

    /// The secrets a delivery to `url` is signed with now: the current one first, then the previous
    /// one while its overlap lasts. Empty when the URL has no endpoint.
    public func signingSecrets(url: String, now: Date = Date()) async throws -> [Secret] {
        let row = try await database.withConnection { db in
            try await db.raw("""
                SELECT secret_sealed, previous_secret_sealed, previous_secret_expires_at FROM webhook_endpoints WHERE url = \(bind: url)
                """).first()
        }
        guard let row else { return [] }
        var sealed = [try row.decode(column: "secret_sealed", as: String.self)]
        if let previous = try row.decode(column: "previous_secret_sealed", as: String?.self),
           let expires = try row.decode(column: "previous_secret_expires_at", as: Int64?.self), Timestamp.date(expires) > now {
            sealed.append(previous)
        }
        return try sealed.map { Secret(String(decoding: try secrets.open($0), as: UTF8.self)) }
    }

    static func endpoint(from row: any SQLRow) throws -> WebhookEndpoint {
        WebhookEndpoint(
            id: try row.decode(column: "id", as: String.self),
            url: try row.decode(column: "url", as: String.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            rotatedAt: try row.decode(column: "rotated_at", as: Int64?.self).map(Timestamp.date),
            previousSecretExpiresAt: try row.decode(column: "previous_secret_expires_at", as: Int64?.self).map(Timestamp.date))
    }
}
