import Crypto
import Foundation
import MailMessage
#if canImport(Glibc)
import Glibc
#endif

/// Backups of an SQLite installation (`mailroom backup`, `mailroom restore`): a directory laid out
/// as a data directory (the database, its packs, optionally the secret key) plus a manifest.
///
/// The database is copied with SQLite's online backup while the server keeps running; the packs
/// are copied afterwards, each up to the copied database's horizon (the end of the last blob a
/// copied row names). That order is what makes the copy consistent: a `blobs` row commits only
/// after its bytes were synced (``BlobPacks``), so every byte the copied rows name is in the packs
/// before the snapshot is taken, and bytes appended later lie beyond the horizon or are named by
/// no copied row.
public enum SQLiteBackup {
    public static let databaseFile = "mailroom.sqlite"
    public static let manifestFile = "backup.json"
    public static let secretKeyFile = "secret.key"
    static let packsDirectory = databaseFile + "-blobs"
    static let format = 1

    public struct Manifest: Codable, Sendable, Equatable {
        public var format: Int
        public var createdAt: Date
        public var schemaVersion: Int
        /// Raw messages kept in packs, all checked against their SHA-256.
        public var blobs: Int
        public var packs: [Pack]
        public var secretKey: Bool

        public struct Pack: Codable, Sendable, Equatable {
            public var name: String
            public var bytes: Int64
        }
    }

    /// What a check of a backup (or a restored copy) found: all of it is sound, or it throws.
    public struct Check: Sendable, Equatable {
        public var schemaVersion: Int
        public var blobs: Int
        public var bytes: Int64
    }

    public struct BackupError: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Copies the live database at `databasePath` and its packs into `destination`, which must not
    /// exist yet or be empty. The copy is checked before this returns. A quarantined message
    /// discarded while the copy ran can leave its erased bytes named in the copy; the copy is then
    /// taken again (up to three times).
    public static func create(databasePath: String, destination: String, now: Date = Date()) async throws -> Manifest {
        try await offThread {
            try prepareEmptyDirectory(destination)
            var attempt = 1
            while true {
                do {
                    let manifest = try copyOnce(databasePath: databasePath, destination: destination, now: now)
                    try writeManifest(manifest, in: destination)
                    return manifest
                } catch let error as BackupError where attempt < 3 && error.description.contains(mismatchMarker) {
                    attempt += 1
                    for entry in try FileManager.default.contentsOfDirectory(atPath: destination) {
                        try FileManager.default.removeItem(atPath: destination + "/" + entry)
                    }
                }
            }
        }
    }

    /// Checks a backup: SQLite's integrity check on the database, and every raw message it names
    /// read back from its pack and hashed.
    public static func check(_ directory: String) async throws -> Check {
        try await offThread { try checkCopy(databasePath: directory + "/" + databaseFile, packs: directory + "/" + packsDirectory) }
    }

    /// Checks the backup in `source`, then restores it as the database at `databasePath` and its packs
    /// (`databasePath-blobs`). Refuses to overwrite: neither may exist yet. Files are copied under
    /// temporary names and renamed into place at the end, the database last, so that an interrupted
    /// restore leaves no database behind that could start empty-handed.
    public static func restore(from source: String, databasePath: String) async throws -> Check {
        try await offThread {
            let sourceDatabase = source + "/" + databaseFile
            guard FileManager.default.fileExists(atPath: sourceDatabase) else {
                throw BackupError("\(source) is not a Mailroom backup: it has no \(databaseFile)")
            }
            let check = try checkCopy(databasePath: sourceDatabase, packs: source + "/" + packsDirectory)
            let targetPacks = databasePath + "-blobs"
            for path in [databasePath, databasePath + "-wal", targetPacks] where FileManager.default.fileExists(atPath: path) {
                throw BackupError("\(path) exists already: restore into a fresh data directory (or move the old one away first)")
            }
            let parent = URL(fileURLWithPath: databasePath).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            let stagingPacks = targetPacks + ".restoring"
            let stagingDatabase = databasePath + ".restoring"
            try? FileManager.default.removeItem(atPath: stagingPacks)
            try? FileManager.default.removeItem(atPath: stagingDatabase)
            try FileManager.default.createDirectory(atPath: stagingPacks, withIntermediateDirectories: true)
            let packNames = (try? FileManager.default.contentsOfDirectory(atPath: source + "/" + packsDirectory)) ?? []
            for name in packNames where BlobPacks.packNumber(fileName: name) != nil {
                try copyFile(source + "/" + packsDirectory + "/" + name, to: stagingPacks + "/" + name, length: nil)
            }
            try syncDirectory(stagingPacks)
            try copyFile(sourceDatabase, to: stagingDatabase, length: nil)
            try rename(stagingPacks, targetPacks)
            try rename(stagingDatabase, databasePath)
            try syncDirectory(parent)
            return check
        }
    }

    public static func readManifest(in directory: String) throws -> Manifest {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + manifestFile))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(Manifest.self, from: data)
    }

    public static func writeManifest(_ manifest: Manifest, in directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let path = directory + "/" + manifestFile
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    // MARK: - The steps

    private static let mismatchMarker = "does not match its SHA-256"

    private static func copyOnce(databasePath: String, destination: String, now: Date) throws -> Manifest {
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw BackupError("there is no SQLite database at \(databasePath) (check --data-dir or --database)")
        }
        let copyPath = destination + "/" + databaseFile
        do {
            let live = try SQLiteFile(path: databasePath)
            let copy = try SQLiteFile(path: copyPath, create: true)
            try live.backup(into: copy)
            live.close()
            // The copy stands alone in one file: no write-ahead log beside it.
            try copy.query("PRAGMA journal_mode = DELETE")
            copy.close()
        }
        try syncFile(copyPath)

        var horizons: [(pack: Int, end: Int64)] = []
        do {
            let copy = try SQLiteFile(path: copyPath, readOnly: true)
            try copy.query("SELECT pack, MAX(pack_offset + size) FROM blobs WHERE pack IS NOT NULL GROUP BY pack ORDER BY pack") { row in
                if let pack = row[0].integer, let end = row[1].integer { horizons.append((Int(pack), end)) }
            }
        }
        let livePacks = databasePath + "-blobs"
        let copiedPacks = destination + "/" + packsDirectory
        try FileManager.default.createDirectory(atPath: copiedPacks, withIntermediateDirectories: true)
        var packs: [Manifest.Pack] = []
        for (pack, end) in horizons {
            let name = URL(fileURLWithPath: BlobPacks.path(livePacks, pack)).lastPathComponent
            try copyFile(livePacks + "/" + name, to: copiedPacks + "/" + name, length: end)
            packs.append(Manifest.Pack(name: name, bytes: end))
        }
        try syncDirectory(copiedPacks)
        try syncDirectory(destination)
        let check = try checkCopy(databasePath: copyPath, packs: copiedPacks)
        // Whole seconds: the manifest's ISO 8601 time keeps no more.
        let createdAt = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        return Manifest(format: format, createdAt: createdAt, schemaVersion: check.schemaVersion, blobs: check.blobs, packs: packs, secretKey: false)
    }

    private static func checkCopy(databasePath: String, packs: String) throws -> Check {
        let copy = try SQLiteFile(path: databasePath, readOnly: true)
        var problems: [String] = []
        try copy.query("PRAGMA integrity_check") { row in
            if let text = row.first?.text, text != "ok" { problems.append(text) }
        }
        guard problems.isEmpty else {
            throw BackupError("the database \(databasePath) is damaged: " + problems.prefix(5).joined(separator: "; "))
        }
        var schemaVersion = 0
        try copy.query("SELECT MAX(version) FROM mailroom_migrations") { row in schemaVersion = Int(row[0].integer ?? 0) }
        var files: [Int: FileHandle] = [:]
        defer { for file in files.values { try? file.close() } }
        var blobs = 0
        var bytes: Int64 = 0
        try copy.query("SELECT sha256, size, pack, pack_offset, data FROM blobs ORDER BY pack, pack_offset") { row in
            guard let sha256 = row[0].text, let size = row[1].integer else { return }
            let content: [UInt8]
            if let pack = row[2].integer, let offset = row[3].integer {
                let number = Int(pack)
                if files[number] == nil {
                    let path = BlobPacks.path(packs, number)
                    guard let file = FileHandle(forReadingAtPath: path) else {
                        throw BackupError("the pack \(path) is missing, but the database names raw mail in it")
                    }
                    files[number] = file
                }
                try files[number]!.seek(toOffset: UInt64(offset))
                let read = try files[number]!.read(upToCount: Int(size)) ?? Data()
                guard read.count == Int(size) else {
                    throw BackupError("the pack \(BlobPacks.path(packs, number)) ends before the raw message \(sha256) (offset \(offset), \(size) bytes)")
                }
                content = Array(read)
                blobs += 1
            } else if case .blob(let data) = row[4] {
                content = data
            } else {
                content = []
            }
            let digest = MailMessage.SHA256.hex(Crypto.SHA256.hash(data: content))
            guard digest == sha256 else {
                throw BackupError("the raw message \(sha256) \(mismatchMarker) (read \(digest))")
            }
            bytes += size
        }
        return Check(schemaVersion: schemaVersion, blobs: blobs, bytes: bytes)
    }

    // MARK: - Files

    private static func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    private static func prepareEmptyDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, (try FileManager.default.contentsOfDirectory(atPath: path)).isEmpty else {
                throw BackupError("\(path) exists and is not an empty directory: give a new directory for the backup")
            }
        } else {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
    }

    /// Copies the first `length` bytes of `source` (all of it when nil) into a new file, synced.
    public static func copyFile(_ source: String, to destination: String, length: Int64?, mode: mode_t = 0o600) throws {
        let input = Glibc.open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw BackupError("cannot open \(source): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(input) }
        let output = Glibc.open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard output >= 0 else { throw BackupError("cannot create \(destination): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var copied: Int64 = 0
        while length.map({ copied < $0 }) ?? true {
            let want = min(buffer.count, Int(length.map { $0 - copied } ?? Int64(buffer.count)))
            let count = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress!, want, off_t(copied)) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw BackupError("cannot read \(source): \(String(cString: strerror(errno)))") }
            if count == 0 {
                guard length == nil else { throw BackupError("\(source) is shorter than the \(length!) bytes the database names") }
                break
            }
            var written = 0
            while written < count {
                let result = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, count - written) }
                if result < 0, errno == EINTR { continue }
                guard result > 0 else { throw BackupError("cannot write \(destination): \(String(cString: strerror(errno)))") }
                written += result
            }
            copied += Int64(count)
        }
        guard fsync(output) == 0 else { throw BackupError("cannot sync \(destination): \(String(cString: strerror(errno)))") }
    }

    private static func syncFile(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw BackupError("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    static func syncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        _ = fsync(fd)
    }

    private static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw BackupError("cannot rename \(from) to \(to): \(String(cString: strerror(errno)))") }
    }
}
