import Foundation
import MailMessage

/// Turns a message's HTML into markup that can only show things: an allow-list of elements and
/// attributes, links limited to http, https and mailto, images to the message's own parts (`cid:`),
/// `data:` raster images, and remote images only when the agent asked for them.
///
/// The output is written from the tokens, never copied from the input: text is escaped, every
/// attribute value is quoted and escaped, and every element kept is closed, so markup the
/// tokenizer did not understand can only appear as text. The sandboxed frame and its
/// Content-Security-Policy are the second and third lines of defence, not the first.
public struct HTMLSanitizer: Sendable {
    public struct Options: Sendable {
        /// Remote (http/https) images are shown instead of replaced by a placeholder.
        public var showRemoteImages: Bool
        /// Maps a `cid:` reference (without angle brackets) to the URL of that part; nil drops the image.
        public var resolveContentID: @Sendable (String) -> String?

        public init(showRemoteImages: Bool = false, resolveContentID: @escaping @Sendable (String) -> String? = { _ in nil }) {
            self.showRemoteImages = showRemoteImages
            self.resolveContentID = resolveContentID
        }
    }

    public struct Result: Sendable, Equatable {
        public var html: String
        /// Remote images replaced by a placeholder (the "show images" button appears when > 0).
        public var blockedRemoteImages: Int
    }

    /// Elements kept, with their content.
    static let allowedElements: Set<String> = [
        "a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "big", "blockquote", "br", "caption", "center", "cite",
        "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font",
        "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "ol",
        "p", "pre", "q", "rp", "rt", "ruby", "s", "samp", "section", "small", "span", "strike", "strong", "style", "sub",
        "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
    ]
    /// Elements dropped with everything inside them.
    static let droppedWithContent: Set<String> = [
        "script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "template", "noscript",
        "noembed", "noframes", "title", "textarea", "select", "option", "optgroup", "button", "audio", "video", "canvas",
        "xml", "xmp", "datalist", "portal", "map",
    ]
    static let voidElements: Set<String> = ["br", "hr", "img", "col", "wbr"]
    /// Attributes kept on any allowed element (values are checked where they matter).
    static let allowedAttributes: Set<String> = [
        "align", "alt", "bgcolor", "border", "cellpadding", "cellspacing", "class", "color", "colspan", "dir", "face",
        "headers", "height", "hspace", "lang", "nowrap", "rowspan", "scope", "size", "span", "start", "style", "summary",
        "title", "type", "valign", "vspace", "width", "reversed", "datetime", "abbr", "clear", "frame", "rules", "open",
        "name", "id",
    ]

    public let options: Options

    public init(options: Options = Options()) { self.options = options }

    public static func sanitize(_ html: String, options: Options = Options()) -> Result {
        HTMLSanitizer(options: options).sanitize(html)
    }

    public func sanitize(_ html: String) -> Result {
        var out = ""
        var open: [String] = []
        var blocked = 0
        /// The element whose content is being dropped, and how deep inside it we are.
        var dropping: (name: String, depth: Int)? = nil
        var tokenizer = HTMLTokenizer(html)
        while let token = tokenizer.next() {
            if let current = dropping {
                switch token {
                case .startTag(let name, _, let selfClosing) where name == current.name && !selfClosing:
                    dropping = (current.name, current.depth + 1)
                case .endTag(let name) where name == current.name:
                    dropping = current.depth <= 1 ? nil : (current.name, current.depth - 1)
                default: break
                }
                continue
            }
            switch token {
            case .ignored:
                continue
            case .text(let text):
                out += HTMLEscape.escape(text)
            case .rawText:
                continue // only after a raw text element's start tag, handled there
            case .startTag(let name, let attributes, let selfClosing):
                if Self.droppedWithContent.contains(name) {
                    // Raw text elements end at their own end tag, which the tokenizer guarantees.
                    if !Self.voidElements.contains(name), !(selfClosing && !HTMLTokenizer.rawTextElements.contains(name)) {
                        dropping = (name, 1)
                    }
                    continue
                }
                guard Self.allowedElements.contains(name) else { continue } // html, body, form, meta...: tag dropped, content kept
                if name == "img" {
                    out += image(attributes, blocked: &blocked)
                    continue
                }
                out += "<" + name + self.attributes(of: name, attributes) + ">"
                if name == "style" {
                    // The sheet arrives as the next (raw text) token; the element is closed right after it.
                    if case .rawText(let text)? = tokenizer.next() { out += CSSFilter.filterStyleSheet(text) }
                    out += "</style>"
                    continue
                }
                if !Self.voidElements.contains(name) { open.append(name) }
            case .endTag(let name):
                guard Self.allowedElements.contains(name), !Self.voidElements.contains(name), name != "style",
                      let index = open.lastIndex(of: name) else { continue }
                // Closing an outer element closes what is still open inside it, as a browser would.
                for inner in open[index...].reversed() { out += "</" + inner + ">" }
                open.removeSubrange(index...)
            }
        }
        for name in open.reversed() { out += "</" + name + ">" }
        return Result(html: out, blockedRemoteImages: blocked)
    }

    // MARK: Attributes

    /// Every value is written double-quoted, so `HTMLEscape` covers it (a backtick only ever acted
    /// as a quote in old Internet Explorers, for unquoted values).
    private func attributes(of element: String, _ attributes: [HTMLAttribute]) -> String {
        var out = ""
        var keptLink = false
        for attribute in attributes {
            let name = attribute.name
            if name == "href", element == "a" {
                if let url = Self.safeLink(attribute.value) {
                    out += " href=\"" + HTMLEscape.escape(url) + "\""
                    keptLink = !url.hasPrefix("#")
                }
                continue
            }
            guard Self.allowedAttributes.contains(name) else { continue } // on*, src, srcset, background, formaction, xmlns...
            if name == "style" {
                let css = CSSFilter.filterDeclarations(attribute.value)
                if !css.isEmpty { out += " style=\"" + HTMLEscape.escape(css) + "\"" }
                continue
            }
            if name == "id" || name == "name" {
                // Prefixed so a message cannot clobber names the frame's document might use.
                let value = attribute.value.hasPrefix("mr-") ? attribute.value : "mr-" + attribute.value
                out += " \(name)=\"" + HTMLEscape.escape(value) + "\""
                continue
            }
            out += " " + name + "=\"" + HTMLEscape.escape(attribute.value) + "\""
        }
        if keptLink {
            out += " rel=\"noopener noreferrer\" target=\"_blank\""
        }
        return out
    }

    private func image(_ attributes: [HTMLAttribute], blocked: inout Int) -> String {
        let source = attributes.first { $0.name == "src" }.map { Self.normaliseURL($0.value) } ?? ""
        let others = attributes.filter { $0.name != "src" }
        let alt = attributes.first { $0.name == "alt" }?.value ?? ""
        let scheme = Self.scheme(of: source)
        var url: String?
        switch scheme {
        case "cid":
            let contentID = String(source.dropFirst(4)).removingPercentEncoding ?? String(source.dropFirst(4))
            url = options.resolveContentID(contentID.trimmingCharacters(in: CharacterSet(charactersIn: "<> ")))
        case "data":
            url = Self.isSafeDataImage(source) ? source : nil
        case "http", "https":
            if options.showRemoteImages {
                url = source
            } else {
                blocked += 1
                let label = alt.isEmpty ? "image" : alt
                return "<span class=\"mr-remote-image\" title=\"Remote image not loaded\">[" + HTMLEscape.escape(label) + "]</span>"
            }
        default:
            url = nil
        }
        guard let url else {
            return alt.isEmpty ? "" : "<span class=\"mr-missing-image\">[" + HTMLEscape.escape(alt) + "]</span>"
        }
        return "<img src=\"" + HTMLEscape.escape(url) + "\"" + self.attributes(of: "img", others) + ">"
    }

    // MARK: URLs

    /// Browsers drop tabs and newlines anywhere in a URL and trim controls and spaces at its ends.
    static func normaliseURL(_ raw: String) -> String {
        var scalars = String.UnicodeScalarView()
        for c in raw.unicodeScalars where c != "\t" && c != "\n" && c != "\r" { scalars.append(c) }
        let trimmed = String(scalars).unicodeScalars.drop { $0.value <= 0x20 }
        var text = String(String.UnicodeScalarView(trimmed))
        while let last = text.unicodeScalars.last, last.value <= 0x20 { text.unicodeScalars.removeLast() }
        return text
    }

    /// The scheme in lowercase, or nil for a relative reference.
    static func scheme(of url: String) -> String? {
        guard let colon = url.firstIndex(of: ":") else { return nil }
        let candidate = url[..<colon]
        guard let first = candidate.unicodeScalars.first, HTMLTokenizer.isASCIILetter(first),
              candidate.unicodeScalars.allSatisfy({ HTMLTokenizer.isASCIILetter($0) || ("0"..."9").contains($0) || $0 == "+" || $0 == "-" || $0 == "." })
        else { return nil }
        return candidate.lowercased()
    }

    /// A link target that is safe to follow: http, https, mailto, or a fragment in the message.
    static func safeLink(_ raw: String) -> String? {
        let url = normaliseURL(raw)
        if url.hasPrefix("#mr-") { return url }
        if url.hasPrefix("#") { return "#mr-" + url.dropFirst() }
        switch scheme(of: url) {
        case "http", "https", "mailto": return url
        default: return nil // javascript:, vbscript:, data:, file:, relative paths to this server...
        }
    }

    static let dataImageTypes = ["image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp"]

    /// `data:` raster images only (SVG can carry script).
    static func isSafeDataImage(_ url: String) -> Bool {
        let lower = url.lowercased()
        return dataImageTypes.contains { lower.hasPrefix("data:" + $0 + ";base64,") || lower.hasPrefix("data:" + $0 + ",") }
    }
}
