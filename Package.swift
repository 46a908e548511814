// swift-tools-version: 6.1
import PackageDescription

// Targets are listed in sections, one section per part of the system, so that
// parallel work on different parts touches different lines of this file.

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

var targets: [Target] = []

// MARK: - MailMessage: RFC 5322 / MIME model, parser and builder (Foundation only)

// (section: mail message)
targets += [
    .target(name: "MailMessage", swiftSettings: swiftSettings),
    .testTarget(
        name: "MailMessageTests",
        dependencies: ["MailMessage"],
        resources: [.copy("Fixtures")],
        swiftSettings: swiftSettings
    ),
    // benchmarks/mime/run.sh builds this in release; swift-crypto is there to measure the
    // digester `mailroom` uses, MailMessage itself stays Foundation-only.
    .executableTarget(
        name: "mailroom-bench-mime",
        dependencies: ["MailMessage", .product(name: "Crypto", package: "swift-crypto")],
        path: "benchmarks/mime/runner",
        swiftSettings: swiftSettings
    ),
]

// MARK: - Transport and protocol clients (SwiftNIO)

// (section: transport)
targets += [
    .target(
        name: "MailTransport",
        dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(name: "IMAPClient", dependencies: ["MailTransport", .product(name: "NIOCore", package: "swift-nio")], swiftSettings: swiftSettings),
    .target(name: "POP3Client", dependencies: ["MailTransport", .product(name: "NIOCore", package: "swift-nio")], swiftSettings: swiftSettings),
    .target(name: "SMTPClient", dependencies: ["MailTransport", .product(name: "NIOCore", package: "swift-nio")], swiftSettings: swiftSettings),
    .target(
        name: "ClientTestSupport",
        dependencies: ["MailTransport", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
        path: "Tests/ClientTestSupport",
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "mailroom-client-bench",
        dependencies: ["IMAPClient", "SMTPClient", "MailTransport", .product(name: "NIOCore", package: "swift-nio")],
        path: "benchmarks/clients/Sources/ClientBench",
        swiftSettings: swiftSettings
    ),
    .testTarget(name: "MailTransportTests", dependencies: ["MailTransport", "ClientTestSupport", "IMAPClient", "POP3Client", "SMTPClient", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
    .testTarget(name: "IMAPClientTests", dependencies: ["IMAPClient", "ClientTestSupport", .product(name: "NIOCore", package: "swift-nio")], resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
    .testTarget(name: "POP3ClientTests", dependencies: ["POP3Client", "IMAPClient", "ClientTestSupport", .product(name: "NIOCore", package: "swift-nio")], resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
    .testTarget(name: "SMTPClientTests", dependencies: ["SMTPClient", "ClientTestSupport", .product(name: "NIOCore", package: "swift-nio")], resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
]

// MARK: - Exchange: Microsoft Graph and EWS over HTTPS (async-http-client)

// (section: exchange)
targets += [
    // Graph and EWS clients: the pure parts (delta paging, response parsing, error classes, SOAP
    // building and parsing) need no socket; the HTTP part is one shared async-http-client.
    .target(
        name: "ExchangeClient",
        dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(name: "ExchangeClientTests", dependencies: ["ExchangeClient"], swiftSettings: swiftSettings),
]

// MARK: - Mailroom server: domain, store, web, app, executable

// (section: server)

targets += [
    .target(name: "MailroomCore", dependencies: ["MailMessage"], swiftSettings: swiftSettings),
    .target(name: "CSQLiteOptions"),
    .target(name: "CFileSpace"),
    .target(
        name: "MailroomStore",
        dependencies: [
            "MailroomCore",
            "CSQLiteOptions",
            "CFileSpace",
            .product(name: "SQLKit", package: "sql-kit"),
            .product(name: "SQLiteKit", package: "sqlite-kit"),
            .product(name: "PostgresKit", package: "postgres-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "MailroomWorkers",
        dependencies: [
            "MailroomCore", "MailMessage", "MailTransport", "IMAPClient", "POP3Client", "SMTPClient", "ExchangeClient",
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "MailroomWeb",
        dependencies: [
            "MailroomCore", "MailroomStore", "MailMessage",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        resources: [.copy("Web")],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "MailroomApp",
        dependencies: [
            "MailroomCore", "MailroomStore", "MailroomWeb", "MailroomWorkers",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "MailroomTestSupport",
        dependencies: ["MailroomStore", .product(name: "Logging", package: "swift-log")],
        path: "Tests/MailroomTestSupport",
        swiftSettings: swiftSettings
    ),
    // The in-memory twin of the ticket, ingest, fetch-state, quarantine and raw-mail stores, for fast tests.
    .target(name: "MailroomMemoryStore", dependencies: ["MailroomCore"], path: "Tests/MailroomMemoryStore", swiftSettings: swiftSettings),
    .testTarget(name: "MailroomCoreTests", dependencies: ["MailroomCore", "MailroomMemoryStore"], swiftSettings: swiftSettings),
    .testTarget(
        name: "MailroomStoreTests",
        dependencies: ["MailroomStore", "MailroomTestSupport", "MailroomMemoryStore"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "MailroomWebTests",
        dependencies: [
            "MailroomWeb", "MailroomStore", "MailroomTestSupport", "MailMessage",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "MailroomWorkersTests",
        dependencies: ["MailroomWorkers", "MailroomStore", "MailroomTestSupport", "MailroomMemoryStore", "ClientTestSupport", "IMAPClient", "POP3Client", "MailTransport",
                       "ExchangeClient", .product(name: "NIOHTTP1", package: "swift-nio"),
                       .product(name: "Hummingbird", package: "hummingbird")],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "MailroomAppTests",
        dependencies: ["MailroomApp", "MailroomTestSupport", "mailroom", "ExchangeClient", .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "HummingbirdTesting", package: "hummingbird")],
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "mailroom",
        dependencies: [
            "MailroomApp", "MailMessage",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        swiftSettings: swiftSettings
    ),
]

// MARK: - Browser tests: headless Chromium over WebDriver against `mailroom serve`

// (section: browser tests)
targets += [
    .testTarget(
        name: "MailroomBrowserTests",
        dependencies: ["mailroom", "MailroomTestSupport", "IMAPClient", "MailTransport"],
        swiftSettings: swiftSettings
    ),
]

// MARK: - Benchmarks

// (section: benchmarks)
targets += [
    .executableTarget(
        name: "mailroom-bench-ingest",
        dependencies: ["IMAPClient", "MailTransport"],
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "mailroom-bench-outbox",
        dependencies: ["MailroomWorkers", "MailroomStore", "MailroomCore", "MailMessage", .product(name: "Logging", package: "swift-log")],
        swiftSettings: swiftSettings
    ),
]

// MARK: - Routing: integration tests (service, API, Dovecot end to end) and the routing benchmark

// (section: routing bench)
targets += [
    .testTarget(
        name: "MailroomRoutingTests",
        dependencies: [
            "MailroomWorkers", "MailroomWeb", "MailroomStore", "MailroomCore", "MailroomTestSupport", "IMAPClient", "MailTransport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "mailroom-bench-routing",
        dependencies: ["MailroomWorkers", "MailroomStore", "MailroomCore", "MailroomWeb",
                       .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log")],
        swiftSettings: swiftSettings
    ),
]

// MARK: - Exchange test servers: the independent-client checks of Tests/ExchangeServers

// (section: exchange test servers)
targets += [
    // Runs the pytest checks (exchangelib and msgraph-sdk, unchanged, and the failure modes) against
    // the local Graph and EWS servers that scripts/services/exchange starts. Foundation and Testing only.
    .testTarget(name: "ExchangeServerChecks", swiftSettings: swiftSettings),
]

let package = Package(
    name: "Mailroom",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mailroom", targets: ["mailroom"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
    ],
    targets: targets
)
