import Foundation

/// Keeps the CSS of mail that only styles, and drops whatever could load or run something.
///
/// The rule is an allow-list of functions: a declaration may call only colour and arithmetic
/// functions, so `url()`, `expression()`, `image-set()`, `src()` and whatever comes next are out
/// without being named. Backslashes (escapes that hide names), at-rules other than `@media`,
/// `behavior` and `-moz-binding` are refused outright.
public enum CSSFilter {
    static let allowedFunctions: Set<String> = [
        "rgb", "rgba", "hsl", "hsla", "calc", "min", "max", "clamp",
        // Selector functions in style sheets.
        "not", "is", "where", "nth-child", "nth-last-child", "nth-of-type", "nth-last-of-type", "lang",
    ]
    static let forbiddenProperties: Set<String> = ["behavior", "behaviour", "-moz-binding", "-webkit-binding", "binding"]

    /// A `style` attribute: the declarations that pass, joined again; empty when none does.
    public static func filterDeclarations(_ css: String) -> String {
        let cleaned = stripComments(css)
        var kept: [String] = []
        for declaration in splitTopLevel(cleaned, separator: ";") {
            if let safe = safeDeclaration(declaration) { kept.append(safe) }
        }
        return kept.joined(separator: "; ")
    }

    /// A `<style>` element's text: rules whose selectors and declarations pass; dropped at-rules and
    /// bad declarations are removed. `<` never appears in the result, so it cannot close the element.
    public static func filterStyleSheet(_ css: String) -> String {
        let scalars = Array(stripComments(css).unicodeScalars)
        var out = ""
        var chunk = String.UnicodeScalarView()
        var depth = 0
        var skipDepth: Int? = nil
        var i = 0
        var quote: Unicode.Scalar? = nil
        var parens = 0
        func flushDeclaration(_ terminator: String) {
            let text = String(chunk)
            chunk = String.UnicodeScalarView()
            if skipDepth != nil { return }
            if depth == 0 {
                // Outside any block: a statement at-rule such as @import or @charset, always dropped.
                return
            }
            if let safe = safeDeclaration(text) { out += safe + terminator } else if terminator == "}" { out += "}" }
        }
        while i < scalars.count {
            let c = scalars[i]
            if let q = quote {
                chunk.append(c)
                if c == q { quote = nil }
                i += 1
                continue
            }
            switch c {
            case "\"", "'":
                quote = c
                chunk.append(c)
            case "(":
                parens += 1
                chunk.append(c)
            case ")":
                parens = max(0, parens - 1)
                chunk.append(c)
            case ";" where parens == 0:
                flushDeclaration(";")
            case "{" where parens == 0:
                let prelude = String(chunk).trimmingCharacters(in: .whitespacesAndNewlines)
                chunk = String.UnicodeScalarView()
                depth += 1
                if skipDepth == nil {
                    if isSafePrelude(prelude) {
                        out += prelude + "{"
                    } else {
                        skipDepth = depth
                    }
                }
            case "}" where parens == 0:
                if skipDepth == nil {
                    let rest = String(chunk).trimmingCharacters(in: .whitespacesAndNewlines)
                    chunk = String.UnicodeScalarView()
                    if !rest.isEmpty, let safe = safeDeclaration(rest) { out += safe }
                    if depth > 0 { out += "}" }
                } else {
                    chunk = String.UnicodeScalarView()
                    if skipDepth == depth { skipDepth = nil }
                }
                depth = max(0, depth - 1)
            default:
                chunk.append(c)
            }
            i += 1
        }
        if skipDepth == nil { out += String(repeating: "}", count: depth) }
        return out.replacingOccurrences(of: "<", with: " ")
    }

    /// `name: value` when both are harmless, normalised; nil otherwise.
    static func safeDeclaration(_ declaration: String) -> String? {
        let text = declaration.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, let colon = text.firstIndex(of: ":") else { return nil }
        let name = text[..<colon].trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ ($0 >= "a" && $0 <= "z") || $0 == "-" }),
              !forbiddenProperties.contains(name), isSafeValue(value) else { return nil }
        return "\(name): \(value)"
    }

    static func isSafeValue(_ value: String) -> Bool {
        let lower = value.lowercased()
        if lower.contains("\\") || lower.contains("<") || lower.contains(">") || lower.contains("@") { return false }
        if lower.contains("javascript:") || lower.contains("expression") || lower.contains("url") { return false }
        return functionsAreAllowed(lower)
    }

    /// Selectors and `@media` conditions; `@font-face`, `@import` and every other at-rule are dropped.
    static func isSafePrelude(_ prelude: String) -> Bool {
        let lower = prelude.lowercased()
        if lower.isEmpty || lower.contains("\\") || lower.contains("<") { return false }
        if lower.hasPrefix("@") {
            guard lower.hasPrefix("@media") else { return false }
        } else if lower.contains("@") {
            return false
        }
        if lower.contains("url") || lower.contains("expression") { return false }
        return functionsAreAllowed(lower)
    }

    /// Every `name(` in the text names an allowed function.
    static func functionsAreAllowed(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        for (index, c) in scalars.enumerated() where c == "(" {
            var start = index
            while start > 0, isIdentifier(scalars[start - 1]) { start -= 1 }
            guard start < index else { continue } // "(" after a space: a media condition or grouping
            let name = String(String.UnicodeScalarView(scalars[start..<index]))
            if !allowedFunctions.contains(name) { return false }
        }
        return true
    }

    static func isIdentifier(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "-" || c == "_" || c.value > 0x7F
    }

    static func stripComments(_ css: String) -> String {
        var out = ""
        var rest = Substring(css)
        while let start = rest.range(of: "/*") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].range(of: "*/") else { return out }
            out += " "
            rest = rest[end.upperBound...]
        }
        return out + rest
    }

    /// Splits on `separator` outside quotes and parentheses.
    static func splitTopLevel(_ text: String, separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quote: Character? = nil
        var parens = 0
        for c in text {
            if let q = quote {
                current.append(c)
                if c == q { quote = nil }
                continue
            }
            switch c {
            case "\"", "'": quote = c; current.append(c)
            case "(": parens += 1; current.append(c)
            case ")": parens = max(0, parens - 1); current.append(c)
            case separator where parens == 0: parts.append(current); current = ""
            default: current.append(c)
            }
        }
        parts.append(current)
        return parts
    }
}
