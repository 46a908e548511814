import MailroomCore
import Testing

/// Addresses keep their local part and get a lower-case domain, trimmed; those already in that
/// form are taken as they are without the work.
@Suite struct EmailAddressNormalisationTests {
    @Test(arguments: [
        ("ann@example.com", "ann@example.com"),
        ("Ann.Smith@Example.COM", "Ann.Smith@example.com"),
        (" ann@example.com\r\n", "ann@example.com"),
        ("\u{00A0}ann@example.com", "ann@example.com"),
        ("müller@Bücher.DE", "müller@bücher.de"),
        ("ANN@EXAMPLE.COM", "ANN@example.com"),
        ("\"a@b\"@Example.org", "\"a@b\"@example.org"),
        ("no-at-sign", "no-at-sign"),
        ("No-At-Sign ", "No-At-Sign"),
        ("", ""),
    ])
    func domainsAreLowerCasedAndEndsTrimmed(input: String, expected: String) {
        #expect(EmailAddress(address: input).address == expected)
    }
}
