import Foundation
import Logging
import MailroomCore
import MailroomWeb
import MailroomWorkers

/// An account's token state change goes to the live event stream and, when it needs a person
/// (expiring, refresh failed, revoked), to the administrators by mail through the system sender,
/// at most once a day per account (a token that flaps between states is one mail, not dozens;
/// the status page and the live events show every change).
struct SystemMailTokenNotices: OAuth2TokenStateObserver {
    let live: any OAuth2TokenStateObserver
    let mail: PeopleMail
    /// Where the last mail's time is kept, so all nodes share the once-a-day limit.
    let grants: any OAuth2GrantRepository
    var quietPeriod: TimeInterval = 86_400
    var now: @Sendable () -> Date = Date.init
    let logger: Logger

    static let mailed: Set<OAuth2TokenState> = [.expiresSoon, .refreshFailed, .revoked]

    func tokenStateChanged(accountId: String, from old: OAuth2TokenState?, to status: OAuth2TokenStatus) async {
        await live.tokenStateChanged(accountId: accountId, from: old, to: status)
        guard old != status.state, Self.mailed.contains(status.state) else { return }
        do {
            guard try await grants.claimNoticeMail(accountId: accountId, quietPeriod: quietPeriod, now: now()) else {
                logger.info("an account's token changed state again within a day: no second mail",
                            metadata: ["account": "\(accountId)", "state": "\(status.state.rawValue)"])
                return
            }
            _ = try await mail.sendTokenNotice(accountId: accountId, state: status.state.rawValue, message: status.message)
        } catch {
            logger.warning("cannot mail the administrators about a token state change",
                           metadata: ["account": "\(accountId)", "state": "\(status.state.rawValue)", "error": "\(error)"])
        }
    }
}
