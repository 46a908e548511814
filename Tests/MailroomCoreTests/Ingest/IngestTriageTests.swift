import Foundation
import MailroomCore
import Testing

@Suite struct IngestTriageTests {
    static let filter = HeaderFilter(header: "X-Spam", match: .equals, value: "yes", action: .skip)

    @Test func theSizeLimitComesBeforeEverythingElse() {
        let verdict = IngestTriage.verdict(rawSize: 101, maxMessageBytes: 100, parse: .parsed(filtering: .accept(tags: [])))
        guard case .quarantine(.tooLarge, let detail) = verdict else { Issue.record("\(verdict)"); return }
        #expect(detail.contains("101 bytes") && detail.contains("maxMessageBytes"))
        #expect(IngestTriage.verdict(rawSize: 100, maxMessageBytes: 100, parse: .parsed(filtering: .accept(tags: ["a"]))) == .ingest(tags: ["a"]))
    }

    @Test func aRefusedOrSlowParseIsQuarantinedWithItsReason() {
        #expect(IngestTriage.verdict(rawSize: 1, maxMessageBytes: 100, parse: .refused("no header")) == .quarantine(.unparseable, detail: "no header"))
        let slow = IngestTriage.verdict(rawSize: 1, maxMessageBytes: 100, parse: .timedOut(after: .seconds(30)))
        guard case .quarantine(.timedOut, let detail) = slow else { Issue.record("\(slow)"); return }
        #expect(detail.contains("30"))
    }

    @Test func headerFiltersSkipQuarantineOrTag() {
        #expect(IngestTriage.verdict(rawSize: 1, maxMessageBytes: 100, parse: .parsed(filtering: .skip(Self.filter)))
            == .skip(reason: "header filter on X-Spam"))
        var quarantining = Self.filter
        quarantining.action = .quarantine
        guard case .quarantine(.headerFilter, let detail) = IngestTriage.verdict(rawSize: 1, maxMessageBytes: 100,
                                                                                  parse: .parsed(filtering: .quarantine(quarantining)))
        else { Issue.record("not quarantined"); return }
        #expect(detail.contains("X-Spam") && detail.contains("'yes'"))
    }

    @Test func deliveryReportsAreRecognisedByVERPThenByFailureMailSender() async throws {
        var mail = InboundMail(rawSha256: "r", rawSize: 1, contentHash: "c", messageId: nil, subject: "Returned mail",
                               from: [EmailAddress(address: "MAILER-DAEMON@example.net")], date: nil, text: nil, html: nil)
        var asked = 0
        let verp = try await IngestTriage.bounceEvidence(mail, verpOutboxIds: ["o1"]) { _ in asked += 1; return true }
        #expect(verp == .verp(outboxIds: ["o1"]) && asked == 0)
        #expect(try await IngestTriage.bounceEvidence(mail, verpOutboxIds: []) { $0 == "MAILER-DAEMON@example.net" } == .failureMailSender)
        #expect(try await IngestTriage.bounceEvidence(mail, verpOutboxIds: []) { _ in false } == nil)
        // A DSN the parser read keeps its report; a VERP address still names the outbox entry.
        mail.bounce = BounceReport(originalMessageIds: [], recipients: [])
        #expect(try await IngestTriage.bounceEvidence(mail, verpOutboxIds: []) { _ in true } == nil)
        #expect(try await IngestTriage.bounceEvidence(mail, verpOutboxIds: ["o2"]) { _ in true } == .verp(outboxIds: ["o2"]))
    }
}
