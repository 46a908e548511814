import Foundation

/// A file an agent uploaded to attach to a reply.
public struct Upload: Sendable, Equatable, Codable {
    public var id: String
    public var sha256: String
    public var filename: String
    public var contentType: String
    public var size: Int
    /// For inline images: the Content-ID the HTML refers to as cid:…
    public var contentId: String?
    public var inline: Bool
    public var createdAt: Date

    public init(id: String, sha256: String, filename: String, contentType: String, size: Int, contentId: String?, inline: Bool,
                createdAt: Date) {
        self.id = id
        self.sha256 = sha256
        self.filename = filename
        self.contentType = contentType
        self.size = size
        self.contentId = contentId
        self.inline = inline
        self.createdAt = createdAt
    }
}
