import Foundation
import MailroomCore
import Testing

/// The `{{ }}` check a template passes before it is saved (issue 26).
@Suite struct TemplateVariablesTests {
    @Test(arguments: [
        "Hello {{ user.name }}, open {{ invitation.link }} before {{invitation.expiresAt}}.",
        "{{#user.alias}}Known as {{ user.alias }}{{/user.alias}}{{^user.alias}}No alias{{/user.alias}}",
        "{{{ invitation.link }}} {{& sender.name }} {{! a comment }}",
        "No variables at all.",
    ])
    func goodInvitationTemplatesPass(source: String) {
        #expect(TemplateVariables.check(source, field: "text", allowed: TemplateVariables.invitation).isEmpty)
    }

    @Test(arguments: [
        ("Hello {{ user.nmae }}", "unknown variable 'user.nmae'"),
        ("Open {{ link }}", "unknown variable 'link'"),
        ("Hello {{ user.name", "unclosed tag on line 1"),
        ("Line one\nHello {{{ invitation.link }}", "unclosed tag on line 2"),
        ("{{#user.alias}}never closed", "without closing it"),
        ("{{/user.alias}}", "was not opened"),
        ("{{ }}", "empty"),
    ])
    func badInvitationTemplatesAreNamed(source: String, message: String) {
        let errors = TemplateVariables.check(source, field: "text", allowed: TemplateVariables.invitation)
        #expect(errors.contains { $0.message.contains(message) && $0.field == "text" }, "\(errors)")
    }

    @Test func otherKindsAreCheckedOnlyForTheirShape() {
        #expect(TemplateVariables.check("{{ ticket.number }} {{ anything.at.all }}", field: "text", allowed: nil).isEmpty)
        #expect(!TemplateVariables.check("{{ ticket.number", field: "html", allowed: nil).isEmpty)
    }

    @Test func theTemplateInputRefusesAnUnknownInvitationVariable() throws {
        let input = try JSONCoding.decoder.decode(MessageTemplateInput.self, from: Data(#"{"key":"w","kind":"invitation","text":"Hi {{ user.nmae }}"}"#.utf8))
        #expect(throws: DomainError.self) { try input.validated(updating: nil) }
    }

    @Test func linksHaveAStanding() {
        let now = Date()
        let link = UserLink(id: "l", userId: "u", purpose: .invitation, createdAt: now, expiresAt: now.addingTimeInterval(60))
        #expect(link.standing(at: now) == .usable)
        #expect(link.standing(at: now.addingTimeInterval(61)) == .expired)
        var used = link
        used.usedAt = now
        #expect(used.standing(at: now) == .used)
        var revoked = link
        revoked.revokedAt = now
        #expect(revoked.standing(at: now) == .revoked)
    }
}
