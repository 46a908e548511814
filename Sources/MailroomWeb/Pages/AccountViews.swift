import Foundation

/// `admin/accounts.mustache`: the accounts with their connection state.
struct AccountListView: PageContent {
    static let template = "admin/accounts"

    struct Row: TemplateView {
        let id: String
        let key: String
        let name: String
        let fromAddress: String
        /// `imap host`, or a dash when the account fetches nothing.
        let incoming: String
        let outgoing: String
        let active: Bool
        let connected: Bool
        let lastError: String
        /// Fetching fails (issue 27: shown as failing, not as a green "active").
        let failing: Bool
        /// "failing since … (3 tries)", "working (recovered at …)".
        let health: String
    }

    let accounts: [Row]
    let empty: Bool
}

/// `admin/account.mustache`: one account's form (new or existing), posted to the API by `app.js`.
struct AccountFormView: PageContent {
    static let template = "admin/account"

    /// The account's own settings, in the form's `{{#a}}` section.
    struct Fields: TemplateView {
        let key: String
        let name: String
        let fromAddress: String
        let fromName: String
        let fromNameCount: Int
        let description: String
        let contactLists: String
        let active: Bool
        let markUnread: Bool
        let waitForAgentSeconds: Int
        let waitForQueueSeconds: Int
        let subjectPrefix: String
        let replyTo: String
        let hostname: String
        let template: String
        let signatureHTML: String
        let beforeQuote: Bool
        let notificationSound: Bool
        let notificationShake: Bool
        let notificationTemplate: String
        let transferToQueue: Bool
        let transferToAgent: Bool
        let transferTimeout: Int
        let mandatoryDisposition: Bool
        let pauseStatus: String
        let maxRetryCount: Int
        let rateLimitRetrySeconds: Int
        let progressiveRetryIntervalSeconds: Int
        let mailbox: String
        let fetchIntervalSeconds: Int
        let fetchLastDays: String
        let deleteOnFetch: Bool
        let maxMessageBytes: Int
        let sentFolder: String
        let verp: Bool
    }

    /// `admin/server-fields.mustache` and `admin/auth-fields.mustache`, for `incoming` and `outgoing`.
    struct Server: TemplateView {
        let host: String
        let port: String
        let security: [OptionView]
        let acceptAnyCertificate: Bool
        let connectionTimeoutSeconds: Int
        let authTimeoutSeconds: Int
        let authMethods: [OptionView]
        let username: String
        let passwordSet: Bool
        let oauth: OAuth
        /// Exchange: the EWS endpoint, Graph's base URL, a shared mailbox's address.
        let url: String
        let baseURL: String
        let mailboxAddress: String
        /// The form's field names start with it (`incoming.host`).
        let prefix: String
        /// The administrator's OAuth2 providers to choose from (`auth.oauth2.providerId`).
        let providers: [OAuth2ProviderChoice]
        /// The pasted client and refresh token (the older way) is the choice shown.
        let olderWay: Bool
    }

    /// OAuth2 settings; secrets are never shown, only whether they are set.
    struct OAuth: TemplateView {
        let provider: String
        let email: String
        let clientId: String
        let tenantId: String
        let tokenURL: String
        let scope: String
        let clientSecretSet: Bool
        let refreshTokenSet: Bool
    }

    struct HeaderFilterRow: TemplateView {
        let header: String
        let value: String
        let tag: String
        let matches: [OptionView]
        let actions: [OptionView]
    }

    struct Resolver: TemplateView {
        let name: String
        let label: String
    }

    /// An error class's retry policy, named as the Ameyo seed names them ("Mailbox error",
    /// "Progressive retry"); the option values stay the API's identifiers.
    struct Policy: TemplateView {
        let name: String
        let label: String
        let options: [ChoiceView]
        let `default`: String
    }

    struct Name: TemplateView {
        let name: String
    }

    /// The deletion confirmation's list (``AccountDeletion/lines``).
    struct DeletionView: TemplateView {
        let accountKey: String
        let items: [String]
    }

    /// Service presets the form fills in when a service is chosen (`data-presets`, read by `app.js`).
    struct Preset: Encodable {
        let incomingHost: String
        let incomingPort: Int
        let incomingSecurity: String
        let outgoingHost: String
        let outgoingPort: Int
        let outgoingSecurity: String

        enum CodingKeys: String, CodingKey {
            case incomingHost = "incoming.host", incomingPort = "incoming.port", incomingSecurity = "incoming.security"
            case outgoingHost = "outgoing.host", outgoingPort = "outgoing.port", outgoingSecurity = "outgoing.security"
        }
    }

    let creating: Bool
    let accountId: String
    let apiURL: String
    let apiMethod: String
    let testURL: String
    let a: Fields
    /// The service presets with their names as the seed writes them (Gmail, Outlook365, ...).
    let services: [ChoiceView]
    /// The first screen's "Sign in with …" buttons: the administrator's OAuth2 providers.
    let signInProviders: [ChoiceView]
    let hasSignInProviders: Bool
    /// A password is stored for the incoming or the outgoing server.
    let quickPasswordSet: Bool
    /// A new account on a custom server opens the server and authentication sections (they must be
    /// filled in); everything else starts folded.
    let openServers: Bool
    let maxKeyLength: Int
    /// The template's font (``MessageFont``) and size.
    let fontFamilies: [ChoiceView]
    let fontSize: String
    let fontSizeMin: Int
    let fontSizeMax: Int
    /// JSON of `[service: Preset]`.
    let presets: String
    let incomingProtocols: [OptionView]
    let outgoingProtocols: [OptionView]
    let incoming: Server
    let outgoing: Server
    let headerFilters: [HeaderFilterRow]
    let filterMatches: [OptionView]
    let filterActions: [OptionView]
    /// The account's resolvers in order; the menu offers `otherResolvers` (an added one leaves it).
    let resolvers: [Resolver]
    /// Mustache markers shown as text in the help.
    let bodyMarker: String
    let braces: String
    let notificationVariables: String
    let otherResolvers: [Resolver]
    /// JSON of `[[name, label]]` for every resolver in order (`data-labels`, read by `app.js`).
    let resolverLabelsJSON: String
    /// The subject a reply goes out with (``ReplySubject``), for a sample ticket: as now, and the
    /// two forms the live preview switches between (`{prefix}` marks where the prefix goes).
    let subjectPreview: String
    let subjectWithPrefix: String
    let subjectWithoutPrefix: String
    /// What deleting the account stops (nil while creating).
    let deletion: DeletionView?
    /// The account's logo and signature images.
    let inlineImages: [ImageRow]

    struct ImageRow: TemplateView {
        let contentId: String
        let uploadId: String
        let filename: String
    }
    let policies: [Policy]
    let outgoingAccounts: [ChoiceView]
    let placeholders: [String]
    let canned: [Name]
    let dispositions: [Name]
    /// The "Modern authentication" section of a saved account (nil while creating).
    let oauth2: OAuth2SectionView?
}
