import Foundation

/// IANA time zone names ("Europe/Rome"), as users and the installation choose them.
public enum TimeZoneName {
    public static let maxLength = 64
    public static let problem = "must be an IANA time zone such as Europe/Rome or UTC"

    /// Every name accepted: the system's IANA names (and UTC), sorted. The API's schema lists them.
    public static let all: [String] = Array(Set(TimeZone.knownTimeZoneIdentifiers + ["UTC"])).filter { $0.count <= maxLength }.sorted()
    private static let known = Set(all)

    public static func isValid(_ name: String) -> Bool {
        known.contains(name) && TimeZone(identifier: name) != nil
    }

    /// The zone a person sees times in: their own, else the installation's, else UTC.
    public static func effective(user: String?, installation: String?) -> TimeZone {
        for name in [user, installation] {
            if let name, isValid(name), let zone = TimeZone(identifier: name) { return zone }
        }
        return TimeZone(identifier: "UTC")!
    }
}

/// What an agent's presence is after signing in to the web application.
public enum PresenceAfterSignIn: String, NamedValues {
    /// Online: offers start at once.
    case online
    /// As the agent left it (paused or offline stays so): the default.
    case asLeft
}
