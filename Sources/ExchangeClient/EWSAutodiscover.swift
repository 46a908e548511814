import Foundation
import NIOHTTP1

/// Exchange's POX Autodiscover (`POST /autodiscover/autodiscover.xml`): from a mailbox address to
/// its EWS endpoint. Tried at `https://DOMAIN/autodiscover/autodiscover.xml`, then
/// `https://autodiscover.DOMAIN/autodiscover/autodiscover.xml`, with the account's own
/// credentials; a `redirectAddr` answer starts over for the new address, a `redirectUrl` answer
/// asks that HTTPS URL (at most five redirections in all). HTTP only to loopback, for tests.
public struct EWSAutodiscover: Sendable {
    public typealias Authorization = @Sendable (_ refresh: Bool) async throws -> String

    public static let requestSchema = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
    public static let responseSchema = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

    let timeout: Duration
    let acceptAnyCertificate: Bool
    let authorization: Authorization
    /// Where to ask for an address's domain (the two standard places; tests give the local server).
    let candidates: @Sendable (_ domain: String) -> [String]

    public init(timeout: Duration = .seconds(20), acceptAnyCertificate: Bool = false,
                candidates: @escaping @Sendable (String) -> [String] = EWSAutodiscover.standardCandidates,
                authorization: @escaping Authorization) {
        self.timeout = timeout
        self.acceptAnyCertificate = acceptAnyCertificate
        self.candidates = candidates
        self.authorization = authorization
    }

    public static func standardCandidates(_ domain: String) -> [String] {
        ["https://\(domain)/autodiscover/autodiscover.xml", "https://autodiscover.\(domain)/autodiscover/autodiscover.xml"]
    }

    /// What Autodiscover answered: the EWS URL, and where it was found.
    public struct Found: Sendable, Equatable {
        public var ewsURL: String
        public var foundAt: String
        public var address: String
    }

    /// One answer, read.
    public enum Answer: Sendable, Equatable {
        case settings(ewsURL: String)
        case redirectAddress(String)
        case redirectURL(String)
        /// An `Error` element (code and message), e.g. 500 "The email address can't be found."
        case failed(code: String, message: String)
    }

    /// The EWS URL for the address. Each candidate's failure is kept; when none answers, the
    /// error lists the places asked and what each said.
    public func discover(address: String) async throws -> Found {
        var address = address.trimmingCharacters(in: .whitespaces)
        var tried: [String] = []
        var redirections = 0
        var queue = try Self.urls(for: address, candidates)
        while !queue.isEmpty {
            let url = queue.removeFirst()
            let answer: Answer
            do {
                answer = try await ask(url, address: address)
            } catch let error as ExchangeError {
                if error.kind == .unauthorized || error.kind == .accessDenied { throw error }
                tried.append("\(url): \(error.message)")
                continue
            }
            switch answer {
            case .settings(let ewsURL):
                return Found(ewsURL: ewsURL, foundAt: url, address: address)
            case .redirectAddress(let next):
                redirections += 1
                guard redirections <= 5 else { break }
                address = next
                queue = try Self.urls(for: next, candidates)
            case .redirectURL(let next):
                redirections += 1
                guard redirections <= 5 else { break }
                guard Self.allowed(next) else {
                    tried.append("\(url): redirected to \(next), which is not HTTPS")
                    continue
                }
                queue.insert(next, at: 0)
            case .failed(let code, let message):
                tried.append("\(url): \(code) \(message)")
            }
            if redirections > 5 {
                tried.append("more than five redirections")
                break
            }
        }
        throw ExchangeError(.mailboxNotFound, message: "Autodiscover found no EWS endpoint for \(address) (asked: \(tried.joined(separator: "; ")))")
    }

    static func urls(for address: String, _ candidates: (String) -> [String]) throws -> [String] {
        guard let at = address.lastIndex(of: "@"), address.index(after: at) < address.endIndex else {
            throw ExchangeError(.invalidRequest, message: "'\(address)' is not a mailbox address, so Autodiscover has no domain to ask")
        }
        let domain = String(address[address.index(after: at)...]).lowercased()
        guard domain.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else {
            throw ExchangeError(.invalidRequest, message: "'\(domain)' is not a domain Autodiscover can ask")
        }
        return candidates(domain)
    }

    /// HTTPS anywhere; plain HTTP only to this machine (test servers).
    static func allowed(_ url: String) -> Bool {
        guard let parts = URLComponents(string: url) else { return false }
        if parts.scheme == "https" { return true }
        return parts.scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(parts.host ?? "")
    }

    func ask(_ url: String, address: String) async throws -> Answer {
        var refreshed = false
        while true {
            var headers = HTTPHeaders()
            headers.add(name: "Authorization", value: try await authorization(refreshed))
            headers.add(name: "Content-Type", value: "text/xml; charset=utf-8")
            let response = try await SharedHTTP.send(method: .POST, url: url, headers: headers, body: Array(Self.request(address).utf8),
                                                     timeout: timeout, acceptAnyCertificate: acceptAnyCertificate, maxBodyBytes: 1 << 20)
            switch response.status {
            case 200:
                return try Self.parse(response.body)
            case 401 where !refreshed:
                refreshed = true
                continue
            case 401:
                throw ExchangeError(.unauthorized, status: 401, message: "Autodiscover at \(url) refused the credentials")
            case 403:
                throw ExchangeError(.accessDenied, status: 403, message: "Autodiscover at \(url) refused access")
            default:
                throw ExchangeError(.other, status: response.status, message: "HTTP \(response.status)")
            }
        }
    }

    public static func request(_ address: String) -> String {
        """
        <?xml version="1.0" encoding="utf-8"?>
        <Autodiscover xmlns="\(requestSchema)"><Request><EMailAddress>\(EWSXML.escape(address))</EMailAddress>\
        <AcceptableResponseSchema>\(responseSchema)</AcceptableResponseSchema></Request></Autodiscover>
        """
    }

    /// Reads an answer: the `EXCH` (or `EXPR`, or any) protocol's `EwsUrl`, a redirection, or an error.
    public static func parse(_ body: [UInt8]) throws -> Answer {
        let root = try EWSXML.parse(body)
        guard root.name == "Autodiscover", let response = root.child("Response") else {
            throw ExchangeError(.malformedResponse, message: "the answer is not an Autodiscover response")
        }
        if let error = response.child("Error") {
            return .failed(code: error.child("ErrorCode")?.trimmedText ?? "error", message: error.child("Message")?.trimmedText ?? "")
        }
        guard let account = response.child("Account") else {
            throw ExchangeError(.malformedResponse, message: "the Autodiscover response has neither Account nor Error")
        }
        switch account.child("Action")?.trimmedText {
        case "redirectAddr":
            guard let next = account.child("RedirectAddr")?.trimmedText, next.contains("@") else {
                throw ExchangeError(.malformedResponse, message: "an Autodiscover redirection without an address")
            }
            return .redirectAddress(next)
        case "redirectUrl":
            guard let next = account.child("RedirectUrl")?.trimmedText, !next.isEmpty else {
                throw ExchangeError(.malformedResponse, message: "an Autodiscover redirection without a URL")
            }
            return .redirectURL(next)
        default:
            let protocols = account.children("Protocol")
            let preferred = ["EXCH", "EXPR", "WEB"].lazy.compactMap { type in
                protocols.first { $0.child("Type")?.trimmedText == type }?.child("EwsUrl")?.trimmedText
            }.first { !$0.isEmpty }
            guard let url = preferred ?? protocols.lazy.compactMap({ $0.child("EwsUrl")?.trimmedText }).first(where: { !$0.isEmpty }),
                  allowed(url) else {
                throw ExchangeError(.malformedResponse, message: "the Autodiscover response names no HTTPS EWS URL")
            }
            return .settings(ewsURL: url)
        }
    }
}

extension EWSAutodiscover {
    /// Where tests point Autodiscover instead of the mailbox domain's two standard places.
    @TaskLocal public static var candidatesOverride: (@Sendable (String) -> [String])?
}

/// The EWS endpoints Autodiscover found, per mailbox, for an hour (an account without a URL asks
/// once, not on every request); a failure to reach a found endpoint forgets it.
public actor EWSEndpoints {
    public static let shared = EWSEndpoints()
    private var found: [String: (url: String, at: ContinuousClock.Instant)] = [:]

    public func url(mailbox: String, discover: @Sendable () async throws -> EWSAutodiscover.Found) async throws -> String {
        let key = mailbox.lowercased()
        if let entry = found[key], ContinuousClock.now - entry.at < .seconds(3_600) { return entry.url }
        let result = try await discover()
        found[key] = (result.ewsURL, .now)
        return result.ewsURL
    }

    public func forget(mailbox: String) { found[mailbox.lowercased()] = nil }
}

extension EWSClient {
    /// The endpoint: the configured URL, or the one Autodiscover finds for the mailbox when none is.
    public func endpoint() async throws -> String {
        guard url.isEmpty else { return url }
        let autodiscover = EWSAutodiscover(timeout: timeout, acceptAnyCertificate: acceptAnyCertificate,
                                           candidates: EWSAutodiscover.candidatesOverride ?? EWSAutodiscover.standardCandidates,
                                           authorization: authorization)
        let mailbox = self.mailbox
        return try await EWSEndpoints.shared.url(mailbox: mailbox) { try await autodiscover.discover(address: mailbox) }
    }

    /// Forgets a discovered endpoint that could not be reached, so the next request asks again.
    func endpointFailed(_ error: any Error) async {
        guard url.isEmpty, let error = error as? ExchangeError, [.connection, .unknownHost].contains(error.kind) || error.status == 404 else { return }
        await EWSEndpoints.shared.forget(mailbox: mailbox)
    }
}
