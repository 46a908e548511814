import Hummingbird
import Synchronization

/// Which methods each registered path takes, read from the router once its routes are added, so
/// that a known path asked with another method answers 405 with `Allow` (RFC 9110, 15.5.6)
/// instead of the router's 404, which would tell a client the path does not exist.
final class RouteMethods: Sendable {
    private struct Pattern {
        let segments: [Substring]
        let methods: Set<String>
    }
    private let patterns = Mutex<[Pattern]>([])

    /// Takes the router's routes (call after the last route is added).
    func load(_ routes: [(path: String, method: String)]) {
        let grouped = Dictionary(grouping: routes, by: { $0.path.split(separator: "/", omittingEmptySubsequences: true).map { $0 } })
        patterns.withLock { patterns in
            patterns = grouped.map { Pattern(segments: $0.key, methods: Set($0.value.map(\.method))) }
        }
    }

    /// The methods the path takes, when some registered route matches it but none with `method`; nil otherwise.
    func refusal(path: String, method: String) -> [String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        // The most specific pattern answers, as in the router: `/accounts/test` is its own path, not
        // an `/accounts/{id}`, so it takes only what `/accounts/test` takes.
        let allowed = patterns.withLock { patterns -> Set<String> in
            let matching = patterns.filter { Self.matches($0.segments, parts) }
            guard let best = matching.map({ Self.specificity($0.segments) }).max(by: Self.lessSpecific) else { return [] }
            return matching.filter { Self.specificity($0.segments) == best }.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
        }
        guard !allowed.isEmpty, !allowed.contains(method) else { return nil }
        return Self.ordered(allowed)
    }

    private static func matches(_ pattern: [Substring], _ parts: [Substring]) -> Bool {
        if pattern.last == "**" { return parts.count >= pattern.count - 1 && zip(pattern.dropLast(), parts).allSatisfy(segmentMatches) }
        return pattern.count == parts.count && zip(pattern, parts).allSatisfy(segmentMatches)
    }

    /// Per segment: 2 for a literal, 1 for a capture, 0 for a wildcard; compared left to right.
    private static func specificity(_ pattern: [Substring]) -> [Int] {
        pattern.map { $0 == "*" || $0 == "**" ? 0 : ($0.hasPrefix(":") || $0.hasPrefix("{")) ? 1 : 2 }
    }

    private static func lessSpecific(_ a: [Int], _ b: [Int]) -> Bool { a.lexicographicallyPrecedes(b) }

    private static func segmentMatches(_ pattern: Substring, _ part: Substring) -> Bool {
        pattern == part || pattern == "*" || pattern.hasPrefix(":") || (pattern.hasPrefix("{") && pattern.hasSuffix("}"))
    }

    private static func ordered(_ methods: Set<String>) -> [String] {
        let order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return methods.sorted { (order.firstIndex(of: $0) ?? order.count, $0) < (order.firstIndex(of: $1) ?? order.count, $1) }
    }
}

/// Answers 405 with `Allow` for a method a known path does not take (see ``RouteMethods``).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = MailroomRequestContext
    let routes: RouteMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let allowed = routes.refusal(path: request.uri.path, method: request.method.rawValue) {
            var error = APIError(.methodNotAllowed, code: "method_not_allowed",
                                 message: "\(request.uri.path) does not take \(request.method.rawValue); it takes \(allowed.joined(separator: ", "))")
            error.allowedMethods = allowed
            throw error
        }
        return try await next(request, context)
    }
}
