import Hummingbird
import MailroomCore

struct AccountsController {
    let service: AccountsService
    let accounts: any AccountRepository
    let changed: @Sendable () -> Void
    let testConnection: @Sendable (Account) async -> JSONValue
    /// Records changed credentials in the audit trail (which fields, never their values).
    var audit: (@Sendable (AuditEvent) async -> Void)? = nil
    /// Applies an account's sending settings to its mail already in the outbox (retry values) and
    /// wakes the sender (an account switched on again sends what it held).
    var outboxSettingsChanged: @Sendable (Account) async throws -> Void = { _ in }
    /// The stored uploads with these ids (file name and bytes), to check account images.
    var uploadBytes: @Sendable ([String]) async throws -> [String: (filename: String, bytes: [UInt8])] = { _ in [:] }

    func addRoutes(to api: RouterGroup<MailroomRequestContext>) {
        api.get("accounts", use: list)
        api.post("accounts", use: create)
        api.get("accounts/:id", use: show)
        api.put("accounts/:id", use: update)
        api.patch("accounts/:id", use: update)
        api.delete("accounts/:id", use: delete)
        api.get("service-presets", use: presets)
        api.post("accounts/test", use: testUnsaved)
        api.post("accounts/:id/test", use: testSaved)
        api.post("accounts/:id/reload", use: reload)
    }

    @Sendable func list(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<Account>> {
        try context.require(.supervisor)
        let includeDeleted = request.uri.queryParameters["includeDeleted"].map { $0 == "true" || $0 == "1" } ?? false
        return JSONResponse(ItemList(try await accounts.list(includeDeleted: includeDeleted)))
    }

    @Sendable func create(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Account> {
        try context.require(.admin)
        let document = try await JSONBody.object(request, context: context)
        try Self.checkTemplates(document)
        try await checkImages(document, keeping: [])
        let account = try await service.create(document)
        changed()
        return JSONResponse(account, status: .created)
    }

    @Sendable func show(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Account> {
        try context.require(.supervisor)
        let id = try request.parameter("id", context: context)
        guard let account = try await accounts.find(id: id) else { throw APIError.notFound("account \(id)") }
        return JSONResponse(account)
    }

    @Sendable func update(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<Account> {
        let principal = try context.require(.admin)
        let id = try request.parameter("id", context: context)
        let document = try await JSONBody.object(request, context: context)
        try Self.checkTemplates(document)
        let before = try await accounts.find(id: id)
        try await checkImages(document, keeping: Set(before?.inlineImages.map(\.uploadId) ?? []))
        let account = try await service.update(id: id, with: document)
        changed()
        let credentials = ["incoming", "outgoing"].filter { document[$0]?["auth"] != nil }.map { "\($0).auth" }
        if !credentials.isEmpty, let audit {
            await audit(.by(principal, action: "account.credentialsChanged", targetType: "account", targetId: id,
                            details: ["fields": credentials.joined(separator: ", "), "key": account.key]))
        }
        if before?.retry != account.retry || before?.active != account.active { try await outboxSettingsChanged(account) }
        return JSONResponse(account)
    }

    /// Ameyo's "reload media profile configuration": saving already applies the settings; this
    /// applies the retry values to waiting mail again, for scripts written against Ameyo.
    @Sendable func reload(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard let account = try await accounts.find(id: id), account.deletedAt == nil else { throw APIError.notFound("account \(id)") }
        try await outboxSettingsChanged(account)
        return .noContent
    }

    @Sendable func delete(_ request: Request, context: MailroomRequestContext) async throws -> HTTPResponse.Status {
        try context.require(.admin)
        try await service.delete(id: try request.parameter("id", context: context))
        changed()
        return .noContent
    }

    /// Tests settings not yet saved: the body is a whole account, checked as a create would be (but not stored).
    @Sendable func testUnsaved(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<JSONValue> {
        try context.require(.admin)
        let account = try AccountEditor.newAccount(from: try await JSONBody.object(request, context: context))
        return JSONResponse(await testConnection(account))
    }

    /// Tests a saved account, with the changes in the body (if any) applied first but not saved;
    /// credentials left out are the stored ones.
    @Sendable func testSaved(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<JSONValue> {
        try context.require(.admin)
        let id = try request.parameter("id", context: context)
        guard let current = try await accounts.find(id: id) else { throw APIError.notFound("account \(id)") }
        var account = current
        if request.headers[.contentLength].map({ $0 != "0" }) ?? false {
            var changes = try await JSONBody.object(request, context: context)
            // Only the connection settings matter here; a folder or protocol change is tried, not refused.
            if case .object(var object) = changes {
                object["incoming"] = object["incoming"].map { value in
                    guard case .object(var server) = value else { return value }
                    server["protocol"] = nil
                    server["mailbox"] = nil
                    return .object(server)
                }
                object["outgoing"] = object["outgoing"].map { value in
                    guard case .object(var server) = value else { return value }
                    server["protocol"] = nil
                    server["sentFolder"] = nil
                    return .object(server)
                }
                changes = .object(object)
            }
            account = try AccountEditor.updated(current, with: changes)
        }
        return JSONResponse(await testConnection(account))
    }

    /// Logo and signature images newly named in `inlineImages` must be pictures by their bytes
    /// (PNG, JPEG, GIF, WebP; never SVG) and small, whichever way they were uploaded. Images the
    /// account already had (`keeping`) are not read again.
    func checkImages(_ document: JSONValue, keeping: Set<String>) async throws {
        guard let listed = document["inlineImages"], let images = try? listed.decode([InlineImage].self) else { return }
        let fresh = images.enumerated().filter { !$0.element.uploadId.isEmpty && !keeping.contains($0.element.uploadId) }
        guard !fresh.isEmpty else { return }
        let stored = try await uploadBytes(fresh.map(\.element.uploadId))
        var errors: [FieldError] = []
        for (index, image) in fresh {
            guard let upload = stored[image.uploadId] else {
                errors.append(FieldError("inlineImages[\(index)].uploadId", "names no stored upload: upload the image again"))
                continue
            }
            if let problem = ImageKind.problem(with: upload.bytes) {
                errors.append(FieldError("inlineImages[\(index)].uploadId", "\(upload.filename.prefix(100)) \(problem)"))
            }
        }
        guard errors.isEmpty else { throw APIError.invalid(errors) }
    }

    /// The account's HTML template, signature and notification template must render.
    static func checkTemplates(_ document: JSONValue) throws {
        func string(_ value: JSONValue?) -> String? {
            if case .string(let text)? = value { return text }
            return nil
        }
        try TemplatesController.checkSyntax([
            ("template", string(document["template"])),
            ("signature.html", string(document["signature"]?["html"])),
            ("notification.template", string(document["notification"]?["template"])),
        ])
    }

    struct PresetView: Encodable, Sendable {
        struct Endpoint: Encodable, Sendable {
            let host: String
            let port: Int
            let security: ConnectionSecurity
        }

        let service: MailService
        let imap: Endpoint
        let pop3: Endpoint
        let smtp: Endpoint
    }

    @Sendable func presets(_ request: Request, context: MailroomRequestContext) async throws -> JSONResponse<ItemList<PresetView>> {
        try context.require(.agent)
        let views = MailService.allCases.compactMap { service -> PresetView? in
            guard let preset = ServicePreset.forService(service) else { return nil }
            func view(_ endpoint: ServicePreset.Endpoint) -> PresetView.Endpoint {
                .init(host: endpoint.host, port: endpoint.port, security: endpoint.security)
            }
            return PresetView(service: service, imap: view(preset.imap), pop3: view(preset.pop3), smtp: view(preset.smtp))
        }
        return JSONResponse(ItemList(views))
    }
}
