import Foundation
import Testing
@testable import ExchangeClient

@Suite("EWS Autodiscover: requests and answers")
struct EWSAutodiscoverParseTests {
    static func response(_ account: String) -> [UInt8] {
        Array("""
        <?xml version="1.0" encoding="utf-8"?>
        <Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
          <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">\(account)</Response>
        </Autodiscover>
        """.utf8)
    }

    @Test func theRequestNamesTheAddressEscaped() {
        let request = EWSAutodiscover.request("a&b@example.com")
        #expect(request.contains("<EMailAddress>a&amp;b@example.com</EMailAddress>"))
        #expect(request.contains(EWSAutodiscover.responseSchema))
    }

    @Test func readsTheExchangeProtocolsEWSURLPreferringEXCH() throws {
        let answer = try EWSAutodiscover.parse(Self.response("""
            <Account><AccountType>email</AccountType><Action>settings</Action>
              <Protocol><Type>EXPR</Type><EwsUrl>https://outside.example.com/EWS/Exchange.asmx</EwsUrl></Protocol>
              <Protocol><Type>EXCH</Type><EwsUrl>https://inside.example.com/EWS/Exchange.asmx</EwsUrl></Protocol>
            </Account>
            """))
        #expect(answer == .settings(ewsURL: "https://inside.example.com/EWS/Exchange.asmx"))
    }

    @Test func readsRedirectionsAndErrors() throws {
        #expect(try EWSAutodiscover.parse(Self.response("<Account><Action>redirectAddr</Action><RedirectAddr>b@example.com</RedirectAddr></Account>"))
                == .redirectAddress("b@example.com"))
        #expect(try EWSAutodiscover.parse(Self.response("<Account><Action>redirectUrl</Action><RedirectUrl>https://x/autodiscover/autodiscover.xml</RedirectUrl></Account>"))
                == .redirectURL("https://x/autodiscover/autodiscover.xml"))
        let error = Array("""
            <Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response>
            <Error Time="1" Id="2"><ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message></Error></Response></Autodiscover>
            """.utf8)
        #expect(try EWSAutodiscover.parse(error) == .failed(code: "500", message: "The email address can't be found."))
    }

    @Test(arguments: [
        "<Account><Action>settings</Action><Protocol><Type>EXCH</Type><EwsUrl>http://plain.example.com/EWS/Exchange.asmx</EwsUrl></Protocol></Account>",
        "<Account><Action>settings</Action></Account>",
        "<Account><Action>redirectAddr</Action></Account>",
        "<Nothing/>",
    ])
    func unusableAnswersAreMalformed(_ account: String) {
        #expect(throws: ExchangeError.self) { try EWSAutodiscover.parse(Self.response(account)) }
    }

    @Test func onlyAMailboxAddressHasADomainToAsk() {
        #expect(throws: ExchangeError.self) { try EWSAutodiscover.urls(for: "not-an-address", EWSAutodiscover.standardCandidates) }
        #expect(throws: ExchangeError.self) { try EWSAutodiscover.urls(for: "a@exa mple/../x", EWSAutodiscover.standardCandidates) }
        #expect((try? EWSAutodiscover.urls(for: "a@Example.COM", EWSAutodiscover.standardCandidates)) == [
            "https://example.com/autodiscover/autodiscover.xml", "https://autodiscover.example.com/autodiscover/autodiscover.xml",
        ])
    }
}
