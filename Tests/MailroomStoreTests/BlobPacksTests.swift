import Foundation
import MailroomCore
@testable import MailroomStore
import MailroomTestSupport
import SQLKit
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

    @Test func bytesComeBackAcrossPacksAndAfterReopening() throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var written: [(BlobLocation, [UInt8])] = []
        do {
            let packs = try BlobPacks(directory: directory, packLimit: 10_000)
            for seed in 0..<12 {
                let bytes = Self.bytes(seed == 5 ? 25_000 : 1_500 + seed * 100, seed: seed)
                written.append((try packs.append(bytes), bytes))
            }
            try packs.sync(written.map(\.0))
            // A blob larger than the limit gets a pack of its own; the others fill packs up to it.
            #expect(Set(written.map(\.0.pack)).count >= 3)
            for (location, bytes) in written { #expect(try packs.read(location, size: bytes.count) == bytes) }
            packs.close()
        }
        let reopened = try BlobPacks(directory: directory, packLimit: 10_000)
        defer { reopened.close() }
        for (location, bytes) in written { #expect(try reopened.read(location, size: bytes.count) == bytes) }
        // Appends go on at the end of the newest pack, never over what is there.
        let last = written.map(\.0).max { ($0.pack, $0.offset) < ($1.pack, $1.offset) }!
        let next = try reopened.append([1, 2, 3])
        #expect(next.pack > last.pack || next.offset >= last.offset + Int64(written.first { $0.0 == last }!.1.count))
        #expect(try reopened.read(next, size: 3) == [1, 2, 3])
    }

    @Test func aReadPastTheEndOfAPackIsAnErrorNotZeros() throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let packs = try BlobPacks(directory: directory)
        defer { packs.close() }
        let location = try packs.append([9, 9, 9])
        #expect(throws: BlobPackError.self) { try packs.read(location, size: 4) }
        #expect(throws: BlobPackError.self) { try packs.read(BlobLocation(pack: 7, offset: 0), size: 1) }
    }

    @Test func ingestedRawMailLivesInThePacksAndOlderRowsStillRead() async throws {
        try await TestDatabase.sqlite.withStore { store in
            let account = try await IngestStoreTests.accounts(store, resolvers: [.caseId])[0]
            let raw = Self.bytes(40_000, seed: 3)
            let staged = try await store.tickets.stageRaw([raw, nil])
            #expect(staged.count == 2 && staged[0] != nil && staged[1] == nil)
            let mail = inbound(from: "ann@example.com", subject: "Packed", messageId: "packed@x")
            let item = IngestItem(action: .ingest(mail, tags: []), raw: raw, position: nil, source: "test", storedRaw: staged[0])
            let result = try await store.tickets.ingestBatch([item], account: account)
            #expect(result.outcomes.map(\.name) == ["created"])
            #expect(try await store.tickets.blob(sha256: mail.rawSha256) == raw)
            // Without a staged location the store appends and syncs the bytes itself.
            let single = inbound(from: "bob@example.com", subject: "Single", messageId: "single@x")
            _ = try await store.tickets.ingest(single, raw: Self.bytes(5_000, seed: 4), account: account, position: nil)
            #expect(try await store.tickets.blob(sha256: single.rawSha256) == Self.bytes(5_000, seed: 4))
            let blobs = try await store.blobRowsAllInPacks()
            #expect(blobs.count == 2 && blobs.allInPacks)
            // A row written before the packs keeps its bytes in `data`.
            try await store.database.withConnection { db in
                try await db.raw("INSERT INTO blobs (sha256, size, data, created_at) VALUES ('old', 3, \(bind: Data([7, 8, 9])), 0)").run()
            }
            #expect(try await store.tickets.blob(sha256: "old") == [7, 8, 9])
            #expect(try await store.outbox.rawMessages(sha256: ["old", mail.rawSha256]) == ["old": [7, 8, 9], mail.rawSha256: raw])
        }
    }
}
