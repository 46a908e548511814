import Foundation

/// A quoted original whose inline images travel with the reply.
public struct QuotedOriginalWithImages: Sendable, Hashable {
    public var quoted: QuotedOriginal
    /// The original's inline images the quote shows, as parts of the reply with their own Content-IDs
    /// (so the quote's `cid:` references keep working).
    public var images: [OutgoingAttachment]
    /// Content-IDs whose images were left out (not in the original, or over the size limit); their
    /// `<img>` tags were removed from the quote, so no broken image shows.
    public var removed: [String]
}

extension ReplyQuoting {
    /// The quoted original with its inline images: each `cid:` image of the quote goes with the reply
    /// as the same Content-ID part, up to `maxImageBytes` in all; an image that cannot go (no such
    /// part, not an image, over the limit) is taken out of the quote with its `<img>` tag. Remote
    /// images stay references: they are never fetched and embedded.
    public static func quotedOriginalWithImages(of message: MIMEMessage, maxImageBytes: Int = 10 << 20) -> QuotedOriginalWithImages {
        var quoted = quotedOriginal(of: message)
        var parts: [String: MIMEPart] = [:]
        for part in message.parts {
            guard let id = part.contentID?.lowercased(), !id.isEmpty, parts[id] == nil else { continue }
            parts[id] = part
        }
        var images: [OutgoingAttachment] = []
        var removed: [String] = []
        var total = 0
        for id in contentIDReferences(in: quoted.html) {
            let data = parts[id.lowercased()].map { message.decodedBody(of: $0) }
            if let part = parts[id.lowercased()], let data, part.mediaType.type == "image", !data.isEmpty, total + data.count <= maxImageBytes {
                total += data.count
                let name = part.filename ?? "image-\(images.count + 1).\(part.mediaType.subtype)"
                images.append(OutgoingAttachment(filename: name, mediaType: part.mediaType, data: data, contentID: part.contentID ?? id, isInline: true))
            } else {
                removed.append(id)
            }
        }
        if !removed.isEmpty { quoted.html = removingImages(referencing: Set(removed.map { $0.lowercased() }), from: quoted.html) }
        return QuotedOriginalWithImages(quoted: quoted, images: images, removed: removed)
    }

    /// The Content-IDs `src="cid:..."` references name, each once, in order (percent-decoded).
    public static func contentIDReferences(in html: String) -> [String] {
        var found: [String] = []
        for tag in imageTags(in: html) {
            guard let id = contentID(inTag: String(html[tag])), !found.contains(where: { $0.lowercased() == id.lowercased() }) else { continue }
            found.append(id)
        }
        return found
    }

    /// `html` without the `<img>` tags whose `cid:` source is one of `ids` (lowercased).
    static func removingImages(referencing ids: Set<String>, from html: String) -> String {
        var result = ""
        var last = html.startIndex
        for tag in imageTags(in: html) {
            guard let id = contentID(inTag: String(html[tag])), ids.contains(id.lowercased()) else { continue }
            result += html[last..<tag.lowerBound]
            last = tag.upperBound
        }
        return result + html[last...]
    }

    /// The ranges of `<img ...>` tags, case-insensitively.
    private static func imageTags(in html: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        var search = html.startIndex..<html.endIndex
        while let start = html.range(of: "<img", options: [.caseInsensitive], range: search) {
            // The tag ends at the first '>' outside a quoted attribute value.
            var quote: Character?
            var index = start.upperBound
            var end: String.Index?
            while index < html.endIndex {
                let character = html[index]
                if let open = quote {
                    if character == open { quote = nil }
                } else if character == "\"" || character == "'" {
                    quote = character
                } else if character == ">" {
                    end = html.index(after: index)
                    break
                }
                index = html.index(after: index)
            }
            guard let end else { break }
            ranges.append(start.lowerBound..<end)
            search = end..<html.endIndex
        }
        return ranges
    }

    /// The Content-ID a tag's `src` names with the `cid:` scheme.
    private static func contentID(inTag tag: String) -> String? {
        guard let src = tag.range(of: "src", options: .caseInsensitive) else { return nil }
        var rest = tag[src.upperBound...].drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard rest.first == "=" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        let value: Substring
        if let quote = rest.first, quote == "\"" || quote == "'" {
            value = rest.dropFirst().prefix { $0 != quote }
        } else {
            value = rest.prefix { !$0.isWhitespace && $0 != ">" && $0 != "/" }
        }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("cid:") else { return nil }
        let id = String(trimmed.dropFirst(4))
        let decoded = (id.removingPercentEncoding ?? id).trimmingCharacters(in: CharacterSet(charactersIn: "<> "))
        return decoded.isEmpty ? nil : decoded
    }
}
