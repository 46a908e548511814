import Foundation
import MailroomCore
@testable import MailroomStore
import MailroomTestSupport
import Testing

/// The outbox's batch operations (group commit of outcomes, batch reads of stored copies, lease
/// renewal) on SQLite and PostgreSQL.
@Suite struct OutboxGroupCommitTests {
    func queue(_ store: SQLStore, count: Int, bodySize: Int = 10, key: String = "SUP") async throws -> [OutboxItem] {
        let account = try await store.accounts.create(sampleAccount(key: key, name: "Support \(key)"))
        let ticket = try await store.ingest.ingest(inbound(from: "ann@example.com", subject: "Q", messageId: "q-\(key)@x"), raw: [1],
                                                    account: account, position: nil)
        var items: [OutboxItem] = []
        for index in 0..<count {
            var reply = inbound(from: "desk@example.com", subject: "Re: Q", messageId: "r\(index)-\(key)@desk", body: "answer \(index)")
            reply.to = [EmailAddress(address: "ann@example.com")]
            let raw = Array("reply \(index) ".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: bodySize)
            let (_, item) = try await store.outbox.enqueue(reply, raw: raw, ticketId: ticket.ticketId!, sendingAccountId: account.id,
                                                           envelopeFrom: "desk@example.com", recipients: ["ann@example.com"])
            items.append(item)
        }
        return items
    }

    static func sent(_ item: OutboxItem) -> OutboxOutcome {
        OutboxOutcome(item: item, attempt: OutboxAttempt(outboxId: item.id, attemptedAt: Date(), outcome: .sent, replyCode: 250,
                                                         enhancedStatus: "2.0.0", text: "Ok: queued as \(item.id)", errorClass: nil,
                                                         policy: nil, nextAttemptAt: nil,
                                                         recipients: [.init(address: "ann@example.com", accepted: true, replyCode: 250, text: "Ok")]),
                      state: .sent)
    }

    @Test(arguments: TestDatabase.available)
    func successesAndFailuresAreRecordedInOneCall(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            _ = try await queue(store, count: 6)
            let claimed = try await store.outbox.claimDue(owner: "s", limit: 6, leaseSeconds: 60)
            #expect(claimed.count == 6)
            let failure = DeliveryFailure(kind: .serverReply, replyCode: 550, enhancedStatus: "5.1.1", text: "550 5.1.1 no such user")
            let (failedState, failedAttempt) = OutboxTransition.afterFailure(failure, item: claimed[4], settings: RetrySettings(), now: Date())
            let retry = DeliveryFailure(kind: .connectionClosed, text: "the server closed the connection")
            let (retryState, retryAttempt) = OutboxTransition.afterFailure(retry, item: claimed[5], settings: RetrySettings(), now: Date())
            let outcomes = claimed[0..<4].map(Self.sent) + [
                OutboxOutcome(item: claimed[4], attempt: failedAttempt, state: failedState),
                OutboxOutcome(item: claimed[5], attempt: retryAttempt, state: retryState),
            ]
            let recorded = try await store.outbox.record(outcomes, owner: "s")
            #expect(recorded == Set(claimed.map(\.id)))

            for item in claimed[0..<4] {
                let row = try #require(try await store.outbox.item(id: item.id))
                #expect(row.state == .sent && row.sentAt != nil && row.attempts == 0)
                let attempts = try await store.outbox.attempts(outboxId: item.id)
                #expect(attempts.count == 1)
                #expect(attempts.first?.text == "Ok: queued as \(item.id)", "each attempt row belongs to its own message")
                #expect(attempts.first?.recipients.first?.accepted == true)
                #expect(try await store.tickets.message(id: item.messageId)?.deliveryState == .sent)
            }
            #expect(failedState == .failed)
            let failed = try #require(try await store.outbox.item(id: claimed[4].id))
            #expect(failed.state == .failed && failed.attempts == 1 && failed.lastError?.contains("5.1.1") == true)
            #expect(try await store.tickets.message(id: claimed[4].messageId)?.deliveryState == .failed)
            #expect(try await store.tickets.ticket(id: claimed[4].ticketId)?.escalated == true)
            #expect(retryState == .retrying)
            let retrying = try #require(try await store.outbox.item(id: claimed[5].id))
            #expect(retrying.state == .retrying && retrying.attempts == 1 && retrying.nextAttemptAt != nil)
            #expect(try await store.outbox.attempts(outboxId: claimed[5].id).first?.errorClass == .connection)
            #expect(try await store.outbox.record(outcomes, owner: "s").isEmpty, "a recorded row is not recorded twice")
        }
    }

    /// Sent mail is recorded durably (a "sent" lost to a power failure would be sent again); a
    /// batch of failures alone need not wait for the disk.
    @Test func acceptedMailIsRecordedDurably() async throws {
        try await TestDatabase.sqlite.withStore { store in
            _ = try await queue(store, count: 2)
            let claimed = try await store.outbox.claimDue(owner: "s", limit: 2, leaseSeconds: 60)
            let retry = DeliveryFailure(kind: .connectionClosed, text: "the server closed the connection")
            let (state, attempt) = OutboxTransition.afterFailure(retry, item: claimed[1], settings: RetrySettings(), now: Date())
            let before = store.database.durableCommits.load(ordering: .relaxed)
            #expect(try await store.outbox.record([OutboxOutcome(item: claimed[1], attempt: attempt, state: state)], owner: "s").count == 1)
            #expect(store.database.durableCommits.load(ordering: .relaxed) == before)
            #expect(try await store.outbox.record([Self.sent(claimed[0])], owner: "s").count == 1)
            #expect(store.database.durableCommits.load(ordering: .relaxed) == before + 1)
        }
    }

    @Test(arguments: TestDatabase.available)
    func onlyRowsStillLeasedToTheOwnerAreRecorded(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            _ = try await queue(store, count: 4)
            let mine = try await store.outbox.claimDue(owner: "a", limit: 4, leaseSeconds: 60)
            // Two leases lapse and another sender takes those rows.
            let later = Date().addingTimeInterval(120)
            let theirs = try await store.outbox.claimDue(owner: "b", limit: 2, leaseSeconds: 60, now: later)
            #expect(theirs.count == 2)
            let recorded = try await store.outbox.record(mine.map(Self.sent), owner: "a")
            #expect(recorded == Set(mine.map(\.id)).subtracting(theirs.map(\.id)))
            for item in theirs {
                #expect(try await store.outbox.item(id: item.id)?.state == .sending)
                #expect(try await store.outbox.attempts(outboxId: item.id).isEmpty, "no attempt is logged for a row the owner lost")
            }
        }
    }

    @Test(arguments: TestDatabase.available)
    func storedCopiesAreReadForABatchUpToASize(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let small = try await queue(store, count: 3)
            let big = try #require(try await queue(store, count: 1, bodySize: 5_000, key: "BIG").first)
            let all = small + [big]
            let limited = try await store.outbox.rawMessages(sha256: all.map(\.rawSha256), upToBytes: 1_000)
            #expect(Set(limited.keys) == Set(small.map(\.rawSha256)))
            #expect(limited[small[1].rawSha256] == Array("reply 1 ".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 10))
            let everything = try await store.outbox.rawMessages(sha256: all.map(\.rawSha256) + ["no-such-blob"])
            #expect(Set(everything.keys) == Set(all.map(\.rawSha256)))
            #expect(everything[big.rawSha256]?.count == "reply 0 ".utf8.count + 5_000)
        }
    }

    @Test(arguments: TestDatabase.available)
    func renewedLeasesKeepRowsFromOtherSenders(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            _ = try await queue(store, count: 3)
            let start = Date()
            let claimed = try await store.outbox.claimDue(owner: "a", limit: 3, leaseSeconds: 60, now: start)
            _ = try await store.outbox.record([Self.sent(claimed[0])], owner: "a")
            let renewed = try await store.outbox.renewLeases(ids: claimed.map(\.id), owner: "a", leaseSeconds: 60,
                                                             now: start.addingTimeInterval(50))
            #expect(renewed == Set(claimed[1...].map(\.id)), "a recorded row has no lease to renew")
            #expect(try await store.outbox.claimDue(owner: "b", limit: 3, leaseSeconds: 60, now: start.addingTimeInterval(100)).isEmpty)
            let lapsed = try await store.outbox.claimDue(owner: "b", limit: 3, leaseSeconds: 60, now: start.addingTimeInterval(111))
            #expect(Set(lapsed.map(\.id)) == Set(claimed[1...].map(\.id)), "a recorded row keeps its state")
            #expect(try await store.outbox.item(id: claimed[0].id)?.state == .sent)
            #expect(try await store.outbox.renewLeases(ids: claimed.map(\.id), owner: "a", leaseSeconds: 60,
                                                       now: start.addingTimeInterval(112)).isEmpty,
                    "rows another sender took are not renewed for the one that lost them")
        }
    }
}

/// The outbox's hand-written JSON reads and writes what Foundation's coders do.
@Suite struct OutboxJSONTests {
    @Test(arguments: [
        [],
        [OutboxAttempt.RecipientResult(address: "ann@example.com", accepted: true, replyCode: 250, text: "2.1.5 Ok")],
        [OutboxAttempt.RecipientResult(address: "bob@example.com", accepted: false, replyCode: nil, text: nil),
         OutboxAttempt.RecipientResult(address: "zoë@exämple.com", accepted: false, replyCode: 550,
                                       text: "5.1.1 <bob> \"quoted\" back\\slash\ttab\r\nnew line \u{1} \u{7f} / ✓ \u{1F600}")],
    ])
    func recipientResultsDecodeAsWritten(_ results: [OutboxAttempt.RecipientResult]) throws {
        let text = OutboxJSON.encode(results)
        #expect(try JSONCoding.decoder.decode([OutboxAttempt.RecipientResult].self, from: Data(text.utf8)) == results)
        if results.count == 1 {
            #expect(text == String(decoding: try JSONCoding.encoder.encode(results), as: UTF8.self), "the same bytes as JSONEncoder")
        }
    }

    @Test(arguments: [
        #"[]"#, #"["ann@example.com"]"#, #"["a@x","b@y"]"#, #"["zoë@exämple.com"]"#,
        // Not plain: escapes and spaces take the full decoder.
        #"["a\"b@x"]"#, #"[ "a@x" ]"#, #"["a@x", "b@y"]"#, #"["\u00e9@x"]"#,
    ])
    func addressListsDecodeAsJSONDecoderDoes(_ text: String) throws {
        let expected = try JSONDecoder().decode([String].self, from: Data(text.utf8))
        #expect(try OutboxJSON.decodeAddresses(text, decoder: JSONDecoder()) == expected)
    }

    @Test(arguments: [#"["#, #"["a@x""#, #"["a@x",]"#, #"["a@x"]x"#, #"[1]"#])
    func malformedListsAreNotTakenForPlainOnes(_ text: String) {
        #expect(OutboxJSON.plainStrings(text) == nil)
    }
}
