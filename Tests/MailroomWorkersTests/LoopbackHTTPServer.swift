import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing

/// Runs `router` on a free loopback port for the duration of `body`, which gets the port: the
/// receivers the workers call in tests (webhooks, Graph notifications).
func withLoopbackServer(_ router: Router<BasicRequestContext>, label: String,
                        _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    let port = Mutex<Int?>(nil)
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                          onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
                          logger: Logger(label: label))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.runService() }
        defer { group.cancelAll() }
        var waited = 0
        while port.withLock({ $0 }) == nil, waited < 500 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        try await body(try #require(port.withLock { $0 }))
    }
}
