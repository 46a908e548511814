import Foundation
import MailroomCore

/// The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`.
///
/// Operations are listed by hand (a test checks that every route the router serves is here and
/// nothing here is missing from the router); schemas name the JSON shapes of DESIGN.md.
public enum OpenAPIDocument {
    struct Operation {
        enum Access: String { case none, agent, supervisor, admin, selfOrSupervisor, selfOrAdmin }

        let method: String
        let path: String
        let summary: String
        let access: Access
        var request: String? = nil
        var response: String? = nil
        var status: Int = 200
        var query: [String] = []
        /// False when the body may be left out (the defaults apply).
        var requestRequired = true
        /// The body changes some fields (PATCH, and the PUTs that share its handler: fields left out keep their values):
        /// the request schema's top-level `required` and `anyOf` apply to the result, not the body.
        var partial: Bool? = nil

        var isPartial: Bool { partial ?? (method == "patch" || method == "put") }
        /// Request bodies have schemas of their own (see ``requestVariant(_:partial:)``).
        var requestSchema: String? { request.map { isPartial ? $0 + "Change" : $0 + "Body" } }
    }

    static let operations: [Operation] = [
        .init(method: "get", path: "/healthz", summary: "Liveness: 200 when the server is up", access: .none),
        .init(method: "get", path: "/readyz",
              summary: "Readiness: 200 {status: ready}; 503 with Retry-After and {status, message} while the disk is full or the database is not reachable",
              access: .none),
        .init(method: "get", path: "/metrics", summary: "Prometheus metrics (text format)", access: .none),
        .init(method: "get", path: "/api/v1/openapi.json", summary: "This document", access: .none),
        .init(method: "post", path: "/api/v1/auth/tokens", summary: "Sign in with email and password; answers a token",
              access: .none, request: "SignIn", response: "IssuedToken", status: 201),

        .init(method: "get", path: "/api/v1/users", summary: "List users; campaignId: only the campaign's agents", access: .supervisor, response: "UserList",
              query: ["campaignId"]),
        .init(method: "post", path: "/api/v1/users", summary: "Create a user", access: .admin, request: "NewUser", response: "User", status: 201),
        .init(method: "get", path: "/api/v1/users/me", summary: "The signed-in user", access: .agent, response: "User"),
        .init(method: "get", path: "/api/v1/users/{id}", summary: "One user", access: .selfOrSupervisor, response: "User"),
        .init(method: "patch", path: "/api/v1/users/{id}", summary: "Change a user", access: .admin, request: "UserInput", response: "User"),
        .init(method: "put", path: "/api/v1/users/{id}", summary: "Change a user", access: .admin, request: "UserInput", response: "User"),
        .init(method: "get", path: "/api/v1/users/{id}/tokens", summary: "A user's API tokens (never the secret)",
              access: .selfOrAdmin, response: "TokenList"),
        .init(method: "post", path: "/api/v1/users/{id}/tokens", summary: "Issue an API token for a user",
              access: .admin, request: "TokenRequest", response: "IssuedToken", status: 201, requestRequired: false),
        .init(method: "delete", path: "/api/v1/users/{id}/tokens/{tokenId}", summary: "Revoke an API token",
              access: .selfOrAdmin, status: 204),
        // People (issue 26): invitations, the audit trail and the system sender's test mail.
        .init(method: "post", path: "/api/v1/users/{id}/invitation", summary: "Mail a new invitation (the previous link stops working)",
              access: .admin, status: 201),
        .init(method: "post", path: "/api/v1/users/invitations", summary: "Invite several users: {userIds}; one result per user",
              access: .admin, request: "InvitationsRequest"),
        .init(method: "get", path: "/api/v1/users/{id}/invitation/preview", summary: "The invitation as it would be sent: {subject, text, html}",
              access: .admin),
        .init(method: "get", path: "/api/v1/audit", summary: "The audit trail, newest first (never a secret)", access: .admin,
              query: ["limit", "before"]),
        .init(method: "post", path: "/api/v1/settings/system-sender/test", summary: "Queue a test mail from the system sender: {to?}",
              access: .admin, status: 201, requestRequired: false),

        .init(method: "get", path: "/api/v1/accounts", summary: "List accounts", access: .supervisor,
              response: "AccountList", query: ["includeDeleted"]),
        .init(method: "post", path: "/api/v1/accounts", summary: "Create an account", access: .admin,
              request: "Account", response: "Account", status: 201),
        .init(method: "get", path: "/api/v1/accounts/{id}", summary: "One account (credentials never included)",
              access: .supervisor, response: "Account"),
        .init(method: "put", path: "/api/v1/accounts/{id}", summary: "Change an account (fields left out keep their values)",
              access: .admin, request: "Account", response: "Account"),
        .init(method: "patch", path: "/api/v1/accounts/{id}", summary: "Change an account (JSON merge patch)",
              access: .admin, request: "Account", response: "Account"),
        .init(method: "delete", path: "/api/v1/accounts/{id}",
              summary: "Delete an account: stops fetching and sending, keeps its tickets readable, disables what used it",
              access: .admin, status: 204),
        .init(method: "post", path: "/api/v1/accounts/test",
              summary: "Test settings not yet saved: each step (resolve, connect, TLS, authenticate, open the folder or EHLO) with its time and server message",
              access: .admin, request: "Account", response: "ConnectionTest"),
        .init(method: "post", path: "/api/v1/accounts/{id}/test",
              summary: "Test a saved account's servers, with optional unsaved changes in the body", access: .admin,
              request: "Account", response: "ConnectionTest", requestRequired: false),
        .init(method: "get", path: "/api/v1/service-presets", summary: "The servers each service preset fills in",
              access: .agent, response: "PresetList"),

        .init(method: "get", path: "/api/v1/dispositions", summary: "List dispositions (global and, with accountId, that account's)",
              access: .agent, response: "DispositionList", query: ["accountId"]),
        .init(method: "post", path: "/api/v1/dispositions", summary: "Create a disposition", access: .supervisor,
              request: "Disposition", response: "Disposition", status: 201),
        .init(method: "get", path: "/api/v1/dispositions/{id}", summary: "One disposition", access: .agent, response: "Disposition"),
        .init(method: "patch", path: "/api/v1/dispositions/{id}", summary: "Change a disposition", access: .supervisor,
              request: "Disposition", response: "Disposition"),
        .init(method: "put", path: "/api/v1/dispositions/{id}", summary: "Change a disposition", access: .supervisor,
              request: "Disposition", response: "Disposition"),
        .init(method: "delete", path: "/api/v1/dispositions/{id}", summary: "Delete a disposition", access: .supervisor, status: 204),

        .init(method: "get", path: "/api/v1/canned-answers", summary: "List canned answers (global and, with accountId, that account's)",
              access: .agent, response: "CannedAnswerList", query: ["accountId"]),
        .init(method: "post", path: "/api/v1/canned-answers", summary: "Create a canned answer", access: .supervisor,
              request: "CannedAnswer", response: "CannedAnswer", status: 201),
        .init(method: "get", path: "/api/v1/canned-answers/{id}", summary: "One canned answer", access: .agent, response: "CannedAnswer"),
        .init(method: "patch", path: "/api/v1/canned-answers/{id}", summary: "Change a canned answer", access: .supervisor,
              request: "CannedAnswer", response: "CannedAnswer"),
        .init(method: "put", path: "/api/v1/canned-answers/{id}", summary: "Change a canned answer", access: .supervisor,
              request: "CannedAnswer", response: "CannedAnswer"),
        .init(method: "delete", path: "/api/v1/canned-answers/{id}", summary: "Delete a canned answer", access: .supervisor, status: 204),

        .init(method: "get", path: "/api/v1/rules", summary: "Routing rules; accountId picks one account's (or 'global'), in order",
              access: .supervisor, response: "RuleList", query: ["accountId"]),
        .init(method: "post", path: "/api/v1/rules", summary: "Create a routing rule", access: .supervisor, request: "Rule", response: "Rule", status: 201),
        .init(method: "post", path: "/api/v1/rules/reorder", summary: "Put one group of rules (an account's, or the global ones) in a new order",
              access: .supervisor, request: "RuleOrder", response: "RuleList"),
        .init(method: "get", path: "/api/v1/rules/{id}", summary: "One routing rule", access: .supervisor, response: "Rule"),
        .init(method: "patch", path: "/api/v1/rules/{id}", summary: "Change a routing rule (JSON merge patch)", access: .supervisor,
              request: "Rule", response: "Rule"),
        .init(method: "put", path: "/api/v1/rules/{id}", summary: "Change a routing rule", access: .supervisor, request: "Rule", response: "Rule"),
        .init(method: "delete", path: "/api/v1/rules/{id}", summary: "Delete a routing rule", access: .supervisor, status: 204),
        .init(method: "get", path: "/api/v1/templates", summary: "Message templates", access: .agent, response: "TemplateList"),
        .init(method: "post", path: "/api/v1/templates", summary: "Create a template ({{ }} variables, Mustache syntax checked)",
              access: .supervisor, request: "Template", response: "Template", status: 201),
        .init(method: "get", path: "/api/v1/templates/{id}", summary: "One template", access: .agent, response: "Template"),
        .init(method: "patch", path: "/api/v1/templates/{id}", summary: "Change a template", access: .supervisor,
              request: "Template", response: "Template"),
        .init(method: "put", path: "/api/v1/templates/{id}", summary: "Change a template", access: .supervisor,
              request: "Template", response: "Template"),
        .init(method: "delete", path: "/api/v1/templates/{id}", summary: "Delete a template", access: .supervisor, status: 204),
        .init(method: "get", path: "/api/v1/settings", summary: "Global settings: failure-mail senders, invitation template and link",
              access: .supervisor, response: "GlobalSettings"),
        .init(method: "put", path: "/api/v1/settings", summary: "Change global settings", access: .admin,
              request: "GlobalSettings", response: "GlobalSettings"),
        .init(method: "patch", path: "/api/v1/settings", summary: "Change global settings (JSON merge patch)", access: .admin,
              request: "GlobalSettings", response: "GlobalSettings"),
        .init(method: "get", path: "/api/v1/tickets",
              summary: "Tickets, newest activity first; filters accountId, campaignId (its accounts' tickets), queueId, agentId, status, unread, tag, since, until, unassigned; limit and cursor",
              access: .agent, response: "TicketList",
              query: ["accountId", "campaignId", "queueId", "agentId", "status", "unread", "tag", "since", "until", "unassigned", "limit", "cursor"]),
        .init(method: "get", path: "/api/v1/tickets/{id}", summary: "One ticket", access: .agent, response: "Ticket"),
        .init(method: "patch", path: "/api/v1/tickets/{id}", summary: "Set a ticket's tags (the whole list), priority or escalation flag",
              access: .agent, request: "TicketPatch", response: "Ticket"),
        .init(method: "post", path: "/api/v1/tickets/{id}/transfer",
              summary: "Move a ticket to a queue or an agent (returns unread to its agent if not accepted within the account's transfer timeout) or to another account (arrives unread, optionally with a notice)",
              access: .agent, request: "Transfer", response: "Ticket"),
        .init(method: "post", path: "/api/v1/tickets/{id}/close",
              summary: "Close a ticket; with the account's mandatory disposition, 422 names dispositionId and the agent is paused while disposing",
              access: .agent, request: "Close", response: "Ticket"),
        .init(method: "post", path: "/api/v1/tickets/{id}/read", summary: "Mark a ticket read", access: .agent, response: "Ticket"),
        // The desk (issue 27): take or assign a ticket waiting in a queue, reopen a closed one, its history.
        .init(method: "post", path: "/api/v1/tickets/{id}/take",
              summary: "Take an open ticket no agent holds (an agent of its queue, or any agent who sees it when it has no queue), or with userId (supervisors) assign it to that agent; the rules of accepting an offer apply: 409 when the agent is at capacity, another agent took it first, or the ticket is closed",
              access: .agent, request: "Take", response: "Ticket", requestRequired: false),
        .init(method: "post", path: "/api/v1/tickets/{id}/reopen",
              summary: "Reopen a closed ticket (status open, its queue and agent kept, its disposition cleared); 409 when it is not closed, or an agent other than its last holder asks",
              access: .agent, response: "Ticket"),
        .init(method: "get", path: "/api/v1/tickets/{id}/history",
              summary: "What happened to a ticket, oldest first: {items: [{at, actor, kind, details}]}", access: .agent, response: "TicketHistory"),
        .init(method: "post", path: "/api/v1/tickets/{id}/unread", summary: "Mark a ticket unread", access: .agent, response: "Ticket"),
        .init(method: "get", path: "/api/v1/queues", summary: "Queues with their members; campaignId: only the campaign's queues", access: .agent,
              response: "QueueList", query: ["campaignId"]),
        .init(method: "post", path: "/api/v1/queues", summary: "Create a queue", access: .supervisor, request: "Queue", response: "Queue", status: 201),
        .init(method: "get", path: "/api/v1/queues/{id}", summary: "One queue", access: .agent, response: "Queue"),
        .init(method: "put", path: "/api/v1/queues/{id}", summary: "Change a queue; tickets waiting in it follow the new settings",
              access: .supervisor, request: "Queue", response: "Queue", partial: false),
        .init(method: "delete", path: "/api/v1/queues/{id}", summary: "Delete a queue; tickets still offered in it go to the unassigned view",
              access: .supervisor, status: 204),
        .init(method: "get", path: "/api/v1/campaigns", summary: "Campaigns: queues, accounts and agents grouped", access: .agent,
              response: "CampaignList"),
        .init(method: "post", path: "/api/v1/campaigns",
              summary: "Create a campaign; its agents then see and are offered only its accounts' tickets (and those assigned to them)",
              access: .admin, request: "Campaign", response: "Campaign", status: 201),
        .init(method: "get", path: "/api/v1/campaigns/{id}", summary: "One campaign", access: .agent, response: "Campaign"),
        .init(method: "put", path: "/api/v1/campaigns/{id}", summary: "Change a campaign", access: .admin, request: "Campaign", response: "Campaign"),
        .init(method: "delete", path: "/api/v1/campaigns/{id}", summary: "Delete a campaign", access: .admin, status: 204),
        .init(method: "put", path: "/api/v1/users/{id}/presence", summary: "Set an agent's presence (online, paused with a reason, offline)",
              access: .selfOrSupervisor, request: "PresenceInput", response: "Presence", partial: false),
        .init(method: "get", path: "/api/v1/offers", summary: "The caller's open offers, oldest first", access: .agent, response: "OfferList"),
        .init(method: "post", path: "/api/v1/offers/{id}/accept",
              summary: "Accept an offer: the ticket becomes the caller's; 409 when another agent accepted first or it expired",
              access: .agent, response: "Ticket"),
        .init(method: "post", path: "/api/v1/offers/{id}/reject", summary: "Decline an offer: routing moves on", access: .agent, status: 204),
        .init(method: "get", path: "/api/v1/tickets/{id}/messages", summary: "A ticket's messages in order", access: .agent,
              response: "MessageList"),
        .init(method: "get", path: "/api/v1/messages/{id}/raw", summary: "A message as it arrived or was sent (message/rfc822)",
              access: .agent),
        .init(method: "get", path: "/api/v1/quarantine", summary: "Messages kept aside because they could not be ingested",
              access: .supervisor, response: "QuarantineList", query: ["accountId", "includeReplayed"]),
        .init(method: "get", path: "/api/v1/quarantine/{id}", summary: "One quarantined message", access: .supervisor,
              response: "Quarantined"),
        .init(method: "get", path: "/api/v1/quarantine/{id}/raw", summary: "The quarantined message's raw bytes (message/rfc822)",
              access: .supervisor),
        .init(method: "post", path: "/api/v1/quarantine/{id}/replay", summary: "Run a quarantined message through ingest again",
              access: .supervisor, response: "ReplayResult"),
        .init(method: "delete", path: "/api/v1/quarantine/{id}",
              summary: "Discard a quarantined message; its raw bytes are erased unless a stored message or another entry has the same",
              access: .supervisor, status: 204),
        .init(method: "post", path: "/api/v1/tickets/{id}/replies",
              summary: "Reply, reply all, forward or write anew on a ticket; answers the queued outbound message", access: .agent,
              request: "ReplyRequest", response: "Message", status: 201),
        .init(method: "get", path: "/api/v1/tickets/{id}/canned-answers/{cannedId}/rendered",
              summary: "A canned answer with the ticket's values filled in, for the agent to insert into a reply and edit", access: .agent,
              response: "CannedAnswerRendering"),
        .init(method: "post", path: "/api/v1/attachments",
              summary: "Upload a file to attach to a reply (the body is the file, at most 25 MiB); query filename, inline, contentId; kind=image: an account's logo or signature image, which must be PNG, JPEG, GIF or WebP by its bytes and at most 1 MiB",
              access: .agent, response: "Upload", status: 201, query: ["filename", "inline", "contentId", "kind"]),
        .init(method: "get", path: "/api/v1/events",
              summary: "Live events as Server-Sent Events (text/event-stream): `event:` is offer, offerTaken, message, ticket, presence (or reset: reload, events were missed); `id:` resumes with Last-Event-ID",
              access: .agent, query: ["lastEventId"]),
        .init(method: "get", path: "/api/v1/webhooks/deliveries", summary: "Webhook posts made by rules, newest first, by state",
              access: .supervisor, response: "WebhookDeliveryList", query: ["state"]),
        .init(method: "get", path: "/api/v1/webhooks/deliveries/{id}", summary: "One webhook delivery: attempts, last status and error",
              access: .supervisor, response: "WebhookDelivery"),
        .init(method: "post", path: "/api/v1/webhooks/deliveries/{id}/retry", summary: "Post a failed webhook delivery again",
              access: .supervisor, response: "WebhookDelivery"),
        .init(method: "get", path: "/api/v1/webhooks/endpoints", summary: "Webhook receivers with signing secrets (never the secret)",
              access: .admin, response: "WebhookEndpointList"),
        .init(method: "post", path: "/api/v1/webhooks/endpoints",
              summary: "Register a webhook URL: answers its signing secret, shown this once; deliveries to it carry X-Mailroom-Signature",
              access: .admin, request: "WebhookEndpointInput", response: "WebhookEndpointSecret", status: 201),
        .init(method: "get", path: "/api/v1/webhooks/endpoints/{id}", summary: "One webhook endpoint (never the secret)",
              access: .admin, response: "WebhookEndpoint"),
        .init(method: "delete", path: "/api/v1/webhooks/endpoints/{id}", summary: "Forget an endpoint; deliveries to its URL go unsigned",
              access: .admin, status: 204),
        .init(method: "post", path: "/api/v1/webhooks/endpoints/{id}/rotate",
              summary: "A new signing secret, shown this once; the old one also signs until overlapSeconds (default 86400) pass",
              access: .admin, request: "WebhookRotation", response: "WebhookEndpointSecret", requestRequired: false),
        .init(method: "get", path: "/api/v1/outbox", summary: "Outgoing messages, newest first, by state", access: .supervisor,
              response: "OutboxList", query: ["state"]),
        .init(method: "get", path: "/api/v1/outbox/{id}", summary: "One outgoing message's delivery", access: .supervisor, response: "OutboxItem"),
        .init(method: "get", path: "/api/v1/outbox/{id}/attempts",
              summary: "Every send attempt: time, reply code, enhanced code, text, error class, policy, next attempt", access: .supervisor,
              response: "AttemptList"),
        .init(method: "post", path: "/api/v1/outbox/{id}/resend", summary: "Send a failed or bounced message again", access: .supervisor,
              response: "OutboxItem"),
        .init(method: "post", path: "/api/v1/accounts/{id}/reload",
              summary: "Ameyo's reload: applies the account's retry values to its mail already waiting for a retry (saving the account does so too) and wakes the sender",
              access: .admin, status: 204),
        .init(method: "get", path: "/api/v1/accounts/{id}/status",
              summary: "Fetching state: connected, IDLE, last successful fetch, last error, next fetch, counts",
              access: .supervisor, response: "AccountStatus"),
        .init(method: "get", path: "/api/v1/oauth2/providers", summary: "OAuth2 providers accounts sign in with", access: .admin,
              response: "OAuth2ProviderList"),
        .init(method: "post", path: "/api/v1/oauth2/providers",
              summary: "Add a provider; microsoft and google fill in their endpoints and mail scopes", access: .admin,
              request: "OAuth2Provider", response: "OAuth2Provider", status: 201),
        .init(method: "get", path: "/api/v1/oauth2/providers/{id}", summary: "One provider (never its client secret)", access: .admin,
              response: "OAuth2Provider"),
        .init(method: "put", path: "/api/v1/oauth2/providers/{id}", summary: "Change a provider; a client secret left out is kept",
              access: .admin, request: "OAuth2Provider", response: "OAuth2Provider"),
        .init(method: "patch", path: "/api/v1/oauth2/providers/{id}", summary: "Change a provider; a client secret left out is kept",
              access: .admin, request: "OAuth2Provider", response: "OAuth2Provider"),
        .init(method: "delete", path: "/api/v1/oauth2/providers/{id}", summary: "Delete a provider no account uses", access: .admin,
              status: 204),
        .init(method: "post", path: "/api/v1/accounts/{id}/oauth2/authorize",
              summary: "Start signing the account in: answers the provider's address to open (single use, 10 minutes)",
              access: .admin, response: "OAuth2Authorize"),
        .init(method: "get", path: "/api/v1/accounts/{id}/oauth2", summary: "How the account's OAuth2 token stands", access: .supervisor,
              response: "OAuth2TokenStatus"),
        .init(method: "delete", path: "/api/v1/accounts/{id}/oauth2",
              summary: "Sign the account out: the grant is revoked at the provider and forgotten", access: .admin, status: 204),
        reportOperation,
    ]

    /// The (method, path) pairs described, for the test that keeps the document true.
    public static var describedRoutes: [(method: String, path: String)] {
        operations.map { ($0.method.uppercased(), $0.path) }
    }

    public static let json: String = {
        var paths: [String: [String: JSONValue]] = [:]
        for operation in operations {
            paths[operation.path, default: [:]][operation.method] = describe(operation)
        }
        addReportFormats(to: &paths)
        let document: JSONValue = .object([
            "openapi": .string("3.1.0"),
            "info": .object([
                "title": .string("Mailroom API"),
                "version": .string("1"),
                "description": .string("The email channel server's API. Send 'Authorization: Bearer TOKEN'. "
                    + "Errors are {\"error\": {\"code\", \"message\", \"field\"?}}. Ids are strings; fields are camelCase."),
            ]),
            "paths": .object(paths.mapValues { .object($0) }),
            "components": .object([
                "securitySchemes": .object(["bearer": .object(["type": .string("http"), "scheme": .string("bearer")])]),
                "schemas": schemas,
            ]),
        ])
        let data = (try? JSONCoding.encoder.encode(document)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }()

    private static func describe(_ operation: Operation) -> JSONValue {
        var object: [String: JSONValue] = [
            "summary": .string(operation.summary),
            "description": .string(accessText(operation.access)),
        ]
        if operation.access != .none {
            object["security"] = .array([.object(["bearer": .array([])])])
        }
        var parameters: [JSONValue] = []
        for name in parameterNames(in: operation.path) {
            parameters.append(.object(["name": .string(name), "in": .string("path"), "required": .bool(true),
                                       "schema": reportParameterSchema(name, path: operation.path) ?? .object(["type": .string("string")])]))
        }
        for name in operation.query {
            let required = operation.path == "/api/v1/attachments" && name == "filename"
            parameters.append(.object(["name": .string(name), "in": .string("query"), "required": .bool(required),
                                       "schema": reportParameterSchema(name, path: operation.path) ?? querySchema(name, path: operation.path)]))
        }
        if !parameters.isEmpty { object["parameters"] = .array(parameters) }
        if operation.path == "/api/v1/attachments" {
            object["requestBody"] = .object(["required": .bool(true), "content": .object(["application/octet-stream": .object([
                "schema": .object(["type": .string("string"), "format": .string("binary"), "minLength": .number(1)])])])])
        }
        if let request = operation.requestSchema {
            object["requestBody"] = .object(["required": .bool(operation.requestRequired), "content": content(request)])
        }
        var responses: [String: JSONValue] = [:]
        var success: [String: JSONValue] = ["description": .string(operation.status == 204 ? "No content" : "Success")]
        if let response = operation.response { success["content"] = content(response) }
        responses[String(operation.status)] = .object(success)
        let errorContent = content("Error")
        responses["4XX"] = .object(["description": .string("The request was refused; the error names the field"), "content": errorContent])
        if operation.access != .none || operation.path == "/api/v1/auth/tokens" {
            responses["429"] = .object([
                "description": .string("Too many requests with this token, or failed sign-ins for this address or from this client; wait as Retry-After says"),
                "headers": .object(["Retry-After": .object(["description": .string("seconds"), "schema": .object(["type": .string("integer")])])]),
                "content": errorContent,
            ])
        }
        object["responses"] = .object(responses)
        return .object(object)
    }

    private static func content(_ schema: String) -> JSONValue {
        .object(["application/json": .object(["schema": .object(["$ref": .string("#/components/schemas/\(schema)")])])])
    }

    private static func parameterNames(in path: String) -> [String] {
        path.split(separator: "/").compactMap { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? String(part.dropFirst().dropLast()) : nil
        }
    }

    private static func accessText(_ access: Operation.Access) -> String {
        switch access {
        case .none: return "No token needed."
        case .agent: return "Any signed-in user."
        case .supervisor: return "Supervisors and administrators."
        case .admin: return "Administrators only."
        case .selfOrSupervisor: return "The user themself, supervisors and administrators."
        case .selfOrAdmin: return "The user themself and administrators."
        }
    }

    private static var schemas: JSONValue {
        guard case .object(var schemas) = (try? JSONCoding.decoder.decode(JSONValue.self, from: Data(schemaText.utf8))) ?? .object([:])
        else { return .object([:]) }
        if case .object(var user) = schemas["UserInput"] {
            user["required"] = .array([.string("name"), .string("email"), .string("role")])
            schemas["NewUser"] = .object(user)
        }
        for operation in operations {
            guard let name = operation.request, let variant = operation.requestSchema, let schema = schemas[name] else { continue }
            schemas[variant] = requestVariant(schema, partial: operation.isPartial)
        }
        // Issue 27: the IANA names this server accepts, exactly.
        schemas["TimeZoneName"] = .object(["type": .string("string"), "enum": .array(TimeZoneName.all.map(JSONValue.string))])
        addReportSchemas(to: &schemas)
        addReferencedBodies(to: &schemas)
        return .object(schemas)
    }

    private static let schemaText = #"""
    {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"},
          "details": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}}}},
      "Auth": {"type": "object", "properties": {
        "method": {"enum": ["none", "password", "oauth2"]}, "username": {"type": "string"},
        "password": {"type": "string", "writeOnly": true}, "passwordSet": {"type": "boolean", "readOnly": true},
        "oauth2": {"type": ["object", "null"], "properties": {"providerId": {"type": ["string", "null"], "description": "an OAuth2 provider's id: tokens come from signing in"}, "provider": {"type": "string"}, "email": {"type": "string"}, "clientId": {"type": "string"},
          "tenantId": {"type": ["string", "null"]}, "tokenURL": {"type": ["string", "null"]}, "scope": {"type": ["string", "null"]},
          "clientSecret": {"type": "string", "writeOnly": true}, "refreshToken": {"type": "string", "writeOnly": true},
          "accessToken": {"type": "string", "writeOnly": true}, "clientSecretSet": {"type": "boolean", "readOnly": true},
          "refreshTokenSet": {"type": "boolean", "readOnly": true}, "accessTokenSet": {"type": "boolean", "readOnly": true}}}}},
      "Server": {"type": "object", "properties": {
        "host": {"type": "string"}, "port": {"type": ["integer", "null"], "minimum": 1, "maximum": 65535},
        "security": {"enum": ["tls", "starttls", "none"]}, "acceptAnyCertificate": {"type": "boolean", "default": false},
        "auth": {"$ref": "#/components/schemas/Auth"},
        "connectionTimeoutSeconds": {"type": "integer", "default": 10}, "authTimeoutSeconds": {"type": "integer", "default": 5},
        "url": {"type": ["string", "null"], "description": "ews: the endpoint, such as https://mail.example.com/EWS/Exchange.asmx (else built from host; neither: found by Autodiscover from the mailbox address)"},
        "baseURL": {"type": ["string", "null"], "description": "graph: the API base (default https://graph.microsoft.com/v1.0)"},
        "mailboxAddress": {"type": ["string", "null"], "description": "ews and graph: a shared mailbox to open instead of fromAddress"}}},
      "Incoming": {"allOf": [{"$ref": "#/components/schemas/Server"}, {"type": "object", "properties": {
        "protocol": {"enum": ["none", "imap", "pop3", "ews", "graph", "imaps", "pop3s"], "description": "imaps and pop3s mean the protocol with security tls; ews is Exchange Web Services (Exchange Server), graph is Microsoft Graph (Exchange Online); fixed after creation"},
        "mailbox": {"type": "string", "default": "INBOX", "description": "fixed after creation"},
        "fetchIntervalSeconds": {"type": "integer", "default": 10}, "fetchLastDays": {"type": ["integer", "null"]},
        "deleteOnFetch": {"type": "boolean", "default": false}, "maxMessageBytes": {"type": "integer", "default": 26214400},
        "headerFilters": {"type": "array", "items": {"type": "object", "required": ["header", "match", "value", "action"], "properties": {
          "header": {"type": "string"}, "match": {"enum": ["equals", "contains", "regex"]}, "value": {"type": "string"},
          "action": {"enum": ["skip", "quarantine", "tag"]}, "tag": {"type": ["string", "null"]}}}}}}]},
      "Outgoing": {"allOf": [{"$ref": "#/components/schemas/Server"}, {"type": "object", "properties": {
        "protocol": {"enum": ["none", "smtp", "ews", "graph", "smtps"], "description": "smtps means smtp with security tls; ews sends with CreateItem, graph with sendMail; fixed after creation"},
        "sentFolder": {"type": ["string", "null"], "description": "fixed after creation"},
        "verp": {"type": "boolean", "default": false, "description": "a return path per message (local+mr-ID@domain) so bounces are matched without a report"}}}]},
      "Account": {"type": "object", "required": ["key", "name"], "properties": {
        "id": {"type": "string", "readOnly": true}, "key": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[^\\s\\u0000-\\u001f\\u007f-\\u009f]+$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}, "service": {"enum": ["custom", "gmail", "outlook365", "yahoo", "hotmail"], "default": "custom"},
        "fromAddress": {"type": "string"}, "fromName": {"type": "string", "maxLength": 52}, "description": {"type": "string", "maxLength": 4000},
        "contactLists": {"type": "array", "items": {"type": "string"}, "description": "Motion's list of contact manager"},
        "active": {"type": "boolean", "default": true}, "markUnread": {"type": "boolean", "default": true, "description": "Mail arriving on this account marks its ticket unread for the agent"},
        "waitForAgentSeconds": {"type": "integer", "minimum": 1, "maximum": 2147483, "default": 10},
        "waitForQueueSeconds": {"type": "integer", "minimum": 1, "maximum": 2147483, "default": 10},
        "subjectPrefix": {"type": "string", "maxLength": 100}, "replyTo": {"type": ["string", "null"], "format": "email"},
        "hostname": {"type": ["string", "null"], "maxLength": 253, "pattern": "^\\S*$"},
        "incoming": {"$ref": "#/components/schemas/Incoming"}, "outgoing": {"$ref": "#/components/schemas/Outgoing"},
        "resolvers": {"type": "array", "items": {"enum": ["customerPerAccount", "customer", "subject", "subjectAndCustomer", "caseId", "subjectFromObserver", "subjectCustomerAccount"]}},
        "signature": {"type": "object", "properties": {"html": {"type": "string"}, "beforeQuote": {"type": "boolean"}}},
        "inlineImages": {"type": "array", "description": "Logo and signature images (uploads), sent inline where the HTML shows cid:contentId",
          "items": {"type": "object", "properties": {"contentId": {"type": "string"}, "uploadId": {"type": "string"}, "filename": {"type": "string"}}}},
        "template": {"type": ["string", "null"]},
        "font": {"type": ["object", "null"], "description": "The template's font and size, inline CSS on every HTML mail sent from the account",
          "properties": {"family": {"enum": ["default", "arial", "verdana", "tahoma", "trebuchet", "georgia", "times", "courier"]},
                         "size": {"type": ["integer", "null"], "minimum": 8, "maximum": 36}}},
        "notification": {"type": "object", "properties": {"sound": {"type": "boolean"}, "shake": {"type": "boolean"}, "template": {"type": ["string", "null"]}}},
        "transfer": {"type": "object", "properties": {"enabled": {"type": "boolean", "description": "Either kind of transfer; setting it alone sets both"},
          "toQueue": {"type": "boolean"}, "toAgent": {"type": "boolean"},
          "timeoutSeconds": {"type": ["integer", "null"], "minimum": 1, "maximum": 2147483, "description": "An unaccepted transfer returns to its agent as unread after this"}}},
        "mandatoryDisposition": {"type": "object", "properties": {"enabled": {"type": "boolean"}, "pauseStatus": {"type": ["string", "null"]}}},
        "retry": {"type": "object", "properties": {"maxRetryCount": {"type": "integer", "default": 3},
          "rateLimitRetrySeconds": {"type": "integer", "default": 86400}, "progressiveRetryIntervalSeconds": {"type": "integer", "default": 300},
          "errorPolicies": {"type": "object", "additionalProperties": {"enum": ["defaultRetry", "rateLimitRetry", "progressiveRetry", "noRetry"]}}}},
        "outgoingAccountId": {"type": ["string", "null"]},
        "createdAt": {"type": "string", "format": "date-time", "readOnly": true}, "updatedAt": {"type": "string", "format": "date-time", "readOnly": true},
        "deletedAt": {"type": ["string", "null"], "format": "date-time", "readOnly": true}}},
      "AccountList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}}, "nextCursor": {"type": ["string", "null"]}}},
      "PresetList": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}},
      "User": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"},
        "role": {"enum": ["admin", "supervisor", "agent"]}, "alias": {"type": ["string", "null"]}, "capacity": {"type": "integer"},
        "active": {"type": "boolean"}, "createdAt": {"type": ["string", "null"], "format": "date-time", "description": "null for the bootstrap administrator token"},
        "timeZone": {"anyOf": [{"$ref": "#/components/schemas/TimeZoneName"}, {"type": "null"}], "description": "IANA name the user reads times in; absent or null: the installation's (settings.timeZone)"},
        "updatedAt": {"type": ["string", "null"], "format": "date-time"},
        "presence": {"$ref": "#/components/schemas/Presence", "readOnly": true}}},
      "Presence": {"type": "object", "properties": {"userId": {"type": "string"}, "state": {"enum": ["online", "paused", "offline"]},
        "reason": {"type": ["string", "null"]}, "since": {"type": ["string", "null"], "format": "date-time"}}},
      "PresenceInput": {"type": "object", "required": ["state"], "properties": {"state": {"enum": ["online", "paused", "offline"]},
        "reason": {"type": "string", "maxLength": 100, "description": "kept for paused only"}}},
      "Queue": {"type": "object", "required": ["name"], "properties": {"id": {"type": "string", "readOnly": true}, "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
        "strategy": {"enum": ["ringAll", "roundRobin", "leastRecent", null], "default": "ringAll", "description": "null: ringAll"},
        "agentTimeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 2147483, "default": 30},
        "members": {"type": "array", "items": {"type": "object", "required": ["userId"], "properties": {"userId": {"type": "string", "minLength": 1},
          "priority": {"type": "integer", "minimum": 0, "default": 0, "description": "lower is offered first"}}}},
        "accountIds": {"type": "array", "items": {"type": "string"},
          "description": "accounts this queue serves: their unassigned tickets are visible to its members"}}},
      "Campaign": {"type": "object", "required": ["name"], "properties": {"id": {"type": "string", "readOnly": true}, "name": {"type": "string"},
        "queueIds": {"type": "array", "items": {"type": "string"}}, "accountIds": {"type": "array", "items": {"type": "string"}},
        "userIds": {"type": "array", "items": {"type": "string"}},
        "createdAt": {"type": ["string", "null"], "readOnly": true}, "updatedAt": {"type": ["string", "null"], "readOnly": true}}},
      "CampaignList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Campaign"}}}},
      "QueueList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Queue"}}}},
      "Offer": {"type": "object", "properties": {"id": {"type": "string"}, "ticketId": {"type": "string"},
        "state": {"enum": ["offered", "accepted", "rejected", "expired", "taken", "withdrawn"]}, "offeredAt": {"type": "string", "format": "date-time"},
        "deadline": {"type": "string", "format": "date-time"}, "ticket": {"$ref": "#/components/schemas/Ticket"}}},
      "OfferList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Offer"}}}},
      "Transfer": {"type": "object", "description": "exactly one of queueId, userId, accountId", "properties": {"queueId": {"type": "string"},
        "userId": {"type": "string"}, "accountId": {"type": "string"}, "noticeTemplateId": {"type": "string", "description": "account transfers: a notice to the customer"}}},
      "Close": {"type": "object", "properties": {"dispositionId": {"type": ["string", "null"]}}},
      "Take": {"type": "object", "properties": {"userId": {"type": ["string", "null"],
        "description": "Supervisors: the agent who gets the ticket (absent or the caller's own id: the caller takes it)"}}},
      "TicketHistory": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/TicketHistoryEntry"}},
        "nextCursor": {"type": ["string", "null"]}}},
      "TicketHistoryEntry": {"type": "object", "required": ["at", "actor", "kind", "details"], "properties": {
        "at": {"type": "string", "format": "date-time"},
        "actor": {"type": "object", "required": ["type", "name"], "properties": {"type": {"enum": ["user", "system"]},
          "id": {"type": ["string", "null"]}, "name": {"type": "string"}}},
        "kind": {"enum": ["created", "routed", "offered", "accepted", "transferred", "replied", "tagged", "closed", "reopened", "merged"]},
        "details": {"type": "object", "additionalProperties": {"type": "string"},
          "description": "By kind: routed {queueId | agentId | to: unassigned}; offered {userId, deadline}; accepted {userId, how?: taken | assigned}; transferred {fromUserId?, toQueueId | toUserId | fromAccountId and toAccountId}; replied {messageId, subject}; tagged {added?, removed?}; closed {dispositionId?}; created {accountId, customer}; merged {intoTicketId}"}}},
      "TicketPatch": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}},
        "priority": {"enum": ["low", "medium", "high"]}, "escalated": {"type": "boolean"}}},
      "UserInput": {"type": "object", "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}, "email": {"type": "string", "format": "email"},
        "role": {"enum": ["admin", "supervisor", "agent"]}, "password": {"type": "string", "minLength": 8, "writeOnly": true},
        "alias": {"type": "string"}, "capacity": {"type": "integer", "minimum": 1, "maximum": 1000}, "active": {"type": "boolean"},
        "invite": {"type": "boolean", "description": "on creation: mail an invitation (needs the invitation settings and the system sender)"},
        "timeZone": {"anyOf": [{"$ref": "#/components/schemas/TimeZoneName"}, {"enum": ["", null]}], "description": "IANA name; empty or null: the installation's"}}},
      "UserList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}},
      "SignIn": {"type": "object", "required": ["email", "password"], "properties": {"email": {"type": "string"}, "password": {"type": "string"}, "name": {"type": "string"}}},
      "InvitationsRequest": {"type": "object", "required": ["userIds"], "properties": {"userIds": {"type": "array", "items": {"type": "string"}}}},
      "TokenRequest": {"type": "object", "properties": {"name": {"type": "string"}, "expiresInDays": {"type": "integer", "minimum": 1, "maximum": 3650}}},
      "IssuedToken": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "token": {"type": "string"},
        "userId": {"type": "string"}, "createdAt": {"type": "string", "format": "date-time"}, "expiresAt": {"type": ["string", "null"], "format": "date-time"}}},
      "TokenList": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"},
        "userId": {"type": "string"}, "name": {"type": "string"}, "createdAt": {"type": "string"}, "lastUsedAt": {"type": ["string", "null"]}, "expiresAt": {"type": ["string", "null"]}}}}}},
      "Disposition": {"type": "object", "required": ["name"], "properties": {"id": {"type": "string", "readOnly": true}, "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
        "accountId": {"type": ["string", "null"]}, "active": {"type": "boolean"}}},
      "DispositionList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Disposition"}}}},
      "CannedAnswer": {"type": "object", "required": ["name"], "anyOf": [{"required": ["text"], "properties": {"text": {"type": "string", "minLength": 1}}}, {"required": ["html"], "properties": {"html": {"type": "string", "minLength": 1}}}],
        "properties": {"id": {"type": "string", "readOnly": true}, "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
        "text": {"type": ["string", "null"]}, "html": {"type": ["string", "null"]}, "accountId": {"type": ["string", "null"]}, "active": {"type": "boolean"}}},
      "CannedAnswerList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/CannedAnswer"}}}},
      "GlobalSettings": {"type": "object", "properties": {"failureMailSenders": {"type": ["array", "null"], "maxItems": 1000, "items": {"type": "string", "format": "email"}, "description": "null in a change keeps the list"},
        "invitationTemplateKey": {"type": ["string", "null"]}, "invitationLinkBaseAddress": {"type": ["string", "null"]},
        "invitationLinkHours": {"type": ["integer", "null"], "minimum": 1, "maximum": 720},
        "systemSender": {"type": ["object", "null"], "properties": {"accountId": {"type": ["string", "null"]}}},
        "timeZone": {"anyOf": [{"$ref": "#/components/schemas/TimeZoneName"}, {"type": "null"}], "description": "the installation's time zone; null: UTC"},
        "presenceAfterSignIn": {"enum": ["online", "asLeft", null], "description": "agents' presence after signing in to the web application; null: asLeft"}}},
      "Rule": {"type": "object", "required": ["name", "actions"], "properties": {"id": {"type": "string", "readOnly": true},
        "accountId": {"type": ["string", "null"]}, "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}, "position": {"type": "integer"}, "enabled": {"type": "boolean"},
        "campaignId": {"type": ["string", "null"], "description": "The campaign the rule routes within: its queue actions and its account must be the campaign's"},
        "match": {"enum": ["all", "any"]},
        "conditions": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string",
          "description": "from, to, cc, subject, body, header:NAME, hasAttachment, account, time"},
          "operator": {"enum": ["is", "isNot", "contains", "notContains", "startsWith", "endsWith", "matches"]}, "value": {}}}},
        "actions": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {"type": {"enum": ["queue", "agent", "tag", "priority", "autoReply", "close", "webhook", "goto", "stop"]}}}}}},
      "RuleList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}}}},
      "RuleOrder": {"type": "object", "required": ["order"], "properties": {"accountId": {"type": ["string", "null"]},
        "order": {"type": "array", "items": {"type": "string"}}}},
      "Template": {"type": "object", "required": ["key", "kind"], "anyOf": [{"required": ["text"], "properties": {"text": {"type": "string", "minLength": 1}}}, {"required": ["html"], "properties": {"html": {"type": "string", "minLength": 1}}}],
        "properties": {"id": {"type": "string", "readOnly": true},
        "key": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"}, "kind": {"enum": ["reply", "autoReply", "notification", "invitation"]}, "subject": {"type": ["string", "null"]},
        "text": {"type": ["string", "null"]}, "html": {"type": ["string", "null"]}}},
      "TemplateList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Template"}}}},
      "Upload": {"type": "object", "properties": {"id": {"type": "string"}, "sha256": {"type": "string"}, "filename": {"type": "string"},
        "contentType": {"type": "string"}, "size": {"type": "integer"}, "contentId": {"type": ["string", "null"]}, "inline": {"type": "boolean"},
        "createdAt": {"type": "string"}}},
      "ReplyRequest": {"type": "object", "properties": {"mode": {"enum": ["reply", "replyAll", "forward", "new"], "default": "reply"},
        "to": {"type": "array", "items": {"type": "string"}}, "cc": {"type": "array", "items": {"type": "string"}},
        "bcc": {"type": "array", "items": {"type": "string"}}, "subject": {"type": "string"}, "text": {"type": "string"}, "html": {"type": "string"},
        "cannedAnswerId": {"type": "string"}, "attachmentIds": {"type": "array", "items": {"type": "string"}}}},
      "OutboxItem": {"type": "object", "properties": {"id": {"type": "string"}, "ticketId": {"type": "string"}, "messageId": {"type": "string"},
        "accountId": {"type": "string"}, "state": {"enum": ["queued", "sending", "sent", "retrying", "failed", "bounced"]}, "attempts": {"type": "integer"},
        "nextAttemptAt": {"type": ["string", "null"]}, "envelopeFrom": {"type": "string"}, "recipients": {"type": "array", "items": {"type": "string"}},
        "lastError": {"type": ["string", "null"]}, "createdAt": {"type": "string"}, "updatedAt": {"type": "string"}, "sentAt": {"type": ["string", "null"]},
        "purpose": {"type": ["string", "null"], "description": "set on Mailroom's own mail (invitation, passwordReset, test, ...), which has no ticket"},
        "heldReason": {"type": ["string", "null"], "description": "Why a due message is not sent: 'account inactive' until its account is switched on"}}},
      "WebhookDelivery": {"type": "object", "properties": {"id": {"type": "string"}, "url": {"type": "string"}, "event": {"type": "string"},
        "ticketId": {"type": ["string", "null"]}, "ruleIds": {"type": "array", "items": {"type": "string"}}, "payload": {"type": "object"},
        "state": {"enum": ["pending", "sending", "delivered", "failed"]}, "attempts": {"type": "integer"},
        "nextAttemptAt": {"type": ["string", "null"]}, "lastStatus": {"type": ["integer", "null"]}, "lastError": {"type": ["string", "null"]},
        "createdAt": {"type": "string"}, "deliveredAt": {"type": ["string", "null"]}}},
      "WebhookEndpoint": {"type": "object", "required": ["id", "url", "createdAt"], "properties": {"id": {"type": "string"},
        "url": {"type": "string", "format": "uri", "maxLength": 2048}, "createdAt": {"type": "string", "format": "date-time"},
        "rotatedAt": {"type": ["string", "null"], "format": "date-time"}, "previousSecretExpiresAt": {"type": ["string", "null"], "format": "date-time"}}},
      "WebhookEndpointSecret": {"allOf": [{"$ref": "#/components/schemas/WebhookEndpoint"}, {"type": "object", "required": ["secret"],
        "properties": {"secret": {"type": "string", "description": "HMAC-SHA256 key (its UTF-8 bytes) for X-Mailroom-Signature: t=UNIX_SECONDS,v1=HEX over t + '.' + body; shown only here"}}}]},
      "WebhookEndpointList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookEndpoint"}}}},
      "WebhookEndpointInput": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string", "format": "uri", "maxLength": 2048,
        "description": "http or https, with a host and without user info"}}},
      "WebhookRotation": {"type": "object", "properties": {"overlapSeconds": {"type": ["integer", "null"], "description": "null or left out: the default", "minimum": 0, "maximum": 604800, "default": 86400}}},
      "WebhookDeliveryList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookDelivery"}}}},
      "OutboxList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/OutboxItem"}}}},
      "AttemptList": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "string"}, "attemptedAt": {"type": "string"}, "outcome": {"enum": ["sent", "failed"]}, "replyCode": {"type": ["integer", "null"]},
        "enhancedStatus": {"type": ["string", "null"]}, "text": {"type": "string"}, "errorClass": {"type": ["string", "null"]},
        "policy": {"type": ["string", "null"]}, "nextAttemptAt": {"type": ["string", "null"]}, "recipients": {"type": "array"}}}}}},
      "ConnectionTest": {"type": "object", "properties": {"ok": {"type": "boolean"},
        "incoming": {"$ref": "#/components/schemas/ConnectionReport"}, "outgoing": {"$ref": "#/components/schemas/ConnectionReport"}}},
      "ConnectionReport": {"type": ["object", "null"], "properties": {"protocolName": {"type": "string"}, "host": {"type": "string"},
        "port": {"type": "integer"}, "security": {"enum": ["tls", "starttls", "none"]}, "ok": {"type": "boolean"}, "totalMilliseconds": {"type": "integer"},
        "steps": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string", "description": "The step's identifier (resolve, connect, tls, greeting, starttls, ehlo, authenticate, openFolder; Exchange: token, credentials, mailbox, folder, send)"},
          "label": {"type": "string", "description": "The step in words, for people (\"Sign in\")"}, "outcome": {"enum": ["ok", "failed"]},
          "durationMilliseconds": {"type": "integer"}, "message": {"type": ["string", "null"]}, "errorKind": {"type": ["string", "null"]},
          "tlsReason": {"type": ["string", "null"]}, "replyCode": {"type": ["integer", "null"]}, "enhancedStatus": {"type": ["string", "null"]}}}}}},
      "Address": {"type": "object", "properties": {"name": {"type": ["string", "null"]}, "address": {"type": "string"}}},
      "Ticket": {"type": "object", "properties": {"id": {"type": "string"}, "number": {"type": "integer"}, "accountId": {"type": "string"},
        "subject": {"type": "string"}, "status": {"enum": ["new", "open", "pending", "closed"]}, "priority": {"enum": ["low", "medium", "high"]},
        "customer": {"$ref": "#/components/schemas/Address"}, "customerId": {"type": "string"}, "queueId": {"type": ["string", "null"]},
        "agentId": {"type": ["string", "null"]}, "tags": {"type": "array", "items": {"type": "string"}}, "escalated": {"type": "boolean"},
        "unread": {"type": "boolean"}, "messageCount": {"type": "integer"}, "createdAt": {"type": "string", "format": "date-time"},
        "updatedAt": {"type": "string", "format": "date-time"}, "lastMessageAt": {"type": "string", "format": "date-time"},
        "lastMessageDirection": {"enum": ["in", "out", null]}}},
      "TicketList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Ticket"}}, "nextCursor": {"type": ["string", "null"]}}},
      "Attachment": {"type": "object", "properties": {"filename": {"type": ["string", "null"]}, "contentType": {"type": "string"}, "size": {"type": "integer"},
        "sha256": {"type": "string"}, "contentId": {"type": ["string", "null"]}, "inline": {"type": "boolean"}}},
      "Message": {"type": "object", "properties": {"id": {"type": "string"}, "ticketId": {"type": "string"}, "direction": {"enum": ["in", "out"]},
        "messageId": {"type": ["string", "null"]}, "inReplyTo": {"type": "array", "items": {"type": "string"}}, "references": {"type": "array", "items": {"type": "string"}},
        "subject": {"type": "string"}, "from": {"type": "array", "items": {"$ref": "#/components/schemas/Address"}},
        "to": {"type": "array", "items": {"$ref": "#/components/schemas/Address"}}, "cc": {"type": "array", "items": {"$ref": "#/components/schemas/Address"}},
        "date": {"type": ["string", "null"], "format": "date-time"}, "text": {"type": ["string", "null"]}, "html": {"type": ["string", "null"]},
        "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}},
        "deliveryState": {"enum": ["queued", "sending", "sent", "retrying", "failed", "bounced", null]}}},
      "MessageList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}}}},
      "Quarantined": {"type": "object", "properties": {"id": {"type": "string"}, "accountId": {"type": "string"},
        "reason": {"enum": ["unparseable", "tooLarge", "headerFilter", "storeFailed", "timedOut"]}, "detail": {"type": "string"},
        "rawSha256": {"type": ["string", "null"]}, "size": {"type": "integer"}, "source": {"type": "string"}, "from": {"type": ["string", "null"]},
        "subject": {"type": ["string", "null"]}, "createdAt": {"type": "string", "format": "date-time"}, "replayedAt": {"type": ["string", "null"], "format": "date-time"},
        "leftOnServer": {"type": "boolean", "description": "too large to fetch: listed without its raw bytes and left in the mailbox"}}},
      "QuarantineList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Quarantined"}}}},
      "ReplayResult": {"type": "object", "properties": {"result": {"enum": ["created", "appended", "bounce", "duplicate", "skipped", "quarantined"]},
        "ticketId": {"type": ["string", "null"]}, "quarantineId": {"type": ["string", "null"]},
        "message": {"type": "string", "description": "What happened, in words: the ticket it was stored on, or why it still cannot be ingested"}}},
      "CannedAnswerRendering": {"type": "object", "properties": {"cannedAnswerId": {"type": "string"}, "text": {"type": "string"},
        "html": {"type": ["string", "null"]}}},
      "AccountStatus": {"type": "object", "properties": {"accountId": {"type": "string"}, "fetching": {"type": "boolean"}, "connected": {"type": "boolean"},
        "idle": {"type": "boolean"}, "lastSuccessfulFetchAt": {"type": ["string", "null"]}, "lastErrorAt": {"type": ["string", "null"]},
        "lastError": {"type": ["string", "null"]}, "nextFetchAt": {"type": ["string", "null"]}, "messagesIngested": {"type": "integer"},
        "messagesQuarantined": {"type": "integer"}, "node": {"type": ["string", "null"]},
        "token": {"anyOf": [{"$ref": "#/components/schemas/OAuth2TokenStatus"}, {"type": "null"}]},
        "health": {"type": "object", "description": "steadier than lastError: a refused login stays the problem until a fetch works",
          "properties": {"state": {"enum": ["unknown", "ok", "failing"]}, "problem": {"enum": ["authentication", "timeout", "connection", "tls", "other", null]},
          "message": {"type": ["string", "null"]}, "failingSince": {"type": ["string", "null"], "format": "date-time"},
          "consecutiveFailures": {"type": "integer", "minimum": 0}, "recoveredAt": {"type": ["string", "null"], "format": "date-time"}}}}},
      "OAuth2Provider": {"type": "object", "required": ["name", "kind", "clientId"], "properties": {"id": {"type": "string", "readOnly": true},
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"}, "kind": {"enum": ["microsoft", "google", "generic"]},
        "clientId": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "^[^\\r\\n]*\\S[^\\r\\n]*$"},
        "clientSecret": {"type": "string", "writeOnly": true}, "clientSecretSet": {"type": "boolean", "readOnly": true},
        "tenant": {"type": ["string", "null"], "description": "Microsoft: tenant id or domain, or common, organizations, consumers"},
        "authorizationURL": {"type": ["string", "null"]}, "tokenURL": {"type": ["string", "null"]}, "revocationURL": {"type": ["string", "null"]},
        "introspectionURL": {"type": ["string", "null"]}, "userInfoURL": {"type": ["string", "null"]},
        "scopes": {"type": ["array", "string"], "items": {"type": "string"},
          "description": "a list; a request may also give one string of scopes separated by spaces or commas (answers always list them)"}}},
      "OAuth2ProviderList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/OAuth2Provider"}}}},
      "OAuth2Authorize": {"type": "object", "properties": {"url": {"type": "string"}, "redirectURI": {"type": "string"},
        "expiresAt": {"type": "string"}}},
      "OAuth2TokenStatus": {"type": "object", "properties": {
        "state": {"enum": ["valid", "expiresSoon", "refreshFailed", "revoked", "consentMissing"]},
        "expiresAt": {"type": ["string", "null"]}, "refreshedAt": {"type": ["string", "null"]},
        "scopes": {"type": "array", "items": {"type": "string"}}, "message": {"type": "string"},
        "signedInAddress": {"type": ["string", "null"]}, "providerId": {"type": ["string", "null"]}}}
    }
    """#
}
