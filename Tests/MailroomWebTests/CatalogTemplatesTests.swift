import Foundation
import MailroomCore
import MailroomTestSupport
import Testing

@Suite struct TemplatesAPITests {
    @Test func templatesAreCheckedAndKeyedUniquely() async throws {
        try await withAPI { api, _ in
            let created = try await api.call(.post, "/api/v1/templates", json: .object([
                "key": .string("welcome"), "kind": .string("invitation"), "subject": .string("Welcome {{ user.name }}"),
                "text": .string("Sign in at {{ invitation.link }}"),
            ]))
            #expect(created.status == 201, "\(created.text)")
            let duplicate = try await api.call(.post, "/api/v1/templates", json: .object([
                "key": .string("welcome"), "kind": .string("reply"), "text": .string("x"),
            ]))
            #expect(duplicate.status == 409 && duplicate.errorField == "key")
            let broken = try await api.call(.post, "/api/v1/templates", json: .object([
                "key": .string("broken"), "kind": .string("reply"), "html": .string("<p>{{#open}} never closed</p>"),
            ]))
            #expect(broken.status == 422 && broken.errorField == "html", "\(broken.text)")
            let badKind = try await api.call(.post, "/api/v1/templates", json: .object(["key": .string("k"), "kind": .string("sms"), "text": .string("x")]))
            #expect(badKind.status == 422 && badKind.errorField == "kind")
            let id = try #require(created.string("id"))
            let changed = try await api.call(.patch, "/api/v1/templates/\(id)", json: .object(["html": .string("<p>Hi</p>")]))
            #expect(changed.json?["html"] == .string("<p>Hi</p>"))
            #expect(changed.json?["text"] == .string("Sign in at {{ invitation.link }}"))
            #expect(try await api.call(.delete, "/api/v1/templates/\(id)").status == 204)
        }
    }

    @Test func anAccountTemplateThatWouldNotRenderIsRefused() async throws {
        try await withAPI { api, _ in
            let response = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON(["template": .string("<div>{{/body}}</div>")]))
            #expect(response.status == 422)
            #expect(response.errorField == "template")
            let good = try await api.call(.post, "/api/v1/accounts", json: validAccountJSON([
                "template": .string("<div style=\"font-family: Arial\">{{{body}}}<img src=\"cid:logo\"></div>"),
            ]))
            #expect(good.status == 201)
        }
    }
}

@Suite struct UploadAPITests {
    @Test func uploadsNeedANameAndInlineImagesAContentId() async throws {
        try await withAPI { api, _ in
            let agent = try await api.token(for: .agent)
            let ok = try await api.call(.post, "/api/v1/attachments?filename=notes.txt", token: agent, body: "some notes")
            #expect(ok.status == 201, "\(ok.text)")
            #expect(ok.json?["size"] == .number(10))
            #expect(try await api.call(.post, "/api/v1/attachments", token: agent, body: "x").errorField == "filename")
            #expect(try await api.call(.post, "/api/v1/attachments?filename=../../etc/passwd", token: agent, body: "x").errorField == "filename")
            #expect(try await api.call(.post, "/api/v1/attachments?filename=a.png&inline=true", token: agent, body: "x").errorField == "contentId")
            #expect(try await api.call(.post, "/api/v1/attachments?filename=a.txt", token: nil, body: "x").status == 401)
        }
    }
}
