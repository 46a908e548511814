import Foundation
import MailMessage
import MailroomCore

/// What every message sent from an account carries: its signature (before or after the quoted
/// original, as the account says) and its template around the HTML. Agents' replies, rules'
/// auto-replies and notices all go through here, so none leaves without them.
enum MessageDecoration {
    struct Body: Equatable {
        var text: String?
        var html: String?
    }

    /// - Parameters:
    ///   - text: the message's own words (nil: none written as text).
    ///   - html: its own HTML, when it has one; otherwise the text is shown as HTML.
    ///   - quoted: the original it answers, quoted.
    ///   - variables: ``TemplateRenderer/context(ticket:account:agentName:agentAlias:)``.
    static func decorate(text: String?, html: String?, quoted: (text: String, html: String)?, account: Account,
                         variables: [String: Any]) -> Body {
        let signatureHTML = TemplateRenderer.render(account.signature.html, context: variables)
        let signatureText = HTMLText.plainText(signatureHTML).trimmingCharacters(in: .whitespacesAndNewlines)
        let ownText = text ?? html.map { HTMLText.plainText($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        var textParts = [ownText]
        var htmlParts = [html ?? HTMLEscape.escape(ownText).replacingOccurrences(of: "\n", with: "<br>\n")]
        func sign() {
            if !signatureText.isEmpty { textParts.append("-- \n" + signatureText) }
            if !signatureHTML.isEmpty { htmlParts.append("<div class=\"mailroom-signature\">\(signatureHTML)</div>") }
        }
        if account.signature.beforeQuote || quoted == nil {
            sign()
            if let quoted { textParts.append(quoted.text); htmlParts.append(quoted.html) }
        } else if let quoted {
            textParts.append(quoted.text)
            htmlParts.append(quoted.html)
            sign()
        }
        let joinedText = textParts.filter { !$0.isEmpty }.joined(separator: "\n\n")
        var body = Body(text: text == nil && joinedText.isEmpty ? nil : joinedText, html: nil)
        if html != nil || !signatureHTML.isEmpty || quoted != nil || account.template != nil || account.font?.css != nil {
            // The account's font and size as inline CSS: mail readers drop style sheets, not style attributes.
            let open = account.font?.css.map { "<div style=\"\(HTMLEscape.escape($0))\">" } ?? "<div>"
            let inner = open + htmlParts.filter { !$0.isEmpty }.joined(separator: "\n<br>\n") + "</div>"
            // The account's template (fonts, logo) wraps every message; {{{body}}} marks where the message goes.
            if let wrapper = account.template {
                var context = variables
                context["body"] = inner
                body.html = TemplateRenderer.render(wrapper, context: context)
            } else {
                body.html = inner
            }
        }
        return body
    }
}
