import Foundation
import HTTPTypes
import Hummingbird
import MailroomCore
import MailroomStore

/// A signed-in browser as the request handlers see it.
public struct SessionInfo: Sendable, Equatable {
    public let idHash: String
    public let csrfToken: String
    public let user: User

    public var principal: Principal { Principal(userId: user.id, name: user.name, role: user.role) }
}

/// Creates, finds and ends browser sessions, and makes their cookies.
public struct SessionAuthenticator: Sendable {
    let sessions: any SessionRepository
    let settings: WebSettings
    let clock: any WallClock

    public init(sessions: any SessionRepository, settings: WebSettings, clock: any WallClock = SystemWallClock()) {
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
    }

    /// Starts a session for `user`; answers the cookie value (shown to the browser only).
    public func signIn(_ user: User) async throws -> (cookieValue: String, session: SessionInfo) {
        let now = clock.now()
        let value = Self.randomToken()
        let csrf = Self.randomToken()
        let session = WebSession(idHash: TokenHasher.hash(value), userId: user.id, csrfToken: csrf, createdAt: now,
                                 lastSeenAt: now, expiresAt: now.addingTimeInterval(settings.absoluteTimeout))
        // Old sessions are swept here rather than by a timer: sign-ins are frequent enough.
        try await sessions.deleteExpired(now: now, idleCutoff: now.addingTimeInterval(-settings.idleTimeout))
        try await sessions.create(session)
        return (value, SessionInfo(idHash: session.idHash, csrfToken: csrf, user: user))
    }

    /// The live session a cookie value names, or nil (unknown, expired, idle too long, user deactivated).
    public func session(cookieValue: String) async throws -> SessionInfo? {
        guard Self.isPlausible(cookieValue) else { return nil }
        let now = clock.now()
        let hash = TokenHasher.hash(cookieValue)
        guard let (session, user) = try await sessions.find(idHash: hash, now: now,
                                                              idleCutoff: now.addingTimeInterval(-settings.idleTimeout))
        else { return nil }
        if now.timeIntervalSince(session.lastSeenAt) >= settings.touchInterval {
            try await sessions.touch(idHash: hash, at: now)
        }
        return SessionInfo(idHash: hash, csrfToken: session.csrfToken, user: user)
    }

    public func signOut(idHash: String) async throws {
        try await sessions.delete(idHash: idHash)
    }

    /// The session cookie: HttpOnly, SameSite=Strict, Secure unless turned off for plain-http development.
    public func cookie(value: String) -> Cookie {
        Cookie(name: WebSettings.sessionCookie, value: value, path: "/", secure: settings.secureCookies,
               httpOnly: true, sameSite: .strict)
    }

    /// Tells the browser to forget the session cookie.
    public func clearingCookie() -> Cookie {
        Cookie(name: WebSettings.sessionCookie, value: "", expires: Date(timeIntervalSince1970: 0), maxAge: 0, path: "/",
               secure: settings.secureCookies, httpOnly: true, sameSite: .strict)
    }

    /// 32 random bytes, URL-safe base64 without padding (a valid cookie value).
    static func randomToken() -> String {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Refuses values that cannot be ours before touching the database.
    static func isPlausible(_ value: String) -> Bool {
        value.utf8.count == 43 && value.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
    }
}

/// Cross-site request forgery checks for cookie-authenticated requests.
public enum CSRFCheck {
    public static let header = HTTPField.Name("X-CSRF-Token")!
    public static let formField = "_csrf"

    /// Methods that change nothing need no token.
    public static func isSafe(_ method: HTTPRequest.Method) -> Bool {
        method == .get || method == .head || method == .options
    }

    /// The token matches (compared in constant time).
    public static func matches(_ sent: String?, expected: String) -> Bool {
        guard let sent, !sent.isEmpty, !expected.isEmpty else { return false }
        return constantTimeEquals(sent, expected)
    }

    /// When the browser says where the request comes from, it must be this server. The token is the
    /// defence; this only refuses the obvious cross-site post early and explains why.
    public static func originAllowed(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority,
              let components = URLComponents(string: origin), let originHost = components.host else { return false }
        let bare = originHost.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return authority(host: bare, port: components.port) == authority(hostHeader: host)
    }

    static func authority(host: String, port: Int?) -> String {
        let host = host.lowercased()
        guard let port, port != 80, port != 443 else { return host }
        return "\(host):\(port)"
    }

    static func authority(hostHeader: String) -> String {
        // "[::1]:8080", "example.com", "127.0.0.1:8080"
        guard let colon = hostHeader.lastIndex(of: ":"), !hostHeader[colon...].contains("]"),
              let port = Int(hostHeader[hostHeader.index(after: colon)...]) else {
            return authority(host: hostHeader.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: nil)
        }
        let host = String(hostHeader[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return authority(host: host, port: port)
    }
}
