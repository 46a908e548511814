import Foundation

/// The rules an account's settings must keep, checked without a database.
/// Rules that need other accounts (unique key and name, the outgoing mapping) are the service's.
public enum AccountValidator {
    public static let portRange = 1...65_535
    public static let timeoutRange = 1...3_600
    public static let fetchIntervalRange = 1...86_400
    public static let fetchLastDaysRange = 1...36_500
    public static let maxMessageBytesRange = 1_024...2_147_483_647
    public static let maxRetryCountRange = 0...100
    public static let rateLimitRetryRange = 1...31_536_000
    public static let progressiveIntervalRange = 1...604_800
    public static let transferTimeoutRange = 1...2_147_483

    public static func validate(_ account: Account) -> [FieldError] {
        var errors: [FieldError] = []
        func check(_ condition: Bool, _ field: String, _ message: @autoclosure () -> String) {
            if !condition { errors.append(FieldError(field, message())) }
        }

        let key = account.key
        check(!key.isEmpty, "key", "is required (1 to \(Account.maxKeyLength) characters)")
        check(key.count <= Account.maxKeyLength, "key", "must be at most \(Account.maxKeyLength) characters, not \(key.count)")
        check(!key.contains(where: { $0.isWhitespace || $0.unicodeScalars.contains { CharacterSet.controlCharacters.contains($0) } }),
              "key", "must not contain spaces or control characters")

        let name = account.name.trimmingCharacters(in: .whitespacesAndNewlines)
        check(!name.isEmpty, "name", "is required")
        check(account.name.count <= 200, "name", "must be at most 200 characters")
        check(account.fromName.count <= Account.maxFromNameLength, "fromName",
              "must be at most \(Account.maxFromNameLength) characters, not \(account.fromName.count)")
        check(account.description.count <= 4_000, "description", "must be at most 4000 characters")
        check(account.contactLists.count <= 100 && account.contactLists.allSatisfy { !$0.isEmpty && $0.count <= 200 },
              "contactLists", "must name at most 100 contact lists, each 1 to 200 characters")
        check(account.subjectPrefix.count <= 100, "subjectPrefix", "must be at most 100 characters")

        if account.outgoing.protocol != .none {
            check(!account.fromAddress.isEmpty, "fromAddress", "is required to send mail")
        }
        if !account.fromAddress.isEmpty {
            check(MailAddressSyntax.isValid(account.fromAddress), "fromAddress", "must be a mail address such as support@example.com")
        }
        if let replyTo = account.replyTo {
            check(MailAddressSyntax.isValid(replyTo), "replyTo", "must be a mail address such as support@example.com")
        }

        check(Account.waitSecondsRange.contains(account.waitForAgentSeconds), "waitForAgentSeconds",
              "must be between \(Account.waitSecondsRange.lowerBound) and \(Account.waitSecondsRange.upperBound) seconds")
        check(Account.waitSecondsRange.contains(account.waitForQueueSeconds), "waitForQueueSeconds",
              "must be between \(Account.waitSecondsRange.lowerBound) and \(Account.waitSecondsRange.upperBound) seconds")

        if let hostname = account.hostname {
            check(hostname.count <= 253 && !hostname.contains(where: \.isWhitespace), "hostname", "must be a node's host name without spaces")
        }

        errors += validate(account.incoming)
        errors += validate(account.outgoing)

        var seen = Set<ResolverName>()
        for (index, resolver) in account.resolvers.enumerated() where !seen.insert(resolver).inserted {
            errors.append(FieldError("resolvers[\(index)]", "'\(resolver.rawValue)' is listed twice"))
        }

        errors += account.font?.validate() ?? []
        check(account.inlineImages.count <= InlineImage.maxCount, "inlineImages", "may hold at most \(InlineImage.maxCount) images")
        var names = Set<String>()
        for (index, image) in account.inlineImages.enumerated() {
            check(InlineImage.isValidContentId(image.contentId), "inlineImages[\(index)].contentId",
                  "must be 1 to 64 letters, digits, dots, dashes or underscores (the HTML names it cid:NAME)")
            check(names.insert(image.contentId).inserted, "inlineImages[\(index)].contentId", "'\(image.contentId.prefix(64))' is used twice")
            check(!image.uploadId.isEmpty, "inlineImages[\(index)].uploadId", "is required: upload the image first")
        }

        check(AccountValidator.transferTimeoutRange.contains(account.transfer.timeoutSeconds), "transfer.timeoutSeconds",
              "must be between \(transferTimeoutRange.lowerBound) and \(transferTimeoutRange.upperBound) seconds")

        let retry = account.retry
        check(maxRetryCountRange.contains(retry.maxRetryCount), "retry.maxRetryCount",
              "must be between \(maxRetryCountRange.lowerBound) and \(maxRetryCountRange.upperBound)")
        check(rateLimitRetryRange.contains(retry.rateLimitRetrySeconds), "retry.rateLimitRetrySeconds",
              "must be between \(rateLimitRetryRange.lowerBound) and \(rateLimitRetryRange.upperBound) seconds")
        check(progressiveIntervalRange.contains(retry.progressiveRetryIntervalSeconds), "retry.progressiveRetryIntervalSeconds",
              "must be between \(progressiveIntervalRange.lowerBound) and \(progressiveIntervalRange.upperBound) seconds")

        if let outgoingAccountId = account.outgoingAccountId, !account.id.isEmpty {
            check(outgoingAccountId != account.id, "outgoingAccountId", "must name another account (leave it empty to send from this one)")
        }
        return errors
    }

    static func validate(_ incoming: IncomingServer) -> [FieldError] {
        // Without a protocol the server's settings are unused, but what the API document states of them still holds.
        guard incoming.protocol != .none else { return validatePort(incoming.connection, prefix: "incoming") }
        var errors = validate(incoming.connection, prefix: "incoming", kind: ConnectionKind(incoming.protocol.rawValue))
        func check(_ condition: Bool, _ field: String, _ message: String) {
            if !condition { errors.append(FieldError("incoming.\(field)", message)) }
        }
        check(!incoming.mailbox.isEmpty && incoming.mailbox.count <= 255, "mailbox", "must be a folder name such as INBOX")
        check(fetchIntervalRange.contains(incoming.fetchIntervalSeconds), "fetchIntervalSeconds",
              "must be between \(fetchIntervalRange.lowerBound) and \(fetchIntervalRange.upperBound) seconds")
        if let days = incoming.fetchLastDays {
            check(fetchLastDaysRange.contains(days), "fetchLastDays",
                  "must be between \(fetchLastDaysRange.lowerBound) and \(fetchLastDaysRange.upperBound) days, or empty for no limit")
        }
        check(maxMessageBytesRange.contains(incoming.maxMessageBytes), "maxMessageBytes",
              "must be between \(maxMessageBytesRange.lowerBound) and \(maxMessageBytesRange.upperBound) bytes")
        for (index, filter) in incoming.headerFilters.enumerated() {
            let field = "headerFilters[\(index)]"
            check(HeaderFieldName.isValid(filter.header), "\(field).header", "must be a header name such as X-Spam-Flag")
            check(!filter.value.isEmpty, "\(field).value", "is required")
            if filter.match == .regex {
                check((try? NSRegularExpression(pattern: filter.value)) != nil, "\(field).value", "is not a valid regular expression")
            }
            if filter.action == .tag {
                check(!(filter.tag ?? "").trimmingCharacters(in: .whitespaces).isEmpty, "\(field).tag", "is required when the action is 'tag'")
            }
        }
        return errors
    }

    static func validate(_ outgoing: OutgoingServer) -> [FieldError] {
        guard outgoing.protocol != .none else { return validatePort(outgoing.connection, prefix: "outgoing") }
        var errors = validate(outgoing.connection, prefix: "outgoing", kind: ConnectionKind(outgoing.protocol.rawValue))
        if let folder = outgoing.sentFolder, folder.count > 255 {
            errors.append(FieldError("outgoing.sentFolder", "must be at most 255 characters"))
        }
        return errors
    }

    static func validatePort(_ connection: ServerConnection, prefix: String) -> [FieldError] {
        guard let port = connection.port, !portRange.contains(port) else { return [] }
        return [FieldError("\(prefix).port", "must be between 1 and 65535")]
    }

    /// How a protocol names its server: host and port, an EWS endpoint URL, or Graph's base URL.
    enum ConnectionKind {
        case hostAndPort, ews, graph
        init(_ protocolName: String) {
            self = protocolName == "ews" ? .ews : protocolName == "graph" ? .graph : .hostAndPort
        }
    }

    /// An https URL (http only to this machine, for test servers and local gateways).
    static func isServiceURL(_ text: String) -> Bool {
        guard text.count <= 2_000, !text.contains(where: { $0.isWhitespace }), let url = URLComponents(string: text),
              let host = url.host, !host.isEmpty, url.user == nil, url.password == nil else { return false }
        let scheme = url.scheme?.lowercased()
        return scheme == "https" || scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host.lowercased())
    }

    static func validate(_ connection: ServerConnection, prefix: String, kind: ConnectionKind) -> [FieldError] {
        var errors: [FieldError] = []
        func check(_ condition: Bool, _ field: String, _ message: String) {
            if !condition { errors.append(FieldError("\(prefix).\(field)", message)) }
        }
        let host = connection.host
        let isURL = kind == .ews
        if let mailbox = connection.mailboxAddress {
            check(MailAddressSyntax.isValid(mailbox), "mailboxAddress", "must be the shared mailbox's address, such as support@example.com")
        }
        switch kind {
        case .graph:
            if let base = connection.baseURL {
                check(isServiceURL(base), "baseURL", "must be an https URL such as \(ServerConnection.defaultGraphBaseURL)")
            }
            check(connection.auth.method == .oauth2, "auth.method",
                  "must be 'oauth2': Microsoft Graph accepts only tokens (sign in with a Microsoft provider)")
        case .ews:
            let before = errors.count
            if let url = connection.url {
                check(isServiceURL(url), "url", "must be the EWS endpoint, such as https://mail.example.com/EWS/Exchange.asmx")
            }
            // Neither url nor host: Autodiscover finds the endpoint from the mailbox address (always over HTTPS).
            if connection.auth.method == .password, errors.count == before, !connection.ewsURL.isEmpty {
                check(connection.ewsURL.lowercased().hasPrefix("https://") || isServiceURL(connection.ewsURL), "url",
                      "must start with https:// (a password is never sent without TLS)")
            }
        case .hostAndPort:
            check(!host.isEmpty, "host", "is required for this protocol")
        }
        if kind != .graph && !(kind == .ews && connection.url != nil) && !host.isEmpty {
            check(host.count <= 253 && !host.contains(where: { $0.isWhitespace }) && (isURL || !host.contains("/")),
                  "host", isURL ? "must be the server's address" : "must be a host name or IP address, without a scheme or path")
        }
        if let port = connection.port {
            check(portRange.contains(port), "port", "must be between 1 and 65535")
        }
        check(timeoutRange.contains(connection.connectionTimeoutSeconds), "connectionTimeoutSeconds",
              "must be between \(timeoutRange.lowerBound) and \(timeoutRange.upperBound) seconds")
        check(timeoutRange.contains(connection.authTimeoutSeconds), "authTimeoutSeconds",
              "must be between \(timeoutRange.lowerBound) and \(timeoutRange.upperBound) seconds")
        let auth = connection.auth
        switch auth.method {
        case .none:
            break
        case .password:
            check(!auth.username.isEmpty, "auth.username", "is required for password authentication")
            check(auth.password != nil, "auth.password", "is required for password authentication")
        case .oauth2:
            if let oauth2 = auth.oauth2, oauth2.providerId != nil {
                // Signed in through an administrator's provider: the sign-in brings the tokens and the address.
                check(oauth2.email.isEmpty || MailAddressSyntax.isValid(oauth2.email), "auth.oauth2.email", "must be a mail address")
                break
            }
            check(!auth.username.isEmpty, "auth.username", "is required for modern authentication")
            if let oauth2 = auth.oauth2 {
                check(!oauth2.clientId.isEmpty, "auth.oauth2.clientId", "is required for modern authentication")
                check(oauth2.refreshToken != nil || oauth2.accessToken != nil, "auth.oauth2.refreshToken",
                      "is required for modern authentication (or an access token)")
            } else {
                errors.append(FieldError("\(prefix).auth.oauth2", "is required when the method is 'oauth2'"))
            }
        }
        return errors
    }

    /// Protocols and folders are fixed at creation (Ameyo: create a new profile instead).
    public static func immutableChange(from old: Account, to new: Account) -> FieldError? {
        if old.incoming.protocol != new.incoming.protocol {
            return FieldError("incoming.protocol", "cannot change after the account is created (it is '\(old.incoming.protocol.rawValue)'); create a new account instead")
        }
        if old.outgoing.protocol != new.outgoing.protocol {
            return FieldError("outgoing.protocol", "cannot change after the account is created (it is '\(old.outgoing.protocol.rawValue)'); create a new account instead")
        }
        if old.incoming.mailbox != new.incoming.mailbox {
            return FieldError("incoming.mailbox", "cannot change after the account is created (it is '\(old.incoming.mailbox)'); create a new account instead")
        }
        if old.outgoing.sentFolder != new.outgoing.sentFolder {
            return FieldError("outgoing.sentFolder", "cannot change after the account is created; create a new account instead")
        }
        return nil
    }
}

/// A deliberately simple check for `local@domain`: full RFC 5322 parsing belongs to MailMessage.
public enum MailAddressSyntax {
    public static func isValid(_ address: String) -> Bool {
        guard address.count <= 254, let at = address.lastIndex(of: "@") else { return false }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty, local.count <= 64, !local.contains("@") else { return false }
        let forbidden = CharacterSet.whitespacesAndNewlines.union(.controlCharacters).union(CharacterSet(charactersIn: "<>,;\"()[]\\"))
        if address.unicodeScalars.contains(where: { forbidden.contains($0) }) { return false }
        return !domain.hasPrefix(".") && !domain.hasSuffix(".") && !domain.contains("..") && !domain.contains("@")
    }
}

/// RFC 5322 field-name: printable US-ASCII except colon.
public enum HeaderFieldName {
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 200 && name.utf8.allSatisfy { $0 >= 33 && $0 <= 126 && $0 != 58 }
    }
}
