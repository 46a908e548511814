import Foundation
@testable import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

/// `GET /api/v1/reports/{name}` (issue 24: reports filter by campaign) over real rows: tickets of
/// two campaigns, agents' replies and an automatic one, a closing, offers accepted, declined and
/// expired; exact figures on SQLite and PostgreSQL.
@Suite struct ReportsAPITests {
    static func at(_ text: String) -> Date { ISO8601.parse(text)! }

    struct Fixture {
        let sales: String
        let care: String
        let salesQueue: String
        let careQueue: String
        let salesCampaign: String
        let careCampaign: String
        let ann: String
        let bob: String
        let agentToken: String
    }

    /// T1 (Sales, tag vip) and T2 (Sales, tag "=cmd") on 2 March, T3 (Care) on 3 March, all UTC.
    static func fixture(_ api: APIClient, _ store: SQLStore) async throws -> Fixture {
        let sales = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["key": .string("SAL"), "name": .string("Sales")])).string("id"))
        let care = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["key": .string("CARE"), "name": .string("Care")])).string("id"))
        let agentToken = try await api.token(for: .agent, email: "ann@example.com")
        _ = try await api.token(for: .agent, email: "bob@example.com")
        let ann = try #require(try await store.users.find(email: "ann@example.com")?.id)
        let bob = try #require(try await store.users.find(email: "bob@example.com")?.id)
        let salesQueue = try #require(try await api.call(.post, "/api/v1/queues", json: .object([
            "name": .string("Sales line"), "accountIds": .array([.string(sales)])])).string("id"))
        let careQueue = try #require(try await api.call(.post, "/api/v1/queues", json: .object([
            "name": .string("Care line"), "accountIds": .array([.string(care)])])).string("id"))
        let salesCampaign = try #require(try await api.call(.post, "/api/v1/campaigns", json: .object([
            "name": .string("Sales"), "queueIds": .array([.string(salesQueue)]), "accountIds": .array([.string(sales)])])).string("id"))
        let careCampaign = try #require(try await api.call(.post, "/api/v1/campaigns", json: .object([
            "name": .string("=Care, north"), "accountIds": .array([.string(care)])])).string("id"))

        func ticket(_ accountId: String, _ subject: String, tags: [String], at time: String) async throws -> String {
            let account = try #require(try await store.accounts.find(id: accountId))
            let mail = InboundMail(rawSha256: "raw-\(subject)", rawSize: 1, contentHash: "content-\(subject)", messageId: "\(subject)@x",
                                   subject: subject, from: [EmailAddress(address: "\(subject.lowercased())@example.com")], date: nil,
                                   text: subject, html: nil)
            return try #require(try await store.ingest.ingest(mail, raw: [1], account: account, position: nil, tags: tags, now: at(time)).ticketId)
        }
        func reply(_ ticketId: String, _ accountId: String, by actor: String?, at time: String) async throws {
            let mail = InboundMail(rawSha256: "reply-\(ticketId)-\(time)", rawSize: 1, contentHash: "reply-\(ticketId)-\(time)",
                                   messageId: "r-\(ticketId)-\(time)@x", subject: "Re", from: [EmailAddress(address: "desk@example.com")],
                                   date: nil, text: "answer", html: nil)
            _ = try await store.outbox.enqueue(mail, raw: [2], ticketId: ticketId, sendingAccountId: accountId, envelopeFrom: "desk@example.com",
                                               recipients: ["c@example.com"], by: actor, now: at(time))
        }
        func offers(_ ticketId: String, _ offers: [(String, OfferState, String)]) async throws {
            var machine = TicketRouting(ticketId: ticketId)
            machine.offers = offers.map { Offer(userId: $0.0, offeredAt: at($0.2), deadline: at($0.2).addingTimeInterval(30), state: $0.1) }
            #expect(try await store.routing.commit(RoutingChange(ticketId: ticketId, expectedVersion: nil, previous: nil, machine: machine,
                                                                 actions: [], closing: nil, now: at(offers[0].2))))
        }
        let t1 = try await ticket(sales, "Order", tags: ["vip"], at: "2026-03-02T09:00:00Z")
        let t2 = try await ticket(sales, "Refund", tags: ["=cmd"], at: "2026-03-02T10:00:00Z")
        let t3 = try await ticket(care, "Broken", tags: [], at: "2026-03-03T08:00:00Z")
        for (id, queue, agent) in [(t1, salesQueue, ann), (t2, salesQueue, ann), (t3, careQueue, bob)] {
            try await store.tickets.applyRouting(ticketId: id, tags: [], priority: nil, queueId: queue, agentId: agent, closeWithDisposition: nil)
        }
        try await reply(t1, sales, by: ann, at: "2026-03-02T09:30:00Z")
        try await reply(t1, sales, by: ann, at: "2026-03-02T09:45:00Z")
        try await reply(t2, sales, by: ann, at: "2026-03-02T11:00:00Z")
        try await reply(t3, care, by: nil, at: "2026-03-03T08:00:05Z")
        #expect(try await store.tickets.close(ticketId: t1, dispositionId: nil, by: ann, now: at("2026-03-02T12:00:00Z")))
        try await offers(t1, [(ann, .accepted, "2026-03-02T09:01:00Z")])
        try await offers(t2, [(ann, .rejected, "2026-03-02T10:01:00Z"), (bob, .expired, "2026-03-02T10:02:00Z")])
        try await offers(t3, [(bob, .accepted, "2026-03-03T08:01:00Z")])
        return Fixture(sales: sales, care: care, salesQueue: salesQueue, careQueue: careQueue, salesCampaign: salesCampaign,
                       careCampaign: careCampaign, ann: ann, bob: bob, agentToken: agentToken)
    }

    /// The row of a group and a period: its values by column key (nil: JSON null).
    static func values(_ response: APIResponse, group: String?, period: String) -> [String: Double?]? {
        guard case .array(let rows)? = response.json?["rows"] else { return nil }
        for row in rows {
            let id: String? = if case .string(let s)? = row["group"]?["id"] { s } else { nil }
            guard id == group, row["period"]?["label"] == .string(period), case .object(let values)? = row["values"] else { continue }
            return values.mapValues { if case .number(let n) = $0 { n } else { nil } }
        }
        return nil
    }

    static func rowCount(_ response: APIResponse) -> Int {
        if case .array(let rows)? = response.json?["rows"] { rows.count } else { -1 }
    }

    static let range = "from=2026-03-02&to=2026-03-03"

    @Test(arguments: TestDatabase.available)
    func reportsCountEachCampaignsTicketsExactly(_ kind: TestDatabase) async throws {
        try await withAPI(kind) { api, store in
            let f = try await Self.fixture(api, store)
            let volume = try await api.call(.get, "/api/v1/reports/volume?\(Self.range)&groupBy=campaign")
            #expect(volume.status == 200, "\(volume.text)")
            #expect(volume.json?["timeZone"] == .string("UTC"))
            #expect(volume.json?["from"] == .string("2026-03-02T00:00:00.000Z"))
            #expect(volume.json?["to"] == .string("2026-03-04T00:00:00.000Z"))
            #expect(Self.rowCount(volume) == 4)
            #expect(Self.values(volume, group: f.salesCampaign, period: "2026-03-02") == ["ticketsCreated": 2, "messagesIn": 2, "messagesOut": 3])
            #expect(Self.values(volume, group: f.salesCampaign, period: "2026-03-03") == ["ticketsCreated": 0, "messagesIn": 0, "messagesOut": 0])
            #expect(Self.values(volume, group: f.careCampaign, period: "2026-03-03") == ["ticketsCreated": 1, "messagesIn": 1, "messagesOut": 1])

            // One campaign only, unsplit, and split by tag.
            let sales = try await api.call(.get, "/api/v1/reports/volume?\(Self.range)&campaignId=\(f.salesCampaign)")
            #expect(Self.rowCount(sales) == 2)
            #expect(Self.values(sales, group: nil, period: "2026-03-02") == ["ticketsCreated": 2, "messagesIn": 2, "messagesOut": 3])
            let tags = try await api.call(.get, "/api/v1/reports/volume?\(Self.range)&campaignId=\(f.salesCampaign)&groupBy=tag")
            #expect(Self.values(tags, group: "vip", period: "2026-03-02") == ["ticketsCreated": 1, "messagesIn": 1, "messagesOut": 2])
            #expect(Self.values(tags, group: "=cmd", period: "2026-03-02") == ["ticketsCreated": 1, "messagesIn": 1, "messagesOut": 1])
            #expect(Self.rowCount(tags) == 4)
            let care = try await api.call(.get, "/api/v1/reports/volume?\(Self.range)&campaignId=\(f.careCampaign)&groupBy=campaign")
            #expect(Self.rowCount(care) == 2, "only the chosen campaign: \(care.text)")

            // First responses by agents only (the automatic reply on T3 is not one); resolution of the closed T1.
            let times = try await api.call(.get, "/api/v1/reports/responseTimes?\(Self.range)&groupBy=campaign")
            #expect(Self.values(times, group: f.salesCampaign, period: "2026-03-02") == [
                "firstResponseCount": 2, "firstResponseMedianSeconds": 2_700, "firstResponseP90Seconds": 3_420, "firstResponseAverageSeconds": 2_700,
                "resolutionCount": 1, "resolutionMedianSeconds": 10_800, "resolutionP90Seconds": 10_800, "resolutionAverageSeconds": 10_800,
            ])
            #expect(Self.values(times, group: f.careCampaign, period: "2026-03-03") == [
                "firstResponseCount": 0, "firstResponseMedianSeconds": nil, "firstResponseP90Seconds": nil, "firstResponseAverageSeconds": nil,
                "resolutionCount": 0, "resolutionMedianSeconds": nil, "resolutionP90Seconds": nil, "resolutionAverageSeconds": nil,
            ])

            // Open at the end of each day: T2 (T1 was closed at noon), then T2 and T3.
            let backlog = try await api.call(.get, "/api/v1/reports/backlog?\(Self.range)&groupBy=campaign")
            #expect(Self.values(backlog, group: f.salesCampaign, period: "2026-03-02") == [
                "open": 1, "ageUnder1Day": 1, "age1To3Days": 0, "age3To7Days": 0, "ageOver7Days": 0])
            #expect(Self.values(backlog, group: f.salesCampaign, period: "2026-03-03") == [
                "open": 1, "ageUnder1Day": 0, "age1To3Days": 1, "age3To7Days": 0, "ageOver7Days": 0])
            #expect(Self.values(backlog, group: f.careCampaign, period: "2026-03-03") == [
                "open": 1, "ageUnder1Day": 1, "age1To3Days": 0, "age3To7Days": 0, "ageOver7Days": 0])

            // Offers by the agent offered, within the Sales campaign; and by queue.
            let offers = try await api.call(.get, "/api/v1/reports/offers?\(Self.range)&groupBy=agent&campaignId=\(f.salesCampaign)")
            #expect(Self.values(offers, group: f.ann, period: "2026-03-02") == [
                "offered": 2, "accepted": 1, "declined": 1, "expired": 0, "withdrawn": 0, "pending": 0])
            #expect(Self.values(offers, group: f.bob, period: "2026-03-02") == [
                "offered": 1, "accepted": 0, "declined": 0, "expired": 1, "withdrawn": 0, "pending": 0])
            #expect(Self.rowCount(offers) == 4)
            let byQueue = try await api.call(.get, "/api/v1/reports/offers?\(Self.range)&groupBy=queue")
            #expect(Self.values(byQueue, group: f.careQueue, period: "2026-03-03")?["accepted"] == 1)
            #expect(Self.values(byQueue, group: f.salesQueue, period: "2026-03-02")?["offered"] == 3)
            if case .array(let rows)? = byQueue.json?["rows"] {
                #expect(rows.first?["group"]?["name"] == .string("Care line"), "groups by name")
            }

            // By week in Rome: one period, Monday 2 March, from Rome's midnight.
            let week = try await api.call(.get, "/api/v1/reports/volume?\(Self.range)&interval=week&timeZone=Europe/Rome")
            #expect(week.json?["from"] == .string("2026-03-01T23:00:00.000Z"))
            #expect(Self.values(week, group: nil, period: "2026-03-02")?["ticketsCreated"] == 3)
        }
    }

    @Test(arguments: TestDatabase.available)
    func csvDownloadsAreQuotedAndDefused(_ kind: TestDatabase) async throws {
        try await withAPI(kind) { api, store in
            let f = try await Self.fixture(api, store)
            let csv = try await api.call(.get, "/api/v1/reports/volume?\(Self.range)&groupBy=campaign&format=csv")
            #expect(csv.status == 200, "\(csv.text)")
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.headers[.contentDisposition] == "attachment; filename=\"volume-2026-03-02-2026-03-03.csv\"")
            let lines = csv.text.components(separatedBy: "\r\n")
            #expect(lines.first == "group id,group,period,period start,period end,Tickets created,Messages in,Messages out")
            #expect(lines.contains("\(f.careCampaign),\"'=Care, north\",2026-03-03,2026-03-03T00:00:00.000Z,2026-03-04T00:00:00.000Z,1,1,1"), "\(lines)")
            let tags = try await api.call(.get, "/api/v1/reports/volume?\(Self.range)&groupBy=tag&format=csv")
            #expect(tags.text.contains("'=cmd,'=cmd,2026-03-02"), "\(tags.text)")
        }
    }

    /// Rome's clocks go forward on 29 March 2026: 22:30 UTC that evening is already 00:30 on the
    /// 30th there, and that day starts an hour earlier in UTC than the one before.
    @Test(arguments: TestDatabase.available)
    func daysFollowTheReportsTimeZoneAcrossAClockChange(_ kind: TestDatabase) async throws {
        try await withAPI(kind) { api, store in
            let accountId = try #require(try await api.call(.post, "/api/v1/accounts", json: validAccountJSON()).string("id"))
            let account = try #require(try await store.accounts.find(id: accountId))
            let mail = InboundMail(rawSha256: "raw-late", rawSize: 1, contentHash: "content-late", messageId: "late@x", subject: "Late",
                                   from: [EmailAddress(address: "late@example.com")], date: nil, text: "late", html: nil)
            _ = try await store.ingest.ingest(mail, raw: [1], account: account, position: nil, now: Self.at("2026-03-29T22:30:00Z"))
            let rome = try await api.call(.get, "/api/v1/reports/volume?from=2026-03-29&to=2026-03-30&timeZone=Europe%2FRome")
            #expect(rome.json?["timeZone"] == .string("Europe/Rome"))
            #expect(Self.values(rome, group: nil, period: "2026-03-29")?["ticketsCreated"] == 0)
            #expect(Self.values(rome, group: nil, period: "2026-03-30")?["ticketsCreated"] == 1)
            guard case .array(let rows)? = rome.json?["rows"], rows.count == 2 else {
                Issue.record("two days: \(rome.text)")
                return
            }
            #expect(rows[0]["period"]?["start"] == .string("2026-03-28T23:00:00.000Z"))
            #expect(rows[1]["period"]?["start"] == .string("2026-03-29T22:00:00.000Z"))
            let utc = try await api.call(.get, "/api/v1/reports/volume?from=2026-03-29&to=2026-03-30")
            #expect(Self.values(utc, group: nil, period: "2026-03-29")?["ticketsCreated"] == 1)
        }
    }

    @Test func badParametersAreNamedAndAgentsAreRefused() async throws {
        try await withAPI { api, store in
            let f = try await Self.fixture(api, store)
            #expect(try await api.call(.get, "/api/v1/reports/volume", token: f.agentToken).status == 403)
            #expect(try await api.call(.get, "/api/v1/reports/volume", token: nil).status == 401)
            let supervisor = try await api.token(for: .supervisor)
            #expect(try await api.call(.get, "/api/v1/reports/volume", token: supervisor).status == 200)
            for (query, field) in [("interval=year", "interval"), ("groupBy=customer", "groupBy"), ("format=pdf", "format"),
                                   ("from=tomorrow", "from"), ("to=2026-02-30", "to"), ("from=2026-03-05&to=2026-03-01", "to"),
                                   ("from=2025-01-01&to=2026-03-01", "to"), ("campaignId=nope", "campaignId"), ("timeZone=Mars/Olympus", "timeZone")] {
                let response = try await api.call(.get, "/api/v1/reports/volume?\(query)")
                #expect(response.status == 422, "\(query): \(response.text)")
                #expect(response.errorField == field, "\(query): \(response.text)")
            }
            let sla = try await api.call(.get, "/api/v1/reports/sla")
            #expect(sla.status == 422)
            #expect(sla.errorCode == "sla_not_configured" && sla.errorField == "name")
            #expect(sla.text.contains("SLA policies are not configured yet"))
            let unknown = try await api.call(.get, "/api/v1/reports/revenue")
            #expect(unknown.status == 404 && unknown.text.contains("volume"))
        }
    }
}
