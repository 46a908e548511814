import Foundation
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

func storedMail(from: String, subject: String, id: String, cc: [String] = []) -> InboundMail {
    InboundMail(rawSha256: "raw-\(id)", rawSize: 10, contentHash: "content-\(id)", messageId: id, subject: subject,
                from: [EmailAddress(name: "Customer", address: from)], to: [EmailAddress(address: "desk@example.com")],
                cc: cc.map { EmailAddress(address: $0) }, date: Date(timeIntervalSince1970: 1_800_000_000), text: "Hello", html: "<p>Hello</p>")
}

@Suite struct TicketsAPITests {
    @Test(arguments: TestDatabase.available)
    func ticketsAndMessagesHaveDesignShapes(_ kind: TestDatabase) async throws {
        try await withAPI(kind) { api, store in
            let accountId = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).string("id"))
            let account = try #require(try await store.accounts.find(id: accountId))
            let outcome = try await store.ingest.ingest(storedMail(from: "ann@example.com", subject: "Help", id: "m1@x", cc: ["carl@example.com"]),
                                                         raw: Array("raw message".utf8), account: account, position: nil)
            for index in 2...4 {
                _ = try await store.ingest.ingest(storedMail(from: "c\(index)@example.com", subject: "T\(index)", id: "m\(index)@x"),
                                                   raw: [UInt8(index)], account: account, position: nil)
            }
            let ticketId = try #require(outcome.ticketId)

            let list = try await api.call(.get, "/api/v1/tickets?limit=2")
            #expect(list.status == 200)
            guard case .array(let page)? = list.json?["items"], case .string(let cursor)? = list.json?["nextCursor"] else {
                Issue.record("\(list.text)"); return
            }
            #expect(page.count == 2)
            let rest = try await api.call(.get, "/api/v1/tickets?limit=2&cursor=\(cursor)")
            if case .array(let items)? = rest.json?["items"] { #expect(items.count == 2) }
            #expect(rest.json?["nextCursor"] == .null)

            let ticket = try await api.call(.get, "/api/v1/tickets/\(ticketId)")
            for key in ["id", "number", "accountId", "subject", "status", "priority", "customer", "queueId", "agentId", "tags", "escalated",
                        "unread", "messageCount", "createdAt", "updatedAt", "lastMessageAt"] {
                #expect(ticket.json?[key] != nil, "ticket has \(key)")
            }
            #expect(ticket.json?["customer"]?["address"] == .string("ann@example.com"))
            #expect(ticket.json?["status"] == .string("new"))

            let messages = try await api.call(.get, "/api/v1/tickets/\(ticketId)/messages")
            guard case .array(let items)? = messages.json?["items"], let first = items.first else { Issue.record("\(messages.text)"); return }
            for key in ["id", "direction", "messageId", "inReplyTo", "references", "subject", "from", "to", "cc", "date", "text", "html",
                        "attachments", "deliveryState"] {
                #expect(first[key] != nil, "message has \(key)")
            }
            #expect(first["direction"] == .string("in"))
            #expect(first["cc"] == .array([.object(["name": .null, "address": .string("carl@example.com")])]))
            guard case .string(let messageId)? = first["id"] else { return }
            let raw = try await api.call(.get, "/api/v1/messages/\(messageId)/raw")
            #expect(raw.status == 200 && raw.text == "raw message")
            #expect(raw.headers[.contentType] == "message/rfc822")

            #expect(try await api.call(.get, "/api/v1/tickets?status=bogus").errorField == "status")
            #expect(try await api.call(.get, "/api/v1/tickets?since=yesterday").errorField == "since")
            #expect(try await api.call(.get, "/api/v1/tickets?limit=0").errorField == "limit")
            #expect(try await api.call(.get, "/api/v1/tickets?cursor=zzz").errorField == "cursor")
            #expect(try await api.call(.get, "/api/v1/tickets?accountId=\(accountId)&unread=true&status=new").status == 200)
            #expect(try await api.call(.get, "/api/v1/tickets/nope").status == 404)
        }
    }

    @Test func quarantineCanBeListedReplayedAndDeleted() async throws {
        try await withAPI { api, store in
            let accountId = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).string("id"))
            let first = try await store.ingest.quarantine(
                QuarantinedMessage(accountId: accountId, reason: .tooLarge, detail: "too large", rawSha256: "q1", size: 5, source: "INBOX uid 7",
                                   from: "ann@example.com", subject: "Huge", createdAt: Date()), raw: Array("hello".utf8), position: nil)
            let second = try await store.ingest.quarantine(
                QuarantinedMessage(accountId: accountId, reason: .unparseable, detail: "no headers", rawSha256: "q2", size: 3, source: "INBOX uid 8",
                                   createdAt: Date()), raw: [1, 2, 3], position: nil)
            let agent = try await api.token(for: .agent)
            #expect(try await api.call(.get, "/api/v1/quarantine", token: agent).status == 403)
            let list = try await api.call(.get, "/api/v1/quarantine")
            if case .array(let items)? = list.json?["items"] { #expect(items.count == 2) } else { Issue.record("\(list.text)") }
            #expect(try await api.call(.get, "/api/v1/quarantine/\(first)/raw").text == "hello")

            let replayed = try await api.call(.post, "/api/v1/quarantine/\(first)/replay")
            #expect(replayed.status == 200, "\(replayed.text)")
            #expect(replayed.json?["result"] == .string("created"))
            let number = try #require(try await store.tickets.tickets(TicketFilter()).items.first?.number)
            #expect(replayed.json?["message"] == .string("Stored as a new ticket, ticket #\(number)."))
            // A replay that fails again says why, and leaves one entry, not two.
            let again = try await api.call(.post, "/api/v1/quarantine/\(second)/replay")
            #expect(again.json?["result"] == .string("quarantined"))
            #expect(again.json?["quarantineId"] == .string(second))
            #expect(again.json?["message"] == .string("Still cannot be ingested (unparseable: still no headers); the entry stays in quarantine."))
            if case .array(let items)? = try await api.call(.get, "/api/v1/quarantine").json?["items"] {
                #expect(items.map { $0["id"] } == [.string(second)])
            }
            #expect(try await api.call(.post, "/api/v1/quarantine/\(first)/replay").status == 409, "a replay happens once")
            #expect(try await api.call(.delete, "/api/v1/quarantine/\(second)").status == 204)
            #expect(try await api.call(.get, "/api/v1/quarantine").json?["items"] == .array([]))
            let all = try await api.call(.get, "/api/v1/quarantine?includeReplayed=true")
            if case .array(let items)? = all.json?["items"] { #expect(items.count == 1) }
        }
    }

    @Test func accountStatusShowsTheFetcherAndTheCounts() async throws {
        let board = AccountStatusBoard()
        try await withAPI(status: board) { api, store in
            let accountId = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).string("id"))
            board.update(accountId) {
                $0.fetching = true
                $0.connected = false
                $0.lastError = "authentication failed at LOGIN: [AUTHENTICATIONFAILED] Authentication failed."
                $0.lastErrorAt = Date()
            }
            let account = try #require(try await store.accounts.find(id: accountId))
            _ = try await store.ingest.ingest(storedMail(from: "ann@example.com", subject: "Help", id: "s1@x"), raw: [1], account: account, position: nil)
            let status = try await api.call(.get, "/api/v1/accounts/\(accountId)/status")
            #expect(status.status == 200)
            #expect(status.json?["connected"] == .bool(false))
            #expect(status.json?["lastError"] != .null)
            #expect(status.json?["messagesIngested"] == .number(1))
            #expect(status.json?["messagesQuarantined"] == .number(0))
            #expect(try await api.call(.get, "/api/v1/accounts/nope/status").status == 404)
        }
    }
}
