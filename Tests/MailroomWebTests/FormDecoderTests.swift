import Foundation
import MailroomCore
import Testing
@testable import MailroomWeb

/// The one reader of the pages' form posts.
@Suite struct FormDecoderTests {
    @Test func readsURLEncodedFieldsAsBrowsersSendThem() {
        #expect(FormDecoder.fields("a=1&b=two+words&c=%C3%A9t%C3%A9&d=&e") == ["a": "1", "b": "two words", "c": "été", "d": "", "e": ""])
        #expect(FormDecoder.fields("next=%2Ftickets%3Fview%3Dall%26x%3D1") == ["next": "/tickets?view=all&x=1"])
        #expect(FormDecoder.fields("&&a=1&&") == ["a": "1"])
        #expect(FormDecoder.fields("a=b=c") == ["a": "b=c"])
    }

    /// Hostile bodies: a repeated name keeps its first value; a name that does not decode is
    /// dropped and a value that does not decode reads as empty.
    @Test func malformedAndRepeatedFieldsAreReadLeniently() {
        #expect(FormDecoder.fields("_csrf=first&_csrf=second") == ["_csrf": "first"])
        #expect(FormDecoder.fields("%ZZ=1&ok=%E0%A4") == ["ok": ""])
        #expect(FormDecoder.fields("") == [:])
    }

    @Test func signInFormsAreTypedAndNormalized() throws {
        let form = try FormDecoder.decode(SignInForm.self, from: "email=+Ann%40Example.COM+&password=p%26ss+word&next=%2F%2Fevil.example&_csrf=tok")
        #expect(form.email == "ann@example.com")
        #expect(form.password == Secret("p&ss word"))
        #expect(form.next == "/desk", "only a path on this server")
        #expect(form.csrf == "tok")
        let empty = try FormDecoder.decode(SignInForm.self, from: "")
        #expect(empty.email == "" && empty.password == Secret("") && empty.next == "/desk" && empty.csrf == nil)
        #expect(try FormDecoder.decode(SignOutForm.self, from: "_csrf=abc").csrf == "abc")
    }

    /// A required field that is missing or blank is reported by the name the form gives it.
    @Test func missingRequiredFieldsAreNamedAsTheFormNamesThem() throws {
        struct Note: DecodableForm {
            let title: String
            init(from form: FormFields) throws { title = try form.required("note.title") }
        }
        #expect(try FormDecoder.decode(Note.self, from: "note.title=Hello").title == "Hello")
        for body in ["", "note.title=", "note.title=+++", "other=1"] {
            do {
                _ = try FormDecoder.decode(Note.self, from: body)
                Issue.record("\(body) was accepted")
            } catch let error as APIError {
                #expect(error.field == "note.title" && error.message == "note.title is required", "\(error)")
            }
        }
    }
}
