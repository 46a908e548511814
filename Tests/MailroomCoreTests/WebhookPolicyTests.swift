import Foundation
import MailroomCore
import Testing

@Suite struct WebhookPolicyTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = WebhookRetryPolicy(maxAttempts: 4, delays: [10, 30, 120])

    @Test func successIsDeliveredWhateverTheAttempt() {
        for code in [200, 201, 202, 204, 299] {
            #expect(policy.verdict(.status(code), attempts: 1, now: now) == .delivered)
            #expect(policy.verdict(.status(code), attempts: 4, now: now) == .delivered)
        }
    }

    @Test func refusalsAreNotRepeated() {
        for code in [400, 401, 403, 404, 410, 413, 422] {
            guard case .giveUp(let reason) = policy.verdict(.status(code), attempts: 1, now: now) else {
                Issue.record("HTTP \(code) should give up at once")
                continue
            }
            #expect(reason.contains("\(code)"))
        }
    }

    @Test func serverErrorsThrottlingAndNetworkFailuresWaitLongerEachTime() {
        #expect(policy.verdict(.status(500), attempts: 1, now: now) == .retry(at: now.addingTimeInterval(10), reason: "the receiver answered HTTP 500"))
        #expect(policy.verdict(.status(429), attempts: 2, now: now) == .retry(at: now.addingTimeInterval(30), reason: "the receiver answered HTTP 429"))
        #expect(policy.verdict(.status(408), attempts: 3, now: now) == .retry(at: now.addingTimeInterval(120), reason: "the receiver answered HTTP 408"))
        #expect(policy.verdict(.transportError("refused"), attempts: 1, now: now) == .retry(at: now.addingTimeInterval(10), reason: "refused"))
        // A redirect is not followed into a retry loop forever either: it is retried like an error, then given up.
        #expect(policy.verdict(.status(302), attempts: 1, now: now) == .retry(at: now.addingTimeInterval(10), reason: "the receiver answered HTTP 302"))
    }

    @Test func theLastAttemptGivesUp() {
        #expect(policy.verdict(.status(503), attempts: 4, now: now) == .giveUp(reason: "the receiver answered HTTP 503; gave up after 4 attempts"))
        #expect(policy.verdict(.transportError("timeout"), attempts: 9, now: now) == .giveUp(reason: "timeout; gave up after 9 attempts"))
    }

    @Test func theLastDelayRepeatsBeyondTheList() {
        let long = WebhookRetryPolicy(maxAttempts: 20, delays: [5, 50])
        #expect(long.verdict(.status(502), attempts: 7, now: now) == .retry(at: now.addingTimeInterval(50), reason: "the receiver answered HTTP 502"))
    }

    @Test func defaultsAreSane() {
        let defaults = WebhookRetryPolicy()
        #expect(defaults.maxAttempts == 10)
        #expect(defaults.delays.first == 10)
        #expect(WebhookRetryPolicy(maxAttempts: 0, delays: []).maxAttempts == 1)
    }
}

@Suite struct LiveEventAudienceTests {
    @Test func agentsSeeOnlyWhatIsTheirs() {
        let offer = LiveEventAudience.users(["u1"])
        #expect(offer.admits(userId: "u1", role: .agent, queueIds: []))
        #expect(!offer.admits(userId: "u2", role: .agent, queueIds: ["q1"]))
        #expect(offer.admits(userId: "u2", role: .supervisor, queueIds: []))

        let queued = LiveEventAudience.ticket(queueId: "q1", agentId: nil)
        #expect(queued.admits(userId: "u2", role: .agent, queueIds: ["q1"]))
        #expect(!queued.admits(userId: "u2", role: .agent, queueIds: ["q2"]))

        let assigned = LiveEventAudience.ticket(queueId: "q1", agentId: "u3")
        #expect(assigned.admits(userId: "u3", role: .agent, queueIds: []))
        let unassigned = LiveEventAudience.ticket(queueId: nil, agentId: nil)
        #expect(!unassigned.admits(userId: "u3", role: .agent, queueIds: ["q1"]))
        #expect(unassigned.admits(userId: nil, role: .admin, queueIds: []))

        #expect(!LiveEventAudience.staff.admits(userId: "u1", role: .agent, queueIds: ["q1"]))
        #expect(LiveEventAudience.everyone.admits(userId: "u1", role: .agent, queueIds: []))
        // The bootstrap administrator token has no user id and still sees everything.
        #expect(LiveEventAudience.users(["u1"]).admits(userId: nil, role: .admin, queueIds: []))
    }
}
