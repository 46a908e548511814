import Foundation
import Testing
@testable import MailroomCore

@Suite struct AutoReplyGuardTests {
    let person = EmailAddress(name: "Ann", address: "ann@customer.example")
    let fresh = AutoReplyHistory(sentOnTicket: 0, sentToSenderInLastHour: 0, isFirstMessageOfTicket: true)

    @Test(arguments: [
        [HeaderField(name: "Auto-Submitted", value: "auto-replied")],
        [HeaderField(name: "auto-submitted", value: "Auto-Generated; owner-email=\"x@example.com\"")],
        [HeaderField(name: "Precedence", value: "bulk")],
        [HeaderField(name: "Precedence", value: "LIST")],
        [HeaderField(name: "Precedence", value: "junk")],
        [HeaderField(name: "Precedence", value: "auto_reply")],
        [HeaderField(name: "X-Autoreply", value: "yes")],
        [HeaderField(name: "X-Autorespond", value: "1")],
        [HeaderField(name: "List-Id", value: "<news.example.com>")],
        [HeaderField(name: "List-Unsubscribe", value: "<mailto:leave@example.com>")],
        [HeaderField(name: "X-Auto-Response-Suppress", value: "All")],
        [HeaderField(name: "X-Auto-Response-Suppress", value: "DR, AutoReply")],
        [HeaderField(name: "X-Auto-Response-Suppress", value: "OOF")],
    ])
    func automaticMessagesGetNoReply(headers: [HeaderField]) {
        let signals = AutomaticMailSignals(headers: headers, sender: person)
        guard case .suppress(.automaticMessage(let found)) = AutoReplyGuard().decide(mode: .always, signals: signals, history: fresh) else {
            Issue.record("expected a suppression for \(headers)")
            return
        }
        #expect(!found.isEmpty)
    }

    @Test(arguments: [
        [HeaderField(name: "Auto-Submitted", value: "no")],
        [HeaderField(name: "Precedence", value: "first-class")],
        [HeaderField(name: "X-Auto-Response-Suppress", value: "DR, RN")],
        [HeaderField(name: "Subject", value: "Auto-Submitted")],
    ])
    func ordinaryMessagesMayGetOne(headers: [HeaderField]) {
        let signals = AutomaticMailSignals(headers: headers, sender: person)
        #expect(AutoReplyGuard().decide(mode: .always, signals: signals, history: fresh) == .send)
    }

    @Test(arguments: ["MAILER-DAEMON@googlemail.com", "postmaster@example.com", "noreply@shop.example", "no-reply@x.example",
                      "no_reply@x.example", "donotreply@bank.example", "noreply+tracking@shop.example"])
    func automaticSendersGetNoReply(address: String) {
        let signals = AutomaticMailSignals(headers: [], sender: EmailAddress(address: address))
        #expect(signals.signals.contains { if case .automaticSender = $0 { true } else { false } })
        #expect(AutoReplyGuard().decide(mode: .always, signals: signals, history: fresh) != .send)
    }

    @Test func aMessageWithoutSenderGetsNoReply() {
        let signals = AutomaticMailSignals(headers: [], sender: nil)
        #expect(signals.signals == [.noSender])
    }

    @Test(arguments: [
        (AutoReplyMode.oncePerTicket, 0, true, AutoReplyVerdict.send),
        (.oncePerTicket, 1, false, .suppress(.alreadyRepliedOnTicket)),
        (.oncePerTicket, 0, false, .send),
        (.firstMessageOnly, 0, true, .send),
        (.firstMessageOnly, 0, false, .suppress(.notFirstMessage)),
        (.always, 5, false, .send),
    ])
    func modes(mode: AutoReplyMode, sentOnTicket: Int, first: Bool, expected: AutoReplyVerdict) {
        let history = AutoReplyHistory(sentOnTicket: sentOnTicket, sentToSenderInLastHour: 0, isFirstMessageOfTicket: first)
        #expect(AutoReplyGuard().decide(mode: mode, signals: AutomaticMailSignals(headers: [], sender: person), history: history) == expected)
    }

    @Test func atMostNPerSenderPerHour() {
        let guardN2 = AutoReplyGuard(perSenderHourlyLimit: 2)
        let signals = AutomaticMailSignals(headers: [], sender: person)
        for (count, expected) in [(0, AutoReplyVerdict.send), (1, .send), (2, .suppress(.hourlyLimitReached(limit: 2)))] {
            let history = AutoReplyHistory(sentOnTicket: 0, sentToSenderInLastHour: count, isFirstMessageOfTicket: true)
            #expect(guardN2.decide(mode: .always, signals: signals, history: history) == expected)
        }
    }

    @Test func outgoingAutoRepliesCarryTheRFC3834Headers() {
        let headers = Dictionary(uniqueKeysWithValues: AutoReplyGuard.outgoingHeaders.map { ($0.name, $0.value) })
        #expect(headers == ["Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All", "Precedence": "auto_reply"])
        // And Mailroom recognises its own auto-replies as automatic.
        #expect(AutomaticMailSignals(headers: AutoReplyGuard.outgoingHeaders, sender: person).signals.count == 3)
    }

    @Test func recipientsSkipOwnAndAutomaticAddressesAndDuplicates() {
        let from = [EmailAddress(name: "Ann", address: "Ann@Customer.example")]
        let cc = [EmailAddress(address: "bob@customer.example"), EmailAddress(address: "support@shop.example"),
                  EmailAddress(address: "ann@customer.example"), EmailAddress(address: "noreply@customer.example")]
        let own: Set<String> = ["Support@shop.example"]
        #expect(AutoReplyGuard.recipients(.sender, from: from, cc: cc, ownAddresses: own).map(\.key) == ["ann@customer.example"])
        #expect(AutoReplyGuard.recipients(.senderAndCc, from: from, cc: cc, ownAddresses: own).map(\.key)
            == ["ann@customer.example", "bob@customer.example"])
        let replyTo = [EmailAddress(address: "orders@customer.example")]
        #expect(AutoReplyGuard.recipients(.sender, from: from, replyTo: replyTo, cc: [], ownAddresses: own).map(\.key) == ["orders@customer.example"])
    }
}

/// Two Mailroom accounts, each with an "always auto-reply" rule, write to each other.
@Suite struct AutoReplyLoopTests {
    struct Mail {
        var from: EmailAddress
        var to: EmailAddress
        var headers: [HeaderField]
    }

    /// One side of the exchange: its rule, its guard and its memory of what it sent.
    struct Mailbox {
        let address: EmailAddress
        let engine: RuleEngine
        let guardPolicy = AutoReplyGuard(perSenderHourlyLimit: 3)
        var sentTo: [String: Int] = [:]
        var ticketReplies = 0
        var messagesOnTicket = 0

        init(address: String, accountId: String) {
            self.address = EmailAddress(address: address)
            engine = RuleEngine(rules: [RoutingRule(id: "ack-\(accountId)", accountId: accountId, name: "Acknowledge", actions: [
                .autoReply(AutoReplyAction(templateId: "ack", mode: .always, recipients: .sender)), .queue(queueId: "q"),
            ])], accountId: accountId)
        }

        /// Receives one message; answers with an auto-reply when rules and guard agree.
        mutating func receive(_ mail: Mail, at now: Date, accountId: String) -> Mail? {
            messagesOnTicket += 1
            let input = RoutingInput(accountId: accountId, from: [mail.from], to: [mail.to], headers: mail.headers, receivedAt: now,
                                     isNewTicket: messagesOnTicket == 1)
            guard let request = engine.evaluate(input).autoReplies.first else { return nil }
            let history = AutoReplyHistory(sentOnTicket: ticketReplies, sentToSenderInLastHour: sentTo[mail.from.key, default: 0],
                                           isFirstMessageOfTicket: messagesOnTicket == 1)
            let signals = AutomaticMailSignals(headers: mail.headers, sender: mail.from)
            guard guardPolicy.decide(mode: request.action.mode, signals: signals, history: history) == .send else { return nil }
            ticketReplies += 1
            sentTo[mail.from.key, default: 0] += 1
            return Mail(from: address, to: mail.from, headers: AutoReplyGuard.outgoingHeaders)
        }
    }

    /// Delivers mail back and forth until nobody answers, counting the messages.
    func exchange(stripHeaders: Bool) -> Int {
        var a = Mailbox(address: "support@a.example", accountId: "A")
        var b = Mailbox(address: "help@b.example", accountId: "B")
        var inFlight: Mail? = Mail(from: b.address, to: a.address, headers: [])  // a person at B writes to A
        var delivered = 0
        let now = mondayNoonUTC
        while var mail = inFlight, delivered < 1_000 {
            delivered += 1
            if stripHeaders { mail.headers = [] }  // a relay that drops the headers
            inFlight = mail.to == a.address ? a.receive(mail, at: now, accountId: "A") : b.receive(mail, at: now, accountId: "B")
        }
        return delivered
    }

    @Test func theHeadersStopTheExchangeAfterOneAutoReply() {
        // The first message, A's auto-reply, and B does not answer an auto-reply.
        #expect(exchange(stripHeaders: false) == 2)
    }

    @Test func theHourlyLimitBoundsItEvenWhenTheHeadersAreLost() {
        // Each side answers the other at most 3 times within the hour: 1 + 3 + 3 messages.
        #expect(exchange(stripHeaders: true) == 7)
    }
}
