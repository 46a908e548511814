import Foundation
import MailroomApp
import MailroomStore
import MailroomTestSupport

/// A directory of a test's own with a data directory inside, as `mailroom` commands are pointed at.
struct ScratchDirectory {
    let path: String
    var dataDirectory: String { path + "/data" }

    init(_ prefix: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// The store `mailroom serve` opens on the data directory, migrated. Close it before a server starts.
    func openStore() async throws -> (MailroomDatabase, SQLStore) {
        let (database, store) = try await MailroomApplication.openStore(
            try MailroomConfiguration(dataDirectory: dataDirectory, databaseURL: nil, http: nil, environment: [:]), logger: TestDatabase.logger)
        try await Migrator.migrate(database, logger: TestDatabase.logger)
        return (database, store)
    }
}
