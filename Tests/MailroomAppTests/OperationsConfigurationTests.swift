import MailroomApp
import MailroomWeb
import NIOCore
import Testing

/// The environment variables of issue 25's limits, as an operator sets them.
@Suite struct OperationsConfigurationTests {
    func configuration(_ environment: [String: String]) throws -> MailroomConfiguration {
        try MailroomConfiguration(dataDirectory: nil, databaseURL: nil, http: nil, environment: environment)
    }

    @Test func limitsAreReadFromTheEnvironment() throws {
        let defaults = try configuration([:])
        #expect(defaults.web.apiRateLimit == RateLimit(requests: 1_200, seconds: 60))
        #expect(defaults.httpLimits.headerTimeout == .seconds(30) && defaults.httpLimits.bodyTimeout == .seconds(120))

        let set = try configuration(["MAILROOM_API_RATE_LIMIT": "100/10", "MAILROOM_SIGNIN_LIMITS": "3/30/600",
                                     "MAILROOM_HTTP_HEADER_TIMEOUT": "2.5", "MAILROOM_HTTP_BODY_TIMEOUT": "60"])
        #expect(set.web.apiRateLimit == RateLimit(requests: 100, seconds: 10))
        #expect(set.web.signInLimits.perAddress == 3 && set.web.signInLimits.perClient == 30 && set.web.signInLimits.window == 600)
        #expect(set.httpLimits.headerTimeout == .milliseconds(2_500) && set.httpLimits.bodyTimeout == .seconds(60))
        #expect(try configuration(["MAILROOM_API_RATE_LIMIT": "off"]).web.apiRateLimit == nil)
        #expect(defaults.oauth2RefreshRate == 10)
        #expect(try configuration(["MAILROOM_OAUTH2_REFRESH_RATE": "2.5"]).oauth2RefreshRate == 2.5)

        for (name, value) in [("MAILROOM_API_RATE_LIMIT", "fast"), ("MAILROOM_SIGNIN_LIMITS", "5/20"),
                              ("MAILROOM_HTTP_HEADER_TIMEOUT", "-1"), ("MAILROOM_HTTP_BODY_TIMEOUT", "soon"),
                              ("MAILROOM_OAUTH2_REFRESH_RATE", "0"), ("MAILROOM_OAUTH2_REFRESH_RATE", "many")] {
            #expect(throws: ConfigurationError.self, "\(name)=\(value)") { _ = try configuration([name: value]) }
        }
    }
}
