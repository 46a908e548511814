@testable import MailroomWorkers
import Testing

/// `mailroom import` of an mbox: separators are found, quoted lines restored, and body lines that
/// merely start with "From " (from writers that do not quote them) stay in their message.
@Suite struct MboxSplitTests {
    static func split(_ text: String) -> [String] {
        MailImporter.splitMbox(Array(text.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func separatorsSplitAndQuotedLinesAreRestored() {
        let parts = Self.split("""
            From ann@example.com Mon Nov 23 10:00:00 2026
            Subject: one

            >From the quoted line
            >>From twice quoted

            From MAILER-DAEMON Fri Jul  8 12:08:34 2011
            Subject: two

            body

            From bob@example.com Mon, 23 Nov 2026 10:00:00 +0000
            Subject: three

            end

            """)
        #expect(parts.count == 3)
        #expect(parts[0] == "Subject: one\n\nFrom the quoted line\n>From twice quoted\n")
        #expect(parts[1] == "Subject: two\n\nbody\n")
        #expect(parts[2] == "Subject: three\n\nend\n")
    }

    @Test func unquotedFromLinesInABodyStayInTheirMessage() {
        let parts = Self.split("""
            From ann@example.com Mon Nov 23 10:00:00 2026
            Subject: printer

            From the office we cannot print.
            Nothing since Monday.

            From here either, says Bob.
            From: a line in the middle of a paragraph
            From 10:00 to 12:00 we are away.

            From bob@example.com Tue Nov 24 09:15:00 2026
            Subject: next

            ok

            """)
        #expect(parts.count == 2)
        #expect(parts[0].contains("From the office we cannot print.\n"))
        #expect(parts[0].contains("From here either, says Bob.\nFrom: a line in the middle of a paragraph\nFrom 10:00 to 12:00 we are away.\n"))
        #expect(parts[1] == "Subject: next\n\nok\n")
    }

    @Test func crlfFilesSplitTheSameWay() {
        let text = "From a@example.com Mon Nov 23 10:00:00 2026\r\nSubject: one\r\n\r\nFrom the office\r\n\r\n"
            + "From b@example.com Mon Nov 23 10:01:00 2026\r\nSubject: two\r\n\r\nbody\r\n"
        let parts = Self.split(text)
        #expect(parts.count == 2)
        #expect(parts[0] == "Subject: one\r\n\r\nFrom the office\r\n")
        #expect(parts[1] == "Subject: two\r\n\r\nbody\r\n")
    }
}
