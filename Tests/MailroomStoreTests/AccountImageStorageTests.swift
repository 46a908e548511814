import Foundation
import MailroomCore
@testable import MailroomStore
import MailroomTestSupport
import Testing

/// An account's logo and signature images leave storage when no account names them any more
/// (issue 24), and not while anything else holds them.
@Suite struct AccountImageStorageTests {
    func image(_ store: SQLStore, _ text: String) async throws -> (upload: Upload, bytes: [UInt8]) {
        let bytes = Array("GIF89a-\(text)".utf8)
        let upload = try await store.outbox.saveUpload(bytes, filename: "\(text).gif", contentType: "image/gif", contentId: nil,
                                                       inline: true, uploadedBy: nil)
        return (upload, bytes)
    }

    func account(_ store: SQLStore, key: String, images: [Upload]) async throws -> Account {
        var account = sampleAccount(key: key, name: "Desk \(key)")
        account.inlineImages = images.enumerated().map { InlineImage(contentId: "img\($0.offset)", uploadId: $0.element.id) }
        return try await store.accounts.create(account)
    }

    /// Whether the upload's row and its bytes are still stored (both or neither, here).
    func stored(_ store: SQLStore, _ image: (upload: Upload, bytes: [UInt8])) async throws -> Bool {
        let row = try await store.outbox.uploads(ids: [image.upload.id]).isEmpty == false
        let bytes = try await store.rawMail.blob(sha256: image.upload.sha256) == image.bytes
        #expect(row == bytes, "the upload's row and its bytes go together")
        return row && bytes
    }

    @Test(arguments: TestDatabase.available)
    func anImageNoAccountNamesLeavesStorageOnUpdateAndDelete(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let marker = UUID().uuidString
            let logo = try await image(store, "logo-\(marker)")
            let shared = try await image(store, "shared-\(marker)")
            var first = try await account(store, key: "A1", images: [logo.upload, shared.upload])
            let second = try await account(store, key: "A2", images: [shared.upload])

            // The logo leaves the first account: nothing else names it, so it goes, bytes and all.
            first.inlineImages.removeAll { $0.uploadId == logo.upload.id }
            first = try await store.accounts.update(first)
            #expect(try await !stored(store, logo))
            #expect(try !IngestStoreTests.packsContain(store, "logo-\(marker)"))
            // An update that keeps its images keeps them.
            first.subjectPrefix = "[Desk]"
            first = try await store.accounts.update(first)
            #expect(try await stored(store, shared))

            // The shared image stays while either account names it.
            try await store.accounts.delete(id: second.id, at: Date())
            #expect(try await stored(store, shared))
            try await store.accounts.delete(id: first.id, at: Date())
            #expect(try await !stored(store, shared))
            #expect(try !IngestStoreTests.packsContain(store, "shared-\(marker)"))
        }
    }

    @Test(arguments: TestDatabase.available)
    func bytesSomethingElseHoldsStay(_ kind: TestDatabase) async throws {
        try await kind.withStore { store in
            let marker = UUID().uuidString
            // Mail queued with the image before the change: its raw message is stored from the same bytes.
            let queued = try await image(store, "queued-\(marker)")
            // The same picture uploaded twice: two uploads, one blob.
            let twice = try await image(store, "twice-\(marker)")
            let again = try await store.outbox.saveUpload(twice.bytes, filename: "again.gif", contentType: "image/gif", contentId: nil,
                                                          inline: true, uploadedBy: nil)
            // Named by a template rather than an account.
            let templated = try await image(store, "template-\(marker)")
            _ = try await store.templates.create(MessageTemplate(key: "notice-\(marker)", kind: .notification, subject: "Notice",
                                                                 html: "<img src=\"/api/v1/attachments/\(templated.upload.id)\">"))
            var desk = try await account(store, key: "D", images: [queued.upload, twice.upload, templated.upload])

            let ticket = try await store.ingest.ingest(inbound(from: "ann@example.com", subject: "Q", messageId: "q-\(marker)@x"),
                                                        raw: [1], account: desk, position: nil)
            var reply = inbound(from: "desk@example.com", subject: "Re: Q", messageId: "r-\(marker)@desk", body: "answer")
            reply.rawSha256 = queued.upload.sha256
            let (_, item) = try await store.outbox.enqueue(reply, raw: queued.bytes, ticketId: try #require(ticket.ticketId),
                                                           sendingAccountId: desk.id, envelopeFrom: "desk@example.com",
                                                           recipients: ["ann@example.com"])

            desk.inlineImages = []
            desk = try await store.accounts.update(desk)
            // The account's uploads are gone, but the bytes the outbox item and the other upload hold stay.
            #expect(try await store.outbox.uploads(ids: [queued.upload.id, twice.upload.id]).isEmpty)
            #expect(try await store.rawMail.blob(sha256: item.rawSha256) == queued.bytes)
            #expect(try await store.outbox.uploads(ids: [again.id]).map(\.id) == [again.id])
            #expect(try await store.rawMail.blob(sha256: twice.upload.sha256) == twice.bytes)
            // The template still names its upload.
            #expect(try await stored(store, templated))
        }
    }
}
