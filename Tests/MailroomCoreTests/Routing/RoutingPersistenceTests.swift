import Foundation
import Testing
import MailMessage
@testable import MailroomCore

@Suite struct RoutingPersistenceTests {
    @Test func aMachineStoredMidWayCarriesOnWhereItWas() throws {
        var h = RoutingHarness([testAgent("ann", .offline), testAgent("bob"), testAgent("cy")])
        let sales = testQueue(.roundRobin, [("bob", 0), ("cy", 0)], id: "sales")
        _ = h.machine.newMessageForAssignedAgent("ann", agentQueue: sales, account: testAccount, now: h.now, context: h.context)
        _ = h.tick(10)
        h.advance(to: 12)
        _ = h.reject("bob")

        let stored = try JSONCoding.encoder.encode(h.machine)
        var restored = try JSONCoding.decoder.decode(TicketRouting.self, from: stored)
        #expect(restored == h.machine)
        #expect(restored.phase == .inQueue(queueId: "sales", deadline: h.at(30)))
        #expect(restored.tick(now: h.at(30), context: h.context) == [.withdrawOffer(from: "cy", reason: .expired), .runRulesAgain])
    }

    @Test func aClosingFlowRoundTrips() throws {
        var flow = ClosingFlow(ticketId: "t1", agentId: "ann", policy: MandatoryDisposition(enabled: true, pauseStatus: "Disposing"))
        _ = flow.beginDisposing(currentPresence: .paused("coffee"))
        let restored = try JSONCoding.decoder.decode(ClosingFlow.self, from: JSONCoding.encoder.encode(flow))
        #expect(restored == flow)
    }

    @Test(arguments: [
        (#"{"state": "paused", "reason": "lunch"}"#, AgentPresence.paused("lunch")),
        (#"{"state": "paused"}"#, .paused(nil)),
        (#"{"state": "paused", "reason": "  "}"#, .paused(nil)),
        (#"{"state": "online", "reason": "ignored"}"#, .online),
        (#"{"state": "offline"}"#, .offline),
    ])
    func presenceBodies(json: String, expected: AgentPresence) throws {
        #expect(try JSONCoding.decoder.decode(AgentPresence.self, from: Data(json.utf8)) == expected)
    }

    @Test func anUnknownPresenceNamesTheChoices() throws {
        do {
            _ = try JSONCoding.decoder.decode(AgentPresence.self, from: Data(#"{"state": "away"}"#.utf8))
            Issue.record("'away' must be refused")
        } catch let error as DecodingError {
            let fieldError = FieldError(error)
            #expect(fieldError.field == "state")
            #expect(fieldError.message.contains("'paused'"))
        }
    }

    @Test func firstMessageOnlyAutoRepliesAreAskedForOnNewTicketsOnly() {
        let reply = AutoReplyAction(templateId: "ack", mode: .firstMessageOnly)
        let always = AutoReplyAction(templateId: "always", mode: .always)
        let engine = RuleEngine(rules: [testRule("r", [], [.autoReply(reply), .autoReply(always)])], accountId: "acc1")
        #expect(engine.evaluate(inbound(isNewTicket: true)).autoReplies.map(\.action.templateId) == ["ack", "always"])
        #expect(engine.evaluate(inbound(isNewTicket: false)).autoReplies.map(\.action.templateId) == ["always"])
    }

    @Test func inputFromAStoredMessage() {
        let stored = TicketMessage(ticketId: "t1", accountId: "acc1", direction: .inbound, messageId: "m@x", subject: "Hi",
                                   from: [EmailAddress(address: "ann@customer.example")], to: [EmailAddress(address: "support@shop.example")],
                                   date: nil, text: nil, html: "<p>Hello</p>",
                                   attachments: [AttachmentSummary(filename: "a.pdf", contentType: "application/pdf", size: 1, sha256: "00", contentId: nil, inline: false)],
                                   rawSha256: "ff", createdAt: mondayNoonUTC)
        let input = RoutingInput(message: stored, headers: [HeaderField(name: "X-A", value: "1")], receivedAt: mondayNoonUTC, isNewTicket: false)
        #expect(input.body == "<p>Hello</p>" && input.hasAttachments && input.headerValues("x-a") == ["1"] && !input.isNewTicket)
    }
}
