import Foundation

/// The account template's font and size (Motion's template settings): every HTML mail sent from
/// the account (replies, auto-replies, notices) carries them as inline CSS, since mail readers
/// ignore style sheets. Families are a fixed list of web-safe stacks, so no CSS text from a form
/// ever reaches a message.
public struct MessageFont: Codable, Sendable, Equatable {
    public enum Family: String, NamedValues {
        /// The reader's own font.
        case `default`
        case arial, verdana, tahoma, trebuchet, georgia, times, courier

        /// As the form names it.
        public var label: String {
            switch self {
            case .default: "The reader's own"
            case .arial: "Arial"
            case .verdana: "Verdana"
            case .tahoma: "Tahoma"
            case .trebuchet: "Trebuchet MS"
            case .georgia: "Georgia"
            case .times: "Times New Roman"
            case .courier: "Courier New"
            }
        }
    }

    public var family: Family
    /// Pixels; nil: the reader's own size.
    public var size: Int?

    public static let sizeRange = 8...36

    public init(family: Family = .default, size: Int? = nil) {
        self.family = family
        self.size = size
    }

    enum CodingKeys: String, CodingKey { case family, size }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(family: try c.decodeIfPresent(Family.self, forKey: .family) ?? .default,
                  size: try c.decodeIfPresent(Int.self, forKey: .size))
    }

    /// The font stack as CSS, nil for the reader's own.
    public var cssFamily: String? {
        switch family {
        case .default: nil
        case .arial: "Arial, Helvetica, sans-serif"
        case .verdana: "Verdana, Geneva, sans-serif"
        case .tahoma: "Tahoma, Geneva, sans-serif"
        case .trebuchet: "'Trebuchet MS', Helvetica, sans-serif"
        case .georgia: "Georgia, 'Times New Roman', serif"
        case .times: "'Times New Roman', Times, serif"
        case .courier: "'Courier New', Courier, monospace"
        }
    }

    /// The `style` attribute's value for the message's outer element; nil when nothing is set.
    public var css: String? {
        let parts = [cssFamily.map { "font-family: \($0)" }, size.map { "font-size: \($0)px" }].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    public func validate() -> [FieldError] {
        guard let size, !Self.sizeRange.contains(size) else { return [] }
        return [FieldError("font.size", "must be between \(Self.sizeRange.lowerBound) and \(Self.sizeRange.upperBound) pixels, not \(size)")]
    }
}

/// The kinds of picture an account's logo and signature images may be, told by their first bytes
/// (never by the name or the declared type). SVG is not among them: it can carry script.
public enum ImageKind: String, Sendable, CaseIterable {
    case png, jpeg, gif, webp

    public var mediaType: String {
        switch self {
        case .png: "image/png"
        case .jpeg: "image/jpeg"
        case .gif: "image/gif"
        case .webp: "image/webp"
        }
    }

    /// An account image may be this large at most; logos and signature pictures are small, and
    /// every message that shows one carries it.
    public static let maxBytes = 1_048_576

    public static func sniff(_ bytes: some Collection<UInt8>) -> ImageKind? {
        let head = Array(bytes.prefix(12))
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + prefix.count && Array(head[offset..<offset + prefix.count]) == prefix
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        return nil
    }

    /// What is wrong with `bytes` as an account image, in words for the upload field; nil when fine.
    public static func problem(with bytes: some Collection<UInt8>) -> String? {
        if bytes.count > maxBytes {
            return "is \(Self.megabytes(bytes.count)) MB; an image may be at most \(Self.megabytes(maxBytes)) MB"
        }
        if sniff(bytes) == nil { return "is not a PNG, JPEG, GIF or WebP image (SVG and other files are refused)" }
        return nil
    }

    static func megabytes(_ count: Int) -> String {
        let value = Double(count) / 1_048_576
        return value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}
