import Foundation
import Testing
@testable import MailroomCore

/// An account's health follows what happened, without flapping between causes.
@Suite struct FetchHealthTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aRefusedLoginStaysTheReportedProblemThroughTimeOuts() {
        var health = FetchHealth()
        health.failed(.authentication, message: "authentication failed: wrong password", at: t0)
        health.failed(.timeout, message: "no answer within 5 seconds during LOGIN", at: t0 + 10)
        #expect(health.problem == .authentication)
        #expect(health.message == "authentication failed: wrong password")
        health.failed(.authentication, message: "authentication failed: wrong password", at: t0 + 30)
        health.failed(.timeout, message: "no answer", at: t0 + 60)
        #expect(health.message == "authentication failed: wrong password")
        #expect(health.state == .failing)
        #expect(health.failingSince == t0)
        #expect(health.consecutiveFailures == 4)
    }

    @Test func anotherRealCauseReplacesIt() {
        var health = FetchHealth()
        health.failed(.authentication, message: "authentication failed", at: t0)
        health.failed(.connection, message: "connection refused", at: t0 + 10)
        #expect(health.problem == .connection)
        #expect(health.message == "connection refused")
    }

    @Test func aTimeOutAloneIsATimeOut() {
        var health = FetchHealth()
        health.failed(.timeout, message: "no answer", at: t0)
        health.failed(.authentication, message: "authentication failed", at: t0 + 1)
        #expect(health.problem == .authentication)
    }

    @Test func successClearsTheErrorAndSaysWhenItRecovered() {
        var health = FetchHealth()
        #expect(health.state == .unknown)
        health.failed(.authentication, message: "authentication failed", at: t0)
        health.succeeded(at: t0 + 100)
        #expect(health.state == .ok)
        #expect(health.message == nil)
        #expect(health.problem == nil)
        #expect(health.recoveredAt == t0 + 100)
        #expect(health.consecutiveFailures == 0)
        #expect(health.summary(formatTime: { _ in "12:00" }) == "working (recovered at 12:00)")
        health.succeeded(at: t0 + 200)
        #expect(health.recoveredAt == t0 + 100, "later successes keep the recovery time")
        health.failed(.timeout, message: "no answer", at: t0 + 300)
        #expect(health.recoveredAt == nil)
        #expect(health.summary(formatTime: { _ in "12:05" }) == "failing since 12:05")
    }

    @Test func theBoardReportsTheSteadyProblem() {
        let board = AccountStatusBoard()
        board.recordFailure("a", kind: .authentication, message: "authentication failed", at: t0, retryIn: 10)
        board.recordFailure("a", kind: .timeout, message: "no answer", at: t0 + 10, retryIn: 20)
        #expect(board.status(of: "a")?.lastError == "authentication failed")
        #expect(board.status(of: "a")?.lastErrorAt == t0 + 10)
        board.recordSuccess("a", at: t0 + 30)
        #expect(board.status(of: "a")?.lastError == nil)
        #expect(board.status(of: "a")?.health.recoveredAt == t0 + 30)
    }
}
