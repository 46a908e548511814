import Testing
@testable import MailroomCore

@Suite struct SubjectNormalizerTests {
    @Test(arguments: [
        ("Invoice 42", "invoice 42"),
        ("Re: Invoice 42", "invoice 42"),
        ("RE: Re: AW: Invoice 42", "invoice 42"),
        ("Fwd: FW: WG: Invoice 42", "invoice 42"),
        ("SV: VS: RIF: R: I: TR: RV: Antw: Odp: Invoice 42", "invoice 42"),
        ("Re[2]: Invoice 42", "invoice 42"),
        ("RE(3): Invoice 42", "invoice 42"),
        ("Re : Invoice 42", "invoice 42"),
        ("回复：Invoice 42", "invoice 42"),
        ("Re: [Ticket#1042] Invoice 42", "invoice 42"),
        ("[Ticket#1042] Re: Invoice 42", "invoice 42"),
        ("  Invoice   42  ", "invoice 42"),
        ("Meeting: Monday", "meeting: monday"),
        ("Re: Meeting: Monday", "meeting: monday"),
        ("", ""),
        ("Re:", ""),
        ("[EXTERNAL] Invoice", "[external] invoice"),
    ])
    func stripsPrefixesTagsAndCase(subject: String, expected: String) {
        #expect(SubjectNormalizer.normalise(subject) == expected)
    }

    @Test func stripsTheAccountsSubjectPrefix() {
        #expect(SubjectNormalizer.normalise("Re: [Support] Invoice", accountPrefix: "[Support]") == "invoice")
        #expect(SubjectNormalizer.normalise("[support] AW: Re: Invoice", accountPrefix: "[Support]") == "invoice")
    }

    @Test func findsTheTicketNumberInTheTag() {
        #expect(SubjectNormalizer.ticketNumber(in: "Re: [Ticket#1042] Invoice") == 1042)
        #expect(SubjectNormalizer.ticketNumber(in: "Invoice") == nil)
        #expect(SubjectNormalizer.ticketNumber(in: "[Ticket#abc]") == nil)
        #expect(SubjectNormalizer.ticketNumber(in: "[Ticket#99999999999999999999999]") == nil)
        #expect(SubjectNormalizer.tag(for: 7) == "[Ticket#7]")
        // The tag in any case, after other brackets, next to non-ASCII text; a cut-off tag is none.
        #expect(SubjectNormalizer.ticketNumber(in: "AW: [TICKET#12] Rechnung") == 12)
        #expect(SubjectNormalizer.ticketNumber(in: "[ext] [[ticket#305] Grüße") == 305)
        #expect(SubjectNormalizer.ticketNumber(in: "回复：[Ticket#8] 发票") == 8)
        #expect(SubjectNormalizer.ticketNumber(in: "[Ticket") == nil)
        #expect(SubjectNormalizer.ticketNumber(in: "[Tickets#4]") == nil)
        #expect(SubjectNormalizer.normalise("Re: [ticket#9] Ünïcode [Ticket#10] Subject") == "ünïcode subject")
    }

    @Test func hostileSubjectsEndQuickly() {
        let long = String(repeating: "Re: ", count: 10_000) + "x"
        #expect(SubjectNormalizer.normalise(long).count < long.count)
        #expect(SubjectNormalizer.normalise(String(repeating: "[Ticket#", count: 1_000)).count >= 0)
    }
}
