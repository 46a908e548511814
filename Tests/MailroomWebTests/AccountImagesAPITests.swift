import Foundation
import Hummingbird
import HummingbirdTesting
import MailroomCore
import MailroomStore
import MailroomTestSupport
import Testing

/// An account's logo and signature images (issue 24): uploaded with `kind=image`, checked by their
/// bytes (PNG, JPEG, GIF, WebP; never SVG), small; an account refuses an image that is none, and
/// its template font is kept.
@Suite struct AccountImagesAPITests {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 7, count: 32)

    func upload(_ api: APIClient, _ bytes: [UInt8], filename: String, contentType: String, kind: String? = "image") async throws -> APIResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(adminToken)", .contentType: contentType]
        headers[.accept] = "application/json"
        let query = "filename=\(filename)&inline=true&contentId=logo" + (kind.map { "&kind=\($0)" } ?? "")
        let response = try await api.client.execute(uri: "/api/v1/attachments?\(query)", method: .post, headers: headers,
                                                    body: ByteBuffer(bytes: bytes))
        return APIResponse(status: Int(response.status.code), text: String(buffer: response.body), headers: response.headers)
    }

    @Test func imageUploadsAreCheckedByTheirBytes() async throws {
        try await withAPI { api, _ in
            let ok = try await upload(api, Self.png, filename: "logo.png", contentType: "application/octet-stream")
            #expect(ok.status == 201, "\(ok.text)")
            #expect(ok.string("contentType") == "image/png", "the type the bytes say, not the declared one")

            let svg = Array(#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.utf8)
            let refused = try await upload(api, svg, filename: "logo.svg", contentType: "image/svg+xml")
            #expect(refused.status == 422 || refused.status == 400, "\(refused.text)")
            #expect(refused.text.contains("\"file\""), "a field error on the file: \(refused.text)")
            #expect(refused.text.contains("logo.svg is not a PNG, JPEG, GIF or WebP image"), "\(refused.text)")

            let renamed = try await upload(api, Array("just text".utf8), filename: "photo.jpg", contentType: "image/jpeg")
            #expect(renamed.text.contains("photo.jpg is not a PNG"), "a name or a declared type does not make an image")

            let large = Self.png + Array(repeating: 0, count: ImageKind.maxBytes)
            let tooLarge = try await upload(api, large, filename: "huge.png", contentType: "image/png")
            #expect(tooLarge.text.contains("an image may be at most 1 MB"), "\(tooLarge.text)")

            // Without kind=image an upload is any file, as a reply's attachment.
            let plain = try await upload(api, svg, filename: "drawing.svg", contentType: "image/svg+xml", kind: nil)
            #expect(plain.status == 201)
        }
    }

    @Test func anAccountRefusesAnImageThatIsNone() async throws {
        try await withAPI { api, _ in
            let svg = Array(#"<svg><script>alert(1)</script></svg>"#.utf8)
            let sneaked = try await upload(api, svg, filename: "logo.png", contentType: "image/png", kind: nil)
            let sneakedId = try #require(sneaked.string("id"), "\(sneaked.text)")
            let image = try #require(try await upload(api, Self.png, filename: "logo.png", contentType: "image/png").string("id"))
            func account(_ uploadId: String) -> JSONValue {
                validAccountJSON(["inlineImages": .array([.object(["contentId": .string("logo"), "uploadId": .string(uploadId),
                                                                     "filename": .string("logo.png")])]),
                                  "font": .object(["family": .string("georgia"), "size": .number(15)])])
            }
            let refused = try await api.call(.post, "/api/v1/accounts", json: account(sneakedId))
            #expect(refused.status == 422 || refused.status == 400, "\(refused.text)")
            #expect(refused.text.contains("inlineImages[0].uploadId"), "\(refused.text)")
            #expect(refused.text.contains("is not a PNG, JPEG, GIF or WebP image"))

            let created = try await api.call(.post, "/api/v1/accounts", json: account(image))
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json?["font"]?["family"] == .string("georgia"))
            #expect(created.json?["font"]?["size"] == .number(15))
            let id = try #require(created.string("id"))
            let badSize = try await api.call(.put, "/api/v1/accounts/\(id)", json: .object(["font": .object(["size": .number(99)])]))
            #expect(badSize.text.contains("font.size"), "\(badSize.text)")
            let cleared = try await api.call(.put, "/api/v1/accounts/\(id)", json: .object(["font": .null]))
            #expect(cleared.status == 200, "\(cleared.text)")
            #expect(cleared.json?["font"] == nil || cleared.json?["font"] == .null)
        }
    }
}
