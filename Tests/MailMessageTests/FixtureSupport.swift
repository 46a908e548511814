import Foundation
import Testing
@testable import MailMessage

enum Fixture {
    static var directory: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        }
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        let url = try directory.appendingPathComponent(name)
        return try [UInt8](Data(contentsOf: url))
    }

    static func message(_ name: String, options: ParseOptions = .default) throws -> MIMEMessage {
        MIMEMessage(parsing: try bytes(name), options: options)
    }

    static func summary(_ name: String) throws -> MessageSummary {
        MessageSummary(try message(name))
    }

    /// Every fixture file, fuzz regressions included.
    static func allNames() throws -> [String] {
        let root = try directory
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        var names: [String] = []
        while let url = enumerator?.nextObject() as? URL {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                names.append(String(url.path.dropFirst(root.path.count + 1)))
            }
        }
        return names.sorted()
    }
}

/// CRLF line ends for messages written inline in tests.
func crlf(_ text: String) -> [UInt8] {
    Array(text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").utf8)
}
