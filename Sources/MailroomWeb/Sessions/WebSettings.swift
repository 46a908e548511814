import Foundation

/// How the web application signs people in.
public struct WebSettings: Sendable, Equatable {
    /// A session unused for this long ends (an agent's desk page counts as use while it is open).
    public var idleTimeout: TimeInterval
    /// A session ends this long after sign-in however active it is.
    public var absoluteTimeout: TimeInterval
    /// Activity is written back at most this often, so every request does not cost a write.
    public var touchInterval: TimeInterval
    /// `Secure` on the session cookie. Chromium and Firefox keep Secure cookies set over plain
    /// http on loopback hosts (127.0.0.1, localhost), so this stays on for local development too;
    /// turn it off only to serve plain http on another address (never do so in production).
    public var secureCookies: Bool
    public var signInLimits: SignInThrottle.Limits
    /// Requests per API token (or browser session); nil turns the limit off.
    public var apiRateLimit: RateLimit?

    public static let sessionCookie = "mailroom_session"
    /// Double-submit token of the sign-in form, which has no session yet.
    public static let signInCookie = "mailroom_signin"

    public init(idleTimeout: TimeInterval = 4 * 3600, absoluteTimeout: TimeInterval = 12 * 3600,
                touchInterval: TimeInterval = 60, secureCookies: Bool = true,
                signInLimits: SignInThrottle.Limits = SignInThrottle.Limits(),
                apiRateLimit: RateLimit? = RateLimit(requests: 1_200, seconds: 60)) {
        self.idleTimeout = idleTimeout
        self.absoluteTimeout = absoluteTimeout
        self.touchInterval = touchInterval
        self.secureCookies = secureCookies
        self.signInLimits = signInLimits
        self.apiRateLimit = apiRateLimit
    }
}
