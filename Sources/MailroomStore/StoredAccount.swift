import Foundation
import MailroomCore

/// An account's settings as the `accounts.config` column keeps them: a type of the store's own, so
/// the API's JSON for an account can change (fields renamed, grouped, added) without rewriting the
/// rows written before, and a row can change form without the API noticing.
///
/// Every field is optional: a row written by an older Mailroom lacks what was added since, and the
/// account's default applies. Identity, name, the active switch and the dates have columns of their
/// own; credentials are sealed in the `secrets` column (``AccountSecrets``), never here.
/// `format` 1 is the first form; the rows written before this type existed had the same keys.
struct StoredAccountConfig: Codable, Equatable {
    static let currentFormat = 1

    var format: Int?
    var service: MailService?
    var fromAddress: String?
    var fromName: String?
    var description: String?
    var contactLists: [String]?
    var markUnread: Bool?
    var waitForAgentSeconds: Int?
    var waitForQueueSeconds: Int?
    var subjectPrefix: String?
    var replyTo: String?
    var hostname: String?
    var incoming: IncomingServer?
    var outgoing: OutgoingServer?
    var resolvers: [ResolverName]?
    var signature: Signature?
    var inlineImages: [InlineImage]?
    var template: String?
    var font: MessageFont?
    var notification: NotificationSettings?
    var transfer: TransferSettings?
    var mandatoryDisposition: MandatoryDisposition?
    var retry: RetrySettings?
    var outgoingAccountId: String?

    init(_ account: Account) {
        format = Self.currentFormat
        service = account.service
        fromAddress = account.fromAddress
        fromName = account.fromName
        description = account.description
        contactLists = account.contactLists
        markUnread = account.markUnread
        waitForAgentSeconds = account.waitForAgentSeconds
        waitForQueueSeconds = account.waitForQueueSeconds
        subjectPrefix = account.subjectPrefix
        replyTo = account.replyTo
        hostname = account.hostname
        incoming = account.incoming
        outgoing = account.outgoing
        resolvers = account.resolvers
        signature = account.signature
        inlineImages = account.inlineImages
        template = account.template
        font = account.font
        notification = account.notification
        transfer = account.transfer
        mandatoryDisposition = account.mandatoryDisposition
        retry = account.retry
        outgoingAccountId = account.outgoingAccountId
    }

    /// The account these settings describe, with the columns' values.
    func account(id: String, key: String, name: String, active: Bool) -> Account {
        Account(
            id: id, key: key, name: name,
            service: service ?? .custom,
            fromAddress: fromAddress ?? "",
            fromName: fromName ?? "",
            description: description ?? "",
            contactLists: contactLists ?? [],
            active: active,
            markUnread: markUnread ?? true,
            waitForAgentSeconds: waitForAgentSeconds ?? Account.defaultWaitSeconds,
            waitForQueueSeconds: waitForQueueSeconds ?? Account.defaultWaitSeconds,
            subjectPrefix: subjectPrefix ?? "",
            replyTo: replyTo.flatMap { $0.isEmpty ? nil : $0 },
            hostname: hostname.flatMap { $0.isEmpty ? nil : $0 },
            incoming: incoming ?? IncomingServer(),
            outgoing: outgoing ?? OutgoingServer(),
            resolvers: resolvers ?? ResolverName.defaultOrder,
            signature: signature ?? Signature(),
            inlineImages: inlineImages ?? [],
            template: template.flatMap { $0.isEmpty ? nil : $0 },
            font: font,
            notification: notification ?? NotificationSettings(),
            transfer: transfer ?? TransferSettings(),
            mandatoryDisposition: mandatoryDisposition ?? MandatoryDisposition(),
            retry: retry ?? RetrySettings(),
            outgoingAccountId: outgoingAccountId.flatMap { $0.isEmpty ? nil : $0 })
    }
}
