import Foundation

/// An image an account's template or signature shows (a company logo, a signature picture):
/// uploaded once, kept with the account, and sent inside each message as an inline part that the
/// HTML names `cid:contentId`, never as a remote link a mail program would block.
public struct InlineImage: Codable, Sendable, Equatable {
    /// The name the HTML uses after `cid:` (letters, digits, dot, dash, underscore).
    public var contentId: String
    /// The upload (`POST /api/v1/attachments`) holding the image.
    public var uploadId: String
    public var filename: String

    public init(contentId: String, uploadId: String, filename: String = "") {
        self.contentId = contentId
        self.uploadId = uploadId
        self.filename = filename
    }

    public static let maxCount = 20

    /// The images that `html` refers to as `cid:NAME`, in the account's order.
    public static func referenced(by html: String?, in images: [InlineImage]) -> [InlineImage] {
        guard let html, !images.isEmpty else { return [] }
        var names = Set<String>()
        var rest = html[...]
        while let found = rest.range(of: "cid:", options: .caseInsensitive) {
            let name = rest[found.upperBound...].prefix { isNameCharacter($0) }
            names.insert(String(name))
            rest = rest[found.upperBound...]
        }
        return images.filter { names.contains($0.contentId) }
    }

    static func isNameCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || "._-".contains(character))
    }

    static func isValidContentId(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.allSatisfy(isNameCharacter)
    }
}
