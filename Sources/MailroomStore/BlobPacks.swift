import Foundation
import MailroomCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The raw mail of an SQLite store, appended to pack files in a directory next to the database.
///
/// Raw messages are nearly all of what an ingest writes. Inside SQLite every byte of them was
/// written twice (the write-ahead log, then the database file) and copied page by page between
/// the two; appended to a pack it is written once, with one sync per batch, and the database file
/// keeps only the messages' rows. A `blobs` row names its pack and offset; it is committed only
/// after its bytes are synced (``sync(_:)``), so a committed row never points at bytes a power
/// failure could lose. Bytes appended by a transaction that then failed are never referenced;
/// they are only wasted space.
///
/// Packs are never rewritten: raw mail is kept for good (nothing deletes blobs).
public final class BlobPacks: Sendable {
    public let directory: String
    /// A pack takes appends until it is this large; then the next one starts.
    let packLimit: Int64

    private struct State {
        /// Open packs by number (read and written through the same descriptor with pread/pwrite).
        var files: [Int: Int32] = [:]
        var current = 0
        var currentSize: Int64 = 0
        var closed = false
    }
    private let state: Mutex<State>
    /// How many times packs were synced (for tests: a batch syncs once, not once per message).
    let syncs = Atomic<Int>(0)

    /// Opens (creating when needed) the packs in `directory`; appends go to the newest one.
    public init(directory: String, packLimit: Int64 = 1 << 30) throws {
        self.directory = directory
        self.packLimit = packLimit
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let numbers = (try FileManager.default.contentsOfDirectory(atPath: directory)).compactMap(Self.packNumber(fileName:))
        var initial = State()
        initial.current = numbers.max() ?? 1
        let fd = try Self.open(directory: directory, number: initial.current)
        initial.files[initial.current] = fd
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BlobPackError.io("cannot read the size of \(Self.path(directory, initial.current))", errno) }
        initial.currentSize = Int64(info.st_size)
        state = Mutex(initial)
    }

    /// Appends `bytes` and says where they are. They are not durable until ``sync(_:)``.
    public func append(_ bytes: [UInt8]) throws -> BlobLocation {
        // The offset is taken under the lock; the write itself runs outside it, so writers do not wait for each other.
        let (fd, location) = try state.withLock { state -> (Int32, BlobLocation) in
            guard !state.closed else { throw BlobPackError.closed }
            if state.currentSize > 0, state.currentSize + Int64(bytes.count) > packLimit {
                let next = state.current + 1
                state.files[next] = try Self.open(directory: directory, number: next)
                state.current = next
                state.currentSize = 0
            }
            let location = BlobLocation(pack: state.current, offset: state.currentSize)
            state.currentSize += Int64(bytes.count)
            return (state.files[state.current]!, location)
        }
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let written = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(location.offset) + off_t(done))
                if written < 0 {
                    if errno == EINTR { continue }
                    throw BlobPackError.io("cannot write to \(Self.path(directory, location.pack))", errno)
                }
                done += written
            }
        }
        return location
    }

    /// Makes the packs of `locations` durable (their bytes and the files' sizes on disk).
    public func sync(_ locations: some Sequence<BlobLocation>) throws {
        let packs = Set(locations.map(\.pack))
        syncs.add(1, ordering: .relaxed)
        for pack in packs.sorted() {
            let fd = try descriptor(pack)
            while fdatasync(fd) != 0 {
                if errno == EINTR { continue }
                throw BlobPackError.io("cannot sync \(Self.path(directory, pack))", errno)
            }
        }
    }

    /// Reads `size` bytes at `location`.
    public func read(_ location: BlobLocation, size: Int) throws -> [UInt8] {
        let fd = try descriptor(location.pack)
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBytes { buffer in
            var done = 0
            while done < size {
                let count = pread(fd, buffer.baseAddress! + done, size - done, off_t(location.offset) + off_t(done))
                if count < 0 {
                    if errno == EINTR { continue }
                    throw BlobPackError.io("cannot read \(Self.path(directory, location.pack))", errno)
                }
                guard count > 0 else {
                    throw BlobPackError.truncated("\(Self.path(directory, location.pack)) ends before the \(size) bytes at offset \(location.offset)")
                }
                done += count
            }
        }
        return bytes
    }

    public func close() {
        state.withLock { state in
            for fd in state.files.values { Glibc.close(fd) }
            state.files.removeAll()
            state.closed = true
        }
    }

    private func descriptor(_ pack: Int) throws -> Int32 {
        try state.withLock { state in
            guard !state.closed else { throw BlobPackError.closed }
            if let fd = state.files[pack] { return fd }
            guard pack > 0, pack <= state.current else { throw BlobPackError.truncated("there is no pack \(pack) in \(directory)") }
            let fd = try Self.open(directory: directory, number: pack)
            state.files[pack] = fd
            return fd
        }
    }

    static func path(_ directory: String, _ number: Int) -> String {
        let digits = String(number)
        return directory + "/pack-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    static func packNumber(fileName: String) -> Int? {
        guard fileName.hasPrefix("pack-"), let number = Int(fileName.dropFirst(5)), number > 0 else { return nil }
        return number
    }

    private static func open(directory: String, number: Int) throws -> Int32 {
        let path = path(directory, number)
        let existed = access(path, F_OK) == 0
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BlobPackError.io("cannot open \(path)", errno) }
        if !existed {
            // A new pack's name must outlive a power failure too, or its synced bytes would have no file.
            let directoryFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directoryFD >= 0 {
                _ = fsync(directoryFD)
                Glibc.close(directoryFD)
            }
        }
        return fd
    }
}

public enum BlobPackError: Error, CustomStringConvertible {
    case io(String, Int32)
    case truncated(String)
    case closed

    public var description: String {
        switch self {
        case .io(let what, let code): return "\(what): \(String(cString: strerror(code)))"
        case .truncated(let what): return "raw mail store damaged: \(what)"
        case .closed: return "the raw mail store is closed"
        }
    }
}
