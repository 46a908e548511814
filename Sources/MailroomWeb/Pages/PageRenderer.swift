import Foundation
import HTTPTypes
import Hummingbird
import MailroomStore
import Mustache

/// The templates, stylesheet and script shipped in `Web/` (resources of this target), loaded once.
public struct WebAssets: Sendable {
    public let library: MustacheLibrary
    public let stylesheet: StaticAsset
    public let script: StaticAsset
    /// Changes whenever the stylesheet or script changes, so their URLs can be cached for a year.
    public let version: String

    public struct StaticAsset: Sendable {
        public let bytes: [UInt8]
        public let contentType: String
        public let etag: String
    }

    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Loads from the resource bundle (or `directory`, for tests of other template sets).
    public static func load(directory: URL? = nil) throws -> WebAssets {
        guard let root = directory ?? Bundle.module.url(forResource: "Web", withExtension: nil) else {
            throw LoadError(description: "the web application's resources (Web/) are missing next to the executable; reinstall Mailroom")
        }
        var templates: [String: MustacheTemplate] = [:]
        let templatesRoot = root.appendingPathComponent("templates")
        let names = FileManager.default.enumerator(atPath: templatesRoot.path)?.compactMap { $0 as? String } ?? []
        for name in names where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: templatesRoot.appendingPathComponent(name), encoding: .utf8)
            do {
                templates[String(name.dropLast(".mustache".count))] = try MustacheTemplate(string: text)
            } catch {
                throw LoadError(description: "template \(name) does not parse: \(error)")
            }
        }
        /// One asset made of the files `names`, in order (the script is app.js, then the account editor's).
        func asset(_ names: [String], _ type: String) throws -> StaticAsset {
            var data = Data()
            for name in names {
                data.append(try Data(contentsOf: root.appendingPathComponent("static").appendingPathComponent(name)))
                data.append(0x0A)
            }
            let digest = String(TokenHasher.hash(String(decoding: data, as: UTF8.self)).prefix(16))
            return StaticAsset(bytes: Array(data), contentType: type, etag: "\"\(digest)\"")
        }
        let stylesheet = try asset(["app.css", "settings.css"], "text/css; charset=utf-8")
        let script = try asset(["app.js", "account-editor.js", "settings.js"], "text/javascript; charset=utf-8")
        let version = String((stylesheet.etag + script.etag).filter(\.isHexDigit).prefix(12))
        return WebAssets(library: MustacheLibrary(templates: templates), stylesheet: stylesheet, script: script, version: version)
    }

    /// Renders a view with its template; a missing template is a programming error reported as a 500.
    func render<View: RenderedView>(_ view: View) throws -> String {
        guard let html = library.render(view, withTemplate: View.template) else {
            throw WebAssets.LoadError(description: "no template named \(View.template)")
        }
        return html
    }
}

/// Security headers every HTML response of the application carries.
public enum PageHeaders {
    /// Scripts only from our own static file, no inline script or style, nothing from elsewhere;
    /// frames only from this server (the sandboxed message bodies).
    public static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    public static func html(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-store",
            .contentSecurityPolicy: contentSecurityPolicy,
        ]
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    public static func redirect(to location: String, status: HTTPResponse.Status = .seeOther) -> Response {
        Response(status: status, headers: [.location: location, .cacheControl: "no-store"])
    }
}
