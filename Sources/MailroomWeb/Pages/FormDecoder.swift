import Foundation
import Hummingbird
import MailroomCore

/// A form a page posts (`application/x-www-form-urlencoded`), read into a typed value.
protocol DecodableForm {
    init(from form: FormFields) throws
}

/// The one reader of the pages' form posts (sign-in and sign-out; every other change goes to the
/// JSON API from `app.js`). Lenient as browsers are: the first value of a name wins, a name that
/// does not percent-decode is skipped and a value that does not reads as empty.
enum FormDecoder {
    static let maximumBytes = 64 << 10

    static func decode<Form: DecodableForm>(_ type: Form.Type, from request: Request) async throws -> Form {
        var request = request
        let buffer = try await request.collectBody(upTo: maximumBytes)
        return try decode(type, from: String(buffer: buffer))
    }

    static func decode<Form: DecodableForm>(_ type: Form.Type, from body: String) throws -> Form {
        try Form(from: FormFields(fields(body)))
    }

    static func fields(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecoded(parts[0]), fields[name] == nil else { continue }
            fields[name] = parts.count > 1 ? percentDecoded(parts[1]) ?? "" : ""
        }
        return fields
    }

    static func percentDecoded(_ part: Substring) -> String? {
        String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

/// A decoded form's fields by the names the HTML form gives them; errors name the field the same way.
struct FormFields: Sendable {
    let values: [String: String]

    init(_ values: [String: String]) {
        self.values = values
    }

    /// The field as sent, nil when the form did not send it.
    func text(_ name: String) -> String? {
        values[name]
    }

    /// The field, which must be sent and not blank.
    func required(_ name: String) throws -> String {
        guard let value = values[name], !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalid([FieldError(name, "is required")])
        }
        return value
    }
}

/// The sign-in form of `login.mustache`. A missing email or password reads as empty, so it fails
/// as a wrong password does (and counts towards the throttle).
struct SignInForm: DecodableForm {
    /// Trimmed and lower-cased, as users are found by it.
    let email: String
    let password: Secret
    /// Where to go afterwards, already limited to a path on this server.
    let next: String
    let csrf: String?

    init(from form: FormFields) {
        email = (form.text("email") ?? "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        password = Secret(form.text("password") ?? "")
        next = WebSite.safeNext(form.text("next"))
        csrf = form.text(CSRFCheck.formField)
    }
}

/// The layout's sign-out button.
struct SignOutForm: DecodableForm {
    let csrf: String?

    init(from form: FormFields) {
        csrf = form.text(CSRFCheck.formField)
    }
}

/// Percent-encoding for URLs the server writes (query values, RFC 6266 file names).
enum PercentEncoding {
    /// RFC 3986's unreserved characters, ASCII only (Foundation's `alphanumerics` has every script's letters).
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// `value` with everything but the unreserved characters percent-encoded.
    static func component(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }
}
