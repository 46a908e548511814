import MailMessage
import Testing

@Suite struct HTMLEscapeTests {
    @Test(arguments: [
        ("", ""),
        ("plain text, Zoë 東京 🙂", "plain text, Zoë 東京 🙂"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("say \"hi\" it's", "say &quot;hi&quot; it&#39;s"),
        ("&amp; stays text", "&amp;amp; stays text"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("nul\u{0}here", "nul\u{FFFD}here"),
        ("back`tick", "back`tick"),
    ])
    func escapesTheCharactersThatEndTextOrAQuotedAttribute(input: String, expected: String) {
        #expect(HTMLEscape.escape(input) == expected)
    }

    /// `<` and `"` followed by a combining mark form one `Character` each; they must still be escaped.
    @Test func escapesScalarsHiddenInCombinedCharacters() {
        let escaped = HTMLEscape.escape("<\u{338}img src=x onerror=alert(1)> \"\u{301}")
        #expect(!escaped.unicodeScalars.contains("<") && !escaped.unicodeScalars.contains("\""))
        #expect(escaped == "&lt;\u{338}img src=x onerror=alert(1)&gt; &quot;\u{301}")
    }
}
