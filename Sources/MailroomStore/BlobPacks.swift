import CFileSpace
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
/// after ``write(_:)`` returned (its bytes synced), so a committed row never points at bytes a
/// power failure could lose. Bytes written for a transaction that then failed are never
/// referenced; they are only wasted space.
///
/// Writes bypass the kernel's page cache where the file system allows (`O_DIRECT`): raw mail is
/// written once and rarely read again, and copying it into freshly allocated cache pages cost
/// more CPU than everything else the pack writer does, while pushing the database's own pages
/// out of memory. A batch is copied into one reused aligned buffer and written from an aligned
/// offset, so each batch starts on a block boundary (under a block of padding per batch). Reads
/// go through the page cache on a descriptor of their own; Linux keeps the two coherent.
///
/// Several processes may append to the same packs (`mailroom import` while `mailroom serve` runs
/// on the same data directory): a batch's range is reserved under an exclusive `flock` on the
/// directory's `lock` file, from the pack's size on disk, which the reservation extends at once.
///
/// Packs are only appended to, with one exception: a discarded quarantined message nothing else
/// holds is erased in place (``erase(_:size:holes:)``), so that it does not stay on disk after an
/// administrator discarded it "for good".
public final class BlobPacks: Sendable {
    public let directory: String
    /// A pack takes writes until it is this large; then the next one starts.
    let packLimit: Int64
    /// Offsets, lengths and buffer addresses of direct writes are multiples of this (4 KiB covers
    /// devices with 512-byte and 4 KiB logical blocks).
    static let blockSize = 4096
    /// The reused buffer a batch goes through on its way to a direct write.
    static let bufferSize = 2 << 20

    private struct State {
        /// Open packs by number, read (and written when direct writes are not possible) with pread/pwrite.
        var files: [Int: Int32] = [:]
        /// Packs opened for direct writes, by number; empty once the file system refused them.
        var directFiles: [Int: Int32] = [:]
        var directRefused = false
        var current = 0
        var closed = false
    }
    private let state: Mutex<State>
    /// The directory's lock file, held while a batch's range is reserved (other processes too).
    private let lockFile: Int32
    /// The aligned buffer between batches (a second batch written at the same time gets its own).
    private let spareBuffer = Mutex<AlignedBuffer?>(nil)
    /// How many times packs were synced (for tests: a batch syncs once, not once per message).
    let syncs = Atomic<Int>(0)
    /// How many writes went through the page cache (for tests: none where direct writes work).
    let bufferedWrites = Atomic<Int>(0)

    /// Opens (creating when needed) the packs in `directory`; writes go to the newest one.
    /// `direct: false` writes through the page cache always.
    public init(directory: String, packLimit: Int64 = 1 << 30, direct: Bool = true) throws {
        self.directory = directory
        self.packLimit = packLimit
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let numbers = (try FileManager.default.contentsOfDirectory(atPath: directory)).compactMap(Self.packNumber(fileName:))
        var initial = State()
        initial.directRefused = !direct
        initial.current = numbers.max() ?? 1
        initial.files[initial.current] = try Self.open(directory: directory, number: initial.current)
        let lockPath = directory + "/lock"
        lockFile = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFile >= 0 else { throw BlobPackError.io("cannot open \(lockPath)", errno) }
        state = Mutex(initial)
    }

    /// Reserves `total` bytes from a block boundary at the end of the newest pack that has room
    /// (a pack this process has not seen yet included): under the directory's lock, the range
    /// starts at the pack's size on disk, which is then extended past it, so that no other
    /// process or batch can take any of it. On `state`'s lock.
    private func reserve(_ total: Int64, _ state: inout State) throws -> (pack: Int, start: Int64) {
        while flock(lockFile, LOCK_EX) != 0 {
            guard errno == EINTR else { throw BlobPackError.io("cannot lock \(directory)/lock", errno) }
        }
        defer { _ = flock(lockFile, LOCK_UN) }
        while true {
            let pack = state.current
            let fd = state.files[pack]!
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw BlobPackError.io("cannot read the size of \(Self.path(directory, pack))", errno) }
            let size = Int64(info.st_size)
            let start = Self.aligned(size)
            if size > 0, start + total > packLimit {
                state.current = pack + 1
                if state.files[pack + 1] == nil { state.files[pack + 1] = try Self.open(directory: directory, number: pack + 1) }
                continue
            }
            guard ftruncate(fd, off_t(Self.aligned(start + total))) == 0 else {
                throw BlobPackError.io("cannot extend \(Self.path(directory, pack))", errno)
            }
            return (pack, start)
        }
    }

    /// Appends every non-nil blob and makes them durable (their bytes and the pack's size on disk)
    /// before returning where each one is; a nil stays nil. One write per buffer's worth and one
    /// sync for the lot.
    public func write(_ blobs: [[UInt8]?]) throws -> [BlobLocation?] {
        let total = blobs.reduce(Int64(0)) { $0 + Int64($1?.count ?? 0) }
        guard blobs.contains(where: { $0 != nil }) else { return blobs.map { _ in nil } }
        // The range is taken under the lock; the writing runs outside it, so batches do not wait for each other.
        let target = try state.withLock { state -> WriteTarget in
            guard !state.closed else { throw BlobPackError.closed }
            let (pack, start) = try reserve(total, &state)
            var direct: Int32?
            if !state.directRefused {
                if let fd = state.directFiles[pack] {
                    direct = fd
                } else if let fd = Self.openDirect(directory: directory, number: pack) {
                    state.directFiles[pack] = fd
                    direct = fd
                } else {
                    state.directRefused = true
                }
            }
            return WriteTarget(pack: pack, start: start, file: state.files[pack]!, direct: direct)
        }
        var locations: [BlobLocation?] = []
        locations.reserveCapacity(blobs.count)
        var offset = target.start
        for blob in blobs {
            locations.append(blob.map { _ in BlobLocation(pack: target.pack, offset: offset) })
            offset += Int64(blob?.count ?? 0)
        }
        let writtenDirectly = try target.direct.map { try writeDirect(blobs, to: $0, at: target.start, pack: target.pack) } ?? false
        if !writtenDirectly {
            bufferedWrites.add(1, ordering: .relaxed)
            for (blob, location) in zip(blobs, locations) {
                guard let blob, let location else { continue }
                try blob.withUnsafeBytes { try writeAll($0, fd: target.file, at: location.offset, pack: target.pack) }
            }
        }
        syncs.add(1, ordering: .relaxed)
        while fdatasync(target.file) != 0 {
            if errno == EINTR { continue }
            throw BlobPackError.io("cannot sync \(Self.path(directory, target.pack))", errno)
        }
        return locations
    }

    /// Copies the blobs through the aligned buffer into direct writes from `start` (a block
    /// boundary); the last write is padded with zeros to a whole block. False, having written
    /// nothing that matters, when the file system refuses direct writes: the caller writes
    /// through the page cache instead, and so does every later batch.
    private func writeDirect(_ blobs: [[UInt8]?], to fd: Int32, at start: Int64, pack: Int) throws -> Bool {
        let buffer = spareBuffer.withLock { $0.take() } ?? AlignedBuffer(size: Self.bufferSize, alignment: Self.blockSize)
        defer {
            let kept = spareBuffer.withLock { spare -> Bool in
                guard spare == nil else { return false }
                spare = buffer
                return true
            }
            if !kept { buffer.free() }
        }
        var fileOffset = start
        var used = 0
        func flush(_ count: Int) throws -> Bool {
            do {
                try writeAll(UnsafeRawBufferPointer(start: buffer.pointer, count: count), fd: fd, at: fileOffset, pack: pack)
            } catch BlobPackError.io(_, let code) where code == EINVAL && fileOffset == start {
                // Only the first write can tell that the file system takes no direct writes.
                state.withLock { $0.directRefused = true }
                return false
            }
            fileOffset += Int64(count)
            used = 0
            return true
        }
        for blob in blobs {
            guard let blob else { continue }
            var copied = 0
            while copied < blob.count {
                let count = min(blob.count - copied, Self.bufferSize - used)
                blob.withUnsafeBytes { bytes in
                    (buffer.pointer + used).copyMemory(from: bytes.baseAddress! + copied, byteCount: count)
                }
                used += count
                copied += count
                if used == Self.bufferSize, try !flush(used) { return false }
            }
        }
        if used > 0 {
            let padded = Int(Self.aligned(Int64(used)))
            (buffer.pointer + used).initializeMemory(as: UInt8.self, repeating: 0, count: padded - used)
            if try !flush(padded) { return false }
        }
        return true
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer, fd: Int32, at offset: Int64, pack: Int) throws {
        var done = 0
        while done < bytes.count {
            let written = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if written < 0 {
                if errno == EINTR { continue }
                throw BlobPackError.io("cannot write to \(Self.path(directory, pack))", errno)
            }
            done += written
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

    /// Erases `size` bytes at `location` for good, and makes that durable: the file system's
    /// blocks are given back where it can punch holes (and the range reads as zeros), elsewhere
    /// the range is overwritten with zeros. The pack keeps its size and every other blob's offset.
    /// `holes: false` always writes zeros (for tests of that path).
    public func erase(_ location: BlobLocation, size: Int, holes: Bool = true) throws {
        guard size > 0 else { return }
        let fd = try descriptor(location.pack)
        if !holes || mailroom_punch_hole(fd, location.offset, Int64(size)) != 0 {
            let reason = holes ? errno : EOPNOTSUPP
            guard reason == EOPNOTSUPP || reason == ENOSYS else {
                throw BlobPackError.io("cannot erase \(size) bytes at offset \(location.offset) of \(Self.path(directory, location.pack))", reason)
            }
            let zeros = [UInt8](repeating: 0, count: min(size, 1 << 20))
            var done = 0
            while done < size {
                let count = min(zeros.count, size - done)
                try zeros.withUnsafeBytes {
                    try writeAll(UnsafeRawBufferPointer(rebasing: $0[..<count]), fd: fd, at: location.offset + Int64(done), pack: location.pack)
                }
                done += count
            }
        }
        guard fdatasync(fd) == 0 else { throw BlobPackError.io("cannot sync \(Self.path(directory, location.pack))", errno) }
    }

    deinit {
        spareBuffer.withLock { $0?.free() }
    }

    public func close() {
        state.withLock { state in
            for fd in state.files.values { Glibc.close(fd) }
            for fd in state.directFiles.values { Glibc.close(fd) }
            if !state.closed { Glibc.close(lockFile) }
            state.files.removeAll()
            state.directFiles.removeAll()
            state.closed = true
        }
    }

    private func descriptor(_ pack: Int) throws -> Int32 {
        try state.withLock { state in
            guard !state.closed else { throw BlobPackError.closed }
            if let fd = state.files[pack] { return fd }
            // Another process may have started packs after this one's newest.
            guard pack > 0, access(Self.path(directory, pack), F_OK) == 0 else {
                throw BlobPackError.truncated("there is no pack \(pack) in \(directory)")
            }
            let fd = try Self.open(directory: directory, number: pack)
            state.files[pack] = fd
            return fd
        }
    }

    static func aligned(_ offset: Int64) -> Int64 {
        (offset + Int64(blockSize) - 1) / Int64(blockSize) * Int64(blockSize)
    }

    static func path(_ directory: String, _ number: Int) -> String {
        let digits = String(number)
        return directory + "/pack-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    static func packNumber(fileName: String) -> Int? {
        guard fileName.hasPrefix("pack-"), let number = Int(fileName.dropFirst(5)), number > 0 else { return nil }
        return number
    }

    /// Linux's O_DIRECT, which Glibc's Swift module leaves out (C only defines it under _GNU_SOURCE).
    /// (Elsewhere nothing: the pack is then written through the page cache, in the same layout.)
    #if arch(x86_64)
    static let directFlag: Int32 = 0o40000
    #elseif arch(arm64)
    static let directFlag: Int32 = 0o200000
    #else
    static let directFlag: Int32 = 0
    #endif

    /// The pack opened for direct writes, or nil where the file system has no such thing (tmpfs
    /// before Linux 6.6, for one). The pack itself exists already (``open(directory:number:)``).
    private static func openDirect(directory: String, number: Int) -> Int32? {
        let fd = Glibc.open(path(directory, number), O_WRONLY | Self.directFlag | O_CLOEXEC)
        return fd >= 0 ? fd : nil
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

/// Where one batch goes: its pack, the block boundary it starts on, and the pack's descriptors.
private struct WriteTarget: Sendable {
    let pack: Int
    let start: Int64
    let file: Int32
    let direct: Int32?
}

/// Memory for direct writes, aligned as the kernel requires, kept from batch to batch so that its
/// pages are touched once.
private struct AlignedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer

    init(size: Int, alignment: Int) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: alignment)
    }

    func free() { pointer.deallocate() }
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
