import Foundation
import MailroomCore
@testable import MailroomStore
import MailroomTestSupport
import SQLKit
import Synchronization
import Testing

/// SQLite keeps raw mail in pack files next to the database: bytes come back as they went in,
/// across pack boundaries and a reopening, and the rows that name them read them from there.
@Suite struct BlobPacksTests {
    static func scratch() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("mailroom-packs-\(UUID().uuidString)").path
    }

    static func bytes(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
    }

    @Test(arguments: [true, false]) func bytesComeBackAcrossPacksAndAfterReopening(direct: Bool) throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var written: [(BlobLocation, [UInt8])] = []
        do {
            let packs = try BlobPacks(directory: directory, packLimit: 10_000, direct: direct)
            for seed in 0..<12 {
                let bytes = Self.bytes(seed == 5 ? 25_000 : 1_500 + seed * 100, seed: seed)
                written.append((try #require(try packs.write([bytes])[0]), bytes))
            }
            // A blob larger than the limit gets a pack of its own; the others fill packs up to it.
            #expect(Set(written.map(\.0.pack)).count >= 3)
            #expect(packs.syncs.load(ordering: .relaxed) == 12)
            for (location, bytes) in written { #expect(try packs.read(location, size: bytes.count) == bytes) }
            packs.close()
        }
        let reopened = try BlobPacks(directory: directory, packLimit: 10_000, direct: direct)
        defer { reopened.close() }
        for (location, bytes) in written { #expect(try reopened.read(location, size: bytes.count) == bytes) }
        // Writes go on at the end of the newest pack, never over what is there.
        let last = written.map(\.0).max { ($0.pack, $0.offset) < ($1.pack, $1.offset) }!
        let next = try #require(try reopened.write([[1, 2, 3]])[0])
        #expect(next.pack > last.pack || next.offset >= last.offset + Int64(written.first { $0.0 == last }!.1.count))
        #expect(try reopened.read(next, size: 3) == [1, 2, 3])
    }

    /// A batch larger than the buffer it is copied through, with blobs of odd sizes and gaps (nil),
    /// comes back byte for byte; every batch starts on a block boundary and syncs once.
    @Test(arguments: [true, false]) func aBatchIsWrittenInOnePieceFromABlockBoundary(direct: Bool) throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let packs = try BlobPacks(directory: directory, direct: direct)
        defer { packs.close() }
        let first: [[UInt8]?] = [Self.bytes(1_001, seed: 1), nil, Self.bytes(BlobPacks.bufferSize + 4_097, seed: 2), Self.bytes(7, seed: 3)]
        let second: [[UInt8]?] = [Self.bytes(3 * BlobPacks.bufferSize, seed: 4), Self.bytes(1, seed: 5)]
        var all: [(BlobLocation, [UInt8])] = []
        for batch in [first, second, [nil]] {
            let locations = try packs.write(batch)
            #expect(locations.count == batch.count)
            #expect(zip(batch, locations).allSatisfy { ($0 == nil) == ($1 == nil) })
            if let start = locations.compactMap({ $0 }).first { #expect(start.offset % Int64(BlobPacks.blockSize) == 0) }
            for (blob, location) in zip(batch, locations) {
                if let blob, let location { all.append((location, blob)) }
            }
        }
        #expect(packs.syncs.load(ordering: .relaxed) == 2, "a batch of nothing syncs nothing")
        for (location, bytes) in all { #expect(try packs.read(location, size: bytes.count) == bytes) }
        // Where the file system takes direct writes (ext4, xfs, btrfs: the usual homes of a data
        // directory), nothing goes through the page cache; elsewhere the same layout is written through it.
        if !direct || !Self.takesDirectWrites(directory) {
            #expect(packs.bufferedWrites.load(ordering: .relaxed) == 2)
        } else {
            #expect(packs.bufferedWrites.load(ordering: .relaxed) == 0)
        }
    }

    /// Whether the file system under `directory` opens files for direct writes at all.
    static func takesDirectWrites(_ directory: String) -> Bool {
        let probe = directory + "/probe"
        defer { unlink(probe) }
        let fd = open(probe, O_WRONLY | O_CREAT | BlobPacks.directFlag, 0o600)
        guard fd >= 0 else { return false }
        close(fd)
        return BlobPacks.directFlag != 0
    }

    /// Two processes on one data directory (`mailroom import` beside `mailroom serve`) append to
    /// the same packs: every blob either one wrote comes back whole, read by either, across the
    /// packs either one started. Two instances stand in for the processes: each has its own open
    /// lock file, and `flock` locks belong to the open file, so they exclude each other as two
    /// processes would.
    @Test(arguments: [true, false]) func twoWritersOnOneDirectoryNeverOverwriteEachOther(direct: Bool) throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try BlobPacks(directory: directory, packLimit: 200_000, direct: direct)
        let second = try BlobPacks(directory: directory, packLimit: 200_000, direct: direct)
        defer { first.close(); second.close() }
        let written = Mutex<[(BlobLocation, [UInt8])]>([])
        DispatchQueue.concurrentPerform(iterations: 40) { index in
            let packs = index % 2 == 0 ? first : second
            let batch = (0..<3).map { Self.bytes(2_000 + index * 371 + $0 * 1_013, seed: index * 3 + $0) }
            guard let locations = try? packs.write(batch) else { return }
            written.withLock { list in
                for (location, bytes) in zip(locations, batch) { if let location { list.append((location, bytes)) } }
            }
        }
        let all = written.withLock { $0 }
        #expect(all.count == 120)
        #expect(Set(all.map(\.0)).count == 120)
        #expect(Set(all.map(\.0.pack)).count > 1, "the writers moved on to new packs")
        for (location, bytes) in all {
            #expect(try first.read(location, size: bytes.count) == bytes)
            #expect(try second.read(location, size: bytes.count) == bytes)
        }
    }

    /// Erasing a blob (a discarded quarantined message) zeros exactly its bytes, across whole
    /// blocks and partial ones, whether the file system punches a hole or zeros are written; the
    /// blobs around it, and the pack's size, stay as they were.
    @Test(arguments: [true, false]) func anErasedBlobReadsAsZerosAndItsNeighboursAreIntact(holes: Bool) throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let packs = try BlobPacks(directory: directory)
        defer { packs.close() }
        let blobs = [Self.bytes(1_003, seed: 1), Self.bytes(3 * BlobPacks.blockSize + 517, seed: 2), Self.bytes(999, seed: 3)]
        let locations = try packs.write(blobs).map { try #require($0) }
        let path = BlobPacks.path(directory, locations[1].pack)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)

        try packs.erase(locations[1], size: blobs[1].count, holes: holes)
        #expect(try packs.read(locations[1], size: blobs[1].count) == [UInt8](repeating: 0, count: blobs[1].count))
        #expect(try packs.read(locations[0], size: blobs[0].count) == blobs[0])
        #expect(try packs.read(locations[2], size: blobs[2].count) == blobs[2])
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == size)
        // Writes go on after it as before.
        let next = try #require(try packs.write([blobs[0]])[0])
        #expect(try packs.read(next, size: blobs[0].count) == blobs[0])
    }

    @Test func aReadPastTheEndOfAPackIsAnErrorNotZeros() throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let packs = try BlobPacks(directory: directory)
        defer { packs.close() }
        let location = try #require(try packs.write([[9, 9, 9]])[0])
        // The padding after a direct write is zeros on disk, but not part of any blob: only the
        // whole pack's end bounds a read, so read past the padding too.
        #expect(throws: BlobPackError.self) { try packs.read(location, size: BlobPacks.blockSize + 1) }
        #expect(throws: BlobPackError.self) { try packs.read(BlobLocation(pack: 7, offset: 0), size: 1) }
    }

    @Test func ingestedRawMailLivesInThePacksAndOlderRowsStillRead() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let account = try await IngestStoreTests.accounts(store, resolvers: [.caseId])[0]
            let raw = Self.bytes(40_000, seed: 3)
            let staged = try await store.rawMail.stageRaw([raw, nil])
            #expect(staged.count == 2 && staged[0] != nil && staged[1] == nil)
            let mail = inbound(from: "ann@example.com", subject: "Packed", messageId: "packed@x")
            let item = IngestItem(action: .ingest(mail, tags: []), raw: raw, position: nil, source: "test", stagedRaw: staged[0])
            let result = try await store.ingest.ingestBatch([item], account: account)
            #expect(result.outcomes.map(\.name) == ["created"])
            #expect(try await store.rawMail.blob(sha256: mail.rawSha256) == raw)
            // Without a staged location the store appends and syncs the bytes itself.
            let single = inbound(from: "bob@example.com", subject: "Single", messageId: "single@x")
            _ = try await store.ingest.ingest(single, raw: Self.bytes(5_000, seed: 4), account: account, position: nil)
            #expect(try await store.rawMail.blob(sha256: single.rawSha256) == Self.bytes(5_000, seed: 4))
            let blobs = try await store.blobRowsAllInPacks()
            #expect(blobs.count == 2 && blobs.allInPacks)
            // A row written before the packs keeps its bytes in `data`.
            try await store.database.withConnection { db in
                try await db.raw("INSERT INTO blobs (sha256, size, data, created_at) VALUES ('old', 3, \(bind: Data([7, 8, 9])), 0)").run()
            }
            #expect(try await store.rawMail.blob(sha256: "old") == [7, 8, 9])
            #expect(try await store.outbox.rawMessages(sha256: ["old", mail.rawSha256]) == ["old": [7, 8, 9], mail.rawSha256: raw])
        }
    }
}
