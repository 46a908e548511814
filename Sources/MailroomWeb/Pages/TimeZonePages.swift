import Foundation
import MailroomCore

/// Times on the pages are shown in the signed-in person's time zone (their own, else the
/// installation's). The page session middleware sets it for the request, so every
/// `displayTime` call of a page uses it without passing it along.
enum PageTime {
    @TaskLocal static var zone: TimeZone = TimeZone(identifier: "UTC")!

    /// "2026-12-07 19:30 CET": the zone's short name, so a reader knows which clock it is.
    static func format(_ date: Date, in zone: TimeZone = PageTime.zone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        let name = zone.identifier == "UTC" || zone.identifier == "GMT" ? "UTC" : (zone.abbreviation(for: date) ?? zone.identifier)
        return "\(formatter.string(from: date)) \(name)"
    }
}

extension WebSite {
    /// The installation's time zone (global settings), for new time conditions and users without one.
    func installationTimeZone() async throws -> String {
        try await store.settings.globalSettings().effectiveTimeZone
    }
}

extension WebSite {
    /// After a sign-in in the browser: online when the installation says so, otherwise as left.
    func applyPresenceAfterSignIn(_ user: User) async {
        guard (try? await store.settings.globalSettings().presenceAfterSignIn) == .online else { return }
        if let operations = dependencies.routing {
            _ = try? await operations.setPresence(userId: user.id, presence: .online)
        } else {
            _ = try? await store.routing.setPresence(userId: user.id, presence: .online)
        }
    }
}
