import Foundation
import Testing
@testable import MailroomWeb

@Suite("HTML sanitizer")
struct HTMLSanitizerTests {
    static func clean(_ html: String, showImages: Bool = false) -> String {
        HTMLSanitizer.sanitize(html, options: .init(showRemoteImages: showImages, resolveContentID: { id in
            id == "logo@example.com" ? "/web/messages/m1/parts/0" : nil
        })).html
    }

    /// Reads the output back as a browser would and checks what it could do: no dangerous element,
    /// no event handler, no URL other than http(s)/mailto/fragments/our parts/raster data, no CSS that loads.
    static func assertInert(_ output: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let banned: Set<String> = ["script", "svg", "math", "iframe", "object", "embed", "form", "meta", "link", "base", "input",
                                   "button", "frame", "frameset", "applet", "template", "textarea", "video", "audio", "noscript"]
        for token in HTMLTokenizer.tokenize(output) {
            switch token {
            case .startTag(let name, let attributes, _):
                #expect(!banned.contains(name), "element \(name) in \(output)", sourceLocation: sourceLocation)
                for attribute in attributes {
                    #expect(!attribute.name.hasPrefix("on"), "handler \(attribute.name) in \(output)", sourceLocation: sourceLocation)
                    #expect(!["srcset", "formaction", "background", "poster", "action", "xlink:href", "srcdoc", "data"].contains(attribute.name),
                            "attribute \(attribute.name) in \(output)", sourceLocation: sourceLocation)
                    if attribute.name == "href" || attribute.name == "src" {
                        let value = attribute.value.lowercased()
                        let ok = value.hasPrefix("http://") || value.hasPrefix("https://") || value.hasPrefix("mailto:")
                            || value.hasPrefix("#mr-") || value.hasPrefix("/web/messages/") || value.hasPrefix("data:image/png")
                            || value.hasPrefix("data:image/jpeg") || value.hasPrefix("data:image/gif")
                        #expect(ok, "\(attribute.name)=\(attribute.value) in \(output)", sourceLocation: sourceLocation)
                        if attribute.name == "src" {
                            #expect(!value.hasPrefix("http"), "remote image in \(output)", sourceLocation: sourceLocation)
                        }
                    }
                    if attribute.name == "style" { assertInertCSS(attribute.value, in: output, sourceLocation: sourceLocation) }
                }
            case .rawText(let css):
                assertInertCSS(css, in: output, sourceLocation: sourceLocation)
            default:
                break
            }
        }
    }

    static func assertInertCSS(_ css: String, in output: String, sourceLocation: SourceLocation) {
        let lower = css.lowercased()
        for needle in ["url(", "expression", "@import", "@font-face", "behavior", "binding", "\\", "image-set", "javascript:"] {
            #expect(!lower.contains(needle), "CSS with \(needle) in \(output)", sourceLocation: sourceLocation)
        }
    }

    static let hostile: [String] = [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "<script/src=data:,alert(1)></script>",
        "<scr<script>ipt>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<img src=\"x\"onerror=\"alert(1)\">",
        "<img src=x / onerror=alert(1)>",
        "<body onload=alert(1)>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "<a href=\"java\tscript:alert(1)\">x</a>",
        "<a href=\"java&#x09;script:alert(1)\">x</a>",
        "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
        "<a href=\"javascript&colon;alert(1)\">x</a>",
        "<a href=\" \u{1}javascript:alert(1)\">x</a>",
        "<a href=\"vbscript:msgbox(1)\">x</a>",
        "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
        "<svg onload=alert(1)><circle/></svg>",
        "<svg><script>alert(1)</script></svg>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<iframe src=\"javascript:alert(1)\"></iframe>",
        "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
        "<object data=\"x.swf\"></object><embed src=\"x.swf\">",
        "<form action=\"https://evil.example\"><input name=a><button formaction=\"javascript:alert(1)\">go</button></form>",
        "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
        "<link rel=\"stylesheet\" href=\"https://evil.example/x.css\">",
        "<base href=\"https://evil.example/\">",
        "<div style=\"background:url(https://evil.example/x.png)\">x</div>",
        "<div style=\"width: expression(alert(1))\">x</div>",
        "<div style=\"behavior: url(x.htc)\">x</div>",
        "<div style=\"-moz-binding: url(x.xml#xss)\">x</div>",
        "<div style=\"background-image: u\\72l(https://evil.example/x.png)\">x</div>",
        "<div style=\"background-image: image-set('https://evil.example/x.png' 1x)\">x</div>",
        "<style>@import 'https://evil.example/x.css';</style>",
        "<style>@import url(https://evil.example/x.css);</style>",
        "<style>body { background: url(https://evil.example/x.png) }</style>",
        "<style>@font-face { font-family: x; src: url(https://evil.example/f.woff) }</style>",
        "<style></style><script>alert(1)</script>",
        "<style>p{color:red}</style ><script>alert(1)</script>",
        "<style></STYLE><img src=x onerror=alert(1)>",
        "<!--<img src=x onerror=alert(1)>-->",
        "<!--><script>alert(1)</script>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
        "<textarea><script>alert(1)</script></textarea>",
        "<title><script>alert(1)</script></title>",
        "<template><script>alert(1)</script></template>",
        "<img srcset=\"https://evil.example/x.png 1x\">",
        "<table background=\"https://evil.example/x.png\"><tr><td>x</td></tr></table>",
        "<video poster=\"https://evil.example/x.png\"></video><audio src=\"x.mp3\"></audio>",
        "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
        "<a href=\"/api/v1/users\">relative</a>",
        "<div id=\"csrf-token\" name=\"x\">clobber</div>",
        "<p <script>alert(1)</script>>",
        "<img src=`x`onerror=alert(1)>",
        "<a href=\"https://ok.example/\" onclick=\"alert(1)\" onmouseover=alert(1)>x</a>",
        "<div style=\"color:red\" style=\"background:url(x)\">dupe</div>",
        "<plaintext><script>alert(1)</script>",
        "<isindex action=\"javascript:alert(1)\" type=image>",
        "<details open ontoggle=alert(1)>",
        "<x onclick=alert(1)>unknown element</x>",
        "<a href=\"https://ok.example/\">unclosed <b>bold",
        "</div></div></body></html><script>alert(1)</script>",
    ]

    @Test("hostile fixtures come out inert", arguments: HTMLSanitizerTests.hostile)
    func hostileInputIsInert(_ input: String) {
        let output = Self.clean(input)
        Self.assertInert(output)
        // Nothing refers to another server while images are off.
        #expect(!output.contains("evil.example/x.png"), "\(output)")
    }

    @Test func keepsOrdinaryMail() {
        let input = """
            <html><head><style>p { color: #333; margin: 0 0 8px } @media (max-width: 600px) { td { display: block } }</style></head>
            <body><p style="font-family: Arial; color: rgb(10, 20, 30)">Hello <b>Ann</b>,</p>
            <table border="0" cellpadding="4"><tr><td align="right" width="50%">A</td><td>B</td></tr></table>
            <a href="https://example.com/track?a=1&amp;b=2">link</a> <a href="mailto:help@example.com">mail</a></body></html>
            """
        let output = Self.clean(input)
        #expect(output.contains("<p style=\"font-family: Arial; color: rgb(10, 20, 30)\">Hello <b>Ann</b>,</p>"))
        #expect(output.contains("<td align=\"right\" width=\"50%\">A</td>"))
        #expect(output.contains("href=\"https://example.com/track?a=1&amp;b=2\" rel=\"noopener noreferrer\" target=\"_blank\""))
        #expect(output.contains("href=\"mailto:help@example.com\""))
        #expect(output.contains("<style>p{color: #333;margin: 0 0 8px}@media (max-width: 600px){td{display: block}}</style>"))
        #expect(!output.contains("<html") && !output.contains("<body") && !output.contains("<head"))
    }

    @Test func escapesTextAndAttributes() {
        #expect(Self.clean("a < b & c > d") == "a &lt; b &amp; c &gt; d")
        #expect(Self.clean("<p title='say \"hi\" <b>'>x</p>") == "<p title=\"say &quot;hi&quot; &lt;b&gt;\">x</p>")
        #expect(Self.clean("&lt;script&gt;alert(1)&lt;/script&gt;") == "&lt;script&gt;alert(1)&lt;/script&gt;")
    }

    @Test func balancesTags() {
        #expect(Self.clean("<div><b>x</div>y") == "<div><b>x</b></div>y")
        #expect(Self.clean("<p>open") == "<p>open</p>")
        #expect(Self.clean("</b>stray") == "stray")
        #expect(Self.clean("<br/><hr><img alt=\"\">") == "<br><hr>")
    }

    @Test func remoteImagesArePlaceholdersUntilAsked() {
        let input = "<img src=\"https://images.example/pic.png\" alt=\"Chart\" width=\"10\">"
        let hidden = HTMLSanitizer.sanitize(input)
        #expect(hidden.blockedRemoteImages == 1)
        #expect(!hidden.html.contains("images.example"))
        #expect(hidden.html.contains("[Chart]"))
        let shown = Self.clean(input, showImages: true)
        #expect(shown == "<img src=\"https://images.example/pic.png\" alt=\"Chart\" width=\"10\">")
    }

    @Test func contentIDImagesPointAtTheMessagesParts() {
        #expect(Self.clean("<img src=\"cid:logo@example.com\" alt=\"Logo\">") == "<img src=\"/web/messages/m1/parts/0\" alt=\"Logo\">")
        #expect(Self.clean("<img src=\"CID:%3Clogo@example.com%3E\">") == "<img src=\"/web/messages/m1/parts/0\">")
        #expect(Self.clean("<img src=\"cid:unknown@example.com\" alt=\"gone\">") == "<span class=\"mr-missing-image\">[gone]</span>")
    }

    @Test func dataImagesOnlyRaster() {
        #expect(Self.clean("<img src=\"data:image/png;base64,iVBORw0KGgo=\">") == "<img src=\"data:image/png;base64,iVBORw0KGgo=\">")
        #expect(Self.clean("<img src=\"data:image/svg+xml,<svg onload=alert(1)>\">") == "")
        #expect(Self.clean("<img src=\"data:text/html;base64,PHNjcmlwdD4=\">") == "")
    }

    @Test func fragmentLinksStayInsideTheMessage() {
        #expect(Self.clean("<a href=\"#top\">up</a><a name=\"top\">t</a>")
                == "<a href=\"#mr-top\">up</a><a name=\"mr-top\">t</a>")
    }

    @Test func entitiesDecodeLikeBrowsers() {
        #expect(HTMLEntities.decode("&amp;&lt;&#x41;&#66;&copy &unknown; &#0;&#x110000;", inAttribute: false)
                == "&<AB© &unknown; \u{FFFD}\u{FFFD}")
        #expect(HTMLEntities.decode("a?x=1&copy=2&amp;y", inAttribute: true) == "a?x=1&copy=2&y")
        #expect(HTMLEntities.decode("&#150;", inAttribute: false) == "–")
    }

    @Test func tokenizerReadsAttributesAsBrowsersDo() {
        let tokens = HTMLTokenizer.tokenize("<IMG SRC=a.png alt='x y' Title=\"t\" checked alt=second>")
        #expect(tokens == [.startTag(name: "img", attributes: [
            HTMLAttribute("src", "a.png"), HTMLAttribute("alt", "x y"), HTMLAttribute("title", "t"), HTMLAttribute("checked", ""),
        ], selfClosing: false)])
        #expect(HTMLTokenizer.tokenize("<script>a</b>c</SCRIPT >d") == [
            .startTag(name: "script", attributes: [], selfClosing: false), .rawText("a</b>c"), .endTag(name: "script"), .text("d"),
        ])
        #expect(HTMLTokenizer.tokenize("1 < 2 <3") == [.text("1 "), .text("< 2 "), .text("<3")])
        #expect(HTMLTokenizer.tokenize("<a href=\"x") == [.ignored])
    }

    @Test func cssFilterKeepsStylingOnly() {
        #expect(CSSFilter.filterDeclarations("color: red; background: url(x); font-size: 12px") == "color: red; font-size: 12px")
        #expect(CSSFilter.filterDeclarations("width: calc(100% - 2px); COLOR: RGBA(0,0,0,.5)") == "width: calc(100% - 2px); color: RGBA(0,0,0,.5)")
        #expect(CSSFilter.filterDeclarations("color: red /* comment */; x: y(z)") == "color: red")
        #expect(CSSFilter.filterDeclarations("background: \\75rl(x)") == "")
        #expect(CSSFilter.filterStyleSheet("a{color:red}</style><script>") == "a{color: red}")
        #expect(CSSFilter.filterStyleSheet("@font-face{src:local(x)} p{color:red}") == "p{color: red}")
    }

    /// Random markup built from hostile pieces: whatever the mix, nothing dangerous comes out.
    @Test func fuzzedMixesStayInert() {
        var generator = SeededGenerator(seed: 20_260_101)
        let pieces = Self.hostile + ["<b>", "</b>", "<div>", "</div>", "\"", "'", "<", ">", "=", " ", "<a href=", "<img ", "<style>",
                                     "</style>", "<!--", "-->", "&", "&#", "x"]
        for _ in 0..<400 {
            var input = ""
            for _ in 0..<Int.random(in: 1...12, using: &generator) { input += pieces.randomElement(using: &generator)! }
            let output = Self.clean(input)
            Self.assertInert(output)
            // Sanitizing twice changes nothing more: the output is already in its final form.
            #expect(Self.clean(output) == output, "not stable for \(input)")
        }
    }
}

/// A small deterministic generator so the fuzz cases are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
