import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import MailroomApp
import MailroomCore
import MailroomStore
import MailroomTestSupport
import MailroomWeb
@testable import MailroomWorkers
import SQLKit
import Testing

/// What clients and operators see while the database is away or the disk is full (issue 25's soak):
/// 503 with `Retry-After` and the reason in words, counted as 503 in the metrics, `/readyz` saying
/// why, and everything back by itself once the condition clears.
@Suite struct StorageUnavailableTests {
    static func call(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, token: String?,
                     body: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    static func errorCount(_ metrics: String, status: Int) -> Int {
        metrics.split(separator: "\n").filter { $0.hasPrefix("hb_request_errors") && $0.contains(#"error_type="\#(status)""#) }
            .compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }

    /// A PostgreSQL connection ended by the server mid-query (what a restart does to the pool)
    /// answers 503 "the database is not reachable", never a 500 with the driver's error.
    @Test(.enabled(if: TestServers.shouldRun(TestDatabase.postgresVariable)))
    func aQueryOnAConnectionTheDatabaseEndedAnswers503() async throws {
        MailroomApplication.bootstrapMetrics()
        let admin = "unavailable-admin-token-0123456789"
        try await TestDatabase.postgres.withStore { store in
            var dependencies = WebDependencies(store: store, adminToken: admin, metricsText: MailroomApplication.metricsText)
            dependencies.storageHealth = store.database.health
            let router = APIRouter.build(dependencies)
            // A read whose connection the server ends while it runs, as `pg_ctl restart` ends every backend.
            router.get("unavailable-probe/read") { _, _ -> Response in
                try await store.database.withConnection { db in try await db.raw("SELECT pg_terminate_backend(pg_backend_pid())").run() }
                return Response(status: .ok)
            }
            try await Application(router: router).test(.router) { client in
                let before = Self.errorCount(String(buffer: try await Self.call(client, .get, "/metrics", token: nil).body), status: 503)
                let refused = try await Self.call(client, .get, "/unavailable-probe/read", token: admin)
                #expect(refused.status == .serviceUnavailable)
                #expect(refused.headers[.retryAfter] == "5")
                let text = String(buffer: refused.body)
                #expect(text.contains("the database is not reachable"), "\(text)")
                #expect(text.contains("database_unavailable"), "\(text)")
                #expect(!text.contains("PSQLError") && !text.contains("57P01"), "the driver's words stay in the log: \(text)")
                let ready = try await Self.call(client, .get, "/readyz", token: nil)
                #expect(ready.status == .serviceUnavailable)
                #expect(String(buffer: ready.body).contains("database unreachable"))
                let metrics = String(buffer: try await Self.call(client, .get, "/metrics", token: nil).body)
                #expect(Self.errorCount(metrics, status: 503) >= before + 1, "counted as 503")
                // The pool replaces the connections the server ended; reads answer again and readiness comes back.
                var status = HTTPResponse.Status.serviceUnavailable
                let deadline = ContinuousClock.now + .seconds(10)
                while status != .ok, ContinuousClock.now < deadline {
                    status = try await Self.call(client, .get, "/api/v1/tickets", token: admin).status
                    if status != .ok { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(status == .ok)
                #expect(try await Self.call(client, .get, "/readyz", token: nil).status == .ok)
            }
        }
    }

    /// While the disk is full, work that would write is refused with 503 "disk full" (reads go on),
    /// `/readyz` and the status page say so, the sender and ingest take no new work, and all of it
    /// resumes by itself once space is back.
    @Test func aFullDiskRefusesNewWorkAndResumesWhenSpaceIsFreed() async throws {
        MailroomApplication.bootstrapMetrics()
        let admin = "diskfull-admin-token-0123456789"
        try await TestDatabase.sqlite.withStore { store in
            let health = store.database.health
            let free = Free(bytes: 10 << 30)
            let watcher = DiskSpaceWatcher(path: "/data", minimumFreeBytes: 64 << 20, health: health, logger: TestDatabase.logger,
                                           freeBytes: { _ in free.bytes })
            var dependencies = WebDependencies(store: store, adminToken: admin, metricsText: MailroomApplication.metricsText)
            dependencies.storageHealth = health
            let router = APIRouter.build(dependencies)
            try await Application(router: router).test(.router) { client in
                let user = #"{"name":"Agent","email":"disk-agent-%d@example.com","role":"agent","password":"password-123"}"#
                #expect(watcher.check() == false)
                #expect(try await Self.call(client, .post, "/api/v1/users", token: admin, body: String(format: user, 1)).status == .created)

                free.bytes = 1 << 20
                #expect(watcher.check() == true)
                let refused = try await Self.call(client, .post, "/api/v1/users", token: admin, body: String(format: user, 2))
                #expect(refused.status == .serviceUnavailable)
                #expect(refused.headers[.retryAfter] == "60")
                #expect(String(buffer: refused.body).contains("disk_full"))
                #expect(String(buffer: refused.body).contains("the disk holding Mailroom's data is full"))
                #expect(try await Self.call(client, .get, "/api/v1/users", token: admin).status == .ok, "reads go on")
                let ready = try await Self.call(client, .get, "/readyz", token: nil)
                #expect(ready.status == .serviceUnavailable)
                #expect(String(buffer: ready.body).contains(#""status":"disk full""#), "\(String(buffer: ready.body))")
                let sender = OutboxSender(store: store, logger: TestDatabase.logger, owner: "disk", health: health)
                #expect(await sender.sendAllDue() == 0)
                var pipeline = IngestPipeline(store: store.ingest, logger: TestDatabase.logger)
                pipeline.health = health
                let account = try await store.accounts.create(Account(key: "DSK", name: "Disk", fromAddress: "desk@example.com"))
                let batch = pipeline.prepare([IngestPipeline.Inbound(raw: Array("Subject: x\r\n\r\nbody\r\n".utf8), position: nil, source: "test")],
                                             account: account)
                await #expect(throws: StoreUnavailable.self) { _ = try await pipeline.commit(batch) }
                #expect(try await store.tickets.messageCount(accountId: account.id) == 0, "nothing of the batch was written")

                // Just above the minimum is not enough to resume (no flapping at the edge).
                free.bytes = (64 << 20) + (1 << 20)
                #expect(watcher.check() == true)
                free.bytes = 1 << 30
                #expect(watcher.check() == false)
                #expect(try await Self.call(client, .get, "/readyz", token: nil).status == .ok)
                #expect(try await Self.call(client, .post, "/api/v1/users", token: admin, body: String(format: user, 3)).status == .created)
                let retried = pipeline.prepare([IngestPipeline.Inbound(raw: Array("Subject: x\r\n\r\nbody\r\n".utf8), position: nil, source: "test")],
                                               account: account)
                _ = try await pipeline.commit(retried)
                #expect(try await store.tickets.messageCount(accountId: account.id) == 1)
            }
        }
    }
}

final class Free: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64
    init(bytes: Int64) { value = bytes }
    var bytes: Int64 {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
