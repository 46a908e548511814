import Foundation
import Testing
@testable import MailroomCore

@Suite struct DeliveryErrorClassifierTests {
    @Test(arguments: [
        ("5.1.1", 550, DeliveryErrorClass.addressing), ("4.2.2", 452, .mailbox), ("5.2.2", 552, .mailbox),
        ("5.3.4", 552, .mailSystem), ("4.4.7", 451, .networkRouting), ("5.5.2", 500, .mailDeliveryProtocol),
        ("5.6.0", 554, .messageContent), ("5.7.1", 554, .securityPolicy), ("4.7.1", 451, .securityPolicy), ("5.0.0", 554, .unidentified),
        ("4.0.0", 421, .connection), ("5.0.0", 553, .addressing),
    ])
    func enhancedCodesDecide(status: String, code: Int, expected: DeliveryErrorClass) {
        #expect(DeliveryErrorClassifier.classify(DeliveryFailure(kind: .serverReply, replyCode: code, enhancedStatus: status, text: "")) == expected)
    }

    @Test(arguments: [
        (421, DeliveryErrorClass.connection), (450, .mailbox), (550, .mailbox), (451, .unidentified), (452, .mailSystem),
        (553, .addressing), (535, .securityPolicy), (502, .mailDeliveryProtocol), (554, .unidentified),
    ])
    func basicCodesWithoutEnhancedStatus(code: Int, expected: DeliveryErrorClass) {
        #expect(DeliveryErrorClassifier.classify(DeliveryFailure(kind: .serverReply, replyCode: code, text: "")) == expected)
    }

    @Test(arguments: [
        (DeliveryFailure.Kind.unknownHost, DeliveryErrorClass.unknownHost), (.connectionRefused, .connection), (.timeout, .connection),
        (.connectionClosed, .connection), (.tls, .securityPolicy), (.authenticationFailed, .securityPolicy),
        (.noSuchProvider, .noSuchProvider), (.internal, .internal), (.protocolError, .mailDeliveryProtocol),
    ])
    func clientFailures(kind: DeliveryFailure.Kind, expected: DeliveryErrorClass) {
        #expect(DeliveryErrorClassifier.classify(DeliveryFailure(kind: kind, text: "")) == expected)
    }
}

@Suite struct RetryScheduleTests {
    let now = Date(timeIntervalSince1970: 1_000_000)

    @Test func defaultRetryGoesAgainAtOnceUpToTheMaximum() {
        let settings = RetrySettings()
        for failures in 1...3 {
            #expect(RetrySchedule.decide(errorClass: .unidentified, settings: settings, failuresSoFar: failures, now: now).decision == .retry(at: now))
        }
        #expect(RetrySchedule.decide(errorClass: .unidentified, settings: settings, failuresSoFar: 4, now: now).decision == .giveUp)
    }

    @Test func rateLimitRetryWaitsADay() {
        let result = RetrySchedule.decide(errorClass: .networkRouting, settings: RetrySettings(), failuresSoFar: 1, now: now)
        #expect(result.policy == .rateLimitRetry)
        #expect(result.decision == .retry(at: now.addingTimeInterval(86_400)))
    }

    @Test func progressiveRetryWaitsLongerEachTime() {
        let waits = (1...3).map { failures -> TimeInterval? in
            if case .retry(let at) = RetrySchedule.decide(errorClass: .mailbox, settings: RetrySettings(), failuresSoFar: failures, now: now).decision {
                return at.timeIntervalSince(now)
            }
            return nil
        }
        #expect(waits == [300, 600, 900])
        let custom = RetrySettings(progressiveRetryIntervalSeconds: 1_800)
        if case .retry(let at) = RetrySchedule.decide(errorClass: .connection, settings: custom, failuresSoFar: 2, now: now).decision {
            #expect(at.timeIntervalSince(now) == 3_600, "Ameyo: 30 minutes, 1 hour, 1.5 hours")
        } else {
            Issue.record("progressive retry gave up")
        }
    }

    @Test(arguments: [DeliveryErrorClass.addressing, .mailDeliveryProtocol, .messageContent, .noSuchProvider, .unknownHost, .internal])
    func noRetryClassesFailAtOnce(errorClass: DeliveryErrorClass) {
        #expect(RetrySchedule.decide(errorClass: errorClass, settings: RetrySettings(), failuresSoFar: 1, now: now).decision == .giveUp)
    }

    @Test func theAccountsMappingOverridesTheTable() {
        let settings = RetrySettings(maxRetryCount: 1, errorPolicies: [.addressing: .defaultRetry, .mailbox: .noRetry])
        #expect(RetrySchedule.decide(errorClass: .addressing, settings: settings, failuresSoFar: 1, now: now).decision == .retry(at: now))
        #expect(RetrySchedule.decide(errorClass: .addressing, settings: settings, failuresSoFar: 2, now: now).decision == .giveUp)
        #expect(RetrySchedule.decide(errorClass: .mailbox, settings: settings, failuresSoFar: 1, now: now).decision == .giveUp)
    }
}
