import Foundation
import MailroomStore

/// `mailroom backup` and `mailroom restore`: the store copies the database and its packs
/// (``SQLiteBackup``); this adds what lives beside them in the data directory, the secret key.
public enum MailroomBackup {
    public struct Outcome: Sendable {
        public var manifest: SQLiteBackup.Manifest
        /// Things the operator must know (printed on standard error).
        public var warnings: [String]
    }

    public struct RestoreOutcome: Sendable {
        public var check: SQLiteBackup.Check
        public var warnings: [String]
    }

    static let postgresAdvice = "the database is PostgreSQL: back it up with pg_dump (and restore with pg_restore) as the README's "
        + "\"Backups\" section shows, and keep the secret key (secret.key or MAILROOM_SECRET_KEY) apart from it"

    /// Copies the running installation's database, its raw mail and, when asked, its secret key into `destination`.
    public static func backup(_ configuration: MailroomConfiguration, to destination: String,
                              includeSecretKey: Bool) async throws -> Outcome {
        guard case .sqlite(let databasePath) = configuration.database else { throw ConfigurationError(postgresAdvice) }
        var manifest = try await SQLiteBackup.create(databasePath: databasePath, destination: destination)
        var warnings: [String] = []
        if includeSecretKey {
            guard let key = try secretKeyText(configuration) else {
                throw ConfigurationError("there is no secret key to include: neither MAILROOM_SECRET_KEY nor \(keyPath(configuration.dataDirectory)) is set")
            }
            let path = destination + "/" + SQLiteBackup.secretKeyFile
            guard FileManager.default.createFile(atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ConfigurationError("cannot write \(path)")
            }
            manifest.secretKey = true
            try SQLiteBackup.writeManifest(manifest, in: destination)
            warnings.append("this backup holds the secret key: whoever can read \(destination) can decrypt every stored "
                + "password and token of the accounts; keep it as safe as the server itself")
        } else {
            warnings.append("this backup does not hold the secret key: keep \(keyPath(configuration.dataDirectory)) (or MAILROOM_SECRET_KEY) "
                + "safe apart from it; without the key the accounts' stored passwords and tokens cannot be decrypted after a restore")
        }
        return Outcome(manifest: manifest, warnings: warnings)
    }

    /// Checks the backup in `source` and restores it into the configured data directory, which must
    /// not hold a database yet. The secret key comes along when the backup has one.
    public static func restore(from source: String, into configuration: MailroomConfiguration) async throws -> RestoreOutcome {
        guard case .sqlite(let databasePath) = configuration.database else { throw ConfigurationError(postgresAdvice) }
        let backupKey = source + "/" + SQLiteBackup.secretKeyFile
        let targetKey = keyPath(configuration.dataDirectory)
        let keyInBackup = FileManager.default.fileExists(atPath: backupKey)
        if keyInBackup, FileManager.default.fileExists(atPath: targetKey),
           FileManager.default.contents(atPath: backupKey) != FileManager.default.contents(atPath: targetKey) {
            throw ConfigurationError("\(targetKey) exists and differs from the backup's secret key: restore into a fresh data directory")
        }
        let check = try await SQLiteBackup.restore(from: source, databasePath: databasePath)
        var warnings: [String] = []
        if keyInBackup {
            if !FileManager.default.fileExists(atPath: targetKey) {
                try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
                try SQLiteBackup.copyFile(backupKey, to: targetKey, length: nil)
            }
        } else if configuration.secretKey == nil, !FileManager.default.fileExists(atPath: targetKey) {
            warnings.append("the backup holds no secret key: before `mailroom serve`, put the original secret.key into "
                + "\(configuration.dataDirectory) or set MAILROOM_SECRET_KEY, or the accounts' stored passwords and tokens cannot be decrypted")
        }
        return RestoreOutcome(check: check, warnings: warnings)
    }

    static func keyPath(_ dataDirectory: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent(SQLiteBackup.secretKeyFile).path
    }

    /// The key as text, from the environment first (as `serve` reads it), else from the key file.
    static func secretKeyText(_ configuration: MailroomConfiguration) throws -> String? {
        if let value = configuration.secretKey?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty { return value }
        let path = keyPath(configuration.dataDirectory)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
